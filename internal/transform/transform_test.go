package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform/fake"
)

type tcase struct {
	name   string
	params map[string]any
	col    *schema.Column
	inputs []string
}

func allCases() []tcase {
	dt := col(schema.KindDateTime)
	return []tcase{
		{"hash", nil, textCol(64), []string{"alice", "bob", "carol"}},
		{"hash", map[string]any{"length": 16}, &schema.Column{Kind: schema.KindBinary, MaxLength: 16}, []string{"\x00\x01", "zz"}},
		{"email", nil, textCol(255), []string{"alice@corp.example", "bob@corp.example", "Carol@x"}},
		{"email", map[string]any{"locale": "ja", "domain": "test.invalid"}, textCol(100), []string{"taro@x.jp", "hanako@x.jp"}},
		{"first_name", nil, textCol(50), []string{"Alice", "Bob", "Carol"}},
		{"last_name", map[string]any{"locale": "ja"}, textCol(50), []string{"山田", "佐藤", "鈴木"}},
		{"full_name", map[string]any{"locale": "ja", "script": "kana"}, textCol(50), []string{"ヤマダ タロウ", "サトウ ハナコ"}},
		{"full_name", map[string]any{"locale": "ja", "script": "romaji"}, textCol(50), []string{"Yamada Taro", "Sato Hanako"}},
		{"full_name", nil, textCol(50), []string{"Alice Smith", "Bob Jones", "Carol King"}},
		{"phone", nil, textCol(20), []string{"555-0101", "(212) 555-0199", "212-555-0100"}},
		{"phone", map[string]any{"locale": "ja"}, textCol(20), []string{"03-1234-5678", "090-1111-2222"}},
		{"phone", map[string]any{"format": "0##-####-####"}, textCol(20), []string{"090-1234-5678", "080-0000-0000"}},
		{"street_address", nil, textCol(100), []string{"1 Main St", "2 Oak Ave", "3 Elm Rd"}},
		{"street_address", map[string]any{"locale": "ja"}, textCol(100), []string{"中央1-2-3", "本町4丁目5-6"}},
		{"city", nil, textCol(50), []string{"Springfield", "Shelbyville", "Ogdenville"}},
		{"region", map[string]any{"locale": "ja"}, textCol(10), []string{"東京都", "大阪府", "北海道"}},
		{"prefecture", map[string]any{"locale": "ja"}, textCol(10), []string{"東京都", "大阪府", "北海道"}},
		{"postal_code", nil, textCol(10), []string{"12345", "90210", "10001"}},
		{"postal_code", map[string]any{"locale": "ja", "mark": true}, textCol(10), []string{"〒123-4567", "〒100-0001"}},
		{"date_shift", map[string]any{"days": 30}, col(schema.KindDate), []string{"2024-01-31", "1999-12-31", "2000-02-29"}},
		{"date_shift", map[string]any{"days": 5}, dt, []string{"2024-01-31 10:11:12", "2024-01-31T10:11:12.5", "2024-06-01 00:00:00.123456+09"}},
		{"noise", map[string]any{"percent": 10}, &schema.Column{Kind: schema.KindDecimal, Precision: 12, Scale: 2}, []string{"1234.56", "0.05", "-99.99"}},
		{"noise", map[string]any{"percent": 5.5}, &schema.Column{Kind: schema.KindInt, IntBits: 32}, []string{"100000", "7", "-3"}},
		{"noise", map[string]any{"percent": 20}, col(schema.KindFloat), []string{"3.25", "1e+20", "-7"}},
		{"digits", nil, textCol(20), []string{"090-1234-5678", "4111 1111 1111 1111"}},
		{"digits", map[string]any{"keep_prefix": 1}, &schema.Column{Kind: schema.KindInt, IntBits: 64}, []string{"12345678", "-900"}},
		{"regex", map[string]any{"pattern": `[0-9]{3}-[0-9]{4}`}, textCol(100), []string{"call 123-4567 now", "a 000-0000 b 111-2222"}},
		{"regex", map[string]any{"pattern": `id=(\w+)`}, textCol(100), []string{"id=Abc123;x", "q id=zz"}},
		{"template", map[string]any{"template": "user_{hash:12}"}, textCol(40), []string{"u1", "u2", "u3"}},
		{"template", map[string]any{"template": "{last_name} {first_kana}/{digits:4}{letters:3}", "locale": "ja"}, textCol(40), []string{"a", "b"}},
		{"json", map[string]any{"paths": map[string]any{"$.name": "full_name"}}, col(schema.KindJSON), []string{`{"name":"Alice"}`, `{"name":"Bob","x":1}`}},
	}
}

func TestDeterministicAndKeyed(t *testing.T) {
	k1, k2 := testKey(t, 1), testKey(t, 2)
	m1, m1b, m2 := NewMasker(k1), NewMasker(k1), NewMasker(k2)
	for _, c := range allCases() {
		t.Run(fmt.Sprintf("%s/%v", c.name, c.params), func(t *testing.T) {
			f := mustBind(t, mustParse(t, c.name, c.params), c.col, false)
			differs := false
			for _, v := range c.inputs {
				a := mustRun(t, f, m1, Input{Value: v})
				b := mustRun(t, f, m1b, Input{Value: v})
				again := mustRun(t, f, m1, Input{Value: v})
				if a != b || a != again {
					t.Errorf("not deterministic for %q: %q %q %q", v, a, b, again)
				}
				if a == v {
					t.Errorf("output equals input %q", v)
				}
				if c.col.MaxLength > 0 && utf8.RuneCountInString(a) > c.col.MaxLength {
					t.Errorf("output %q longer than %d", a, c.col.MaxLength)
				}
				if mustRun(t, f, m2, Input{Value: v}) != a {
					differs = true
				}
			}
			if !differs {
				t.Errorf("a different key gave the same outputs")
			}
		})
	}
}

