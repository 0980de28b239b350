package transform

import (
	"strings"
	"testing"

	"github.com/restage/restage/internal/schema"
)

func TestFingerprintFollowsCollation(t *testing.T) {
	bin := &schema.Column{Name: "c", Kind: schema.KindText}
	ci := &schema.Column{Name: "c", Kind: schema.KindText, CaseInsensitive: true, PadSpace: true}
	pad := &schema.Column{Name: "c", Kind: schema.KindText, PadSpace: true}
	pairs := []struct{ a, b string }{
		{"Alice", "alice"},
		{"alice ", "ALICE"},
		{"ÉCOLE", "ecole"},
		{"ｱｲｳ", "あいう"},
		{"Straße", "STRASSE"}, // not equal under sameUnder: both must then differ
		{"ſ", "S"},
		{"Ωmega", "ωMEGA"},
		{"x", "y"},
		{"", " "},
		{"a\tb", "a b"},
		{"佐藤 太郎", "佐藤 太郎"},
	}
	m := NewMasker(testKey(t, 1))
	for _, col := range []*schema.Column{bin, ci, pad} {
		for _, p := range pairs {
			same := sameUnder(col, p.a, p.b)
			fa, fb := m.Fingerprint(col, p.a), m.Fingerprint(col, p.b)
			if same && fa != fb {
				t.Errorf("ci=%v pad=%v: %q and %q compare equal but fingerprint differently", col.CaseInsensitive, col.PadSpace, p.a, p.b)
			}
			if !same && fa == fb {
				t.Errorf("ci=%v pad=%v: %q and %q differ but share a fingerprint", col.CaseInsensitive, col.PadSpace, p.a, p.b)
			}
		}
	}
	if m.Fingerprint(nil, "Alice") == m.Fingerprint(nil, "alice") {
		t.Error("nil column: fingerprint is not exact")
	}
	if m.Fingerprint(nil, "Alice") != m.Fingerprint(bin, "Alice") {
		t.Error("a binary column should fingerprint the exact bytes")
	}
}

func TestFingerprintKeyed(t *testing.T) {
	a, b := NewMasker(testKey(t, 1)), NewMasker(testKey(t, 2))
	col := &schema.Column{Kind: schema.KindText}
	if a.Fingerprint(col, "12345") == b.Fingerprint(col, "12345") {
		t.Error("another key gives the same fingerprint")
	}
	if a.Fingerprint(col, "12345") != NewMasker(testKey(t, 1)).Fingerprint(col, "12345") {
		t.Error("fingerprint is not deterministic")
	}
	// Not the value a transformer draws from the same bytes in another
	// domain.
	if a.Fingerprint(col, "x") == a.Rand("hash", []byte("x"), 0).Uint64() {
		t.Error("fingerprint domain collides")
	}
	seen := map[uint64]bool{}
	for i := 0; i < 10000; i++ {
		fp := a.Fingerprint(col, strings.Repeat("7", i%50)+string(rune('a'+i%26))+string(rune('0'+i/26%10))+string(rune('A'+i/260)))
		seen[fp] = true
	}
	if len(seen) < 9000 {
		t.Errorf("only %d distinct fingerprints", len(seen))
	}
}

func TestSignature(t *testing.T) {
	sig := func(name string, params map[string]any) string {
		return Signature(mustParse(t, name, params))
	}
	cases := []struct {
		name     string
		a, b     string
		wantSame bool
	}{
		{"same params parsed twice", sig("hash", map[string]any{"length": 16}), sig("hash", map[string]any{"length": 16}), true},
		{"hash length", sig("hash", map[string]any{"length": 16}), sig("hash", map[string]any{"length": 17}), false},
		{"regex", sig("regex", map[string]any{"pattern": "[0-9]+"}), sig("regex", map[string]any{"pattern": "[0-9]+"}), true},
		{"regex pattern", sig("regex", map[string]any{"pattern": "[0-9]+"}), sig("regex", map[string]any{"pattern": "[a-z]+"}), false},
		{"name kind", sig("first_name", nil), sig("last_name", nil), false},
		{"locale", sig("first_name", map[string]any{"locale": "ja"}), sig("first_name", nil), false},
		{"template", sig("template", map[string]any{"template": "{first_romaji}{hash:12}"}), sig("template", map[string]any{"template": "{first_romaji}{hash:12}"}), true},
		{"template literal", sig("template", map[string]any{"template": "a{hash:12}"}), sig("template", map[string]any{"template": "b{hash:12}"}), false},
		{"noise", sig("noise", map[string]any{"percent": 10}), sig("noise", map[string]any{"percent": 10.0}), true},
		{"json", sig("json", map[string]any{"paths": map[string]any{"$.a": "email", "$.b": "phone"}}), sig("json", map[string]any{"paths": map[string]any{"$.b": "phone", "$.a": "email"}}), true},
		{"json nested", sig("json", map[string]any{"paths": map[string]any{"$.a": "email"}}), sig("json", map[string]any{"paths": map[string]any{"$.a": "phone"}}), false},
		{"fixed", sig("fixed", map[string]any{"value": "x"}), sig("fixed", map[string]any{"value": "y"}), false},
		{"email domain", sig("email", nil), sig("email", map[string]any{"domain": "test.invalid"}), false},
	}
	for _, c := range cases {
		if (c.a == c.b) != c.wantSame {
			t.Errorf("%s: same = %v, want %v", c.name, c.a == c.b, c.wantSame)
		}
	}
	if s := sig("fixed", map[string]any{"value": "canary-secret"}); strings.Contains(s, "canary") || len(s) != 64 {
		t.Errorf("signature shows its parameters: %q", s)
	}
}
