package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

var _ mask.Reader = (*Engine)(nil)

// BinaryValue: MySQL gives a binary column's bytes as they are.
func (e *Engine) BinaryValue(text string) string { return text }

// TableSample: MySQL has no page sampling; a caller reads from the start.
func (e *Engine) TableSample(float64) string { return "" }

// Flavor is "mariadb" or "mysql8" (the gates' SQL is the same for both;
// what differs lives behind Flavor in this package).
func (e *Engine) Flavor() string { return string(e.flavor) }

// QuoteIdent quotes an identifier with backticks.
func (e *Engine) QuoteIdent(name string) string { return quote(name) }

// From renders a table name; MySQL tables have no inheritance.
func (e *Engine) From(t schema.TableName) string { return quote(t.Name) }

// Text returns col unchanged: the text protocol already reads values as
// the server prints them.
func (e *Engine) Text(col string) string { return col }

// Query runs a read-only query, values as text.
func (e *Engine) Query(ctx context.Context, query string, fn func(row []mask.Value) error) error {
	rows, err := e.db.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("query: %w", scrub(err))
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return scrub(err)
	}
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([]mask.Value, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("query: %w", scrub(err))
		}
		for i, b := range raw {
			if b == nil {
				vals[i] = mask.Value{Null: true}
			} else {
				vals[i] = mask.Value{S: string(b)}
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", scrub(err))
	}
	return nil
}

var _ mask.Execer = (*Engine)(nil)

// Exec runs one statement (post-mask SQL) on the masked copy.
func (e *Engine) Exec(ctx context.Context, stmt string) error {
	if _, err := e.db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("exec: %w", scrub(err))
	}
	return nil
}

// StatisticsValues returns the values the server's statistics hold for a
// column of t (col "" for every column): MariaDB's mysql.column_stats min,
// max and JSON histograms; MySQL 8's histograms. NULLs are left out.
func (e *Engine) StatisticsValues(ctx context.Context, _ *schema.Schema, t *schema.Table, col string) ([]string, error) {
	args := []any{t.Name}
	if col != "" {
		args = append(args, col)
	}
	var out []string
	err := e.each(ctx, e.flavor.statsValuesSQL(col != ""), func(r *sql.Rows) error {
		cols, err := r.Columns()
		if err != nil {
			return err
		}
		raw := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return err
		}
		row := make([]*string, len(raw))
		for i, b := range raw {
			if b != nil {
				s := string(b)
				row[i] = &s
			}
		}
		out = append(out, e.flavor.statsValues(row)...)
		return nil
	}, args...)
	if err != nil {
		return nil, scrub(err)
	}
	return out, nil
}
