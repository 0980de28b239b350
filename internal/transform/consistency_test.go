package transform

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/restage/restage/internal/schema"
)

// Issue 12 point 1: one original, one fake, whatever the column's
// uniqueness, length or collation.
func TestOneValueOneFake(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	ci := textCol(255)
	ci.CaseInsensitive, ci.PadSpace, ci.Charset = true, true, "utf8mb3"
	bin := &schema.Column{Name: "c", Kind: schema.KindText, MaxLength: 60, Charset: "UTF8", Nullable: true}
	targets := []Target{
		{Column: textCol(50), Unique: true},
		{Column: textCol(50)},
		{Column: textCol(0)},
		{Column: ci, Unique: true},
		{Column: ci},
		{Column: bin},
	}
	tests := []struct {
		name   string
		params map[string]any
		inputs []string
	}{
		{"email", nil, []string{"aiko.akiyama@example.co.jp", "Michelle@aol.com", "x@y"}},
		{"email", map[string]any{"locale": "ja"}, []string{"taro@example.jp"}},
		{"full_name", nil, []string{"Michelle Brooks", "Edinburgh"}},
		{"city", nil, []string{"Edinburgh", "Tokyo"}},
		{"phone", map[string]any{"locale": "ja"}, []string{"090-1234-5678"}},
		{"template", map[string]any{"template": "{last_name}-{hash:12}"}, []string{"u1"}},
		{"hash", nil, []string{"abc"}},
	}
	for _, tt := range tests {
		tr := mustParse(t, tt.name, tt.params)
		for _, in := range tt.inputs {
			want := ""
			for i, tg := range targets {
				if tg.Unique && tt.name == "city" || tg.Unique && tt.name == "full_name" || tg.Unique && tt.name == "phone" {
					continue
				}
				f, err := tr.Bind(tg)
				if err != nil {
					t.Fatalf("%s on target %d: %v", tt.name, i, err)
				}
				got := mustRun(t, f, m, Input{Value: in})
				if want == "" {
					want = got
				} else if got != want {
					t.Errorf("%s(%q) on target %d = %q, want %q as on target 0", tt.name, in, i, got, want)
				}
			}
		}
	}
	// The same seed too.
	f1 := mustBind(t, mustParse(t, "email", nil), textCol(50), true)
	f2 := mustBind(t, mustParse(t, "email", nil), ci, false)
	seed := SeedFor("Customer", []string{"18"}, nil)
	if a, b := mustRun(t, f1, m, Input{Value: "michelleb@aol.com", Seed: seed}), mustRun(t, f2, m, Input{Value: "michelleb@aol.com", Seed: seed}); a != b {
		t.Errorf("seeded email: unique column %q, other column %q", a, b)
	}
}

// Issue 15 point 3: values a case-insensitive pad-space collation treats
// as equal get one fake; unique-capable outputs differ only in the tag.
func TestFoldedKeying(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	for _, tt := range []struct{ a, b string }{
		{"Edinburgh", "Edinburgh "},
		{"Edinburgh", "EDINBURGH"},
		{"Edinburgh", "ＥＤＩＮＢＵＲＧＨ"},
		{"ｴﾃﾞｨﾝﾊﾞﾗ", "エディンバラ"},
		{"straße", "STRASSE"},
	} {
		if FoldKey(tt.a) != FoldKey(tt.b) {
			t.Errorf("FoldKey(%q) = %q, FoldKey(%q) = %q", tt.a, FoldKey(tt.a), tt.b, FoldKey(tt.b))
		}
		for _, name := range []string{"city", "full_name", "phone"} {
			f := mustBind(t, mustParse(t, name, nil), textCol(0), false)
			if a, b := mustRun(t, f, m, Input{Value: tt.a}), mustRun(t, f, m, Input{Value: tt.b}); a != b {
				t.Errorf("%s: %q → %q but %q → %q", name, tt.a, a, tt.b, b)
			}
		}
		// email: same name part, different tag (a case-sensitive unique
		// index may hold both).
		f := mustBind(t, mustParse(t, "email", nil), textCol(0), true)
		a, b := mustRun(t, f, m, Input{Value: "x@" + tt.a}), mustRun(t, f, m, Input{Value: "x@" + tt.b})
		if a == b {
			t.Errorf("email variants share an address %q", a)
		}
		if strip := func(s string) string { return s[:strings.LastIndexByte(s[:strings.IndexByte(s, '@')], '.')] }; strip(a) != strip(b) {
			t.Errorf("email variants %q and %q differ outside their tag", a, b)
		}
	}
	if FoldKey("abc") != "abc" || FoldKey("a  b  ") != "a  b" {
		t.Error("FoldKey changes what it should keep")
	}
}

// Issue 15 point 2: seeds namespaced by what they identify.
func TestSeedFor(t *testing.T) {
	e1 := SeedFor("Employee", []string{"1"}, nil)
	c1 := SeedFor("Customer", []string{"1"}, nil)
	c1b := SeedFor("customer", []string{"1"}, nil)
	v1 := SeedFor("", []string{"1"}, nil)
	if bytes.Equal(e1, c1) || bytes.Equal(c1, v1) {
		t.Error("namespaces do not separate seeds")
	}
	if !bytes.Equal(c1, c1b) {
		t.Error("namespace case matters")
	}
	if !bytes.Equal(v1, SeedOf([]string{"1"}, nil)) {
		t.Error("a value seed changed its encoding")
	}
	if !bytes.Equal(SeedFor("", []string{"Edinburgh "}, nil), SeedFor("", []string{"EDINBURGH"}, nil)) {
		t.Error("seed values are not folded")
	}
}

// Issue 15 point 1: the caller can ask for one draw and learn it collided.
func TestNoRedrawAndAttempt(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := wrap(textCol(0), stubGen("same", "other", "third"), wrapOpts{})
	if _, _, err := f(m, Input{Value: "SAME", NoRedraw: true}); !errors.Is(err, ErrSameAsOriginal) {
		t.Errorf("err = %v, want ErrSameAsOriginal", err)
	}
	if got := mustRun(t, f, m, Input{Value: "SAME", Attempt: 2, NoRedraw: true}); got != "third" {
		t.Errorf("attempt 2 = %q", got)
	}
	for name, want := range map[string]string{"first_name": "person", "email": "person", "city": "", "hash": ""} {
		if got := Entity(mustParse(t, name, nil)); got != want {
			t.Errorf("Entity(%s) = %q, want %q", name, got, want)
		}
	}
	if Entity(mustParse(t, "template", map[string]any{"template": "{first_name}"})) != "person" ||
		Entity(mustParse(t, "template", map[string]any{"template": "{hash:12}"})) != "" {
		t.Error("template entity")
	}
}
