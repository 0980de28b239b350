package awsprov

import (
	"context"
	"errors"
	"fmt"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

// Preserve copies rows from the current staging DB (the one behind the
// staging record) into db, after masking and before the switch. The old
// DB is read as Config.PreserveUser — the first staging user, who can read
// it (its master password may be unknowable: random mode never stores
// it); db is written with its admin DSN, in one transaction. Per spec, the
// columns both tables have (generated columns excluded) are copied by the
// engine's CopyRows (engine.Admin), which replaces rows with the same
// primary key.
//
// No staging record, or a table missing in the old DB, copies nothing
// (logged); a table missing in db, or a PostgreSQL table without a primary
// key, is an error. Passwords never reach a log or an error.
func (p *Provider) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	if len(specs) == 0 {
		return 0, nil
	}
	if p.cfg.PreserveUser == "" || p.cfg.PreservePassword == "" {
		return 0, errors.New("preserve: the current staging DB is read as the first staging user (RESTAGE_STAGING_USERS, with its password); none is configured")
	}
	log := p.log.With("step", refresh.StepVerify, "db", db.Name)
	r, err := p.fresh(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	host, _, _, live, err := p.current(ctx)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	if host == "" {
		log.Info("no staging record yet: nothing to preserve")
		return 0, nil
	}
	old := live
	if old == nil && p.cfg.Adopt != "" {
		if a, err := p.rdsc.Get(ctx, p.cfg.Adopt); err == nil && sameHost(a.Endpoint, host) {
			old = a
		}
	}
	if old == nil {
		// A DB restage does not know: same engine, so the new DB's port.
		old = &rds.DB{ID: host, Endpoint: host, Port: r.Port}
	}
	if old.Engine == "" {
		old.Engine = p.engine()
	}
	if sameHost(old.Endpoint, r.Endpoint) {
		return 0, fmt.Errorf("preserve: the staging record already points at %s", r.ID)
	}
	oldDSN, err := p.dsnFor(old, p.cfg.PreserveUser, p.cfg.PreservePassword)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", err)
	}
	log = log.With("from", old.ID, "as", p.cfg.PreserveUser)
	adm, err := engines.OpenAdmin(ctx, db.Engine, db.AdminDSN)
	if err != nil {
		return 0, fmt.Errorf("preserve: %w", redact(err, p.password(db.Name)))
	}
	defer adm.Close()
	n, err := adm.CopyRows(ctx, log, oldDSN, db.AdminDSN, specs)
	if err != nil {
		return 0, fmt.Errorf("preserve rows from %s into %s: %w", old.ID, db.Name, redact(err, p.cfg.PreservePassword, p.password(db.Name)))
	}
	return n, nil
}
