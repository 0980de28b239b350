package gate

import (
	"context"
	"fmt"
	"strings"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

// SQL of the checks that run on the server. Every statement is plain,
// read-only SQL built from QuoteIdent, From and Text; names that must be
// string literals (catalog lookups) are passed hex-encoded, so no quoting
// mode or escape setting can change their meaning.

// verifyFromAll renders a table for FROM including the rows of its
// partitions when it is a PostgreSQL partitioned table (which holds none
// itself, and whose unique and foreign keys span its partitions).
func verifyFromAll(rd mask.Reader, t *schema.Table) string {
	f := rd.From(t.TableName)
	if t.Partitioned {
		f = strings.TrimPrefix(f, "ONLY ")
	}
	return f
}

func verifyQueryInt(ctx context.Context, rd mask.Reader, q string) (int64, error) {
	var n int64
	err := rd.Query(ctx, q, func(row []mask.Value) error {
		if row[0].Null {
			return nil
		}
		_, err := fmt.Sscan(row[0].S, &n)
		return err
	})
	return n, err
}

// verifyUnique checks every primary key and unique index of t: no two rows
// share a non-NULL tuple (GROUP BY compares the way the index does).
func verifyUnique(ctx context.Context, rd mask.Reader, t *schema.Table, acc *verifyAcc) error {
	indexes := t.Uniques
	if len(t.PrimaryKey) > 0 {
		indexes = append([]schema.Index{{Name: "PRIMARY KEY", Columns: t.PrimaryKey}}, indexes...)
	}
	name := t.TableName.String()
	ok := true
	for _, ix := range indexes {
		var cols, notNull []string
		for _, c := range ix.Columns {
			q := rd.QuoteIdent(c)
			cols = append(cols, q)
			notNull = append(notNull, q+" IS NOT NULL")
		}
		q := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT 1 AS x FROM %s WHERE %s GROUP BY %s HAVING COUNT(*) > 1) d",
			verifyFromAll(rd, t), strings.Join(notNull, " AND "), strings.Join(cols, ", "))
		n, err := verifyQueryInt(ctx, rd, q)
		if err != nil {
			return fmt.Errorf("unique check of %s (%s): %w", name, ix.Name, err)
		}
		if n > 0 {
			ok = false
			acc.mu.Lock()
			acc.fail(name, strings.Join(ix.Columns, ","), VerifyCheckUnique, "%d values occur in more than one row under unique index %s", n, ix.Name)
			acc.mu.Unlock()
		}
	}
	if ok {
		acc.mu.Lock()
		acc.pass(name, VerifyCheckUnique)
		acc.mu.Unlock()
	}
	return nil
}

// verifyForeignKey counts the rows of child whose (non-NULL) reference
// finds no row of ref. PostgreSQL masks with session_replication_role =
// replica, which skips FK triggers, so nothing else would notice.
func verifyForeignKey(ctx context.Context, rd mask.Reader, child, ref *schema.Table, fk schema.ForeignKey, acc *verifyAcc) error {
	var notNull, on []string
	for i, c := range fk.Columns {
		if i >= len(fk.RefColumns) {
			break
		}
		notNull = append(notNull, "c."+rd.QuoteIdent(c)+" IS NOT NULL")
		on = append(on, "p."+rd.QuoteIdent(fk.RefColumns[i])+" = c."+rd.QuoteIdent(c))
	}
	if len(on) == 0 {
		return nil
	}
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
		verifyFromAll(rd, child), strings.Join(notNull, " AND "), verifyFromAll(rd, ref), strings.Join(on, " AND "))
	n, err := verifyQueryInt(ctx, rd, q)
	name := child.TableName.String()
	if err != nil {
		return fmt.Errorf("foreign key check of %s (%s): %w", name, fk.Name, err)
	}
	acc.mu.Lock()
	defer acc.mu.Unlock()
	if n > 0 {
		acc.fail(name, strings.Join(fk.Columns, ","), VerifyCheckForeignKeys, "%d rows reference no row of %s (foreign key %s)", n, fk.RefTable, fk.Name)
		return nil
	}
	// Passed only if no other foreign key of the table failed.
	for _, f := range acc.failures {
		if f.Table == name && f.Check == VerifyCheckForeignKeys {
			return nil
		}
	}
	acc.pass(name, VerifyCheckForeignKeys)
	return nil
}

// verifyStatValues returns the values the server's statistics hold for a
// column of t (col "" for every column); each engine knows where its
// server keeps them.
func verifyStatValues(ctx context.Context, rd mask.Reader, s *schema.Schema, t *schema.Table, col string) ([]string, error) {
	out, err := rd.StatisticsValues(ctx, s, t, col)
	if err != nil {
		return nil, fmt.Errorf("read statistics of %s: %w", t.TableName, err)
	}
	return out, nil
}
