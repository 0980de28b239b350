package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// savedTrigger is a trigger Prepare dropped, with what it takes to create
// it again as it was.
type savedTrigger struct {
	table, name string
	sqlMode     string
	statement   string // SHOW CREATE TRIGGER's "SQL Original Statement"
	charset     string // character_set_client
	collation   string // collation_connection
}

// Prepare drops the user triggers of the tables to be masked, so that the
// masking UPDATEs fire none: MySQL and MariaDB can't disable triggers per
// session. Their definitions (statement, sql_mode, client character set
// and collation) are kept in memory and Finish recreates them in their
// original order, also after a failure. A run killed between Prepare and
// Finish leaves them dropped on the copy; the copy is then never promoted
// (it failed), but a rerun restores from the snapshot rather than reusing
// it. No trigger fires anyway, so the list returned is empty.
func (e *Engine) Prepare(ctx context.Context, tables []*schema.Table) ([]string, error) {
	want := map[string]bool{}
	for _, t := range tables {
		want[t.Name] = true
	}
	var names [][2]string
	err := e.each(ctx, `SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
		func(r *sql.Rows) error {
			var table, name string
			if err := r.Scan(&table, &name); err != nil {
				return err
			}
			if want[table] {
				names = append(names, [2]string{table, name})
			}
			return nil
		}, e.dbName, e.dbName)
	if err != nil {
		return nil, fmt.Errorf("prepare: list triggers: %w", scrub(err))
	}
	// Save every definition before dropping any.
	var saved []savedTrigger
	for _, n := range names {
		st := savedTrigger{table: n[0], name: n[1]}
		var created, dbCollation sql.NullString
		row := e.db.QueryRowContext(ctx, "SHOW CREATE TRIGGER "+quote(n[1]))
		if err := row.Scan(new(string), &st.sqlMode, &st.statement, &st.charset, &st.collation, &dbCollation, &created); err != nil {
			return nil, fmt.Errorf("prepare: show trigger %s: %w", n[1], scrub(err))
		}
		saved = append(saved, st)
	}
	for _, st := range saved {
		if _, err := e.db.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+quote(st.name)); err != nil {
			return nil, fmt.Errorf("prepare: drop trigger %s: %w", st.name, scrub(err))
		}
		e.mu.Lock()
		e.saved = append(e.saved, st)
		e.mu.Unlock()
	}
	return nil, nil
}

// Finish recreates the triggers Prepare dropped (also after a failure,
// when masked is nil) and refreshes the statistics of the masked tables
// so they hold no original value.
func (e *Engine) Finish(ctx context.Context, masked []*schema.Table) error {
	errIdx := e.rebuildIndexes(ctx)
	errTrig := errors.Join(errIdx, e.restoreTriggers(ctx))
	var errStats error
	for _, t := range masked {
		if err := e.refreshStats(ctx, t); err != nil {
			errStats = errors.Join(errStats, fmt.Errorf("refresh statistics of %s: %w", t.Name, scrub(err)))
		}
	}
	return errors.Join(errTrig, errStats)
}

// restoreTriggers recreates the saved triggers in their original order on
// one connection, each under its own sql_mode and client character set.
// The connection is discarded afterwards (its session settings changed).
// If any can't be recreated, the error carries the definitions of those
// left out so an operator can recreate them.
func (e *Engine) restoreTriggers(ctx context.Context) error {
	e.mu.Lock()
	saved := e.saved
	e.saved = nil
	e.mu.Unlock()
	if len(saved) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // put them back even if the run was cancelled
	var failed []savedTrigger
	var errs []error
	conn, err := e.db.Conn(ctx)
	if err != nil {
		failed, errs = saved, []error{scrub(err)}
	} else {
		defer func() {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			_ = conn.Close()
		}()
		for _, st := range saved {
			if err := recreate(ctx, conn, st); err != nil {
				failed = append(failed, st)
				errs = append(errs, fmt.Errorf("trigger %s on %s: %w", st.name, st.table, scrub(err)))
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("recreate triggers: ")
	b.WriteString(errors.Join(errs...).Error())
	b.WriteString("\nthese triggers are missing on the copy; their definitions:\n")
	for _, st := range failed {
		fmt.Fprintf(&b, "-- table %s, sql_mode %q, character set %s, collation %s\n%s;\n", st.table, st.sqlMode, st.charset, st.collation, st.statement)
	}
	return errors.New(b.String())
}

func recreate(ctx context.Context, conn *sql.Conn, st savedTrigger) error {
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = ?", st.sqlMode); err != nil {
		return err
	}
	// The statement travels in the connection's utf8mb4. Switching the
	// client character set back restores the trigger's metadata, which is
	// only safe when that doesn't reinterpret the statement's bytes.
	names := "utf8mb4"
	if st.charset != "" && (isASCII(st.statement) || strings.HasPrefix(st.charset, "utf8mb4")) {
		names = st.charset
		if st.collation != "" && strings.HasPrefix(st.collation, st.charset+"_") {
			names += " COLLATE " + quote(st.collation)
		}
	}
	if _, err := conn.ExecContext(ctx, "SET NAMES "+names); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, st.statement)
	return err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// refreshStats re-analyzes a masked table so the statistics hold no
// original value. InnoDB's own persistent statistics hold counts only;
// the values are in MariaDB's engine-independent statistics
// (mysql.column_stats min/max and histograms) and MySQL 8's histograms
// (information_schema.COLUMN_STATISTICS). Those are recomputed for every
// column that has them, so no stale min, max or histogram bucket
// survives.
func (e *Engine) refreshStats(ctx context.Context, t *schema.Table) error {
	if err := e.analyze(ctx, "ANALYZE TABLE "+quote(t.Name)); err != nil {
		return err
	}
	var cols []string
	err := e.each(ctx, e.flavor.statsColumnsSQL(), func(r *sql.Rows) error {
		var c string
		if err := r.Scan(&c); err != nil {
			return err
		}
		if t.Column(c) != nil {
			cols = append(cols, c)
		}
		return nil
	}, e.dbName, t.Name)
	if err != nil || len(cols) == 0 {
		return err
	}
	return e.analyze(ctx, e.flavor.refreshStatsSQL(t.Name, cols))
}

// analyze runs an ANALYZE TABLE statement and turns an "error" row of its
// result into an error.
func (e *Engine) analyze(ctx context.Context, stmt string) error {
	rows, err := e.db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	var errs []error
	for rows.Next() {
		var table, op, typ, text sql.NullString
		if err := rows.Scan(&table, &op, &typ, &text); err != nil {
			return err
		}
		if strings.EqualFold(typ.String, "error") {
			errs = append(errs, errors.New(elideQuoted(text.String)))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}