func TestNamesAndKinds(t *testing.T) {
	names := Names()
	if !sort.StringsAreSorted(names) {
		t.Errorf("Names not sorted: %v", names)
	}
	for _, n := range names {
		if _, err := Parse(n, nil, Options{}); err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%s, nil) = %v, want nil or *ParamError", n, err)
			}
		}
	}
	if !IsKeep(mustParse(t, "keep", map[string]any{"reason": "not personal"})) {
		t.Error("IsKeep(keep) = false")
	}
	if IsKeep(mustParse(t, "hash", nil)) || Nullifies(mustParse(t, "hash", nil)) {
		t.Error("hash is keep or nullify")
	}
	if !Nullifies(mustParse(t, "nullify", nil)) {
		t.Error("Nullifies(nullify) = false")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		params    map[string]any
		opt       Options
		wantParam string // "" = plain error (unknown transformer)
	}{
		{"nope", nil, Options{}, ""},
		{"hash", map[string]any{"lenght": 5}, Options{}, "lenght"},
		{"hash", map[string]any{"length": "5"}, Options{}, "length"},
		{"hash", map[string]any{"length": 0}, Options{}, "length"},
		{"hash", map[string]any{"length": 1.5}, Options{}, "length"},
		{"fixed", nil, Options{}, "value"},
		{"fixed", map[string]any{"value": []any{1}}, Options{}, "value"},
		{"keep", map[string]any{"reason": 3}, Options{}, "reason"},
		{"nullify", map[string]any{"x": 1}, Options{}, "x"},
		{"email", map[string]any{"domain": "bad domain"}, Options{}, "domain"},
		{"email", map[string]any{"locale": "fr"}, Options{}, "locale"},
		{"email", nil, Options{Locale: "de"}, "locale"},
		{"first_name", map[string]any{"script": "kana"}, Options{}, "script"},
		{"first_name", map[string]any{"script": "hangul", "locale": "ja"}, Options{}, "script"},
		{"postal_code", map[string]any{"mark": true}, Options{}, "mark"},
		{"postal_code", map[string]any{"mark": "yes", "locale": "ja"}, Options{}, "mark"},
		{"phone", map[string]any{"format": "none"}, Options{}, "format"},
		{"date_shift", nil, Options{}, "days"},
		{"date_shift", map[string]any{"days": 0}, Options{}, "days"},
		{"noise", nil, Options{}, "percent"},
		{"noise", map[string]any{"percent": 0}, Options{}, "percent"},
		{"noise", map[string]any{"percent": 101}, Options{}, "percent"},
		{"noise", map[string]any{"percent": "5%"}, Options{}, "percent"},
		{"digits", map[string]any{"keep_prefix": -1}, Options{}, "keep_prefix"},
		{"regex", nil, Options{}, "pattern"},
		{"regex", map[string]any{"pattern": "a(b"}, Options{}, "pattern"},
		{"template", nil, Options{}, "template"},
		{"template", map[string]any{"template": "{nick_name}"}, Options{}, "template"},
		{"template", map[string]any{"template": "{hash}"}, Options{}, "template"},
		{"template", map[string]any{"template": "{hash:x}"}, Options{}, "template"},
		{"template", map[string]any{"template": "{first_name"}, Options{}, "template"},
		{"json", nil, Options{}, "paths"},
		{"json", map[string]any{"paths": map[string]any{"a.b": "hash"}}, Options{}, "paths"},
		{"json", map[string]any{"paths": map[string]any{"$.a": "nope"}}, Options{}, "paths"},
		{"json", map[string]any{"paths": map[string]any{"$.a": map[string]any{"transformer": "hash", "bad": 1}}}, Options{}, "paths"},
		{"json", map[string]any{"paths": map[string]any{"$.a": 5}}, Options{}, "paths"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.name, tt.params), func(t *testing.T) {
			_, err := Parse(tt.name, tt.params, tt.opt)
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParamError
			if tt.wantParam == "" {
				if errors.As(err, &pe) {
					t.Fatalf("got ParamError %v, want plain error", err)
				}
				if !strings.Contains(err.Error(), "unknown transformer") {
					t.Errorf("error %q", err)
				}
				return
			}
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParamError", err, err)
			}
			if pe.Param != tt.wantParam {
				t.Errorf("Param = %q, want %q (%v)", pe.Param, tt.wantParam, err)
			}
		})
	}
}

