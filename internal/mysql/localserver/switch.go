package localserver

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/local"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

// Switch makes db the database behind the stable staging name. MySQL has
// no database rename, so the tables move, all in one atomic RENAME TABLE:
//
//  1. capture the new DB's and the current staging DB's tables, triggers,
//     views, routines and events (SHOW CREATE …) and name the holding
//     database for the staging tables — restage_<target>_<its run> when
//     the control DB says a run made it, restage_<target>_previous_<this
//     run> (origin = the staging name) when it is hand-made;
//  2. write the intent record (all of 1) to the control DB;
//  3. create the staging database if missing (first run);
//  4. if staging holds anything: record and create the holding database;
//  5. drop the new DB's objects, then the staging DB's objects (a table
//     with triggers can't change database; views and routines don't move);
//  6. RENAME TABLE staging.t1 TO hold.t1, …, new.t1 TO staging.t1, …
//     in one statement (foreign_key_checks=0 on that session): the commit
//     point;
//  7. control DB: new → live, holding → previous;
//  8. create the new objects in staging and the old ones in the holding
//     database, with qualified references to their old schema rewritten;
//  9. drop the now-empty new database, revoke grants on its name and
//     delete the intent record.
//
// Every sub-step is idempotent. A failure rolls back (mySwitch.back): the
// old staging DB serves again unchanged and db is intact for a retry or
// Discard. A killed process leaves the intent record; the next Sweep rolls
// forward if step 6 happened, back otherwise.
func (p *mysqlServer) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	if err := p.ensureControl(ctx); err != nil {
		return nil, fmt.Errorf("switch %s to %s: %w", p.stagingName, db.Name, err)
	}
	rec, ok, err := p.lookup(ctx, p.admin, db.Name)
	if err != nil {
		return nil, fmt.Errorf("switch %s to %s: %w", p.stagingName, db.Name, err)
	}
	if !ok || rec.Target != p.cfg.Target || rec.State != myStateReady {
		return nil, fmt.Errorf("switch %s to %s: not a ready DB of this target in the control DB (state %q)", p.stagingName, db.Name, rec.State)
	}
	conn, err := p.admin.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("switch %s to %s: connect: %w", p.stagingName, db.Name, mysqlRedact(err, p.stg.Passwd))
	}
	// The session's state (USE, sql_mode, foreign_key_checks) must not go
	// back to the pool.
	defer mysqlDiscardConn(conn)
	s := &mySwitch{p: p, conn: conn, in: mySwapIntent{NewDB: db.Name, Staging: p.stagingName, NewRun: rec.RunID}}
	written, err := s.run(ctx)
	if err != nil {
		if errors.Is(err, local.ErrTestKilled) {
			return nil, err
		}
		if !written {
			return nil, fmt.Errorf("switch %s to %s (nothing changed): %w", p.stagingName, db.Name, err)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if rerr := s.back(rctx); rerr != nil {
			p.log.Error("switch rollback failed; the next run or `restage sweep` finishes it from the intent record", "step", "switch", "target", p.cfg.Target, "db", db.Name, "error", rerr)
			return nil, fmt.Errorf("switch %s to %s: %w; rollback failed (the intent record stays for the next run or `restage sweep`): %v", p.stagingName, db.Name, err, rerr)
		}
		return nil, fmt.Errorf("switch %s to %s (rolled back, the old staging DB serves unchanged): %w", p.stagingName, db.Name, err)
	}
	p.log.Info("switched", "step", "switch", "target", p.cfg.Target, "db", db.Name)
	if s.in.HoldDB == "" {
		return nil, nil
	}
	return p.DBFor(s.in.HoldDB, s.in.HoldRun), nil
}

// mySwapIntent is the MySQL swap's intent record: every object to move or
// recreate, in both directions.
type mySwapIntent struct {
	NewDB   string `json:"new_db"`
	NewRun  string `json:"new_run"`
	Staging string `json:"staging"`
	// StagingMade: the staging database did not exist; the swap creates
	// it, and rolling back drops it again.
	StagingMade bool      `json:"staging_made"`
	NewCharset  [2]string `json:"new_charset"`
	// HoldDB receives the staging tables; empty when staging held nothing.
	HoldDB      string        `json:"hold_db"`
	HoldRun     string        `json:"hold_run"`
	HoldMade    bool          `json:"hold_made"` // holding a hand-made staging DB (recorded with origin)
	HoldCharset [2]string     `json:"hold_charset"`
	OldTables   []string      `json:"old_tables"`
	NewTables   []string      `json:"new_tables"`
	OldObjects  []mysqlObject `json:"old_objects"`
	NewObjects  []mysqlObject `json:"new_objects"`
}

