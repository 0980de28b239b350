package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/engine"
)

// copyQuerier is the part of pgx.Tx / *pgx.Conn column lookups need.
type copyQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// copyColumn is one column of a table.
type copyColumn struct {
	Name      string
	Generated bool
	Key       bool // part of the primary key
}

// copyColumns lists the columns of table (quoted, qualified); ok is false when
// there is no such table.
func copyColumns(ctx context.Context, q copyQuerier, table string) (cols []copyColumn, ok bool, err error) {
	if err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
		return nil, false, scrub(err)
	}
	rows, err := q.Query(ctx, `SELECT a.attname, a.attgenerated <> '', coalesce(a.attnum = ANY (i.indkey), false)
		FROM pg_attribute a LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, table)
	if err != nil {
		return nil, true, scrub(err)
	}
	cols, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (copyColumn, error) {
		var c copyColumn
		err := r.Scan(&c.Name, &c.Generated, &c.Key)
		return c, err
	})
	return cols, true, scrub(err)
}

// qualified quotes "table" (schema public) or "schema.table".
func qualified(name string) (string, error) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		schema, table = "public", name
	}
	if schema == "" || table == "" || strings.Contains(table, ".") {
		return "", fmt.Errorf("table name %q: want table or schema.table", name)
	}
	return pgx.Identifier{schema, table}.Sanitize(), nil
}

var errCopyStopped = errors.New("copy into the new database stopped")

// copyTable copies one spec's rows from the current staging DB (read in
// stx) into the new DB (written in ntx): COPY … TO STDOUT streamed into
// COPY … FROM STDIN of a temporary table, then INSERT … ON CONFLICT
// (primary key) DO UPDATE — an upsert, because deleting a row that masked
// child rows reference would fail or cascade. The columns both tables have
// are copied (generated ones excluded). It returns -1 when the table is
// missing in the current staging DB (nothing to preserve). i names the
// temporary table. Errors never contain row values.
func copyTable(ctx context.Context, stx, ntx pgx.Tx, i int, spec engine.RowSpec) (int64, error) {
	table, err := qualified(spec.Table)
	if err != nil {
		return 0, err
	}
	srcCols, ok, err := copyColumns(ctx, stx, table)
	if err != nil {
		return 0, fmt.Errorf("read the current staging DB's columns: %w", err)
	}
	if !ok {
		return -1, nil
	}
	dstCols, ok, err := copyColumns(ctx, ntx, table)
	if err != nil {
		return 0, fmt.Errorf("read columns: %w", err)
	}
	if !ok {
		return 0, errors.New("the table does not exist in the new database")
	}
	var cols, key, set []string
	for _, c := range dstCols {
		inSrc := slices.ContainsFunc(srcCols, func(s copyColumn) bool { return s.Name == c.Name })
		id := Quote(c.Name)
		if c.Key {
			if !inSrc {
				return 0, fmt.Errorf("primary key column %s is missing in the current staging database", c.Name)
			}
			key = append(key, id)
		}
		if c.Generated || !inSrc {
			continue
		}
		cols = append(cols, id)
		if !c.Key {
			set = append(set, id+" = EXCLUDED."+id)
		}
	}
	if len(key) == 0 {
		return 0, errors.New("the table has no primary key in the new database")
	}
	// The predicate is checked against the current staging DB's columns
	// before anything is written. Its values go as bind parameters, which
	// COPY (query) can't take: the rows are read with an ordinary
	// parameterised query in text format and written in COPY's text format.
	srcNames := make([]string, len(srcCols))
	for i, c := range srcCols {
		srcNames[i] = c.Name
	}
	cond, args, err := PredicateSQL(spec.Where, srcNames, 1)
	if err != nil {
		return 0, err
	}
	params := make([][]byte, len(args))
	for i, a := range args {
		params[i] = []byte(a)
	}
	colList := strings.Join(cols, ", ")
	tmp := fmt.Sprintf("restage_preserve_%d", i)
	if _, err := ntx.Exec(ctx, "CREATE TEMPORARY TABLE "+tmp+" ON COMMIT DROP AS SELECT "+colList+" FROM "+table+" WITH NO DATA"); err != nil {
		return 0, fmt.Errorf("create temporary table: %w", scrub(err))
	}
	sel := "SELECT " + colList + " FROM " + table + " WHERE " + cond
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := copyText(ctx, stx.Conn().PgConn(), pw, sel, params)
		pw.CloseWithError(err)
		done <- err
	}()
	_, errIn := ntx.Conn().PgConn().CopyFrom(ctx, pr, "COPY "+tmp+" ("+colList+") FROM STDIN")
	pr.CloseWithError(errCopyStopped) // unblocks the writer if the copy in stopped early
	errOut := <-done
	if errOut != nil && !errors.Is(errOut, errCopyStopped) {
		return 0, fmt.Errorf("read from the current staging database: %w", scrub(errOut))
	}
	if errIn != nil {
		return 0, fmt.Errorf("copy into the new database: %w", scrub(errIn))
	}
	conflict := "DO NOTHING"
	if len(set) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	tag, err := ntx.Exec(ctx, "INSERT INTO "+table+" ("+colList+") OVERRIDING SYSTEM VALUE SELECT "+colList+" FROM "+tmp+
		" ON CONFLICT ("+strings.Join(key, ", ")+") "+conflict)
	if err != nil {
		return 0, fmt.Errorf("write rows: %w", scrub(err))
	}
	return tag.RowsAffected(), nil
}

// copyText runs the query sel with text-format parameters of unspecified
// type (the server types each from its context, as it types a literal) and
// writes its rows to w in COPY's text format.
func copyText(ctx context.Context, c *pgconn.PgConn, w io.Writer, sel string, params [][]byte) error {
	rr := c.ExecParams(ctx, sel, params, nil, nil, nil)
	bw := bufio.NewWriterSize(w, 64<<10)
	for rr.NextRow() {
		for i, v := range rr.Values() {
			if i > 0 {
				bw.WriteByte('\t')
			}
			if v == nil {
				bw.WriteString(`\N`)
				continue
			}
			copyEscape(bw, v)
		}
		if err := bw.WriteByte('\n'); err != nil {
			rr.Close()
			return err
		}
	}
	if _, err := rr.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// copyEscape writes v escaped for COPY's text format.
func copyEscape(w *bufio.Writer, v []byte) {
	for _, b := range v {
		switch b {
		case '\\':
			w.WriteString(`\\`)
		case '\n':
			w.WriteString(`\n`)
		case '\r':
			w.WriteString(`\r`)
		case '\t':
			w.WriteString(`\t`)
		default:
			w.WriteByte(b)
		}
	}
}