func TestBindRefusals(t *testing.T) {
	notNull := textCol(50)
	notNull.Nullable = false
	gen := textCol(50)
	gen.Generated = true
	latin1 := textCol(50)
	latin1.Charset = "latin1"
	tests := []struct {
		name    string
		params  map[string]any
		col     *schema.Column
		unique  bool
		wantSub string
	}{
		{"nullify", nil, notNull, false, "not null"},
		{"hash", nil, gen, false, "generated"},
		{"first_name", nil, textCol(50), true, "hash"},
		{"digits", nil, textCol(50), true, "template"},
		{"fixed", map[string]any{"value": "x"}, textCol(50), true, "unique"},
		{"hash", map[string]any{"length": 8}, textCol(50), true, "16"},
		{"hash", nil, textCol(10), true, "16"},
		{"hash", map[string]any{"length": 40}, textCol(20), false, "longer"},
		{"hash", nil, col(schema.KindInt), false, "int"},
		{"email", nil, col(schema.KindDate), false, "date"},
		{"email", nil, textCol(25), true, "too short"},
		{"email", nil, textCol(10), false, "too short"},
		{"full_name", map[string]any{"locale": "ja"}, latin1, false, "ascii"},
		{"street_address", map[string]any{"locale": "ja"}, latin1, false, "ascii"},
		{"template", map[string]any{"template": "{first_name}-{hash:8}"}, textCol(50), true, "hash"},
		{"template", map[string]any{"template": "user-{hash:20}"}, textCol(20), true, "too short"},
		{"date_shift", map[string]any{"days": 3}, col(schema.KindInt), false, "int"},
		{"noise", map[string]any{"percent": 3}, textCol(10), false, "text"},
		{"fixed", map[string]any{"value": "too long"}, textCol(5), false, "longer"},
		{"fixed", map[string]any{"value": "x1"}, col(schema.KindInt), false, "integer"},
		{"fixed", map[string]any{"value": 300}, &schema.Column{Kind: schema.KindInt, IntBits: 8}, false, "range"},
		{"fixed", map[string]any{"value": "2024-13-01"}, col(schema.KindDate), false, "date"},
		{"fixed", map[string]any{"value": "日本"}, latin1, false, "character set"},
		{"json", map[string]any{"paths": map[string]any{"$.a": "email"}}, col(schema.KindInt), false, "int"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.name, tt.params), func(t *testing.T) {
			_, err := mustParse(t, tt.name, tt.params).Bind(Target{Column: tt.col, Unique: tt.unique})
			if err == nil {
				t.Fatal("Bind accepted")
			}
			if !strings.Contains(err.Error(), tt.wantSub) {
				t.Errorf("error %q does not mention %q", err, tt.wantSub)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q starts upper case", err)
			}
		})
	}
	// Issue 12: the consistent form needs the column to hold the longest
	// output; consistent: false (Loose) fits it to the column instead.
	short := []struct {
		name    string
		params  map[string]any
		col     *schema.Column
		unique  bool
		wantSub string
	}{
		{"hash", nil, textCol(16), true, "needs 32 characters"},
		{"email", nil, textCol(29), true, "needs 50 characters"},
		{"email", nil, textCol(49), false, "needs 50 characters"},
		{"email", map[string]any{"domain": "x.jp"}, textCol(38), false, "needs 39 characters"},
		{"template", map[string]any{"template": "{first_name}-{hash:12}"}, textCol(20), true, "needs 24 characters"},
		{"first_name", nil, textCol(5), false, "needs 11 characters"},
		{"city", nil, textCol(10), false, "consistent: false"},
		{"phone", map[string]any{"locale": "ja"}, textCol(12), false, "needs 13 characters"},
	}
	for _, tt := range short {
		_, err := mustParse(t, tt.name, tt.params).Bind(Target{Column: tt.col, Unique: tt.unique})
		if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
			t.Errorf("%s %v on %d characters: err = %v, want %q", tt.name, tt.params, tt.col.MaxLength, err, tt.wantSub)
		}
		if _, err := mustParse(t, tt.name, tt.params).Bind(Target{Column: tt.col, Unique: tt.unique, Loose: true}); err != nil && tt.col.MaxLength >= 16 {
			t.Errorf("%s %v with consistent: false: %v", tt.name, tt.params, err)
		}
	}
	// What is accepted.
	ok := []struct {
		name   string
		params map[string]any
		col    *schema.Column
		unique bool
		loose  bool
	}{
		{"hash", nil, textCol(16), true, true},
		{"hash", nil, textCol(32), true, false},
		{"email", nil, textCol(29), true, true},
		{"email", nil, textCol(50), false, false},
		{"template", map[string]any{"template": "{first_name}-{hash:12}"}, textCol(20), true, true},
		{"full_name", map[string]any{"locale": "ja", "script": "romaji"}, latin1, false, false},
		{"postal_code", map[string]any{"locale": "ja"}, latin1, false, false},
		{"nullify", nil, textCol(5), true, false},
		{"fixed", map[string]any{"value": 12}, &schema.Column{Kind: schema.KindDecimal, Precision: 4, Scale: 0}, false, false},
		{"fixed", map[string]any{"value": true}, col(schema.KindInt), false, false},
		{"fixed", map[string]any{"value": "2024-01-02 03:04:05"}, col(schema.KindDateTime), false, false},
		{"fixed", map[string]any{"value": `{"a":1}`}, col(schema.KindJSON), false, false},
		{"keep", nil, gen, false, false},
	}
	for _, tt := range ok {
		if _, err := mustParse(t, tt.name, tt.params).Bind(Target{Column: tt.col, Unique: tt.unique, Loose: tt.loose}); err != nil {
			t.Errorf("%s %v: %v", tt.name, tt.params, err)
		}
	}
}

// stubGen returns outs[attempt] (the last one for later attempts).
func stubGen(outs ...string) gen {
	return func(_ *Masker, _ Input, _ []byte, attempt int) (string, error) {
		if attempt >= len(outs) {
			return outs[len(outs)-1], nil
		}
		return outs[attempt], nil
	}
}

