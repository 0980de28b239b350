package localserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/postgres"
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
//  2. Write the intent record: both names and OIDs, the name S's DB gets,
//     and both databases' datallowconn.
//  3. ALTER DATABASE … ALLOW_CONNECTIONS false on the new DB and on S, then
//     pg_terminate_backend every session on those two databases only (S is
//     staging, the new DB is restage's own: never a production session), and
//     wait until none is left.
//  4. One transaction: ALTER DATABASE S RENAME TO <old's restage name>;
//     ALTER DATABASE <new> RENAME TO S; ALLOW_CONNECTIONS true on both;
//     control rows: new → live, old → previous; delete the intent record.
//     COMMIT: the commit point. PostgreSQL renames are transactional, so a
//     failure anywhere in 4 rolls back to S being the old DB.
//  5. On any failure after 2: finish from the intent record (pgFinish):
//     back, unless the COMMIT happened after all.
//
// A killed process leaves the intent record (its deletion commits with the
// renames); the next Sweep finishes the swap from it the same way.
// Without a DB named S (first run) step 4 is only the second rename.
func (p *pgServer) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
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
	if rec.State != string(lifecycle.Ready) {
		return nil, fmt.Errorf("switch %s: it is %s, not ready", db.Name, rec.State)
	}
	in := pgSwapIntent{NewDB: db.Name, Staging: p.staging}
	if in.NewOID, in.NewAllowConn, err = pgDBState(ctx, c, db.Name); err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	if in.NewOID == 0 || (rec.OID != 0 && rec.OID != in.NewOID) {
		return nil, fmt.Errorf("switch %s: the database is missing or not the one restage created", db.Name)
	}
	if in.OldOID, in.OldAllowConn, err = pgDBState(ctx, c, p.staging); err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	var prev *refresh.DB
	if in.OldOID != 0 {
		rows, err := c.Query(ctx, "SELECT "+pgRecordCols+" FROM "+pgControlTable+
			" WHERE target = $1 AND state = 'live' AND db_oid = $2", p.cfg.Target, in.OldOID)
		if err != nil {
			return nil, fmt.Errorf("switch %s: read control DB: %w", db.Name, pgScrub(err))
		}
		live, err := pgScanRecords(rows)
		if err != nil {
			return nil, fmt.Errorf("switch %s: read control DB: %w", db.Name, pgScrub(err))
		}
		switch len(live) {
		case 0:
			in.HandMade = true
			prev = p.DBFor(local.HoldingName(p.cfg.Target, db.RunID), "")
		case 1:
			prev = p.DBFor(live[0].Name, live[0].RunID)
		default:
			return nil, fmt.Errorf("switch %s: the control DB records %d live DBs for database oid %d", db.Name, len(live), in.OldOID)
		}
		in.PrevName = prev.Name
		taken, err := pgDBOID(ctx, c, prev.Name)
		if err != nil {
			return nil, fmt.Errorf("switch %s: %w", db.Name, err)
		}
		if taken != 0 {
			return nil, fmt.Errorf("switch %s: can't rename the current staging DB to %s: a database by that name exists", db.Name, prev.Name)
		}
	}

	// 2. The intent record, before the first change.
	if err := p.writeIntent(ctx, c, in); err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	local.SwapPause(ctx, p.cfg, p.log, "intent")
	// fail finishes the swap from its intent record after a failure: back,
	// unless the COMMIT went through although the session reported an
	// error. A cancelled context closes c mid-statement, so it uses a
	// session of its own.
	fail := func(err error) (*refresh.DB, error) {
		if errors.Is(err, local.ErrTestKilled) {
			return nil, err
		}
		cctx, cancel := pgCleanupCtx(ctx)
		defer cancel()
		dir, ferr := p.FinishSwap(cctx)
		switch {
		case ferr != nil:
			log.Error("rolling the switch back failed; the next run or `restage sweep` finishes it from the intent record", "error", ferr.Error())
			return nil, fmt.Errorf("switch %s: %w; rollback failed (the intent record stays for the next run or `restage sweep`): %v", db.Name, err, ferr)
		case dir == "forward" || (dir == "" && p.switched(ctx, in.NewOID)):
			log.Warn("switch committed although the session reported an error", "error", err.Error())
			return prev, nil
		}
		return nil, fmt.Errorf("switch %s: %w (the previous staging DB is serving again)", db.Name, err)
	}

	if err := p.hook("intent"); err != nil {
		return fail(err)
	}

	// 3. Empty both databases of sessions and keep them empty.
	blocked := []string{db.Name}
	if in.OldOID != 0 {
		blocked = append(blocked, p.staging)
	}
	for i, name := range blocked {
		if err := postgres.AllowConnections(ctx, c, name, false); err != nil {
			return fail(fmt.Errorf("block connections: %w", err))
		}
		local.SwapPause(ctx, p.cfg, p.log, []string{"block-new", "block-staging"}[i])
	}
	for _, name := range blocked {
		if err := postgres.EmptyDatabase(ctx, c, name); err != nil {
			return fail(err)
		}
	}
	if err := p.hook("blocked"); err != nil {
		return fail(err)
	}
	local.SwapPause(ctx, p.cfg, p.log, "blocked")

	// 4. Both renames, the records and the intent's end, atomically.
	err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if in.OldOID != 0 {
			if err := postgres.RenameDatabase(ctx, tx, p.staging, prev.Name); err != nil {
				return err
			}
			if err := p.hook("renamed-old"); err != nil {
				return err
			}
		}
		if err := postgres.RenameDatabase(ctx, tx, db.Name, p.staging); err != nil {
			return err
		}
		if err := p.hook("renamed-new"); err != nil {
			return err
		}
		if err := postgres.AllowConnections(ctx, tx, p.staging, true); err != nil {
			return err
		}
		if err := pgSetState(ctx, tx, db.Name, string(lifecycle.Live)); err != nil {
			return fmt.Errorf("record %s live: %w", db.Name, err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+pgIntentTable+" WHERE target = $1", p.cfg.Target); err != nil {
			return fmt.Errorf("delete intent record: %w", pgScrub(err))
		}
		if in.OldOID == 0 {
			return nil
		}
		if err := postgres.AllowConnections(ctx, tx, prev.Name, true); err != nil {
			return err
		}
		if in.HandMade {
			_, err := tx.Exec(ctx, "INSERT INTO "+pgControlTable+" (name, target, run_id, state, db_oid, original_name) VALUES ($1, $2, '', 'previous', $3, $4)",
				prev.Name, p.cfg.Target, in.OldOID, p.staging)
			if err != nil {
				return fmt.Errorf("record %s: %w", prev.Name, pgScrub(err))
			}
		} else if err := pgSetState(ctx, tx, prev.Name, string(lifecycle.Previous)); err != nil {
			return fmt.Errorf("record %s previous: %w", prev.Name, err)
		}
		return p.hook("recorded")
	})
	if err != nil {
		return fail(err)
	}
	local.SwapPause(ctx, p.cfg, p.log, "committed")
	if prev != nil {
		log.Info("switched", "previous", prev.Name, "hand_made", in.HandMade)
	} else {
		log.Info("switched; there was no staging database before")
	}
	return prev, nil
}

