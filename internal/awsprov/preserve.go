package awsprov

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/rowcopy"
)

// Preserve copies rows from the current staging DB (the one behind the
// staging record) into db, after masking and before the switch. The old
// DB is read as Config.PreserveUser — the first staging user, who can read
// it (its master password may be unknowable: random mode never stores
// it); db is written with its admin DSN, in one transaction. Per spec, the
// columns both tables have (generated columns excluded) are copied:
//
//   - MySQL family: db's rows with the same primary key are deleted, then
//     the old rows are inserted in batches (foreign key checks off for the
//     session, so re-inserting a parent does not trip its children);
//   - PostgreSQL: COPY … TO STDOUT on the old DB streams into COPY … FROM
//     STDIN of a temporary table in db, then INSERT … ON CONFLICT (primary
//     key) DO UPDATE (an upsert: deleting a referenced row would fail or
//     cascade).
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
	var n int64
	switch db.Engine {
	case "mysql":
		n, err = p.mysqlPreserve(ctx, log, oldDSN, db.AdminDSN, specs)
	case "postgres":
		n, err = p.pgPreserve(ctx, log, oldDSN, db.AdminDSN, specs)
	default:
		err = fmt.Errorf("unsupported engine family %q", db.Engine)
	}
	if err != nil {
		return 0, fmt.Errorf("preserve rows from %s into %s: %w", old.ID, db.Name, redact(err, p.cfg.PreservePassword, p.password(db.Name)))
	}
	return n, nil
}

// tableName splits "table" or "schema.table".
func tableName(spec string) (schema, table string, err error) {
	schema, table, ok := strings.Cut(spec, ".")
	if !ok {
		schema, table = "", spec
	}
	if table == "" || strings.Contains(table, ".") || (ok && schema == "") {
		return "", "", fmt.Errorf("table name %q: want table or schema.table", spec)
	}
	return schema, table, nil
}

// ---- MySQL / MariaDB ----

// myBatchParams bounds the placeholders of one statement (MySQL: 65535).
const myBatchParams = 30000

func (p *Provider) mysqlPreserve(ctx context.Context, log interface{ Info(string, ...any) }, oldDSN, newDSN string, specs []refresh.PreserveSpec) (int64, error) {
	src, err := sql.Open("mysql", oldDSN)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := sql.Open("mysql", newDSN)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	conn, err := dst.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect to the new DB: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return 0, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION foreign_key_checks = 1") //nolint:errcheck // the connection is closed next
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: nothing to do
	var total int64
	for _, spec := range specs {
		n, err := p.mysqlPreserveTable(ctx, src, tx, spec)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", spec.Table, err)
		}
		if n < 0 {
			log.Info("table missing in the current staging DB: nothing preserved", "table", spec.Table)
			continue
		}
		log.Info("preserved rows", "table", spec.Table, "rows", n)
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return total, nil
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func myStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
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

// mysqlPreserveTable copies one spec; -1 means the table is missing in
// the old DB.
func (p *Provider) mysqlPreserveTable(ctx context.Context, src *sql.DB, tx *sql.Tx, spec refresh.PreserveSpec) (int64, error) {
	_, table, err := tableName(spec.Table)
	if err != nil {
		return 0, err
	}
	const colsQ = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION"
	oldCols, err := myStrings(ctx, src, colsQ, table)
	if err != nil {
		return 0, fmt.Errorf("read the current staging DB's columns: %w", err)
	}
	if len(oldCols) == 0 {
		return -1, nil
	}
	newCols, err := myStrings(ctx, tx, colsQ, table)
	if err != nil {
		return 0, fmt.Errorf("read columns: %w", err)
	}
	if len(newCols) == 0 {
		return 0, errors.New("the table does not exist in the new DB")
	}
	var cols []string
	for _, c := range newCols {
		if slices.Contains(oldCols, c) {
			cols = append(cols, c)
		}
	}
	pk, err := myStrings(ctx, tx, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION", table)
	if err != nil {
		return 0, fmt.Errorf("read the primary key: %w", err)
	}
	var keyIdx []int
	for _, k := range pk {
		i := slices.Index(cols, k)
		if i < 0 {
			return 0, fmt.Errorf("primary key column %s is missing in the current staging DB", k)
		}
		keyIdx = append(keyIdx, i)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = myIdent(c)
	}
	// Every column, generated ones too, may appear in the predicate; its
	// values go as bind parameters.
	allCols, err := myStrings(ctx, src, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table)
	if err != nil {
		return 0, fmt.Errorf("read the current staging DB's columns: %w", err)
	}
	cond, condArgs, err := spec.Where.MySQL(allCols)
	if err != nil {
		return 0, err
	}
	rows, err := src.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+myIdent(table)+" WHERE "+cond, condArgs...)
	if err != nil {
		return 0, fmt.Errorf("read from the current staging DB: %w", err)
	}
	var data [][]any
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read from the current staging DB: %w", err)
		}
		row := make([]any, len(cols))
		for i, b := range raw {
			if b != nil {
				row[i] = slices.Clone([]byte(b))
			}
		}
		data = append(data, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read from the current staging DB: %w", err)
	}
	per := max(1, myBatchParams/len(cols))
	for start := 0; start < len(data); start += per {
		batch := data[start:min(start+per, len(data))]
		if len(keyIdx) > 0 {
			keys := make([]string, len(keyIdx))
			for i, k := range keyIdx {
				keys[i] = quoted[k]
			}
			tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(keyIdx)), ", ") + ")"
			var args []any
			for _, row := range batch {
				for _, k := range keyIdx {
					args = append(args, row[k])
				}
			}
			q := "DELETE FROM " + myIdent(table) + " WHERE (" + strings.Join(keys, ", ") + ") IN (" +
				strings.TrimSuffix(strings.Repeat(tuple+", ", len(batch)), ", ") + ")"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return 0, fmt.Errorf("delete rows with preserved keys: %w", err)
			}
		}
	}
	var n int64
	for start := 0; start < len(data); start += per {
		batch := data[start:min(start+per, len(data))]
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		var args []any
		for _, row := range batch {
			args = append(args, row...)
		}
		q := "INSERT INTO " + myIdent(table) + " (" + strings.Join(quoted, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(tuple+", ", len(batch)), ", ")
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("insert preserved rows: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// ---- PostgreSQL ----

func (p *Provider) pgPreserve(ctx context.Context, log interface{ Info(string, ...any) }, oldDSN, newDSN string, specs []refresh.PreserveSpec) (int64, error) {
	src, err := pgx.Connect(ctx, oldDSN)
	if err != nil {
		return 0, fmt.Errorf("connect to the current staging DB: %w", err)
	}
	defer src.Close(context.WithoutCancel(ctx))
	dst, err := pgx.Connect(ctx, newDSN)
	if err != nil {
		return 0, fmt.Errorf("connect to the new DB: %w", err)
	}
	defer dst.Close(context.WithoutCancel(ctx))
	var total int64
	err = pgx.BeginTxFunc(ctx, src, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(stx pgx.Tx) error {
		return pgx.BeginFunc(ctx, dst, func(ntx pgx.Tx) error {
			for i, spec := range specs {
				n, err := rowcopy.PostgreSQL(ctx, stx, ntx, i, spec)
				if err != nil {
					return fmt.Errorf("%s: %w", spec.Table, err)
				}
				if n < 0 {
					log.Info("table missing in the current staging DB: nothing preserved", "table", spec.Table)
					continue
				}
				log.Info("preserved rows", "table", spec.Table, "rows", n)
				total += n
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
