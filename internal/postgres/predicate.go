package postgres

import (
	"strconv"

	"github.com/restage/restage/internal/preserve"
)

// PredicateSQL renders a RESTAGE_PRESERVE predicate for PostgreSQL with $n
// placeholders from $first on. Every argument is text sent with an
// unspecified type, so the server types it from the column, exactly as it
// types a literal.
func PredicateSQL(p *preserve.Predicate, columns []string, first int) (string, []string, error) {
	var args []string
	s, err := p.Render(columns, preserve.Dialect{Quote: Quote, Param: func(v preserve.Literal) string {
		args = append(args, v.Text)
		return "$" + strconv.Itoa(first+len(args)-1)
	}})
	return s, args, err
}
