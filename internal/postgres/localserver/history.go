package localserver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
)

var (
	_ refresh.History      = (*pgServer)(nil)
	_ refresh.RowEstimator = (*pgServer)(nil)
)

const pgHistoryDDL = `CREATE TABLE IF NOT EXISTS ` + local.HistoryTable + ` (
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
		return fmt.Errorf("record run: create table %s: %w", local.HistoryTable, pgScrub(err))
	}
	if _, err := c.Exec(ctx, `INSERT INTO `+local.HistoryTable+` (target, run_id, started_at, record) VALUES ($1, $2, $3, $4)
		ON CONFLICT (target, run_id) DO UPDATE SET started_at = EXCLUDED.started_at, record = EXCLUDED.record`,
		p.cfg.Target, rec.RunID, rec.Start, string(body)); err != nil {
		return fmt.Errorf("record run: %w", pgScrub(err))
	}
	if _, err := c.Exec(ctx, `DELETE FROM `+local.HistoryTable+` WHERE target = $1 AND run_id NOT IN (
		SELECT run_id FROM `+local.HistoryTable+` WHERE target = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2)`,
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
	rows, err := c.Query(ctx, `SELECT record::text FROM `+local.HistoryTable+` WHERE target = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2`, p.cfg.Target, n)
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
	return local.DecodeHistory(bodies)
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
