package local

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/restage/restage/internal/refresh"
)

// mysqlObject is a schema object that RENAME TABLE cannot carry from one
// database to another: it is captured with SHOW CREATE, dropped, and
// created again in the destination.
type mysqlObject struct {
	Kind, Name       string // Kind: TRIGGER, VIEW, PROCEDURE, FUNCTION, EVENT
	Create           string
	SQLMode          string
	HasSQLMode       bool
	Charset, Collcon string // character_set_client, collation_connection
}

// Switch makes db the database behind the stable staging name. MySQL has
// no database rename, so the tables move, all in one atomic RENAME TABLE:
//
//  1. create the staging database if missing (first run);
//  2. capture the new DB's and the current staging DB's triggers, views,
//     routines and events (SHOW CREATE …);
//  3. if staging holds anything: record and create the holding database
//     for its tables — restage_<target>_<its run> when the control DB
//     says a run made it, restage_<target>_previous_<this run> (origin =
//     the staging name) when it is hand-made;
//  4. drop the new DB's objects, then the staging DB's objects (a table
//     with triggers can't change database; views and routines don't move);
//  5. RENAME TABLE staging.t1 TO hold.t1, …, new.t1 TO staging.t1, …
//     in one statement (foreign_key_checks=0 on that session);
//  6. control DB: new → live, holding → previous;
//  7. create the new objects in staging and the old ones in the holding
//     database, with qualified references to their old schema rewritten;
//  8. drop the now-empty new database and revoke grants on its name.
//
// Every step registers its undo; a failure runs them in reverse (a
// reverse RENAME TABLE, the old objects recreated, the holding database
// dropped), so the old staging DB serves again unchanged and db is intact
// for a retry or Discard.
func (p *mysqlProvider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
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
	s := &mySwitch{p: p, conn: conn, newDB: db.Name, staging: p.stagingName, newRun: rec.RunID}
	prev, err := s.run(ctx)
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if rerr := s.rollback(rctx); rerr != nil {
			p.log.Error("switch rollback failed", "step", "switch", "target", p.cfg.Target, "db", db.Name, "error", rerr)
			return nil, fmt.Errorf("switch %s to %s: %w; rollback failed, staging may be incomplete: %v", p.stagingName, db.Name, err, rerr)
		}
		return nil, fmt.Errorf("switch %s to %s (rolled back, the old staging DB serves unchanged): %w", p.stagingName, db.Name, err)
	}
	p.revokeSchemaGrants(ctx, db.Name)
	p.log.Info("switched", "step", "switch", "target", p.cfg.Target, "db", db.Name)
	return prev, nil
}

// mySwitch is one Switch: its session and its undo stack.
type mySwitch struct {
	p                *mysqlProvider
	conn             *sql.Conn
	newDB, staging   string
	newRun           string
	undo             []func(context.Context) error
	undoNames        []string
	holdDB, holdRun  string
	holdMade         bool // the holding database was created for a hand-made staging DB
	newCharset       [2]string
	oldObjs, newObjs []mysqlObject
}

func (s *mySwitch) onUndo(name string, fn func(context.Context) error) {
	s.undo = append(s.undo, fn)
	s.undoNames = append(s.undoNames, name)
}

func (s *mySwitch) rollback(ctx context.Context) error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		if err := s.undo[i](ctx); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", s.undoNames[i], err))
		}
	}
	return errors.Join(errs...)
}