// pgSwapIntent is the PostgreSQL swap's intent record: the database renames
// (S → PrevName, NewDB → S) and the datallowconn values to restore.
type pgSwapIntent struct {
	NewDB        string `json:"new_db"`
	NewOID       int64  `json:"new_oid"`
	NewAllowConn bool   `json:"new_allow_conn"`
	Staging      string `json:"staging"`
	OldOID       int64  `json:"old_oid"` // 0: no DB behind the staging name (first run)
	OldAllowConn bool   `json:"old_allow_conn"`
	PrevName     string `json:"prev_name"` // the name the old staging DB gets
	HandMade     bool   `json:"hand_made"`
}

// pgIntentTable holds at most one pending swap per target (the run lock
// serializes swaps).
const pgIntentTable = "restage_" + local.SwapIntentTable

const pgIntentDDL = `CREATE TABLE IF NOT EXISTS ` + pgIntentTable + ` (
	target     text PRIMARY KEY,
	new_db     text NOT NULL,
	body       jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`

func (p *pgServer) writeIntent(ctx context.Context, c *pgx.Conn, in pgSwapIntent) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode intent record: %w", err)
	}
	_, err = c.Exec(ctx, "INSERT INTO "+pgIntentTable+" (target, new_db, body) VALUES ($1, $2, $3)", p.cfg.Target, in.NewDB, body)
	if pgCode(err) == "23505" { // unique_violation
		return errors.New("an earlier swap of this target is unfinished: `restage sweep` or the next run's prepare finishes it")
	}
	if err != nil {
		return fmt.Errorf("write intent record: %w", pgScrub(err))
	}
	return nil
}

