package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

// Truncate empties the tables. InnoDB refuses to TRUNCATE a table another
// table references, even when the referencing table is emptied too, so the
// statements run with foreign_key_checks off on one dedicated connection.
// TRUNCATE fires no ON DELETE action and no trigger, and the planner gives
// a set closed under foreign keys, so no table outside it changes and no
// dangling reference remains. The connection is discarded afterwards,
// never returned to the pool with checks off.
func (e *Engine) Truncate(ctx context.Context, tables []*schema.Table) error {
	if len(tables) == 0 {
		return nil
	}
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("truncate: %w", scrub(err))
	}
	defer func() {
		// Discard the connection whatever happened: its session may still
		// have foreign_key_checks off.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return fmt.Errorf("truncate: %w", scrub(err))
	}
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "TRUNCATE TABLE "+quote(t.Name)); err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION foreign_key_checks = 1")
			return fmt.Errorf("truncate %s: %w", t.Name, scrub(err))
		}
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 1"); err != nil {
		return fmt.Errorf("truncate: %w", scrub(err))
	}
	return nil
}

// Chunks splits a keyed table into ranges of size rows in key order: the
// boundaries are every size-th key, found with one window-function scan of
// the key. A table without a key is one range, which the no-key path of
// MaskRange handles as a whole.
func (e *Engine) Chunks(ctx context.Context, job *mask.TableJob, size int) ([]mask.Range, error) {
	if len(job.Key) == 0 || size <= 0 {
		return []mask.Range{{}}, nil
	}
	keys := quoteList("", job.Key)
	q := "SELECT " + quoteList("x.", job.Key) + " FROM (SELECT " + keys +
		", ROW_NUMBER() OVER (ORDER BY " + keys + ") AS restage_rn FROM " + quote(job.Table.Name) +
		") x WHERE x.restage_rn % " + strconv.Itoa(size) + " = 0 ORDER BY " + quoteList("x.", job.Key)
	rows, err := e.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", job.Table.Name, scrub(err))
	}
	defer rows.Close()
	raw := make([]any, len(job.Key))
	for i := range raw {
		raw[i] = new([]byte)
	}
	var ranges []mask.Range
	var lo []string
	for rows.Next() {
		if err := rows.Scan(raw...); err != nil {
			return nil, fmt.Errorf("chunk %s: %w", job.Table.Name, scrub(err))
		}
		hi := make([]string, len(raw))
		for i, r := range raw {
			hi[i] = string(*r.(*[]byte))
		}
		ranges = append(ranges, mask.Range{Lo: lo, Hi: hi})
		lo = hi
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chunk %s: %w", job.Table.Name, scrub(err))
	}
	return append(ranges, mask.Range{Lo: lo}), nil
}

// rangePredicate returns the SQL condition selecting the key range r of
// table alias a (e.g. "t."), with its arguments. Composite keys are
// compared as tuples, spelled out as nested OR/AND (plus a leading bound on
// the first column) because that is the form MySQL and MariaDB turn into an
// index range; row constructors like (a,b) > (?,?) often end up a scan.
func rangePredicate(a string, t *schema.Table, key []string, r mask.Range) (string, []any) {
	var conds []string
	var args []any
	bound := func(vals []string, strict, inclusive string) {
		// first column: a.k1 >= ? (resp. <=), then the exact tuple order.
		conds = append(conds, a+quote(key[0])+" "+inclusive+" "+param(t, key[0]))
		args = append(args, keyArg(t, key[0], vals[0]))
		var b strings.Builder
		for i := range key {
			col := a + quote(key[i])
			if i == len(key)-1 {
				op := strict
				if strict == "<" {
					op = "<=" // the upper bound is inclusive
				}
				b.WriteString(col + " " + op + " " + param(t, key[i]))
				args = append(args, keyArg(t, key[i], vals[i]))
				break
			}
			b.WriteString("(" + col + " " + strict + " " + param(t, key[i]) + " OR (" + col + " = " + param(t, key[i]) + " AND ")
			args = append(args, keyArg(t, key[i], vals[i]), keyArg(t, key[i], vals[i]))
		}
		for i := 0; i < len(key)-1; i++ {
			b.WriteString("))")
		}
		conds = append(conds, "("+b.String()+")")
	}
	if r.Lo != nil {
		bound(r.Lo, ">", ">=")
	}
	if r.Hi != nil {
		bound(r.Hi, "<", "<=")
	}
	if len(conds) == 0 {
		return "TRUE", nil
	}
	return strings.Join(conds, " AND "), args
}

// param is the placeholder for a value compared with column name. Key
// values travel as text; a DECIMAL key compares with a string as a double,
// so the text is cast back to the column's exact type.
func param(t *schema.Table, name string) string {
	if c := t.Column(name); c != nil && c.Kind == schema.KindDecimal {
		return fmt.Sprintf("CAST(? AS DECIMAL(%d,%d))", c.Precision, c.Scale)
	}
	return "?"
}

// keyArg turns a key value in text form into the argument that compares
// exactly with the column: integers as integers (a string would compare as
// a double and lose precision above 2^53), binary strings as bytes.
func keyArg(t *schema.Table, name, v string) any {
	c := t.Column(name)
	if c == nil {
		return v
	}
	switch c.Kind {
	case schema.KindInt:
		if c.Unsigned {
			if n, err := strconv.ParseUint(v, 10, 64); err == nil {
				return n
			}
		} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case schema.KindBinary:
		return []byte(v)
	}
	return v
}