// step runs the test hook for a step, then the step.
func (s *mySwitch) step(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.p.failAt != nil {
		if err := s.p.failAt(name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := fn(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (s *mySwitch) exec(ctx context.Context, q string, args ...any) error {
	_, err := s.conn.ExecContext(ctx, q, args...)
	return mysqlScrub(err)
}

func (s *mySwitch) run(ctx context.Context) (*refresh.DB, error) {
	p := s.p
	if err := s.conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", s.newDB).
		Scan(&s.newCharset[0], &s.newCharset[1]); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.newDB, mysqlScrub(err))
	}
	// 1. The staging database.
	if err := s.step(ctx, "create-staging", func(ctx context.Context) error {
		exists, err := p.schemaExists(ctx, s.conn, s.staging)
		if err != nil || exists {
			return err
		}
		if err := s.exec(ctx, "CREATE DATABASE "+mysqlQuote(s.staging)+" CHARACTER SET "+s.newCharset[0]+" COLLATE "+s.newCharset[1]); err != nil {
			return err
		}
		s.onUndo("create-staging", func(ctx context.Context) error {
			// Created by this switch and empty again after the reverse rename.
			return s.exec(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(s.staging))
		})
		return nil
	}); err != nil {
		return nil, err
	}
	// 2. Capture.
	var oldTables, newTables []string
	if err := s.step(ctx, "capture", func(ctx context.Context) error {
		var err error
		if oldTables, err = mysqlTables(ctx, s.conn, s.staging); err != nil {
			return err
		}
		if newTables, err = mysqlTables(ctx, s.conn, s.newDB); err != nil {
			return err
		}
		if s.oldObjs, err = mysqlCapture(ctx, s.conn, s.staging); err != nil {
			return err
		}
		s.newObjs, err = mysqlCapture(ctx, s.conn, s.newDB)
		return err
	}); err != nil {
		return nil, err
	}
	hasPrev := len(oldTables) > 0 || len(s.oldObjs) > 0
	// 3. The holding database for the old staging tables.
	if hasPrev {
		if err := s.step(ctx, "create-holding", func(ctx context.Context) error { return s.createHolding(ctx) }); err != nil {
			return nil, err
		}
	}
	// 4. Drop the objects RENAME TABLE can't carry.
	if err := s.step(ctx, "drop-new-objects", func(ctx context.Context) error {
		return s.dropObjects(ctx, s.newDB, s.newObjs, "drop-new-objects")
	}); err != nil {
		return nil, err
	}
	if err := s.step(ctx, "drop-staging-objects", func(ctx context.Context) error {
		return s.dropObjects(ctx, s.staging, s.oldObjs, "drop-staging-objects")
	}); err != nil {
		return nil, err
	}
	// 5. One atomic RENAME TABLE.
	if err := s.step(ctx, "rename", func(ctx context.Context) error {
		var fwd, rev []string
		for _, t := range oldTables {
			fwd = append(fwd, mysqlQuote(s.staging)+"."+mysqlQuote(t)+" TO "+mysqlQuote(s.holdDB)+"."+mysqlQuote(t))
		}
		for _, t := range newTables {
			fwd = append(fwd, mysqlQuote(s.newDB)+"."+mysqlQuote(t)+" TO "+mysqlQuote(s.staging)+"."+mysqlQuote(t))
			rev = append(rev, mysqlQuote(s.staging)+"."+mysqlQuote(t)+" TO "+mysqlQuote(s.newDB)+"."+mysqlQuote(t))
		}
		for _, t := range oldTables {
			rev = append(rev, mysqlQuote(s.holdDB)+"."+mysqlQuote(t)+" TO "+mysqlQuote(s.staging)+"."+mysqlQuote(t))
		}
		if len(fwd) == 0 {
			return nil
		}
		if err := s.exec(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
			return err
		}
		if err := s.exec(ctx, "RENAME TABLE "+strings.Join(fwd, ", ")); err != nil {
			return err
		}
		s.onUndo("rename", func(ctx context.Context) error {
			if err := s.exec(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
				return err
			}
			return s.exec(ctx, "RENAME TABLE "+strings.Join(rev, ", "))
		})
		return s.exec(ctx, "SET SESSION foreign_key_checks = 1")
	}); err != nil {
		return nil, err
	}
	// 6. The control DB, right after the rename so a crash leaves the
	// records as close to the truth as it can.
	if err := s.step(ctx, "record", func(ctx context.Context) error {
		if err := s.setStates(ctx, myStateLive, myStatePrevious); err != nil {
			return err
		}
		s.onUndo("record", func(ctx context.Context) error {
			holdState := myStateLive
			if s.holdMade {
				holdState = myStateCreating
			}
			return s.setStates(ctx, myStateReady, holdState)
		})
		return nil
	}); err != nil {
		return nil, err
	}
	// 7. Objects in their new homes.
	if err := s.step(ctx, "create-new-objects", func(ctx context.Context) error {
		return s.createObjects(ctx, s.newObjs, s.newDB, s.staging, "create-new-objects")
	}); err != nil {
		return nil, err
	}
	if hasPrev {
		if err := s.step(ctx, "create-previous-objects", func(ctx context.Context) error {
			return s.createObjects(ctx, s.oldObjs, s.staging, s.holdDB, "create-previous-objects")
		}); err != nil {
			return nil, err
		}
	}
	// 8. The new database is empty now.
	if err := s.step(ctx, "drop-new-database", func(ctx context.Context) error {
		left, err := mysqlTables(ctx, s.conn, s.newDB)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("%s still has %d tables", s.newDB, len(left))
		}
		if err := s.exec(ctx, "DROP DATABASE "+mysqlQuote(s.newDB)); err != nil {
			return err
		}
		s.onUndo("drop-new-database", func(ctx context.Context) error {
			return s.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+mysqlQuote(s.newDB)+" CHARACTER SET "+s.newCharset[0]+" COLLATE "+s.newCharset[1])
		})
		return nil
	}); err != nil {
		return nil, err
	}
	if !hasPrev {
		return nil, nil
	}
	return p.dbFor(s.holdDB, s.holdRun), nil
}

