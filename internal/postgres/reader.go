package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

var _ mask.Reader = (*Engine)(nil)

// BinaryValue decodes bytea's hex text form (\x…).
func (e *Engine) BinaryValue(text string) string {
	if rest, ok := strings.CutPrefix(text, `\x`); ok {
		if raw, err := hex.DecodeString(rest); err == nil {
			return string(raw)
		}
	}
	return text
}

// TableSample samples whole pages, the same ones on every run.
func (e *Engine) TableSample(percent float64) string {
	return fmt.Sprintf("TABLESAMPLE SYSTEM (%.4f) REPEATABLE (0)", percent)
}

// Flavor is "postgres".
func (e *Engine) Flavor() string { return "postgres" }

// QuoteIdent quotes an identifier.
func (e *Engine) QuoteIdent(name string) string { return Quote(name) }

// From renders ONLY schema.table: an inheritance parent's own rows.
func (e *Engine) From(t schema.TableName) string {
	return "ONLY " + pgx.Identifier{t.Schema, t.Name}.Sanitize()
}

// Text casts to text, the form MaskRange reads.
func (e *Engine) Text(col string) string { return col + "::text" }

// Query runs a read-only query in the simple protocol, so every value
// arrives in its text form.
func (e *Engine) Query(ctx context.Context, query string, fn func(row []mask.Value) error) error {
	return e.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return fmt.Errorf("query: %w", scrub(err))
		}
		defer rows.Close()
		var vals []mask.Value
		for rows.Next() {
			raw := rows.RawValues()
			vals = vals[:0]
			for _, b := range raw {
				if b == nil {
					vals = append(vals, mask.Value{Null: true})
				} else {
					vals = append(vals, mask.Value{S: string(b)})
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
	})
}

var _ mask.Execer = (*Engine)(nil)

// Exec runs one statement (post-mask SQL) on the masked copy.
func (e *Engine) Exec(ctx context.Context, stmt string) error {
	return e.with(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("exec: %w", scrub(err))
		}
		return nil
	})
}

// StatisticsValues returns the most common values and histogram bounds
// pg_stats holds for a column of t (col "" for every column) and, for one
// column, of its inheritance ancestors (whose statistics cover the child's
// rows). NULLs are left out.
func (e *Engine) StatisticsValues(ctx context.Context, s *schema.Schema, t *schema.Table, col string) ([]string, error) {
	tables := []*schema.Table{t}
	for p := t.Parent; col != "" && p != nil && len(tables) < 64; {
		pt := s.Lookup(*p)
		if pt == nil {
			break
		}
		tables = append(tables, pt)
		p = pt.Parent
	}
	const q = `SELECT v FROM pg_catalog.pg_stats st,
		unnest(coalesce(st.most_common_vals::text::text[], '{}'::text[]) || coalesce(st.histogram_bounds::text::text[], '{}'::text[])) v
		WHERE st.schemaname = $1 AND st.tablename = $2 AND ($3 = '' OR st.attname = $3)`
	var out []string
	err := e.with(ctx, func(c *pgx.Conn) error {
		for _, tt := range tables {
			rows, err := c.Query(ctx, q, tt.Schema, tt.Name, col)
			if err != nil {
				return err
			}
			for rows.Next() {
				var v *string
				if err := rows.Scan(&v); err != nil {
					rows.Close()
					return err
				}
				if v != nil {
					out = append(out, *v)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, scrub(err)
	}
	return out, nil
}
