package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// The schema administration a local switch-by-rename needs: MySQL has no
// database rename, so a provider moves a database's tables with one
// atomic RENAME TABLE and carries what RENAME TABLE can't (triggers,
// views, routines, events) by capturing, dropping and creating them
// again. The provider keeps the order of steps, its intent record and its
// recovery; the SQL is here.

// Querier is what these functions read and write through: *sql.DB,
// *sql.Conn or *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Object is a schema object that RENAME TABLE cannot carry from one
// database to another: it is captured with SHOW CREATE, dropped, and
// created again in the destination. Its fields are stored as JSON in
// providers' intent records: renaming one breaks an interrupted swap's
// recovery.
type Object struct {
	Kind, Name       string // Kind: TRIGGER, VIEW, PROCEDURE, FUNCTION, EVENT
	Create           string
	SQLMode          string
	HasSQLMode       bool
	Charset, Collcon string // character_set_client, collation_connection
}

// Strings runs query and reads its one text column.
func Strings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	return queryStrings(ctx, q, query, args...)
}

// Tables lists a schema's tables (everything but views: base tables,
// MariaDB sequences, system-versioned tables), by name.
func Tables(ctx context.Context, q queryer, schema string) ([]string, error) {
	out, err := queryStrings(ctx, q, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME", schema)
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", schema, err)
	}
	return out, nil
}

// objectLists name a schema's objects that RENAME TABLE can't carry,
// triggers in firing order.
var objectLists = []struct{ kind, query string }{
	{"TRIGGER", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER"},
	{"VIEW", "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME"},
	{"PROCEDURE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME"},
	{"FUNCTION", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION' ORDER BY ROUTINE_NAME"},
	{"EVENT", "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME"},
}

// objectNames returns the set of a schema's objects as "KIND name".
func objectNames(ctx context.Context, q queryer, schema string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, l := range objectLists {
		names, err := queryStrings(ctx, q, l.query, schema)
		if err != nil {
			return nil, fmt.Errorf("list %ss of %s: %w", strings.ToLower(l.kind), schema, err)
		}
		for _, n := range names {
			out[l.kind+" "+n] = true
		}
	}
	return out, nil
}

// Objects returns a schema's triggers (in firing order), views, routines
// and events with their SHOW CREATE statements.
func Objects(ctx context.Context, q queryer, schema string) ([]Object, error) {
	var out []Object
	for _, l := range objectLists {
		names, err := queryStrings(ctx, q, l.query, schema)
		if err != nil {
			return nil, fmt.Errorf("list %ss of %s: %w", strings.ToLower(l.kind), schema, err)
		}
		for _, n := range names {
			o, err := showCreate(ctx, q, l.kind, schema, n)
			if err != nil {
				return nil, fmt.Errorf("show create %s %s.%s: %w", strings.ToLower(l.kind), schema, n, err)
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// showCreate reads SHOW CREATE <kind> by column name: the column sets
// differ by kind and server.
func showCreate(ctx context.Context, q queryer, kind, schema, name string) (Object, error) {
	o := Object{Kind: kind, Name: name}
	rows, err := q.QueryContext(ctx, "SHOW CREATE "+kind+" "+quote(schema)+"."+quote(name))
	if err != nil {
		return o, Scrub(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return o, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return o, Scrub(err)
		}
		return o, errors.New("no result")
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return o, Scrub(err)
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
	return o, Scrub(rows.Err())
}

// DropObjects drops captured objects from schema. Idempotent.
func DropObjects(ctx context.Context, q Querier, schema string, objs []Object) error {
	for _, o := range objs {
		if _, err := q.ExecContext(ctx, "DROP "+o.Kind+" IF EXISTS "+quote(schema)+"."+quote(o.Name)); err != nil {
			return fmt.Errorf("drop %s %s.%s: %w", strings.ToLower(o.Kind), schema, o.Name, Scrub(err))
		}
	}
	return nil
}

// EnsureObjects makes schema to hold exactly the captured objects, each
// statement passed through rewrite first (a provider points qualified
// references to the schema they were captured in at to). Idempotent:
// when some are missing, all are dropped and created again in their
// captured order, so triggers keep their firing order. It runs on one
// session (USE, sql_mode and character set per object) and gives the
// session its settings back.
func EnsureObjects(ctx context.Context, conn *sql.Conn, objs []Object, to string, rewrite func([]byte) []byte) error {
	if len(objs) == 0 {
		return nil
	}
	present, err := objectNames(ctx, conn, to)
	if err != nil {
		return err
	}
	missing := false
	for _, o := range objs {
		if !present[o.Kind+" "+o.Name] {
			missing = true
			break
		}
	}
	if !missing {
		return nil
	}
	if err := DropObjects(ctx, conn, to, objs); err != nil {
		return err
	}
	return createObjects(ctx, conn, objs, to, rewrite)
}

// createObjects creates objects inside schema to. Views may depend on
// views: they are retried until no more can be created.
func createObjects(ctx context.Context, conn *sql.Conn, objs []Object, to string, rewrite func([]byte) []byte) error {
	exec := func(q string, args ...any) error {
		_, err := conn.ExecContext(ctx, q, args...)
		return Scrub(err)
	}
	if err := exec("USE " + quote(to)); err != nil {
		return err
	}
	var mode, cs, coll string
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection").Scan(&mode, &cs, &coll); err != nil {
		return Scrub(err)
	}
	defer func() {
		_ = exec("SET SESSION sql_mode = ?, character_set_client = ?, collation_connection = ?", mode, cs, coll)
	}()
	createOne := func(o Object) error {
		m := mode
		if o.HasSQLMode {
			m = o.SQLMode
		}
		if err := exec("SET SESSION sql_mode = ?", m); err != nil {
			return err
		}
		if o.Charset != "" && o.Collcon != "" {
			if err := exec("SET SESSION character_set_client = ?, collation_connection = ?", o.Charset, o.Collcon); err != nil {
				return err
			}
		}
		return exec(string(rewrite([]byte(o.Create))))
	}
	pending := objs
	for len(pending) > 0 {
		var failed []Object
		var lastErr error
		for _, o := range pending {
			if err := createOne(o); err != nil {
				if o.Kind != "VIEW" {
					return fmt.Errorf("create %s %s.%s: %w", strings.ToLower(o.Kind), to, o.Name, err)
				}
				failed, lastErr = append(failed, o), err
			}
		}
		if len(failed) == len(pending) {
			return fmt.Errorf("create view %s.%s: %w", to, failed[0].Name, lastErr)
		}
		pending = failed
	}
	return nil
}

// TableMove is one table RenameTables moves from one schema to another.
type TableMove struct{ Table, From, To string }

// RenameTables moves every table in one atomic RENAME TABLE (with foreign
// key checks off on that session, so a table may move before the one it
// references).
func RenameTables(ctx context.Context, conn *sql.Conn, moves []TableMove) error {
	if len(moves) == 0 {
		return nil
	}
	parts := make([]string, len(moves))
	for i, m := range moves {
		parts[i] = quote(m.From) + "." + quote(m.Table) + " TO " + quote(m.To) + "." + quote(m.Table)
	}
	for _, q := range []string{"SET SESSION foreign_key_checks = 0", "RENAME TABLE " + strings.Join(parts, ", "), "SET SESSION foreign_key_checks = 1"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return Scrub(err)
		}
	}
	return nil
}
