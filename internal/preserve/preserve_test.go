package preserve

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testDialect quotes with brackets and numbers its parameters.
func testDialect(args *[]Literal) Dialect {
	return Dialect{
		Quote: func(s string) string { return "[" + s + "]" },
		Param: func(v Literal) string { *args = append(*args, v); return fmt.Sprintf("$%d", len(*args)) },
	}
}

func TestRender(t *testing.T) {
	var args []Literal
	got, err := MustParse("Name = 'A' AND id IN (1, 2.5)").Render([]string{"id", "Name"}, testDialect(&args))
	want := "(([Name] = $1) AND ([id] IN ($2, $3)))"
	wantArgs := []Literal{{"A", false}, {"1", true}, {"2.5", true}}
	if err != nil || got != want || !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("Render = %s %v %v, want %s %v", got, args, err, want, wantArgs)
	}
	var none *Predicate
	args = nil
	if s, err := none.Render([]string{"id"}, testDialect(&args)); s != "TRUE" || args != nil || err != nil {
		t.Errorf("nil predicate: %q %v %v, want TRUE", s, args, err)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		// The PostgreSQL payload that ran a shell command on the database host.
		{"true)) TO PROGRAM 'id > pwned.txt' -- ", `position 5: unexpected ")"`},
		{"id = 1; DROP TABLE users", `position 7: unexpected character ';'`},
		{"id = 1 -- comment", `position 8: unexpected character '-'`},
		{"id = (SELECT 1)", `position 6: unexpected "("`},
		{"email LIKE '%@x'", `position 7: unexpected "LIKE"`},
		{"lower(email) = 'a'", `position 6: unexpected "("`},
		{"id = 1 /* x */", `position 8: unexpected character '/'`},
		{"id = NULL", "IS NULL"},
		{"id IN (1, NULL)", "IS NULL"},
		{"role = 'qa", "position 8: unterminated string"},
		{"id = 1e", `position 6: "1e" is not a number`},
		{"id = 12abc", `"12a" is not a number`},
		{"id =", "ends too early"},
		{"(id = 1", "ends too early"},
		{"id = 1 AND", "ends too early"},
		{"id IS 1", `position 7: unexpected "1"`},
		{"\"id\" = 1", `unexpected character '"'`},
		{"`id` = 1", "unexpected character '`'"},
		{"id = 1 OR 1 = 1", `position 11: unexpected "1"`},
		{"  ", "empty predicate"},
		{strings.Repeat("(", 40) + "id" + strings.Repeat(")", 40), "nested deeper than 32"},
		{strings.Repeat("NOT ", 40) + "id", "nested deeper than 32"},
		{"id IN (" + strings.Repeat("1,", 1000) + "1)", "more than 1000 values"},
		{"id = '" + strings.Repeat("x", 5000) + "'", "the limit is 4096"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%.60q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
	}
}

func TestUnknownColumn(t *testing.T) {
	var args []Literal
	for name, render := range map[string]func() error{
		"unknown": func() error {
			_, err := MustParse("role = 'qa' AND nosuch = 1").Render([]string{"role"}, testDialect(&args))
			return err
		},
		// Two columns differing only in case: the name is ambiguous.
		"ambiguous": func() error {
			_, err := MustParse("Role = 1").Render([]string{"role", "ROLE"}, testDialect(&args))
			return err
		},
	} {
		err := render()
		if !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("%s: err = %v, want ErrUnknownColumn", name, err)
		}
	}
}