// createHolding names, records and creates the database that receives the
// current staging tables.
func (s *mySwitch) createHolding(ctx context.Context) error {
	p := s.p
	live, err := p.records(ctx, myStateLive)
	if err != nil {
		return err
	}
	switch {
	case len(live) > 1:
		return fmt.Errorf("control DB lists %d live DBs for target %s", len(live), p.cfg.Target)
	case len(live) == 1:
		s.holdDB, s.holdRun = live[0].Name, live[0].RunID
	default:
		s.holdDB = DBName(p.cfg.Target, "previous_"+s.newRun)
		s.holdMade = true
	}
	if len(s.holdDB) > 64 {
		return fmt.Errorf("holding database name %s is longer than 64 characters", s.holdDB)
	}
	if why := p.protected(s.holdDB); why != "" {
		return fmt.Errorf("holding database %s: %s", s.holdDB, why)
	}
	exists, err := p.schemaExists(ctx, s.conn, s.holdDB)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("holding database %s already exists", s.holdDB)
	}
	if s.holdMade {
		if err := p.record(ctx, s.conn, myRecord{Name: s.holdDB, Target: p.cfg.Target, State: myStateCreating, Origin: s.staging}); err != nil {
			return err
		}
		s.onUndo("record-holding", func(ctx context.Context) error {
			_, err := s.conn.ExecContext(ctx, "DELETE FROM "+p.ctl+" WHERE name = ? AND origin = ?", s.holdDB, s.staging)
			return mysqlScrub(err)
		})
	}
	var cs, coll string
	if err := s.conn.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", s.staging).Scan(&cs, &coll); err != nil {
		return mysqlScrub(err)
	}
	if err := s.exec(ctx, "CREATE DATABASE "+mysqlQuote(s.holdDB)+" CHARACTER SET "+cs+" COLLATE "+coll); err != nil {
		return err
	}
	s.onUndo("create-holding", func(ctx context.Context) error {
		left, err := mysqlTables(ctx, s.conn, s.holdDB)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("holding database %s still has %d tables: kept", s.holdDB, len(left))
		}
		return s.exec(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(s.holdDB))
	})
	return nil
}

// setStates records the new DB's and the holding DB's states in one
// transaction.
func (s *mySwitch) setStates(ctx context.Context, newState, holdState string) error {
	tx, err := s.p.admin.BeginTx(ctx, nil)
	if err != nil {
		return mysqlScrub(err)
	}
	defer tx.Rollback()
	if err := s.p.setState(ctx, tx, s.newDB, newState); err != nil {
		return err
	}
	if s.holdDB != "" {
		if err := s.p.setState(ctx, tx, s.holdDB, holdState); err != nil {
			return err
		}
	}
	return mysqlScrub(tx.Commit())
}

// dropObjects drops captured objects from schema and registers their
// recreation as the undo.
func (s *mySwitch) dropObjects(ctx context.Context, schema string, objs []mysqlObject, undoName string) error {
	n := 0
	s.onUndo(undoName, func(ctx context.Context) error {
		return s.recreate(ctx, objs[:n], schema, schema)
	})
	for _, o := range objs {
		if err := s.exec(ctx, "DROP "+o.Kind+" IF EXISTS "+mysqlQuote(schema)+"."+mysqlQuote(o.Name)); err != nil {
			return fmt.Errorf("drop %s %s.%s: %w", strings.ToLower(o.Kind), schema, o.Name, err)
		}
		n++
	}
	return nil
}

