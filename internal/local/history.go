package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/refresh"
)

// The run history lives in its own control-DB table, one row per run with
// the record as JSON: the forecast reads whole records, never a column of
// one, and the record's shape can grow without a migration. Record keeps
// the newest refresh.HistoryKeep rows per target.

const historyTable = "restage_history"

var (
	_ refresh.History      = (*pgServer)(nil)
	_ refresh.RowEstimator = (*pgServer)(nil)
	_ refresh.History      = (*mysqlServer)(nil)
	_ refresh.RowEstimator = (*mysqlServer)(nil)
)

const pgHistoryDDL = `CREATE TABLE IF NOT EXISTS ` + historyTable + ` (
	target     text NOT NULL,
	run_id     text NOT NULL,
	started_at timestamptz NOT NULL,
	record     jsonb NOT NULL,
	PRIMARY KEY (target, run_id)
)`

// Record adds rec to the target's history and drops all but the newest
// refresh.HistoryKeep runs.
func (p *pgServer) Record(ctx context.Context, rec refresh.RunRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	c, err := p.control(ctx)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	defer pgClose(c)
	if _, err := c.Exec(ctx, pgHistoryDDL); err != nil && pgCode(err) != "23505" && pgCode(err) != "42P07" {
		return fmt.Errorf("record run: create table %s: %w", historyTable, pgScrub(err))
	}
	if _, err := c.Exec(ctx, `INSERT INTO `+historyTable+` (target, run_id, started_at, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (target, run_id) DO UPDATE SET started_at = EXCLUDED.started_at, record = EXCLUDED.record`,
		p.cfg.Target, rec.RunID, rec.Start, string(body)); err != nil {
		return fmt.Errorf("record run: %w", pgScrub(err))
	}
	if _, err := c.Exec(ctx, `DELETE FROM `+historyTable+` WHERE target = $1 AND run_id NOT IN (
		SELECT run_id FROM `+historyTable+` WHERE target = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2)`,
		p.cfg.Target, refresh.HistoryKeep); err != nil {
		return fmt.Errorf("record run: trim history: %w", pgScrub(err))
	}
	return nil
}

// Recent returns up to n recorded runs, newest first. It creates nothing:
// `restage run --dry-run` reads the history through it, and no control DB
// or no table yet is simply no history.
func (p *pgServer) Recent(ctx context.Context, n int) ([]refresh.RunRecord, error) {
	c, err := p.connect(ctx, p.cfg.ControlDB)
	if pgCode(err) == "3D000" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: connect to control DB %s: %w", p.cfg.ControlDB, err)
	}
	defer pgClose(c)
	rows, err := c.Query(ctx, `SELECT record::text FROM `+historyTable+` WHERE target = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2`, p.cfg.Target, n)
	if pgCode(err) == "42P01" { // undefined_table
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", pgScrub(err))
	}
	bodies, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if pgCode(err) == "42P01" {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", pgScrub(err))
	}
	return decodeHistory(bodies)
}

// RowEstimates reads the source's row estimates from the catalog
// statistics (pg_class.reltuples, as of the last ANALYZE); a table never
// analyzed has no estimate.
func (p *pgServer) RowEstimates(ctx context.Context) (map[string]int64, error) {
	c, err := p.connectSource(ctx)
	if err != nil {
		return nil, fmt.Errorf("row estimates: connect to the source: %w", err)
	}
	defer pgClose(c)
	rows, err := c.Query(ctx, `SELECT n.nspname || '.' || c.relname, c.reltuples::bigint FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.reltuples >= 0
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'`)
	if err != nil {
		return nil, fmt.Errorf("row estimates: %w", pgScrub(err))
	}
	out := map[string]int64{}
	var name string
	var est int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &est}, func() error { out[name] = est; return nil }); err != nil {
		return nil, fmt.Errorf("row estimates: %w", pgScrub(err))
	}
	return out, nil
}

func (p *mysqlServer) historyTable() string {
	return mysqlQuote(p.cfg.ControlDB) + "." + mysqlQuote(historyTable)
}

// Record adds rec to the target's history and drops all but the newest
// refresh.HistoryKeep runs.
func (p *mysqlServer) Record(ctx context.Context, rec refresh.RunRecord) error {
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if err := p.ensureControl(ctx); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	t := p.historyTable()
	if _, err := p.admin.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+t+` (
			target     VARCHAR(64) NOT NULL,
			run_id     VARCHAR(64) NOT NULL,
			started_at DATETIME(6) NOT NULL,
			record     LONGTEXT NOT NULL,
			PRIMARY KEY (target, run_id)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`); err != nil {
		return fmt.Errorf("record run: create table %s: %w", historyTable, mysqlScrub(err))
	}
	if _, err := p.admin.ExecContext(ctx, "REPLACE INTO "+t+" (target, run_id, started_at, record) VALUES (?, ?, ?, ?)",
		p.cfg.Target, rec.RunID, rec.Start.UTC(), string(body)); err != nil {
		return fmt.Errorf("record run: %w", mysqlScrub(err))
	}
	// MySQL can't LIMIT a subquery under IN; the derived table can.
	if _, err := p.admin.ExecContext(ctx, "DELETE FROM "+t+` WHERE target = ? AND run_id NOT IN (
		SELECT run_id FROM (SELECT run_id FROM `+t+` WHERE target = ? ORDER BY started_at DESC, run_id DESC LIMIT ?) AS keep)`,
		p.cfg.Target, p.cfg.Target, refresh.HistoryKeep); err != nil {
		return fmt.Errorf("record run: trim history: %w", mysqlScrub(err))
	}
	return nil
}

// Recent returns up to n recorded runs, newest first; it creates nothing
// (see the PostgreSQL provider).
func (p *mysqlServer) Recent(ctx context.Context, n int) ([]refresh.RunRecord, error) {
	rows, err := p.admin.QueryContext(ctx, "SELECT record FROM "+p.historyTable()+" WHERE target = ? ORDER BY started_at DESC, run_id DESC LIMIT ?", p.cfg.Target, n)
	if code := mysqlCode(err); code == 1049 || code == 1146 { // unknown database, no such table
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", mysqlScrub(err))
	}
	defer rows.Close()
	var bodies []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("read history: %w", mysqlScrub(err))
		}
		bodies = append(bodies, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history: %w", mysqlScrub(err))
	}
	return decodeHistory(bodies)
}

// RowEstimates reads the source's row estimates from
// information_schema.TABLES (InnoDB's sampled estimate).
func (p *mysqlServer) RowEstimates(ctx context.Context) (map[string]int64, error) {
	src, err := mysqlOpen(p.src)
	if err != nil {
		return nil, fmt.Errorf("row estimates: %w", mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	defer src.Close()
	rows, err := src.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' AND TABLE_ROWS IS NOT NULL`, p.sourceName)
	if err != nil {
		return nil, fmt.Errorf("row estimates: %w", mysqlRedact(mysqlScrub(err), p.src.Passwd))
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var est int64
		if err := rows.Scan(&name, &est); err != nil {
			return nil, fmt.Errorf("row estimates: %w", mysqlScrub(err))
		}
		out[name] = est
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("row estimates: %w", mysqlScrub(err))
	}
	return out, nil
}

// mysqlCode is the server's error number, 0 for any other error.
func mysqlCode(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func decodeHistory(bodies []string) ([]refresh.RunRecord, error) {
	out := make([]refresh.RunRecord, 0, len(bodies))
	for _, b := range bodies {
		var r refresh.RunRecord
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			// The record is restage's own JSON: no personal data to hide.
			return nil, fmt.Errorf("read history: decode a recorded run: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
