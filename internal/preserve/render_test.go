package preserve_test

// The engines render predicates (mysql.PredicateSQL,
// postgres.PredicateSQL, through preserve.Dialect); their renderings are
// tested here, side by side, from the outside of this package.

import (
	"errors"
	"reflect"
	"testing"

	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/preserve"
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
		p, err := preserve.Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := p.Columns(); !reflect.DeepEqual(got, tt.columns) {
			t.Errorf("Parse(%q).Columns() = %v, want %v", tt.in, got, tt.columns)
		}
		my, myArgs, err := mysql.PredicateSQL(p, cols)
		if err != nil || my != tt.mysql || !reflect.DeepEqual(myArgs, tt.myArgs) {
			t.Errorf("MySQL(%q) = %s %#v %v, want %s %#v", tt.in, my, myArgs, err, tt.mysql, tt.myArgs)
		}
		pg, pgArgs, err := postgres.PredicateSQL(p, cols, 3)
		if err != nil || pg != tt.pg || !reflect.DeepEqual(pgArgs, tt.pgArgs) {
			t.Errorf("PostgreSQL(%q) = %s %#v %v, want %s %#v", tt.in, pg, pgArgs, err, tt.pg, tt.pgArgs)
		}
	}
	var none *preserve.Predicate
	if s, args, err := mysql.PredicateSQL(none, cols); s != "TRUE" || args != nil || err != nil {
		t.Errorf("nil predicate: %q %v %v, want TRUE", s, args, err)
	}
}

func TestUnknownColumnEngines(t *testing.T) {
	p := preserve.MustParse("role = 'qa' AND nosuch = 1")
	for name, render := range map[string]func() error{
		"mysql":    func() error { _, _, err := mysql.PredicateSQL(p, []string{"role"}); return err },
		"postgres": func() error { _, _, err := postgres.PredicateSQL(p, []string{"role"}, 1); return err },
		// Two columns differing only in case: the name is ambiguous.
		"ambiguous": func() error {
			_, _, err := mysql.PredicateSQL(preserve.MustParse("Role = 1"), []string{"role", "ROLE"})
			return err
		},
	} {
		err := render()
		if !errors.Is(err, preserve.ErrUnknownColumn) {
			t.Errorf("%s: err = %v, want ErrUnknownColumn", name, err)
		}
	}
}
