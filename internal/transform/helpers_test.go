package transform

import (
	"testing"

	"github.com/restage/restage/internal/schema"
)

func testKey(t testing.TB, fill byte) Key {
	t.Helper()
	raw := make([]byte, MinKeyLen)
	for i := range raw {
		raw[i] = fill + byte(i)
	}
	k, err := NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustParse(t testing.TB, name string, params map[string]any) Transformer {
	t.Helper()
	tr, err := Parse(name, params, Options{})
	if err != nil {
		t.Fatalf("Parse(%s, %v): %v", name, params, err)
	}
	return tr
}

func mustBind(t testing.TB, tr Transformer, col *schema.Column, unique bool) Func {
	t.Helper()
	f, err := tr.Bind(Target{Column: col, Unique: unique})
	if err != nil {
		t.Fatalf("Bind(%s): %v", tr.Name(), err)
	}
	return f
}

// mustBindLoose binds like a rule with consistent: false.
func mustBindLoose(t testing.TB, tr Transformer, col *schema.Column, unique bool) Func {
	t.Helper()
	f, err := tr.Bind(Target{Column: col, Unique: unique, Loose: true})
	if err != nil {
		t.Fatalf("Bind(%s): %v", tr.Name(), err)
	}
	return f
}

func mustRun(t testing.TB, f Func, m *Masker, in Input) string {
	t.Helper()
	out, null, err := f(m, in)
	if err != nil {
		t.Fatalf("Func(%q): %v", in.Value, err)
	}
	if null {
		t.Fatalf("Func(%q) returned NULL", in.Value)
	}
	return out
}

func textCol(n int) *schema.Column {
	return &schema.Column{Name: "c", Kind: schema.KindText, MaxLength: n, Charset: "utf8mb4", Nullable: true}
}

func col(k schema.Kind) *schema.Column {
	return &schema.Column{Name: "c", Kind: k, Nullable: true}
}
