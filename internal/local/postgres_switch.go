package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/refresh"
)

// Switch puts db behind the staging name S. All of it runs on an admin
// session to the control DB (renames need no session on either renamed
// database):
//
//  1. Check db is recorded "ready" for this run and target. Find the DB now
//     named S: its control row is the "live" one whose db_oid matches; if
//     none matches it is hand-made and will be renamed to
//     restage_<target>_previous_<run> (recorded with run_id "" and its
//     original name, so Retire refuses it unless adopted).
//  2. ALTER DATABASE … ALLOW_CONNECTIONS false on the new DB and on S, then
//     pg_terminate_backend every session on those two databases only (S is
//     staging, the new DB is restage's own: never a production session), and
//     wait until none is left.
//  3. One transaction: ALTER DATABASE S RENAME TO <old's restage name>;
//     ALTER DATABASE <new> RENAME TO S; ALLOW_CONNECTIONS true on both;
//     control rows: new → live, old → previous. COMMIT. PostgreSQL renames
//     are transactional, so a failure anywhere in 3 (including the second
//     rename) rolls back to S being the old DB, as if nothing happened.
//  4. On any failure after 2 began: ALLOW_CONNECTIONS true again on S and
//     the new DB (by their unchanged names).
//
// Without a DB named S (first run) step 3 is only the second rename.
func (p *pgProvider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	if db == nil {
		return nil, errors.New("switch: no database")
	}
	log := p.log.With("step", "switch", "db", db.Name, "staging", p.staging)
	c, err := p.control(ctx)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	defer pgClose(c)

	// 1. What goes where.
	rec, err := pgLookup(ctx, c, db.Name)
	if err != nil {
		return nil, fmt.Errorf("switch %s: read control DB: %w", db.Name, err)
	}
	if rec == nil || rec.Target != p.cfg.Target || rec.RunID == "" || rec.RunID != db.RunID {
		return nil, fmt.Errorf("switch %s: not recorded as created by this run for target %s", db.Name, p.cfg.Target)
	}
	if rec.State != "ready" {
		return nil, fmt.Errorf("switch %s: it is %s, not ready", db.Name, rec.State)
	}
	newOID, err := pgDBOID(ctx, c, db.Name)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	if newOID == 0 || (rec.OID != 0 && rec.OID != newOID) {
		return nil, fmt.Errorf("switch %s: the database is missing or not the one restage created", db.Name)
	}
	oldOID, err := pgDBOID(ctx, c, p.staging)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	var prev *refresh.DB
	handMade := false
	if oldOID != 0 {
		rows, err := c.Query(ctx, "SELECT "+pgRecordCols+" FROM "+pgControlTable+
			" WHERE target = $1 AND state = 'live' AND db_oid = $2", p.cfg.Target, oldOID)
		if err != nil {
			return nil, fmt.Errorf("switch %s: read control DB: %w", db.Name, pgScrub(err))
		}
		live, err := pgScanRecords(rows)
		if err != nil {
			return nil, fmt.Errorf("switch %s: read control DB: %w", db.Name, pgScrub(err))
		}
		switch len(live) {
		case 0:
			handMade = true
			prev = p.dbFor("restage_"+p.cfg.Target+"_previous_"+db.RunID, "")
		case 1:
			prev = p.dbFor(live[0].Name, live[0].RunID)
		default:
			return nil, fmt.Errorf("switch %s: the control DB records %d live DBs for database oid %d", db.Name, len(live), oldOID)
		}
		taken, err := pgDBOID(ctx, c, prev.Name)
		if err != nil {
			return nil, fmt.Errorf("switch %s: %w", db.Name, err)
		}
		if taken != 0 {
			return nil, fmt.Errorf("switch %s: can't rename the current staging DB to %s: a database by that name exists", db.Name, prev.Name)
		}
	}

	// 2. Empty both databases of sessions and keep them empty.
	blocked := []string{db.Name}
	if oldOID != 0 {
		blocked = append(blocked, p.staging)
	}
	// reopen undoes step 2. A cancelled context closes c mid-statement
	// (which ends its transaction too), so it may need a session of its own.
	reopen := func() {
		cctx, cancel := pgCleanupCtx(ctx)
		defer cancel()
		rc := c
		if rc.IsClosed() {
			var cerr error
			if rc, cerr = p.control(cctx); cerr != nil {
				log.Error("re-allow connections failed", "error", cerr.Error())
				return
			}
			defer pgClose(rc)
		}
		for _, name := range blocked {
			if _, err := rc.Exec(cctx, "ALTER DATABASE "+pgIdent(name)+" ALLOW_CONNECTIONS true"); err != nil {
				log.Error("re-allow connections failed", "db", name, "error", pgScrub(err).Error())
			}
		}
	}
	for _, name := range blocked {
		if _, err := c.Exec(ctx, "ALTER DATABASE "+pgIdent(name)+" ALLOW_CONNECTIONS false"); err != nil {
			reopen()
			return nil, fmt.Errorf("switch %s: block connections to %s: %w", db.Name, name, pgScrub(err))
		}
	}
	for _, name := range blocked {
		if err := p.emptyDB(ctx, c, name); err != nil {
			reopen()
			return nil, fmt.Errorf("switch %s: %w", db.Name, err)
		}
	}
	if err := p.hook("blocked"); err != nil {
		reopen()
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}

	// 3. Both renames and the records, atomically.
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if oldOID != 0 {
			if _, err := tx.Exec(ctx, "ALTER DATABASE "+pgIdent(p.staging)+" RENAME TO "+pgIdent(prev.Name)); err != nil {
				return fmt.Errorf("rename %s to %s: %w", p.staging, prev.Name, pgScrub(err))
			}
			if err := p.hook("renamed-old"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "ALTER DATABASE "+pgIdent(db.Name)+" RENAME TO "+pgIdent(p.staging)); err != nil {
			return fmt.Errorf("rename %s to %s: %w", db.Name, p.staging, pgScrub(err))
		}
		if err := p.hook("renamed-new"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "ALTER DATABASE "+pgIdent(p.staging)+" ALLOW_CONNECTIONS true"); err != nil {
			return fmt.Errorf("allow connections to %s: %w", p.staging, pgScrub(err))
		}
		if err := pgSetState(ctx, tx, db.Name, "live"); err != nil {
			return fmt.Errorf("record %s live: %w", db.Name, err)
		}
		if oldOID == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, "ALTER DATABASE "+pgIdent(prev.Name)+" ALLOW_CONNECTIONS true"); err != nil {
			return fmt.Errorf("allow connections to %s: %w", prev.Name, pgScrub(err))
		}
		if handMade {
			_, err := tx.Exec(ctx, "INSERT INTO "+pgControlTable+" (name, target, run_id, state, db_oid, original_name) VALUES ($1, $2, '', 'previous', $3, $4)",
				prev.Name, p.cfg.Target, oldOID, p.staging)
			if err != nil {
				return fmt.Errorf("record %s: %w", prev.Name, pgScrub(err))
			}
		} else if err := pgSetState(ctx, tx, prev.Name, "previous"); err != nil {
			return fmt.Errorf("record %s previous: %w", prev.Name, err)
		}
		return p.hook("recorded")
	})
	if err != nil {
		// The transaction rolled back: every name is what it was — unless
		// the session broke during COMMIT after the server committed.
		reopen()
		if p.switched(ctx, newOID) {
			log.Warn("switch committed although the session reported an error", "error", err.Error())
		} else {
			return nil, fmt.Errorf("switch %s: %w (the previous staging DB is serving again)", db.Name, err)
		}
	}
	if prev != nil {
		log.Info("switched", "previous", prev.Name, "hand_made", handMade)
	} else {
		log.Info("switched; there was no staging database before")
	}
	return prev, nil
}

// emptyDB ends every other session on database name (connections to it are
// blocked already) and waits until they are gone.
func (p *pgProvider) emptyDB(ctx context.Context, c *pgx.Conn, name string) error {
	const q = `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		return fmt.Errorf("end sessions on %s: %w", name, pgScrub(err))
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		var n int
		if err := c.QueryRow(ctx, q, name).Scan(&n); err != nil {
			return fmt.Errorf("end sessions on %s: %w", name, pgScrub(err))
		}
		if n == 0 {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("end sessions on %s: %d still open", name, n)
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
}

// switched reports whether the database with OID newOID is behind the
// staging name now.
func (p *pgProvider) switched(ctx context.Context, newOID int64) bool {
	cctx, cancel := pgCleanupCtx(ctx)
	defer cancel()
	c, err := p.control(cctx)
	if err != nil {
		return false
	}
	defer pgClose(c)
	oid, err := pgDBOID(cctx, c, p.staging)
	return err == nil && oid == newOID
}

func (p *pgProvider) hook(step string) error {
	if p.testHook == nil {
		return nil
	}
	return p.testHook(step)
}