// mySwitch is one swap, run or finished from its intent record.
type mySwitch struct {
	p    *mysqlServer
	conn *sql.Conn
	in   mySwapIntent
}

// step runs the test hook for a step, the step, then the kill tests' pause.
func (s *mySwitch) step(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.p.failAt != nil {
		if err := s.p.failAt(name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := fn(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	local.SwapPause(ctx, s.p.cfg, s.p.log, name)
	return nil
}

func (s *mySwitch) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.conn.ExecContext(ctx, q, args...)
	return mysqlScrub(err)
}

// run performs the swap; written reports whether the intent record was
// written (and so whether anything may have changed).
func (s *mySwitch) run(ctx context.Context) (written bool, err error) {
	in := &s.in
	if err := s.step(ctx, "capture", s.plan); err != nil {
		return false, err
	}
	if err := s.step(ctx, "intent", s.writeIntent); err != nil {
		return false, err
	}
	if err := s.step(ctx, "create-staging", func(ctx context.Context) error {
		return s.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+mysqlQuote(in.Staging)+" CHARACTER SET "+in.NewCharset[0]+" COLLATE "+in.NewCharset[1])
	}); err != nil {
		return true, err
	}
	s.p.switchMarked(ctx, s.conn, "")
	if in.HoldDB != "" {
		if err := s.step(ctx, "create-holding", s.createHolding); err != nil {
			return true, err
		}
	}
	if err := s.step(ctx, "drop-new-objects", func(ctx context.Context) error {
		return s.dropObjects(ctx, in.NewDB, in.NewObjects)
	}); err != nil {
		return true, err
	}
	if err := s.step(ctx, "drop-staging-objects", func(ctx context.Context) error {
		return s.dropObjects(ctx, in.Staging, in.OldObjects)
	}); err != nil {
		return true, err
	}
	if err := s.step(ctx, "rename", func(ctx context.Context) error {
		done, err := s.renamed(ctx)
		if err != nil || done {
			return err
		}
		return s.renameTables(ctx, false)
	}); err != nil {
		return true, err
	}
	return true, s.forward(ctx)
}

// plan captures both sides and names the holding database. It changes
// nothing.
func (s *mySwitch) plan(ctx context.Context) error {
	p, in := s.p, &s.in
	if err := s.conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", in.NewDB).
		Scan(&in.NewCharset[0], &in.NewCharset[1]); err != nil {
		return fmt.Errorf("read %s: %w", in.NewDB, mysqlScrub(err))
	}
	exists, err := p.schemaExists(ctx, s.conn, in.Staging)
	if err != nil {
		return err
	}
	in.StagingMade = !exists
	if in.OldTables, err = mysqlTables(ctx, s.conn, in.Staging); err != nil {
		return err
	}
	if in.NewTables, err = mysqlTables(ctx, s.conn, in.NewDB); err != nil {
		return err
	}
	if in.OldObjects, err = mysqlCapture(ctx, s.conn, in.Staging); err != nil {
		return err
	}
	if in.NewObjects, err = mysqlCapture(ctx, s.conn, in.NewDB); err != nil {
		return err
	}
	if len(in.OldTables) == 0 && len(in.OldObjects) == 0 {
		return nil
	}
	live, err := p.records(ctx, myStateLive)
	if err != nil {
		return err
	}
	switch {
	case len(live) > 1:
		return fmt.Errorf("control DB lists %d live DBs for target %s", len(live), p.cfg.Target)
	case len(live) == 1:
		in.HoldDB, in.HoldRun = live[0].Name, live[0].RunID
	default:
		in.HoldDB = local.HoldingName(p.cfg.Target, in.NewRun)
		in.HoldMade = true
	}
	if len(in.HoldDB) > 64 {
		return fmt.Errorf("holding database name %s is longer than 64 characters", in.HoldDB)
	}
	if why := p.Protected(in.HoldDB); why != "" {
		return fmt.Errorf("holding database %s: %s", in.HoldDB, why)
	}
	if exists, err = p.schemaExists(ctx, s.conn, in.HoldDB); err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("holding database %s already exists", in.HoldDB)
	}
	if err := s.conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", in.Staging).
		Scan(&in.HoldCharset[0], &in.HoldCharset[1]); err != nil {
		return fmt.Errorf("read %s: %w", in.Staging, mysqlScrub(err))
	}
	return nil
}

