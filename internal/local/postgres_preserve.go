package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/refresh"
)

// Preserve copies rows from the current staging DB (the database named by
// the staging name) into db, in one transaction on db: per spec, COPY
// (SELECT … WHERE …) TO STDOUT in a read-only repeatable-read transaction
// on staging streams into COPY … FROM STDIN of a temporary table in db,
// then INSERT … ON CONFLICT (primary key) DO UPDATE replaces db's rows that
// have the same key. An upsert rather than DELETE + INSERT: deleting a row
// that other rows reference would fail (NO ACTION/RESTRICT) or delete those
// rows (CASCADE). Columns are those both tables have (generated columns
// excluded). A table missing from staging is skipped (logged); one missing
// from db, or without a primary key there, is an error.
func (p *pgProvider) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	if len(specs) == 0 {
		return 0, nil
	}
	log := p.log.With("step", "preserve", "db", db.Name, "staging", p.staging)
	ctl, err := p.control(ctx)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	oid, err := pgDBOID(ctx, ctl, p.staging)
	pgClose(ctl)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	if oid == 0 {
		log.Info("no current staging database: nothing to preserve")
		return 0, nil
	}
	s, err := p.connect(ctx, p.staging)
	if err != nil {
		return 0, fmt.Errorf("preserve: connect to staging %s: %w", p.staging, err)
	}
	defer pgClose(s)
	n, err := p.connect(ctx, db.Name)
	if err != nil {
		return 0, fmt.Errorf("preserve: connect to %s: %w", db.Name, err)
	}
	defer pgClose(n)

	var total int64
	err = pgx.BeginTxFunc(ctx, s, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(stx pgx.Tx) error {
		return pgx.BeginFunc(ctx, n, func(ntx pgx.Tx) error {
			for i, spec := range specs {
				rows, err := p.preserveTable(ctx, stx, ntx, i, spec)
				if err != nil {
					return fmt.Errorf("preserve %s into %s: %w", spec.Table, db.Name, err)
				}
				if rows >= 0 {
					log.Info("preserved rows", "table", spec.Table, "rows", rows)
					total += rows
				}
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// pgColumn is a column of the table a spec names.
type pgColumn struct {
	Name      string
	Generated bool
	Key       bool // part of the primary key
}

// pgColumns lists the columns of table (quoted, qualified); ok is false
// when there is no such table.
func pgColumns(ctx context.Context, q pgQuerier, table string) (cols []pgColumn, ok bool, err error) {
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
		return nil, false, pgScrub(err)
	}
	rows, err := q.Query(ctx, `SELECT a.attname, a.attgenerated <> '', coalesce(a.attnum = ANY (i.indkey), false)
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, table)
	if err != nil {
		return nil, true, pgScrub(err)
	}
	cols, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgColumn, error) {
		var c pgColumn
		err := r.Scan(&c.Name, &c.Generated, &c.Key)
		return c, err
	})
	return cols, true, pgScrub(err)
}

// preserveTable copies one spec's rows; -1 rows means skipped.
func (p *pgProvider) preserveTable(ctx context.Context, stx, ntx pgx.Tx, i int, spec refresh.PreserveSpec) (int64, error) {
	table, err := pgQualified(spec.Table)
	if err != nil {
		return 0, err
	}
	srcCols, ok, err := pgColumns(ctx, stx, table)
	if err != nil {
		return 0, fmt.Errorf("read staging columns: %w", err)
	}
	if !ok {
		p.log.Info("table missing in the current staging database: nothing preserved", "step", "preserve", "table", spec.Table)
		return -1, nil
	}
	dstCols, ok, err := pgColumns(ctx, ntx, table)
	if err != nil {
		return 0, fmt.Errorf("read columns: %w", err)
	}
	if !ok {
		return 0, errors.New("the table does not exist in the new database")
	}
	var cols, key, set []string
	for _, c := range dstCols {
		inSrc := slices.ContainsFunc(srcCols, func(s pgColumn) bool { return s.Name == c.Name })
		if c.Key {
			if !inSrc {
				return 0, fmt.Errorf("primary key column %s is missing in the current staging database", c.Name)
			}
			key = append(key, pgIdent(c.Name))
		}
		if c.Generated || !inSrc {
			continue
		}
		cols = append(cols, pgIdent(c.Name))
		if !c.Key {
			set = append(set, pgIdent(c.Name)+" = EXCLUDED."+pgIdent(c.Name))
		}
	}
	if len(key) == 0 {
		return 0, errors.New("the table has no primary key in the new database")
	}
	colList := strings.Join(cols, ", ")
	tmp := fmt.Sprintf("restage_preserve_%d", i)
	if _, err := ntx.Exec(ctx, "CREATE TEMPORARY TABLE "+tmp+" ON COMMIT DROP AS SELECT "+colList+" FROM "+table+" WITH NO DATA"); err != nil {
		return 0, fmt.Errorf("create temporary table: %w", pgScrub(err))
	}

	sel := "SELECT " + colList + " FROM " + table
	if w := strings.TrimSpace(spec.Where); w != "" {
		sel += " WHERE (" + w + ")"
	}
	// Stream staging's COPY output into the new DB's COPY input.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := stx.Conn().PgConn().CopyTo(ctx, pw, "COPY ("+sel+") TO STDOUT")
		pw.CloseWithError(err)
		done <- err
	}()
	_, errIn := ntx.Conn().PgConn().CopyFrom(ctx, pr, "COPY "+tmp+" ("+colList+") FROM STDIN")
	pr.CloseWithError(errPGCopyStopped) // unblocks the writer if the copy in stopped early
	errOut := <-done
	if errOut != nil && !errors.Is(errOut, errPGCopyStopped) {
		return 0, fmt.Errorf("read from staging: %w", pgScrub(errOut))
	}
	if errIn != nil {
		return 0, fmt.Errorf("copy into the new database: %w", pgScrub(errIn))
	}

	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	tag, err := ntx.Exec(ctx, "INSERT INTO "+table+" ("+colList+") OVERRIDING SYSTEM VALUE SELECT "+colList+" FROM "+tmp+
		" ON CONFLICT ("+strings.Join(key, ", ")+") "+conflict)
	if err != nil {
		return 0, fmt.Errorf("write rows: %w", pgScrub(err))
	}
	return tag.RowsAffected(), nil
}

var errPGCopyStopped = errors.New("copy into the new database stopped")

// pgQualified quotes "table" (schema public) or "schema.table".
func pgQualified(name string) (string, error) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "public", name
	}
	if schema == "" || table == "" || strings.Contains(table, ".") {
		return "", fmt.Errorf("table name %q: want table or schema.table", name)
	}
	return pgx.Identifier{schema, table}.Sanitize(), nil
}
