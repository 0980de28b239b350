package localserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
)

var (
	_ refresh.History      = (*mysqlServer)(nil)
	_ refresh.RowEstimator = (*mysqlServer)(nil)
)

func (p *mysqlServer) historyTable() string {
	return mysqlQuote(p.cfg.ControlDB) + "." + mysqlQuote(local.HistoryTable)
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
		return fmt.Errorf("record run: create table %s: %w", local.HistoryTable, mysqlScrub(err))
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
// (see the PostgreSQL server).
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
	return local.DecodeHistory(bodies)
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
