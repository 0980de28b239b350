package local

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/rowcopy"
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

// preserveTable copies one spec's rows; -1 rows means skipped.
func (p *pgProvider) preserveTable(ctx context.Context, stx, ntx pgx.Tx, i int, spec refresh.PreserveSpec) (int64, error) {
	n, err := rowcopy.PostgreSQL(ctx, stx, ntx, i, spec)
	if n < 0 {
		p.log.Info("table missing in the current staging database: nothing preserved", "step", "preserve", "table", spec.Table)
	}
	return n, err
}
