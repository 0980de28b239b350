package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/mask"
)

var _ mask.IndexDeferrer = (*Engine)(nil)

// pgDeferred are the indexes and unique constraints DeferIndexes dropped,
// with the statements that create them again.
type pgDeferred struct {
	mu    sync.Mutex
	items []pgDeferredIndex
}

type pgDeferredIndex struct {
	table, name string
	create      string // CREATE INDEX … or ALTER TABLE … ADD CONSTRAINT …
}

// DeferIndexes drops the secondary indexes (and unique constraints) that
// cover a masked column: an UPDATE of an indexed column inserts a new
// entry into each of them row by row, while a build after masking sorts
// once. Primary keys, indexes a foreign key or exclusion constraint
// depends on, and partitioned (parent) indexes stay.
func (e *Engine) DeferIndexes(ctx context.Context, jobs []*mask.TableJob) ([]string, error) {
	var out []string
	for _, job := range jobs {
		t := job.Table
		if t.Partitioned {
			continue
		}
		type cand struct{ name, create, drop string }
		var cands []cand
		err := e.with(ctx, func(c *pgx.Conn) error {
			rows, err := c.Query(ctx, `
SELECT i.relname,
       CASE WHEN con.oid IS NOT NULL
            THEN format('ALTER TABLE %s ADD CONSTRAINT %I %s', $1::regclass, con.conname, pg_get_constraintdef(con.oid))
            ELSE pg_get_indexdef(x.indexrelid) END,
       CASE WHEN con.oid IS NOT NULL
            THEN format('ALTER TABLE %s DROP CONSTRAINT %I', $1::regclass, con.conname)
            ELSE format('DROP INDEX %s', x.indexrelid::regclass) END
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('u', 'p', 'x')
WHERE x.indrelid = $1::regclass
  AND NOT x.indisprimary
  AND (con.oid IS NULL OR con.contype = 'u')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid)
  AND EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey) AND a.attname = ANY ($2::text[]))
ORDER BY i.relname`, qname(t.TableName), job.Write)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k cand
				if err := rows.Scan(&k.name, &k.create, &k.drop); err != nil {
					return err
				}
				cands = append(cands, k)
			}
			return rows.Err()
		})
		if err != nil {
			return out, fmt.Errorf("defer indexes of %s: %w", t.TableName, scrub(err))
		}
		for _, k := range cands {
			if err := e.with(ctx, func(c *pgx.Conn) error {
				_, err := c.Exec(ctx, k.drop)
				return err
			}); err != nil {
				return out, fmt.Errorf("defer index %s of %s: %w", k.name, t.TableName, scrub(err))
			}
			e.deferred.mu.Lock()
			e.deferred.items = append(e.deferred.items, pgDeferredIndex{table: t.TableName.String(), name: k.name, create: k.create})
			e.deferred.mu.Unlock()
			out = append(out, t.TableName.String()+"."+k.name)
		}
	}
	return out, nil
}

// rebuildIndexes creates the deferred indexes again, even after a
// cancellation. A unique index that no longer holds fails here, naming
// the index (the server's detail, which quotes the value, is scrubbed);
// the error carries the statements left out so an operator can run them.
func (e *Engine) rebuildIndexes(ctx context.Context) error {
	e.deferred.mu.Lock()
	items := e.deferred.items
	e.deferred.items = nil
	e.deferred.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	var errs []error
	for _, d := range items {
		if err := e.with(ctx, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, d.create)
			return err
		}); err != nil {
			errs = append(errs, fmt.Errorf("rebuild index %s of %s (%s): %w", d.name, d.table, d.create, scrub(err)))
		}
	}
	return errors.Join(errs...)
}
