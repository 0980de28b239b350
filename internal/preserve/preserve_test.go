package preserve

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseRenders(t *testing.T) {
	cols := []string{"id", "role", "email", "is_qa", "Name", "deleted_at", "score"}
	tests := []struct {
		in      string
		mysql   string
		myArgs  []any
		pg      string
		pgArgs  []string
		columns []string
	}{
		{"role = 'qa'", "(`role` = ?)", []any{"qa"}, `("role" = $3)`, []string{"qa"}, []string{"role"}},
		{"id IN (1, 3, 9223372036854775807)", "(`id` IN (?, ?, ?))", []any{int64(1), int64(3), int64(9223372036854775807)},
			`("id" IN ($3, $4, $5))`, []string{"1", "3", "9223372036854775807"}, []string{"id"}},
		{"id not in (-2.5e3) and NOT is_qa", "((`id` NOT IN (?)) AND (NOT `is_qa`))", []any{"-2.5e3"},
			`(("id" NOT IN ($3)) AND (NOT "is_qa"))`, []string{"-2.5e3"}, []string{"id", "is_qa"}},
		{"(role <> 'it''s' OR score >= 10) AND deleted_at IS NULL", "(((`role` <> ?) OR (`score` >= ?)) AND (`deleted_at` IS NULL))", []any{"it's", int64(10)},
			`((("role" <> $3) OR ("score" >= $4)) AND ("deleted_at" IS NULL))`, []string{"it's", "10"}, []string{"role", "score", "deleted_at"}},
		{"email != 'x; DROP TABLE t' and deleted_at is not null", "((`email` <> ?) AND (`deleted_at` IS NOT NULL))", []any{"x; DROP TABLE t"},
			`(("email" <> $3) AND ("deleted_at" IS NOT NULL))`, []string{"x; DROP TABLE t"}, []string{"email", "deleted_at"}},
		{"true", "TRUE", nil, "TRUE", nil, nil},
		{"is_qa = TRUE OR id < score", "((`is_qa` = TRUE) OR (`id` < `score`))", nil, `(("is_qa" = TRUE) OR ("id" < "score"))`, nil, []string{"is_qa", "id", "score"}},
		// Names resolve to the table's spelling when unambiguous.
		{"name = 'A'", "(`Name` = ?)", []any{"A"}, `("Name" = $3)`, []string{"A"}, []string{"name"}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := p.Columns(); !reflect.DeepEqual(got, tt.columns) {
			t.Errorf("Parse(%q).Columns() = %v, want %v", tt.in, got, tt.columns)
		}
		my, myArgs, err := p.MySQL(cols)
		if err != nil || my != tt.mysql || !reflect.DeepEqual(myArgs, tt.myArgs) {
			t.Errorf("MySQL(%q) = %s %#v %v, want %s %#v", tt.in, my, myArgs, err, tt.mysql, tt.myArgs)
		}
		pg, pgArgs, err := p.PostgreSQL(cols, 3)
		if err != nil || pg != tt.pg || !reflect.DeepEqual(pgArgs, tt.pgArgs) {
			t.Errorf("PostgreSQL(%q) = %s %#v %v, want %s %#v", tt.in, pg, pgArgs, err, tt.pg, tt.pgArgs)
		}
	}
	var none *Predicate
	if s, args, err := none.MySQL(cols); s != "TRUE" || args != nil || err != nil {
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
	p := MustParse("role = 'qa' AND nosuch = 1")
	for name, render := range map[string]func() error{
		"mysql":    func() error { _, _, err := p.MySQL([]string{"role"}); return err },
		"postgres": func() error { _, _, err := p.PostgreSQL([]string{"role"}, 1); return err },
		// Two columns differing only in case: the name is ambiguous.
		"ambiguous": func() error { _, _, err := MustParse("Role = 1").MySQL([]string{"role", "ROLE"}); return err },
	} {
		err := render()
		if !errors.Is(err, ErrUnknownColumn) {
			t.Errorf("%s: err = %v, want ErrUnknownColumn", name, err)
		}
	}
}
