package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/engine"
)

// copyBatchParams bounds the placeholders of one statement (MySQL: 65535).
const copyBatchParams = 30000

// CopyRows implements engine.Admin: the source rows are read into memory
// (preserved rows are few: QA accounts, feature flags), then, in one
// transaction on the target with foreign key checks off for that session
// (re-inserting a parent must not trip its children), rows with the same
// primary key are deleted and the source rows inserted in batches. The
// sessions are opened here, with the DSNs given (which name their
// databases); the admin session is not used.
func (a *Admin) CopyRows(ctx context.Context, log *slog.Logger, fromDSN, intoDSN string, specs []engine.RowSpec) (int64, error) {
	var secrets []string
	for _, d := range []string{fromDSN, intoDSN} {
		cfg, err := mysql.ParseDSN(d)
		if err != nil {
			return 0, errors.New("copy rows: invalid dsn")
		}
		secrets = append(secrets, cfg.Passwd)
	}
	n, err := copyRows(ctx, log, fromDSN, intoDSN, specs)
	for _, s := range secrets {
		err = redact(err, s)
	}
	return n, err
}

func copyRows(ctx context.Context, log *slog.Logger, fromDSN, intoDSN string, specs []engine.RowSpec) (int64, error) {
	src, err := sql.Open("mysql", fromDSN)
	if err != nil {
		return 0, errors.New("copy rows: invalid dsn")
	}
	defer src.Close()
	dst, err := sql.Open("mysql", intoDSN)
	if err != nil {
		return 0, errors.New("copy rows: invalid dsn")
	}
	defer dst.Close()
	conn, err := dst.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connect to the new DB: %w", Scrub(err))
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION foreign_key_checks = 0"); err != nil {
		return 0, Scrub(err)
	}
	// The session goes back to the pool, which is closed next: restore
	// the setting anyway, should that ever change.
	defer conn.ExecContext(context.WithoutCancel(ctx), "SET SESSION foreign_key_checks = 1") //nolint:errcheck
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, Scrub(err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: nothing to do
	var total int64
	for _, spec := range specs {
		n, err := copyTable(ctx, src, tx, spec)
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
		return 0, Scrub(err)
	}
	return total, nil
}

// tableName takes the table of "table" or "schema.table" (the DSN names
// the database).
func tableName(spec string) (string, error) {
	schema, table, ok := strings.Cut(spec, ".")
	if !ok {
		schema, table = "", spec
	}
	if table == "" || strings.Contains(table, ".") || (ok && schema == "") {
		return "", fmt.Errorf("table name %q: want table or schema.table", spec)
	}
	return table, nil
}

// copyTable copies one spec; -1 means the table is missing in the source.
func copyTable(ctx context.Context, src *sql.DB, tx *sql.Tx, spec engine.RowSpec) (int64, error) {
	table, err := tableName(spec.Table)
	if err != nil {
		return 0, err
	}
	const colsQ = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION"
	oldCols, err := queryStrings(ctx, src, colsQ, table)
	if err != nil {
		return 0, fmt.Errorf("read the current staging DB's columns: %w", err)
	}
	if len(oldCols) == 0 {
		return -1, nil
	}
	newCols, err := queryStrings(ctx, tx, colsQ, table)
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
	pk, err := queryStrings(ctx, tx, "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION", table)
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
		quoted[i] = quote(c)
	}
	// Every column, generated ones too, may appear in the predicate; its
	// values go as bind parameters.
	allCols, err := queryStrings(ctx, src, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table)
	if err != nil {
		return 0, fmt.Errorf("read the current staging DB's columns: %w", err)
	}
	cond, condArgs, err := PredicateSQL(spec.Where, allCols)
	if err != nil {
		return 0, err
	}
	data, err := readRows(ctx, src, "SELECT "+strings.Join(quoted, ", ")+" FROM "+quote(table)+" WHERE "+cond, condArgs, len(cols))
	if err != nil {
		return 0, fmt.Errorf("read from the current staging DB: %w", err)
	}
	per := max(1, copyBatchParams/len(cols))
	if len(keyIdx) > 0 {
		keys := make([]string, len(keyIdx))
		for i, k := range keyIdx {
			keys[i] = quoted[k]
		}
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(keyIdx)), ", ") + ")"
		for start := 0; start < len(data); start += per {
			batch := data[start:min(start+per, len(data))]
			var args []any
			for _, row := range batch {
				for _, k := range keyIdx {
					args = append(args, row[k])
				}
			}
			q := "DELETE FROM " + quote(table) + " WHERE (" + strings.Join(keys, ", ") + ") IN (" +
				strings.TrimSuffix(strings.Repeat(tuple+", ", len(batch)), ", ") + ")"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return 0, fmt.Errorf("delete rows with preserved keys: %w", Scrub(err))
			}
		}
	}
	var n int64
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(data); start += per {
		batch := data[start:min(start+per, len(data))]
		var args []any
		for _, row := range batch {
			args = append(args, row...)
		}
		q := "INSERT INTO " + quote(table) + " (" + strings.Join(quoted, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(tuple+", ", len(batch)), ", ")
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, fmt.Errorf("insert preserved rows: %w", Scrub(err))
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// readRows reads every row of q as raw bytes (NULL stays nil).
func readRows(ctx context.Context, src *sql.DB, q string, args []any, ncols int) ([][]any, error) {
	rows, err := src.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, Scrub(err)
	}
	defer rows.Close()
	var data [][]any
	for rows.Next() {
		raw := make([]sql.RawBytes, ncols)
		dest := make([]any, ncols)
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, Scrub(err)
		}
		row := make([]any, ncols)
		for i, b := range raw {
			if b != nil {
				row[i] = slices.Clone([]byte(b))
			}
		}
		data = append(data, row)
	}
	return data, Scrub(rows.Err())
}