// writeIntent records the swap before its first change. An intent left by
// an earlier swap means that swap is unfinished: Sweep finishes it (under
// the lock) before any new one may start.
func (s *mySwitch) writeIntent(ctx context.Context) error {
	body, err := json.Marshal(s.in)
	if err != nil {
		return fmt.Errorf("encode intent record: %w", err)
	}
	_, err = s.conn.ExecContext(ctx, "INSERT INTO "+s.p.intentTable()+" (target, new_db, body, created_at) VALUES (?, ?, ?, UTC_TIMESTAMP(6))", s.p.cfg.Target, s.in.NewDB, body)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1062 { // ER_DUP_ENTRY
		return errors.New("an earlier swap of this target is unfinished: `restage sweep` or the next run's prepare finishes it")
	}
	if err != nil {
		return fmt.Errorf("write intent record: %w", mysqlScrub(err))
	}
	return nil
}

func (s *mySwitch) deleteIntent(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, "DELETE FROM "+s.p.intentTable()+" WHERE target = ? AND new_db = ?", s.p.cfg.Target, s.in.NewDB); err != nil {
		return fmt.Errorf("delete intent record: %w", mysqlScrub(err))
	}
	return nil
}

// createHolding records (hand-made staging only) and creates the holding
// database. Idempotent.
func (s *mySwitch) createHolding(ctx context.Context) error {
	p, in := s.p, &s.in
	if in.HoldMade {
		_, ok, err := p.lookup(ctx, s.conn, in.HoldDB)
		if err != nil {
			return err
		}
		if !ok {
			if err := p.record(ctx, s.conn, local.ControlRecord{Name: in.HoldDB, Target: p.cfg.Target, State: myStateCreating, Origin: in.Staging}); err != nil {
				return err
			}
		}
	}
	if err := s.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+mysqlQuote(in.HoldDB)+" CHARACTER SET "+in.HoldCharset[0]+" COLLATE "+in.HoldCharset[1]); err != nil {
		return err
	}
	hold := local.Marker{Target: p.cfg.Target, Run: in.HoldRun, Name: in.HoldDB, Role: "holding"}
	if in.HoldMade {
		hold.Origin = in.Staging
	}
	if err := p.markDB(ctx, s.conn, in.HoldDB, hold); err != nil {
		p.log.Warn("mark holding database", "step", "switch", "target", p.cfg.Target, "db", in.HoldDB, "error", err)
	}
	return nil
}

// renamed reports whether the RENAME TABLE — the commit point — happened.
// It is one atomic statement, so one table tells: the new DB's first table
// has left it, or the staging DB's first table has reached the holding DB.
// With no table on either side the control DB's state decides.
func (s *mySwitch) renamed(ctx context.Context) (bool, error) {
	in := &s.in
	has := func(schema, table string) (bool, error) {
		var n int
		err := s.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, table).Scan(&n)
		return n > 0, mysqlScrub(err)
	}
	switch {
	case len(in.NewTables) > 0:
		still, err := has(in.NewDB, in.NewTables[0])
		return !still, err
	case len(in.OldTables) > 0:
		return has(in.HoldDB, in.OldTables[0])
	}
	rec, ok, err := s.p.lookup(ctx, s.conn, in.NewDB)
	return ok && rec.State == myStateLive, err
}

// renameTables moves the tables in one RENAME TABLE: staging → holding
// and new → staging, or the reverse.
func (s *mySwitch) renameTables(ctx context.Context, reverse bool) error {
	in := &s.in
	var moves []mysqlengine.TableMove
	move := func(from, to string, tables []string) {
		for _, t := range tables {
			moves = append(moves, mysqlengine.TableMove{Table: t, From: from, To: to})
		}
	}
	if !reverse {
		move(in.Staging, in.HoldDB, in.OldTables)
		move(in.NewDB, in.Staging, in.NewTables)
	} else {
		move(in.Staging, in.NewDB, in.NewTables)
		move(in.HoldDB, in.Staging, in.OldTables)
	}
	return mysqlengine.RenameTables(ctx, s.conn, moves)
}

