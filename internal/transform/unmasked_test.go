package transform

import "testing"

func TestUnmasked(t *testing.T) {
	js := mustParse(t, "json", map[string]any{"paths": map[string]any{
		"$.contact.tel": "phone", "$.name": "full_name", "$.note": "keep",
	}})
	for _, tc := range []struct {
		t        Transformer
		in, want string
	}{
		{js, `{"contact": {"tel": "090-1111-2222", "fax": "03-1234-5678"}, "name": "Aiko Akiyama", "note": "call 090", "other": "x"}`,
			`{"contact": {"tel": "", "fax": "03-1234-5678"}, "name": "", "note": "call 090", "other": "x"}`},
		{js, `{"unrelated": 1}`, `{"unrelated": 1}`},
		{js, `not json`, `not json`},
		{mustParse(t, "regex", map[string]any{"pattern": `tel:(\d+)`}), "tel:0901 and 55", "tel:     and 55"},
		{mustParse(t, "regex", map[string]any{"pattern": `\d{3}`}), "no digits", "no digits"},
		{mustParse(t, "template", map[string]any{"template": "{full_name}"}), "Sato Taro", ""},
		{mustParse(t, "keep", nil), "kept as is", "kept as is"},
	} {
		if got := Unmasked(tc.t, tc.in); got != tc.want {
			t.Errorf("Unmasked(%s, %q) = %q, want %q", tc.t.Name(), tc.in, got, tc.want)
		}
	}
}