func TestNeverEqualUnderCollation(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	cs := textCol(0)
	ci := textCol(0)
	ci.CaseInsensitive = true
	pad := textCol(0)
	pad.PadSpace = true
	tests := []struct {
		name string
		col  *schema.Column
		in   string
		outs []string
		want string
	}{
		// Issue 12: the redraw compares folded values whatever the column,
		// so a case variant is redrawn on a case-sensitive column too
		// (before: kept there).
		{"case sensitive redraws case variant too", cs, "Alice", []string{"ALICE", "Bob"}, "Bob"},
		{"case insensitive redraws", ci, "Alice", []string{"ALICE", "Bob"}, "Bob"},
		{"ci accents", ci, "José", []string{"JOSE", "Bob"}, "Bob"},
		{"ci width and kana", ci, "ヤマダ", []string{"やまだ", "ﾔﾏﾀﾞ", "佐藤"}, "佐藤"},
		{"ci voiced marks count as accents", ci, "カ", []string{"ガ", "キ"}, "キ"},
		{"cs kana redraws too", cs, "ヤマダ", []string{"やまだ", "佐藤"}, "佐藤"},
		{"cs width", cs, "ABC", []string{"ａｂｃ", "x"}, "x"},
		{"pad space", pad, "abc", []string{"abc   ", "abd"}, "abd"},
		{"no pad redraws too", cs, "abc", []string{"abc   ", "abd"}, "abd"},
		{"binary compares bytes", col(schema.KindBinary), "abc", []string{"ABC"}, "ABC"},
		{"exact", cs, "abc", []string{"abc", "abc", "abx"}, "abx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := wrap(tt.col, stubGen(tt.outs...), wrapOpts{})
			if got := mustRun(t, f, m, Input{Value: tt.in}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Exhausted redraws: an error that does not hold the value.
	f := wrap(ci, stubGen("SECRET-VALUE"), wrapOpts{})
	_, _, err := f(m, Input{Value: "secret-value"})
	if err == nil || strings.Contains(strings.ToLower(err.Error()), "secret") {
		t.Errorf("err = %v", err)
	}
	// fixed is exempt.
	fx := mustBind(t, mustParse(t, "fixed", map[string]any{"value": "same"}), textCol(10), false)
	if got := mustRun(t, fx, m, Input{Value: "same"}); got != "same" {
		t.Errorf("fixed: %q", got)
	}
}

// A fake draw that equals the input ignoring case must be redrawn on a
// case-insensitive column, with a real transformer: seed the draw so that
// the first candidate is known, and give it as the original in upper case.
func TestNeverEqualRealTransformer(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	ci := textCol(50)
	ci.CaseInsensitive = true
	fci := mustBind(t, mustParse(t, "region", nil), ci, false)
	fcs := mustBind(t, mustParse(t, "region", nil), textCol(50), false)
	seed := []byte("x")
	first := fake.Region(m.Rand("region", seed, 0), "en")
	orig := strings.ToUpper(first)
	// Issue 12: both columns redraw (before, the case-sensitive one kept
	// the case variant), so the fake is the same in both.
	got := mustRun(t, fci, m, Input{Value: orig, Seed: seed})
	if cs := mustRun(t, fcs, m, Input{Value: orig, Seed: seed}); cs != got || strings.EqualFold(cs, orig) {
		t.Errorf("case-sensitive column: got %q, want %q like the case-insensitive one", cs, got)
	}
	if strings.EqualFold(got, orig) {
		t.Errorf("case-insensitive column: got %q for %q", got, orig)
	}
	if want := fake.Region(m.Rand("region", seed, 1), "en"); !strings.EqualFold(want, orig) && got != want {
		t.Errorf("case-insensitive column: got %q, want the second draw %q", got, want)
	}
}

func TestFit(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	mb3 := textCol(0)
	mb3.Charset = "utf8mb3"
	pgUTF8 := textCol(0)
	pgUTF8.Charset = "UTF8"
	latin1 := textCol(0)
	latin1.Charset = "latin1"
	tests := []struct {
		name string
		col  *schema.Column
		out  string
		want string
	}{
		{"varchar(5) runes", textCol(5), "日本語テキスト", "日本語テキ"},
		{"varchar(5) ascii", textCol(5), "abcdefgh", "abcde"},
		{"utf8mb3 no 4-byte", mb3, "a😀b𠮷", "a\uFFFDb吉"},
		{"pg UTF8 keeps 4-byte", pgUTF8, "a😀b", "a😀b"},
		{"sjis", &schema.Column{Kind: schema.KindText, Charset: "sjis"}, "佐藤😀é", "佐藤??"},
		{"latin1 ascii only", latin1, "José Ｘ東", "Jose X?"},
		{"tinyint clamps", &schema.Column{Kind: schema.KindInt, IntBits: 8}, "300", "127"},
		{"tinyint unsigned clamps low", &schema.Column{Kind: schema.KindInt, IntBits: 8, Unsigned: true}, "-5", "0"},
		{"bigint unsigned ok", &schema.Column{Kind: schema.KindInt, IntBits: 64, Unsigned: true}, "18446744073709551615", "18446744073709551615"},
		{"decimal(5,2) clamps", &schema.Column{Kind: schema.KindDecimal, Precision: 5, Scale: 2}, "-12345.67", "-999.99"},
		{"decimal(5,2) cuts scale", &schema.Column{Kind: schema.KindDecimal, Precision: 5, Scale: 2}, "1.2345", "1.23"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := wrap(tt.col, stubGen(tt.out), wrapOpts{})
			if got := mustRun(t, f, m, Input{Value: "original"}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Japanese names into utf8mb3 and a short column.
	c := textCol(3)
	c.Charset = "utf8mb3"
	f := mustBindLoose(t, mustParse(t, "full_name", map[string]any{"locale": "ja"}), c, false)
	for i := range 200 {
		out := mustRun(t, f, m, Input{Value: strconv.Itoa(i)})
		if utf8.RuneCountInString(out) > 3 {
			t.Fatalf("%q too long", out)
		}
		for _, r := range out {
			if utf8.RuneLen(r) > 3 {
				t.Fatalf("%q has a 4-byte rune", out)
			}
		}
	}
}

func TestNullContract(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBind(t, mustParse(t, "nullify", nil), textCol(5), false)
	if _, null, err := f(m, Input{Value: "x"}); !null || err != nil {
		t.Errorf("nullify: null=%v err=%v", null, err)
	}
	for _, c := range allCases() {
		f := mustBind(t, mustParse(t, c.name, c.params), c.col, false)
		for _, v := range c.inputs {
			if _, null, err := f(m, Input{Value: v}); null || err != nil {
				t.Errorf("%s(%q): null=%v err=%v", c.name, v, null, err)
			}
		}
	}
	keep := mustBind(t, mustParse(t, "keep", nil), textCol(5), false)
	if got := mustRun(t, keep, m, Input{Value: "same"}); got != "same" {
		t.Errorf("keep: %q", got)
	}
}

func TestErrorsHoldNoValue(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	secret := "SECRET-9876-value"
	binds := []struct {
		name   string
		params map[string]any
		col    *schema.Column
	}{
		{"date_shift", map[string]any{"days": 3}, col(schema.KindDate)},
		{"noise", map[string]any{"percent": 3}, col(schema.KindDecimal)},
		{"digits", nil, &schema.Column{Kind: schema.KindInt, IntBits: 32}},
		{"json", map[string]any{"paths": map[string]any{"$.a": "hash"}}, col(schema.KindJSON)},
	}
	for _, b := range binds {
		f := mustBind(t, mustParse(t, b.name, b.params), b.col, false)
		_, _, err := f(m, Input{Value: secret})
		if err == nil {
			t.Errorf("%s: no error for a bad value", b.name)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "9876") {
			t.Errorf("%s: error leaks the value: %v", b.name, err)
		}
	}
	k := testKey(t, 'A')
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), fmt.Sprint(NewMasker(k))} {
		if strings.Contains(s, "ABC") {
			t.Errorf("key leaks: %s", s)
		}
	}
	if _, err := NewKey([]byte("short")); !errors.Is(err, ErrWeakKey) {
		t.Errorf("NewKey(short) = %v", err)
	}
}

func TestSeedOf(t *testing.T) {
	seeds := [][]byte{
		SeedOf([]string{"a", "bc"}, nil),
		SeedOf([]string{"ab", "c"}, nil),
		SeedOf([]string{"abc"}, nil),
		SeedOf([]string{"", "abc"}, nil),
		SeedOf([]string{"", "abc"}, []bool{true, false}),
		SeedOf([]string{"abc", ""}, []bool{false, true}),
		SeedOf([]string{"abc", ""}, nil),
	}
	for i := range seeds {
		for j := i + 1; j < len(seeds); j++ {
			if string(seeds[i]) == string(seeds[j]) {
				t.Errorf("seed %d == seed %d", i, j)
			}
		}
	}
}

func TestRandAndTag(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	a := m.Rand("d", []byte("s"), 0)
	b := m.Rand("d", []byte("s"), 0)
	c := m.Rand("d", []byte("s"), 1)
	d := m.Rand("e", []byte("s"), 0)
	x, y, z, w := a.Uint64(), b.Uint64(), c.Uint64(), d.Uint64()
	if x != y || x == z || x == w {
		t.Errorf("rand streams: %x %x %x %x", x, y, z, w)
	}
	// IntN is in range and roughly uniform.
	counts := make([]int, 7)
	for range 70000 {
		counts[a.IntN(7)]++
	}
	for i, n := range counts {
		if n < 9000 || n > 11000 {
			t.Errorf("IntN(7): %d drawn %d times", i, n)
		}
	}
	tag := m.Tag("d", []byte("s"), 13)
	if len(tag) != 13 || !regexp.MustCompile(`^[a-z2-7]+$`).MatchString(tag) {
		t.Errorf("tag %q", tag)
	}
	if m.Tag("d", []byte("s"), 13) != tag || m.Tag("d", []byte("t"), 13) == tag {
		t.Error("tag not deterministic or not seed dependent")
	}
	if got := m.Tag("d", []byte("s"), 100); len(got) != MaxTagLen || !strings.HasPrefix(got, tag) {
		t.Errorf("long tag %q", got)
	}
	// Golden: pins the derivation (HMAC layout, ChaCha8, IntN, base32)
	// so outputs never change silently between releases.
	g := NewMasker(testKey(t, 0))
	r := g.Rand("golden", []byte("seed"), 3)
	got := fmt.Sprintf("%d %d %d %s", r.IntN(1000), r.IntN(1<<40), r.Uint64()%1000, g.Tag("golden", []byte("seed"), 20))
	const want = "489 621319714261 925 peko42fijglqzv5orfby"
	if got != want {
		t.Errorf("golden = %q, want %q", got, want)
	}
}

func TestPersonCoherence(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	ja := Options{Locale: "ja"}
	parse := func(name string, p map[string]any) Func {
		tr, err := Parse(name, p, ja)
		if err != nil {
			t.Fatal(err)
		}
		return mustBind(t, tr, textCol(100), false)
	}
	kanji := parse("full_name", nil)
	kana := parse("full_name", map[string]any{"script": "kana"})
	first := parse("first_name", nil)
	email := parse("email", nil)
	tmpl := parse("template", map[string]any{"template": "{last_kana}|{email_local}"})
	for i := range 50 {
		seed := SeedOf([]string{strconv.Itoa(i)}, nil)
		p := fake.NewPerson(m.Rand("person", seed, 0), "ja")
		in := func(v string) Input { return Input{Value: v, Seed: seed} }
		if got, want := mustRun(t, kanji, m, in("山田 太郎")), p.Last+" "+p.First; got != want {
			t.Errorf("kanji %q, want %q", got, want)
		}
		if got, want := mustRun(t, kana, m, in("ヤマダ タロウ")), p.LastKana+" "+p.FirstKana; got != want {
			t.Errorf("kana %q, want %q", got, want)
		}
		if got := mustRun(t, first, m, in("太郎")); got != p.First {
			t.Errorf("first %q, want %q", got, p.First)
		}
		if got, want := mustRun(t, email, m, in("taro@example.com")), p.FirstRomaji+"."+p.LastRomaji+"."; !strings.HasPrefix(got, want) {
			t.Errorf("email %q, want prefix %q", got, want)
		}
		if got, want := mustRun(t, tmpl, m, in("x")), p.LastKana+"|"+p.FirstRomaji+"."+p.LastRomaji; got != want {
			t.Errorf("template %q, want %q", got, want)
		}
	}
	// Unseeded: the value is the seed, on every column and table.
	f1, f2 := parse("full_name", nil), parse("full_name", nil)
	if mustRun(t, f1, m, Input{Value: "鈴木 一郎"}) != mustRun(t, f2, m, Input{Value: "鈴木 一郎"}) {
		t.Error("same original gave different fakes")
	}
}

func TestEmailUnique(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	c := textCol(64)
	c.CaseInsensitive = true
	f := mustBind(t, mustParse(t, "email", nil), c, true)
	valid := regexp.MustCompile(`^[a-z0-9.]+\.[a-z2-7]{13}@example\.invalid$`)
	seen := make(map[string]struct{}, 100000)
	for i := range 100000 {
		v := fmt.Sprintf("user%d@corp.example", i)
		out := mustRun(t, f, m, Input{Value: v, Seed: []byte("same seed for all")})
		if !valid.MatchString(out) {
			t.Fatalf("bad unique email %q", out)
		}
		if _, dup := seen[out]; dup {
			t.Fatalf("duplicate email %q", out)
		}
		seen[out] = struct{}{}
	}
	// A short unique column keeps tag and domain, cuts the name.
	short := mustBindLoose(t, mustParse(t, "email", nil), textCol(29), true)
	for i := range 100 {
		out := mustRun(t, short, m, Input{Value: strconv.Itoa(i)})
		if len(out) > 29 || !valid.MatchString("x."+out) && !valid.MatchString(out) {
			t.Fatalf("short unique email %q", out)
		}
	}
	// Non-unique with consistent: false: short tag.
	nu := mustBindLoose(t, mustParse(t, "email", map[string]any{"domain": "Mail.Test"}), textCol(0), false)
	out := mustRun(t, nu, m, Input{Value: "a@b"})
	if !regexp.MustCompile(`^[a-z0-9.]+\.[a-z2-7]{4}@mail\.test$`).MatchString(out) {
		t.Errorf("email %q", out)
	}
}

func TestTemplateUnique(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBindLoose(t, mustParse(t, "template", map[string]any{"template": "{full_name}#{hash:12}"}), textCol(20), true)
	seen := map[string]bool{}
	re := regexp.MustCompile(`^[A-Za-z '-]*#[a-z2-7]{12}$`)
	for i := range 20000 {
		out := mustRun(t, f, m, Input{Value: strconv.Itoa(i)})
		if utf8.RuneCountInString(out) > 20 || !re.MatchString(out) {
			t.Fatalf("template %q", out)
		}
		if seen[out] {
			t.Fatalf("duplicate %q", out)
		}
		seen[out] = true
	}
	lit := mustBind(t, mustParse(t, "template", map[string]any{"template": "{{x}} {digits:2}"}), textCol(0), false)
	if out := mustRun(t, lit, m, Input{Value: "v"}); !regexp.MustCompile(`^\{x\} [0-9]{2}$`).MatchString(out) {
		t.Errorf("literal braces: %q", out)
	}
}

func TestDateShift(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	const n = 7
	tests := []struct {
		kind  schema.Kind
		in    string
		shape string // regexp the output must match
	}{
		{schema.KindDate, "2024-02-29", `^\d{4}-\d\d-\d\d$`},
		{schema.KindDateTime, "2024-01-01 00:00:00", `^\d{4}-\d\d-\d\d 00:00:00$`},
		{schema.KindDateTime, "2024-01-01T23:59:59.123456", `^\d{4}-\d\d-\d\dT23:59:59\.123456$`},
		{schema.KindDateTime, "2024-03-10 01:02:03.5+09", `^\d{4}-\d\d-\d\d 01:02:03\.5\+09$`},
		{schema.KindDateTime, "2024-03-10 01:02:03+05:30", `^\d{4}-\d\d-\d\d 01:02:03\+05:30$`},
		{schema.KindDateTime, "2024-03-10 01:02:03-03:30:15", `^\d{4}-\d\d-\d\d 01:02:03-03:30:15$`},
		{schema.KindDate, "0044-03-15 BC", `^\d{4}-\d\d-\d\d BC$`},
		{schema.KindDate, "0001-01-01", `^\d{4}-\d\d-\d\d( BC)?$`},
	}
	f := map[schema.Kind]Func{}
	for _, k := range []schema.Kind{schema.KindDate, schema.KindDateTime} {
		f[k] = mustBind(t, mustParse(t, "date_shift", map[string]any{"days": n}), col(k), false)
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			for i := range 200 {
				seed := []byte(strconv.Itoa(i))
				out := mustRun(t, f[tt.kind], m, Input{Value: tt.in, Seed: seed})
				if !regexp.MustCompile(tt.shape).MatchString(out) {
					t.Fatalf("%q: form not kept", out)
				}
				if d := dayDiff(t, tt.in, out); d == 0 || d < -n || d > n {
					t.Fatalf("%q -> %q: shift %d", tt.in, out, d)
				}
			}
		})
	}
	// Special values pass through; bad ones are errors.
	for _, v := range []string{"infinity", "-infinity", "0000-00-00", "0000-00-00 00:00:00"} {
		if got := mustRun(t, f[schema.KindDateTime], m, Input{Value: v}); got != v {
			t.Errorf("%q -> %q", v, got)
		}
	}
	for _, v := range []string{"2024-02-30", "yesterday", "2024-01-01 nope"} {
		if _, _, err := f[schema.KindDate](m, Input{Value: v}); err == nil {
			t.Errorf("%q: no error", v)
		}
	}
	// Every offset in [-N, N] \ {0} occurs.
	seen := map[int]bool{}
	for i := range 2000 {
		out := mustRun(t, f[schema.KindDate], m, Input{Value: "2024-06-15", Seed: []byte(strconv.Itoa(i))})
		seen[dayDiff(t, "2024-06-15", out)] = true
	}
	if len(seen) != 2*n {
		t.Errorf("offsets seen: %v", seen)
	}
}

func dayDiff(t *testing.T, a, b string) int {
	t.Helper()
	pa, err1 := splitDate(a)
	pb, err2 := splitDate(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad dates %q %q", a, b)
	}
	day := func(p dateParts) time.Time {
		y := p.year
		if p.bc {
			y = 1 - y
		}
		return time.Date(y, time.Month(p.month), p.day, 0, 0, 0, 0, time.UTC)
	}
	return int(day(pb).Sub(day(pa)).Hours() / 24)
}

func TestNoise(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	dec := &schema.Column{Kind: schema.KindDecimal, Precision: 8, Scale: 3}
	tests := []struct {
		col     *schema.Column
		in      string
		percent float64
		shape   string
	}{
		{dec, "1234.500", 10, `^-?\d+\.\d{3}$`},
		{dec, "0.000", 10, `^-?0\.00[01]$`},
		{dec, "-0.001", 50, `^-?0\.00\d$`},
		{dec, "99999.999", 50, `^\d{5}\.\d{3}$`},
		{&schema.Column{Kind: schema.KindDecimal}, "123456789012345678901234567890.12", 1, `^\d{30}\.\d\d$`},
		{&schema.Column{Kind: schema.KindInt, IntBits: 8}, "127", 100, `^-?\d+$`},
		{&schema.Column{Kind: schema.KindInt, IntBits: 8, Unsigned: true}, "0", 100, `^[01]$`},
		{&schema.Column{Kind: schema.KindInt, IntBits: 32}, "3", 10, `^[24]$`},
		{&schema.Column{Kind: schema.KindInt, IntBits: 64}, "-1000000", 5, `^-\d{6,7}$`},
		{col(schema.KindFloat), "19.99", 10, `^\d+\.\d\d$`},
		{col(schema.KindFloat), "1.5e+20", 10, `^\d\.\de\+\d\d$`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			f := mustBind(t, mustParse(t, "noise", map[string]any{"percent": tt.percent}), tt.col, false)
			x, _ := new(big.Float).SetString(tt.in)
			for i := range 300 {
				out := mustRun(t, f, m, Input{Value: tt.in, Seed: []byte(strconv.Itoa(i))})
				if !regexp.MustCompile(tt.shape).MatchString(out) {
					t.Fatalf("%q: scale not kept", out)
				}
				if out == tt.in {
					t.Fatalf("%q unchanged", out)
				}
				if fit, _ := fit(tt.col, out, false); fit != out {
					t.Fatalf("%q out of column range", out)
				}
				// Within ±percent, allowing one unit of the last digit.
				y, _ := new(big.Float).SetString(out)
				xf, _ := x.Float64()
				yf, _ := y.Float64()
				unit := 1.0
				if _, fp, ok := strings.Cut(tt.in, "."); ok && !strings.ContainsAny(tt.in, "e") {
					unit = 1 / float64(pow10(len(fp)))
				}
				if xf != 0 && !strings.Contains(tt.in, "e") {
					lim := xf*tt.percent/100 + unit
					if xf < 0 {
						lim = -xf*tt.percent/100 + unit
					}
					if d := yf - xf; d*d > lim*lim*1.0001 {
						t.Fatalf("%q -> %q beyond %v%%", tt.in, out, tt.percent)
					}
				}
			}
		})
	}
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

func TestDigits(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	txt := mustBind(t, mustParse(t, "digits", nil), textCol(0), false)
	kp := mustBind(t, mustParse(t, "digits", map[string]any{"keep_prefix": 3}), textCol(0), false)
	shape := func(s string) string { return regexp.MustCompile(`[0-9]`).ReplaceAllString(s, "9") }
	for i := range 200 {
		seed := []byte(strconv.Itoa(i))
		for _, v := range []string{"090-1234-5678", "(03) 1234 5678 ext. 9", "AB-12-cd", "7"} {
			out := mustRun(t, txt, m, Input{Value: v, Seed: seed})
			if shape(out) != shape(v) || out == v {
				t.Fatalf("%q -> %q: shape not kept", v, out)
			}
		}
		out := mustRun(t, kp, m, Input{Value: "090-1234-5678", Seed: seed})
		if !strings.HasPrefix(out, "090-") || shape(out) != shape("090-1234-5678") {
			t.Fatalf("keep_prefix: %q", out)
		}
	}
	// Nothing to replace: unchanged.
	if got := mustRun(t, txt, m, Input{Value: "n/a"}); got != "n/a" {
		t.Errorf("no digits: %q", got)
	}
	// Integers: no leading zero, in range.
	small := mustBind(t, mustParse(t, "digits", nil), &schema.Column{Kind: schema.KindInt, IntBits: 8, Unsigned: true}, false)
	for i := range 300 {
		out := mustRun(t, small, m, Input{Value: "200", Seed: []byte(strconv.Itoa(i))})
		n, err := strconv.Atoi(out)
		if err != nil || n < 100 || n > 255 || out == "200" {
			t.Fatalf("int digits %q", out)
		}
	}
}

func TestRegex(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBind(t, mustParse(t, "regex", map[string]any{"pattern": `card (\d{4}-\d{4})`}), textCol(0), false)
	in := "card 1234-5678 and card 9999-0000, code AB"
	for i := range 100 {
		out := mustRun(t, f, m, Input{Value: in, Seed: []byte(strconv.Itoa(i))})
		if !regexp.MustCompile(`^card \d{4}-\d{4} and card \d{4}-\d{4}, code AB$`).MatchString(out) || out == in {
			t.Fatalf("%q", out)
		}
	}
	whole := mustBind(t, mustParse(t, "regex", map[string]any{"pattern": `[A-Za-z]+@[a-z.]+`}), textCol(0), false)
	out := mustRun(t, whole, m, Input{Value: "mail Bob@corp.example now"})
	if !regexp.MustCompile(`^mail [A-Z][a-z]{2}@[a-z]{4}\.[a-z]{7} now$`).MatchString(out) {
		t.Errorf("%q", out)
	}
	if got := mustRun(t, whole, m, Input{Value: "no match here 123"}); got != "no match here 123" {
		t.Errorf("no match changed: %q", got)
	}
}

func TestJSON(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	tr := mustParse(t, "json", map[string]any{"paths": map[string]any{
		"$.user.name":       "full_name",
		"$.contacts[*].tel": map[string]any{"transformer": "digits"},
		"$.amount":          map[string]any{"transformer": "noise", "percent": 10},
		"$.ssn":             "nullify",
		"$['odd key']":      map[string]any{"transformer": "fixed", "value": "x"},
		"$.profile":         "hash",
		"$.missing.path":    "hash",
		"$.nested":          map[string]any{"transformer": "json", "paths": map[string]any{"$.e": "email"}},
		"$.ids[1]":          map[string]any{"transformer": "digits"},
	}})
	f := mustBind(t, tr, col(schema.KindJSON), false)
	in := `{ "user" : {"name":"Alice \"Al\" Smith", "age": 42},
  "contacts": [ {"tel": "090-1234-5678", "kind":"mobile"}, {"tel": 312555, "note": null}, {"tel": null} ],
  "amount": 1234.50, "ssn": "123-45-6789", "odd key": "y",
  "profile": {"bio": "<b>hi</b> 😀", "tags": ["a", 7, true], "n": null},
  "nested": "{\"e\": \"bob@corp\"}", "ids": [10, 20, 30], "other": "untouched \u00e9" }`
	out := mustRun(t, f, m, Input{Value: in})
	if !json.Valid([]byte(out)) {
		t.Fatalf("invalid json: %s", out)
	}
	var a, b map[string]any
	_ = json.Unmarshal([]byte(in), &a)
	_ = json.Unmarshal([]byte(out), &b)
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	if get(b, "user", "name") == get(a, "user", "name") || get(b, "user", "age") != 42.0 {
		t.Errorf("user: %v", b["user"])
	}
	if tel := get(b, "contacts", 0, "tel").(string); tel == "090-1234-5678" || !regexp.MustCompile(`^\d{3}-\d{4}-\d{4}$`).MatchString(tel) {
		t.Errorf("tel %q", tel)
	}
	if tel, ok := get(b, "contacts", 1, "tel").(float64); !ok || tel == 312555 || tel < 100000 || tel > 999999 {
		t.Errorf("numeric tel %v", get(b, "contacts", 1, "tel"))
	}
	if get(b, "contacts", 2, "tel") != nil || get(b, "ssn") != nil || get(b, "odd key") != "x" {
		t.Errorf("null/nullify/fixed: %v %v %v", get(b, "contacts", 2, "tel"), get(b, "ssn"), get(b, "odd key"))
	}
	if !strings.Contains(out, `"ssn": null`) {
		t.Errorf("nullify span: %s", out)
	}
	if am := get(b, "amount").(float64); am == 1234.5 || am < 1111 || am > 1358 || !regexp.MustCompile(`"amount": \d+\.\d\d,`).MatchString(out) {
		t.Errorf("amount %v", am)
	}
	if get(b, "profile", "bio") == get(a, "profile", "bio") || get(b, "profile", "tags", 2) != true || get(b, "profile", "n") != nil {
		t.Errorf("profile %v", b["profile"])
	}
	// A number under a text-only transformer is masked into a string.
	if tag, ok := get(b, "profile", "tags", 1).(string); !ok || len(tag) != 32 {
		t.Errorf("hashed number %v", get(b, "profile", "tags", 1))
	}
	var nested map[string]any
	if err := json.Unmarshal([]byte(get(b, "nested").(string)), &nested); err != nil || !strings.HasSuffix(nested["e"].(string), "@example.invalid") {
		t.Errorf("nested %v %v", get(b, "nested"), err)
	}
	if ids := get(b, "ids").([]any); ids[0] != 10.0 || ids[1] == 20.0 || ids[2] != 30.0 {
		t.Errorf("ids %v", ids)
	}
	// Every byte outside the masked spans is identical: compare after
	// blanking string/number values at the masked paths.
	keepParts := []string{`{ "user" : {"name":`, `, "age": 42},
  "contacts": [ {"tel": `, `, "kind":"mobile"}, {"tel": `, `, "note": null}, {"tel": null} ],
  "amount": `, `, "ssn": `, `, "odd key": `, `,
  "profile": {"bio": `, `, "tags": [`, `, `, `, true], "n": null},
  "nested": `, `, "ids": [10, `, `, 30], "other": "untouched \u00e9" }`}
	rest := out
	for i, p := range keepParts {
		j := strings.Index(rest, p)
		if j < 0 || (i == 0 && j != 0) {
			t.Fatalf("part %d %q not kept in %s", i, p, out)
		}
		rest = rest[j+len(p):]
	}
	if rest != "" {
		t.Errorf("trailing %q", rest)
	}
	// No path present: unchanged, byte for byte.
	for _, v := range []string{`{"x": 1}`, `[]`, `"str"`, `null`, `{"user": {"age": 1}}`} {
		if got := mustRun(t, f, m, Input{Value: v}); got != v {
			t.Errorf("%s -> %s", v, got)
		}
	}
	// Invalid documents are errors without the value.
	for _, v := range []string{`{"user": {"name": "secret"`, `{"a":1} x`, `{'a':1}`, ``} {
		if _, _, err := f(m, Input{Value: v}); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: err = %v", v, err)
		}
	}
	// Escaping of masked strings: like encoding/json without HTML escaping.
	if got := string(appendJSONString(nil, "a\"b\\c\n<&>\u2028\x01é\xff")); got != `"a\"b\\c\n<&>\u2028\u0001é\ufffd"` {
		t.Errorf("escape %s", got)
	}
	// $.* and a root path.
	all := mustBind(t, mustParse(t, "json", map[string]any{"paths": map[string]any{"$.*": "hash"}}), textCol(0), false)
	got := mustRun(t, all, m, Input{Value: `{"a": "x", "b": ["y"]}`})
	if !regexp.MustCompile(`^\{"a": "[0-9a-f]{32}", "b": \["[0-9a-f]{32}"\]\}$`).MatchString(got) {
		t.Errorf("$.*: %s", got)
	}
	// The specific path wins over the wildcard.
	prec := mustBind(t, mustParse(t, "json", map[string]any{"paths": map[string]any{"$.*": "nullify", "$.keep": "keep", "$.n": map[string]any{"transformer": "fixed", "value": 5}}}), textCol(0), false)
	if got := mustRun(t, prec, m, Input{Value: `{"keep": "k", "n": 1, "x": "y"}`}); got != `{"keep": "k", "n": 5, "x": null}` {
		t.Errorf("precedence: %s", got)
	}
	root := mustBind(t, mustParse(t, "json", map[string]any{"paths": map[string]any{"$": "nullify"}}), col(schema.KindJSON), false)
	if got := mustRun(t, root, m, Input{Value: ` {"a": 1} `}); got != ` null ` {
		t.Errorf("$ nullify: %q", got)
	}
	// Too long for a text column: an error, not a broken document.
	short := mustBind(t, mustParse(t, "json", map[string]any{"paths": map[string]any{"$.a": "email"}}), textCol(20), false)
	if _, _, err := short(m, Input{Value: `{"a": "b@c"}`}); err == nil {
		t.Error("overlong json accepted")
	}
}

func TestKeyRedacted(t *testing.T) {
	k := testKey(t, 'a')
	for _, s := range []string{fmt.Sprintf("%v", k), fmt.Sprintf("%#v", k), fmt.Sprintf("%+v", []Key{k})} {
		if strings.Contains(s, "abc") {
			t.Errorf("key printed: %s", s)
		}
	}
	_ = reflect.TypeOf(k)
}

func BenchmarkEmail(b *testing.B) {
	m := NewMasker(testKey(b, 1))
	f := mustBind(b, mustParse(b, "email", nil), textCol(255), true)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := f(m, Input{Value: "someone.real@corp.example"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFullName(b *testing.B) {
	m := NewMasker(testKey(b, 1))
	f := mustBind(b, mustParse(b, "full_name", map[string]any{"locale": "ja"}), textCol(50), false)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f(m, Input{Value: "山田 太郎"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	m := NewMasker(testKey(b, 1))
	f := mustBind(b, mustParse(b, "hash", nil), textCol(64), true)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f(m, Input{Value: "someone.real@corp.example"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	m := NewMasker(testKey(b, 1))
	f := mustBind(b, mustParse(b, "json", map[string]any{"paths": map[string]any{"$.name": "full_name", "$.items[*].email": "email"}}), col(schema.KindJSON), false)
	doc := `{"id": 1, "name": "Alice Smith", "items": [{"email": "a@b.c", "n": 1}, {"email": "d@e.f"}], "note": "long text here"}`
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f(m, Input{Value: doc}); err != nil {
			b.Fatal(err)
		}
	}
}

// A bound Func is shared by workers, each with its own Masker.
func TestConcurrentWorkers(t *testing.T) {
	k := testKey(t, 1)
	var funcs []Func
	var inputs [][]string
	for _, c := range allCases() {
		funcs = append(funcs, mustBind(t, mustParse(t, c.name, c.params), c.col, false))
		inputs = append(inputs, c.inputs)
	}
	want := make([][]string, len(funcs))
	m := NewMasker(k)
	for i, f := range funcs {
		for _, v := range inputs[i] {
			want[i] = append(want[i], mustRun(t, f, m, Input{Value: v}))
		}
	}
	done := make(chan error, 4)
	for range 4 {
		go func() {
			m := NewMasker(k)
			for range 50 {
				for i, f := range funcs {
					for j, v := range inputs[i] {
						out, _, err := f(m, Input{Value: v})
						if err != nil || out != want[i][j] {
							done <- fmt.Errorf("func %d input %d: %v", i, j, err)
							return
						}
					}
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