// FinishSwap finishes an interrupted swap of this target from its intent
// record: forward when the database behind the staging name is the new
// one (the rename transaction committed), back otherwise — both databases
// get their recorded datallowconn again under their old names. Every
// statement is idempotent. It returns "" when no swap was pending, else
// "forward" or "back". The caller holds the run lock, or is the swap.
func (p *pgServer) FinishSwap(ctx context.Context) (string, error) {
	c, err := p.control(ctx)
	if err != nil {
		return "", err
	}
	defer pgClose(c)
	var body []byte
	err = c.QueryRow(ctx, "SELECT body FROM "+pgIntentTable+" WHERE target = $1", p.cfg.Target).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read intent record: %w", pgScrub(err))
	}
	var in pgSwapIntent
	if err := json.Unmarshal(body, &in); err != nil {
		return "", fmt.Errorf("decode intent record: %w", err)
	}
	// The one ownership rule, before any database is touched: the record
	// names a database a run of this target created.
	rec, err := pgLookup(ctx, c, in.NewDB)
	if err != nil {
		return "", fmt.Errorf("finish swap to %s: read control DB: %w", in.NewDB, err)
	}
	if rec == nil {
		return "", fmt.Errorf("finish swap to %s: not in the control DB: %w", in.NewDB, refresh.ErrNotOurs)
	}
	if err := p.owner().Check(rec.Claim()); err != nil {
		return "", fmt.Errorf("finish swap: %w", err)
	}
	behind, err := pgDBOID(ctx, c, in.Staging)
	if err != nil {
		return "", fmt.Errorf("finish swap to %s: %w", in.NewDB, err)
	}
	// The datallowconn each database gets, by the name it has then.
	type access struct {
		oid   int64
		allow bool
	}
	dir := "back"
	allow := map[string]access{in.NewDB: {in.NewOID, in.NewAllowConn}}
	if in.OldOID != 0 {
		allow[in.Staging] = access{in.OldOID, in.OldAllowConn}
	}
	if behind == in.NewOID {
		// Not reachable through Switch (the intent's deletion commits with
		// the renames); kept for a record whose deletion was lost.
		dir = "forward"
		allow = map[string]access{in.Staging: {in.NewOID, true}}
		if in.OldOID != 0 {
			allow[in.PrevName] = access{in.OldOID, true}
		}
	}
	for name, a := range allow {
		// By name and OID: a database by that name that is not the
		// recorded one is not touched.
		oid, _, err := pgDBState(ctx, c, name)
		if err != nil {
			return dir, fmt.Errorf("finish swap to %s: %w", in.NewDB, err)
		}
		if oid != a.oid {
			continue
		}
		if err := postgres.AllowConnections(ctx, c, name, a.allow); err != nil {
			return dir, fmt.Errorf("finish swap to %s: %w", in.NewDB, err)
		}
	}
	if _, err := c.Exec(ctx, "DELETE FROM "+pgIntentTable+" WHERE target = $1", p.cfg.Target); err != nil {
		return dir, fmt.Errorf("finish swap to %s: delete intent record: %w", in.NewDB, pgScrub(err))
	}
	p.log.Info("finished a swap from its intent record", "step", "switch", "target", p.cfg.Target, "db", in.NewDB, "direction", dir)
	return dir, nil
}

// pgDBState returns the OID (0 if there is none) and datallowconn of
// database name (the engine's postgres.DatabaseState).
func pgDBState(ctx context.Context, q pgQuerier, name string) (int64, bool, error) {
	return postgres.DatabaseState(ctx, q, name)
}

// switched reports whether the database with OID newOID is behind the
// staging name now.
func (p *pgServer) switched(ctx context.Context, newOID int64) bool {
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

func (p *pgServer) hook(step string) error {
	if p.testHook == nil {
		return nil
	}
	return p.testHook(step)
}
