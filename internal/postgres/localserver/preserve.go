package localserver

import (
	"context"
	"fmt"

	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
)

// Preserve copies rows from the current staging DB (the database named by
// the staging name) into db, in one transaction on db, through the
// engine's CopyRows: rows selected by Where in a read-only repeatable-read
// transaction on staging replace db's rows with the same primary key (an
// upsert rather than DELETE + INSERT: deleting a row that other rows
// reference would fail or cascade). Columns are those both tables have
// (generated columns excluded). A table missing from staging is skipped
// (logged); one missing from db, or without a primary key there, is an
// error.
func (p *pgServer) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	if len(specs) == 0 {
		return 0, nil
	}
	log := p.log.With("step", "preserve", "db", db.Name, "staging", p.staging)
	ctl, err := p.control(ctx)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	defer pgClose(ctl)
	oid, err := pgDBOID(ctx, ctl, p.staging)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	if oid == 0 {
		log.Info("no current staging database: nothing to preserve")
		return 0, nil
	}
	n, err := postgres.NewAdmin(ctl).CopyRows(ctx, log, p.adminDSN(p.staging), p.adminDSN(db.Name), specs)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, err)
	}
	return n, nil
}