// forward finishes a swap whose RENAME TABLE happened. Idempotent.
func (s *mySwitch) forward(ctx context.Context) error {
	p, in := s.p, &s.in
	if err := s.step(ctx, "record", func(ctx context.Context) error {
		return s.setStates(ctx, myStateLive, myStatePrevious)
	}); err != nil {
		return err
	}
	p.switchMarked(ctx, s.conn, in.NewRun)
	if err := s.step(ctx, "create-new-objects", func(ctx context.Context) error {
		return s.ensureObjects(ctx, in.NewObjects, in.NewDB, in.Staging)
	}); err != nil {
		return err
	}
	if in.HoldDB != "" {
		if err := s.step(ctx, "create-previous-objects", func(ctx context.Context) error {
			return s.ensureObjects(ctx, in.OldObjects, in.Staging, in.HoldDB)
		}); err != nil {
			return err
		}
	}
	if err := s.step(ctx, "drop-new-database", func(ctx context.Context) error {
		left, err := mysqlTables(ctx, s.conn, in.NewDB)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("%s still has %d tables", in.NewDB, len(left))
		}
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(in.NewDB)); err != nil {
			return err
		}
		p.revokeSchemaGrants(ctx, in.NewDB)
		return nil
	}); err != nil {
		return err
	}
	return s.deleteIntent(ctx)
}

// back undoes a swap, wherever it stopped: the old staging DB serves again
// unchanged and the new DB is intact. Idempotent.
func (s *mySwitch) back(ctx context.Context) error {
	p, in := s.p, &s.in
	renamed, err := s.renamed(ctx)
	if err != nil {
		return err
	}
	if renamed {
		// A failure after the last step may have dropped the new DB.
		if err := s.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+mysqlQuote(in.NewDB)+" CHARACTER SET "+in.NewCharset[0]+" COLLATE "+in.NewCharset[1]); err != nil {
			return err
		}
		// Objects created after the rename would block it (triggers) or
		// be duplicates; they are all recreated below.
		if err := s.dropObjects(ctx, in.Staging, in.NewObjects); err != nil {
			return err
		}
		if in.HoldDB != "" {
			if err := s.dropObjects(ctx, in.HoldDB, in.OldObjects); err != nil {
				return err
			}
		}
		if err := s.renameTables(ctx, true); err != nil {
			return fmt.Errorf("reverse rename: %w", err)
		}
	}
	if err := s.ensureObjects(ctx, in.NewObjects, in.NewDB, in.NewDB); err != nil {
		return err
	}
	if !in.StagingMade {
		if err := s.ensureObjects(ctx, in.OldObjects, in.Staging, in.Staging); err != nil {
			return err
		}
	}
	if err := s.setStates(ctx, myStateReady, myStateLive); err != nil {
		return err
	}
	if in.HoldDB != "" {
		if err := s.dropIfEmpty(ctx, in.HoldDB); err != nil {
			return err
		}
		if in.HoldMade {
			if _, err := s.conn.ExecContext(ctx, "DELETE FROM "+p.ctl+" WHERE name = ? AND origin = ?", in.HoldDB, in.Staging); err != nil {
				return fmt.Errorf("delete the holding record: %w", mysqlScrub(err))
			}
		}
	}
	if in.StagingMade {
		if err := s.dropIfEmpty(ctx, in.Staging); err != nil {
			return err
		}
	}
	return s.deleteIntent(ctx)
}

// dropIfEmpty drops a database this swap created once no table is left in
// it; one with tables is kept and reported.
func (s *mySwitch) dropIfEmpty(ctx context.Context, name string) error {
	left, err := mysqlTables(ctx, s.conn, name)
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("database %s still has %d tables: kept", name, len(left))
	}
	return s.exec(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(name))
}

// setStates records the new DB's and the holding DB's states in one
// transaction. A hand-made staging DB's holding record goes from creating
// to previous and is deleted by back instead.
func (s *mySwitch) setStates(ctx context.Context, newState, holdState string) error {
	tx, err := s.p.admin.BeginTx(ctx, nil)
	if err != nil {
		return mysqlScrub(err)
	}
	defer tx.Rollback()
	if err := s.p.setState(ctx, tx, s.in.NewDB, newState); err != nil {
		return err
	}
	if s.in.HoldDB != "" && (!s.in.HoldMade || holdState == myStatePrevious) {
		if err := s.p.setState(ctx, tx, s.in.HoldDB, holdState); err != nil {
			return err
		}
	}
	return mysqlScrub(tx.Commit())
}