// createObjects creates captured objects in a new schema and registers
// dropping them as the undo.
func (s *mySwitch) createObjects(ctx context.Context, objs []mysqlObject, from, to, undoName string) error {
	var made []mysqlObject
	s.onUndo(undoName, func(ctx context.Context) error {
		var errs []error
		for _, o := range made {
			if err := s.exec(ctx, "DROP "+o.Kind+" IF EXISTS "+mysqlQuote(to)+"."+mysqlQuote(o.Name)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
	return s.recreateInto(ctx, objs, from, to, func(o mysqlObject) { made = append(made, o) })
}

func (s *mySwitch) recreate(ctx context.Context, objs []mysqlObject, from, to string) error {
	return s.recreateInto(ctx, objs, from, to, func(mysqlObject) {})
}

// recreateInto creates objects captured in schema from inside schema to,
// qualified references to from pointing at to. Views may depend on views:
// they are retried until no more can be created.
func (s *mySwitch) recreateInto(ctx context.Context, objs []mysqlObject, from, to string, made func(mysqlObject)) error {
	if len(objs) == 0 {
		return nil
	}
	if err := s.exec(ctx, "USE "+mysqlQuote(to)); err != nil {
		return err
	}
	var mode, cs, coll string
	if err := s.conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection").Scan(&mode, &cs, &coll); err != nil {
		return mysqlScrub(err)
	}
	defer func() {
		_ = s.exec(ctx, "SET SESSION sql_mode = ?, character_set_client = ?, collation_connection = ?", mode, cs, coll)
	}()
	rw := mysqlSchemaRewriter(from, to)
	pending := objs
	for len(pending) > 0 {
		var failed []mysqlObject
		var lastErr error
		for _, o := range pending {
			if err := s.createOne(ctx, o, rw, mode); err != nil {
				if o.Kind != "VIEW" {
					return fmt.Errorf("create %s %s.%s: %w", strings.ToLower(o.Kind), to, o.Name, err)
				}
				failed, lastErr = append(failed, o), err
				continue
			}
			made(o)
		}
		if len(failed) == len(pending) {
			return fmt.Errorf("create view %s.%s: %w", to, failed[0].Name, lastErr)
		}
		pending = failed
	}
	return nil
}

func (s *mySwitch) createOne(ctx context.Context, o mysqlObject, rw func([]byte) []byte, mode string) error {
	m := mode
	if o.HasSQLMode {
		m = o.SQLMode
	}
	if err := s.exec(ctx, "SET SESSION sql_mode = ?", m); err != nil {
		return err
	}
	if o.Charset != "" && o.Collcon != "" {
		if err := s.exec(ctx, "SET SESSION character_set_client = ?, collation_connection = ?", o.Charset, o.Collcon); err != nil {
			return err
		}
	}
	_, err := s.conn.ExecContext(ctx, string(rw([]byte(o.Create))))
	return mysqlScrub(err)
}

// mysqlTables lists a schema's tables (everything but views: base tables,
// MariaDB sequences, system-versioned tables).
func mysqlTables(ctx context.Context, q mysqlQuerier, schema string) ([]string, error) {
	rows, err := q.QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME", schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schema, mysqlScrub(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// mysqlCapture returns a schema's triggers (in firing order), views,
// routines and events with their SHOW CREATE statements.
func mysqlCapture(ctx context.Context, q mysqlQuerier, schema string) ([]mysqlObject, error) {
	lists := []struct{ kind, query string }{
		{"TRIGGER", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"},
		{"VIEW", "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME"},
		{"PROCEDURE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME"},
		{"FUNCTION", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION' ORDER BY ROUTINE_NAME"},
		{"EVENT", "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME"},
	}
	var out []mysqlObject
	for _, l := range lists {
		names, err := mysqlStrings(ctx, q, l.query, schema)
		if err != nil {
			return nil, fmt.Errorf("list %ss of %s: %w", strings.ToLower(l.kind), schema, err)
		}
		for _, n := range names {
			o, err := mysqlShowCreate(ctx, q, l.kind, schema, n)
			if err != nil {
				return nil, fmt.Errorf("show create %s %s.%s: %w", strings.ToLower(l.kind), schema, n, err)
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func mysqlStrings(ctx context.Context, q mysqlQuerier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mysqlScrub(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// mysqlShowCreate reads SHOW CREATE <kind> by column name: the column
// sets differ by kind and server.
func mysqlShowCreate(ctx context.Context, q mysqlQuerier, kind, schema, name string) (mysqlObject, error) {
	o := mysqlObject{Kind: kind, Name: name}
	rows, err := q.QueryContext(ctx, "SHOW CREATE "+kind+" "+mysqlQuote(schema)+"."+mysqlQuote(name))
	if err != nil {
		return o, mysqlScrub(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return o, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return o, err
		}
		return o, errors.New("no result")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return o, err
	}
	for i, c := range cols {
		switch strings.ToLower(c) {
		case "sql_mode":
			o.SQLMode, o.HasSQLMode = vals[i].String, true
		case "character_set_client":
			o.Charset = vals[i].String
		case "collation_connection":
			o.Collcon = vals[i].String
		case "create view", "sql original statement", "create procedure", "create function", "create event":
			if !vals[i].Valid {
				return o, errors.New("definition not visible (missing privileges)")
			}
			o.Create = vals[i].String
		}
	}
	if o.Create == "" {
		return o, errors.New("no definition")
	}
	return o, rows.Err()
}
