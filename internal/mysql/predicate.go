package mysql

import (
	"strconv"

	"github.com/restage/restage/internal/preserve"
)

// PredicateSQL renders a RESTAGE_PRESERVE predicate for MySQL/MariaDB with
// ? placeholders. An integer goes as an integer so a BIGINT key compares
// exactly; anything else as text, which MySQL converts the way it
// converts a literal.
func PredicateSQL(p *preserve.Predicate, columns []string) (string, []any, error) {
	var args []any
	s, err := p.Render(columns, preserve.Dialect{Quote: Quote, Param: func(v preserve.Literal) string {
		if v.Number {
			if i, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
				args = append(args, i)
				return "?"
			}
		}
		args = append(args, v.Text)
		return "?"
	}})
	return s, args, err
}