// mysqlObject is the engine's schema object that RENAME TABLE cannot carry
// (its fields are the intent record's JSON).
type mysqlObject = mysqlengine.Object

// dropObjects drops captured objects from schema. Idempotent.
func (s *mySwitch) dropObjects(ctx context.Context, schema string, objs []mysqlObject) error {
	return mysqlengine.DropObjects(ctx, s.conn, schema, objs)
}

// ensureObjects makes schema to hold exactly the captured objects (see
// mysql.EnsureObjects), references to from rewritten to to.
func (s *mySwitch) ensureObjects(ctx context.Context, objs []mysqlObject, from, to string) error {
	return mysqlengine.EnsureObjects(ctx, s.conn, objs, to, mysqlengine.SchemaRewriter(from, to))
}

// ---- finishing an interrupted swap ----

// intentTable is the quoted swap_intent table of the control DB.
func (p *mysqlServer) intentTable() string {
	return mysqlQuote(p.cfg.ControlDB) + "." + mysqlQuote(local.SwapIntentTable)
}

// FinishSwap rolls an interrupted swap of this target forward (its RENAME
// TABLE happened: staging already serves the new tables) or back (it did
// not, or rolling forward fails), from the intent record. The caller holds the run lock. It returns
// "" when no swap was pending, else "forward" or "back".
func (p *mysqlServer) FinishSwap(ctx context.Context) (string, error) {
	var body []byte
	err := p.admin.QueryRowContext(ctx, "SELECT body FROM "+p.intentTable()+" WHERE target = ?", p.cfg.Target).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read intent record: %w", mysqlScrub(err))
	}
	s := &mySwitch{p: p}
	if err := json.Unmarshal(body, &s.in); err != nil {
		return "", fmt.Errorf("decode intent record: %w", err)
	}
	// The one ownership rule, before anything is dropped or moved: the
	// record names a database a run of this target created.
	rec, ok, err := p.lookup(ctx, p.admin, s.in.NewDB)
	if err != nil {
		return "", fmt.Errorf("finish swap to %s: %w", s.in.NewDB, err)
	}
	if !ok {
		return "", fmt.Errorf("finish swap to %s: not in the control DB: %w", s.in.NewDB, refresh.ErrNotOurs)
	}
	if err := p.owner().Check(rec.Claim()); err != nil {
		return "", fmt.Errorf("finish swap: %w", err)
	}
	if s.conn, err = p.admin.Conn(ctx); err != nil {
		return "", fmt.Errorf("finish swap to %s: connect: %w", s.in.NewDB, mysqlRedact(err, p.stg.Passwd))
	}
	defer mysqlDiscardConn(s.conn)
	renamed, err := s.renamed(ctx)
	if err != nil {
		return "", fmt.Errorf("finish swap to %s: %w", s.in.NewDB, err)
	}
	dir := "back"
	if renamed {
		dir = "forward"
		if err = s.forward(ctx); err != nil {
			// What fails forward in a new process (an object that can't be
			// created in staging) would have failed the swap in its own: go
			// back, as a running swap does after a failure.
			p.log.Warn("finishing an interrupted swap forward failed; rolling it back", "step", "sweep", "target", p.cfg.Target, "db", s.in.NewDB, "error", err)
			dir = "back"
			if berr := s.back(ctx); berr != nil {
				err = fmt.Errorf("%w; rolling back failed too: %v", err, berr)
			} else {
				err = nil
			}
		}
	} else {
		err = s.back(ctx)
	}
	if err != nil {
		return dir, fmt.Errorf("finish interrupted swap to %s (%s): %w", s.in.NewDB, dir, err)
	}
	p.log.Warn("finished an interrupted swap", "step", "sweep", "target", p.cfg.Target, "db", s.in.NewDB, "direction", dir)
	return dir, nil
}

// mysqlTables lists a schema's tables (the engine's mysql.Tables).
func mysqlTables(ctx context.Context, q mysqlQuerier, schema string) ([]string, error) {
	return mysqlengine.Tables(ctx, q, schema)
}

// mysqlCapture returns a schema's objects that RENAME TABLE can't carry
// (the engine's mysql.Objects).
func mysqlCapture(ctx context.Context, q mysqlQuerier, schema string) ([]mysqlObject, error) {
	return mysqlengine.Objects(ctx, q, schema)
}

func mysqlStrings(ctx context.Context, q mysqlQuerier, query string, args ...any) ([]string, error) {
	return mysqlengine.Strings(ctx, q, query, args...)
}
