package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// The masking copy of a local server (internal/local): one table's rows
// COPYed from a snapshot of the source through the rules' row functions
// into the new database, and the sessions that share the snapshot.

// StreamUnsupported is the one place that chooses between the two ways
// of filling the new DB: it says why the masking copy can't copy this
// source ("" when it can). The masking copy moves ordinary tables and
// sequences; what pg_dump's data section carries besides (large objects,
// the configuration tables of extensions) it does not, so such a source
// takes the plain dump | load followed by masking in place.
func StreamUnsupported(ctx context.Context, c *pgx.Conn) (string, error) {
	var blobs, extConfig bool
	err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata),
  EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extconfig IS NOT NULL AND cardinality(extconfig) > 0)`).Scan(&blobs, &extConfig)
	switch {
	case err != nil:
		return "", err
	case blobs:
		return "the source holds large objects", nil
	case extConfig:
		return "an extension of the source has configuration tables", nil
	}
	return "", nil
}

// ReadOnlyDSN makes every transaction of a session on d read only (pgx
// passes unknown parameters on as run-time parameters).
func ReadOnlyDSN(d string) string {
	if u, err := url.Parse(d); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return d + " default_transaction_read_only=on"
}

// copyParams print values as the postgres engine reads them
// (internal/postgres sessionParams): the rules' transformers and the
// gates' fingerprints see the same text on the source's snapshot as on a
// copy. row_security off makes a row-level security policy that would
// hide rows from the copy an error instead (as pg_dump does).
var copyParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"statement_timeout":  "0",
}

// Snapshot is one exported snapshot of the source and sessions reading
// under it. It is the gates' mask.Reader on the source while copying.
type Snapshot struct {
	id    string
	exp   *pgx.Conn
	conns chan *pgx.Conn
	all   []*pgx.Conn
	src   *Engine
}

var _ mask.Reader = (*Snapshot)(nil)

// OpenSnapshot exports a snapshot of the source src reads (one
// REPEATABLE READ, READ ONLY session on cfg, which production's writes
// never wait for) and opens n more sessions under it, each connected by
// connect with the text settings the engine reads values in, row
// security off (a policy that would hide rows from the copy is an error
// instead, as with pg_dump) and no idle-in-transaction timeout. target
// names the source in errors. Close ends every session.
func OpenSnapshot(ctx context.Context, cfg *pgx.ConnConfig, n int, src *Engine, target string, connect func(context.Context, *pgx.ConnConfig) (*pgx.Conn, error)) (_ *Snapshot, err error) {
	cfg = cfg.Copy()
	CopySessionParams(cfg)
	cfg.RuntimeParams["row_security"] = "off"
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
	s := &Snapshot{conns: make(chan *pgx.Conn, n), src: src}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	open := func() (*pgx.Conn, error) {
		c, err := connect(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("snapshot of source %s: %w", target, err)
		}
		s.all = append(s.all, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
			return nil, fmt.Errorf("snapshot of source %s: %w", target, Scrub(err))
		}
		return c, nil
	}
	if s.exp, err = open(); err != nil {
		return nil, err
	}
	if err := s.exp.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&s.id); err != nil {
		return nil, fmt.Errorf("export snapshot of source %s: %w", target, Scrub(err))
	}
	for range n {
		c, err := open()
		if err != nil {
			return nil, err
		}
		// The id is pg_export_snapshot's output (hex digits and dashes),
		// quoted as a literal: SET takes no parameters.
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT "+literal(s.id)); err != nil {
			return nil, fmt.Errorf("import snapshot on source %s: %w", target, Scrub(err))
		}
		s.conns <- c
	}
	return s, nil
}

// CopySessionParams sets cfg's run-time parameters to print values as
// the engine reads them (copyParams).
func CopySessionParams(cfg *pgx.ConnConfig) {
	for k, v := range copyParams {
		cfg.RuntimeParams[k] = v
	}
}

// ID is the exported snapshot's id (pg_dump --snapshot).
func (s *Snapshot) ID() string { return s.id }

// Put gives back a session Get lent.
func (s *Snapshot) Put(c *pgx.Conn) { s.conns <- c }

// Close ends the snapshot's sessions.
func (s *Snapshot) Close() {
	for _, c := range s.all {
		closeConn(c)
	}
	s.all = nil
}

// Get lends one session under the snapshot (give it back with Put).
func (s *Snapshot) Get(ctx context.Context) (*pgx.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Count is a table's row count in the snapshot.
func (s *Snapshot) Count(ctx context.Context, t schema.TableName) (int64, error) {
	c, err := s.Get(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { s.conns <- c }()
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM ONLY "+pgx.Identifier{t.Schema, t.Name}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t, Scrub(err))
	}
	return n, nil
}

// Flavor is "postgres".
func (s *Snapshot) Flavor() string { return s.src.Flavor() }

// QuoteIdent quotes an identifier as the engine does.
func (s *Snapshot) QuoteIdent(name string) string { return s.src.QuoteIdent(name) }

// From renders a table's own rows as the engine does.
func (s *Snapshot) From(t schema.TableName) string { return s.src.From(t) }

// Text renders a column as text as the engine does.
func (s *Snapshot) Text(col string) string { return s.src.Text(col) }

// Query runs a read-only query under the snapshot, in the simple protocol
// (every value in its text form), like the engine's Query.
func (s *Snapshot) Query(ctx context.Context, query string, fn func(row []mask.Value) error) error {
	c, err := s.Get(ctx)
	if err != nil {
		return err
	}
	defer func() { s.conns <- c }()
	rows, err := c.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return fmt.Errorf("query: %w", Scrub(err))
	}
	defer rows.Close()
	var vals []mask.Value
	for rows.Next() {
		vals = vals[:0]
		for _, b := range rows.RawValues() {
			if b == nil {
				vals = append(vals, mask.Value{Null: true})
			} else {
				vals = append(vals, mask.Value{S: string(b)})
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("query: %w", Scrub(err))
	}
	return nil
}

// StatisticsValues reads the source's planner statistics (they are not
// versioned by snapshots).
func (s *Snapshot) StatisticsValues(ctx context.Context, sc *schema.Schema, t *schema.Table, col string) ([]string, error) {
	return s.src.StatisticsValues(ctx, sc, t, col)
}

// SameTables checks that the snapshot holds the tables and columns the
// drift gate and the plan saw (read from the live source just before the
// snapshot was taken): DDL in between would copy what no gate checked.
func (s *Snapshot) SameTables(ctx context.Context, sc *schema.Schema) error {
	c, err := s.Get(ctx)
	if err != nil {
		return err
	}
	defer func() { s.conns <- c }()
	got := map[string]string{}
	// The tables Introspect describes (internal/postgres/introspect.go).
	rows, _ := c.Query(ctx, `SELECT format('%s.%s', n.nspname, c.relname),
  array_to_string(ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum), ',')
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'`)
	var name, cols string
	_, err = pgx.ForEachRow(rows, []any{&name, &cols}, func() error {
		got[name] = cols
		return nil
	})
	if err != nil {
		return fmt.Errorf("read source tables: %w", Scrub(err))
	}
	changed := len(got) != len(sc.Tables)
	for _, t := range sc.Tables {
		names := make([]string, len(t.Columns))
		for i, col := range t.Columns {
			names[i] = col.Name
		}
		if cols, ok := got[t.TableName.String()]; !ok || cols != strings.Join(names, ",") {
			changed = true
		}
	}
	if changed {
		return errors.New("the source's tables changed between the drift gate and the copy (DDL on production); run again")
	}
	return nil
}

// Rel is one table whose rows are copied.
type Rel struct {
	Name schema.TableName
	Cols []string // copied columns (not generated, not dropped), in order
}

// relsQuery lists the tables pg_dump copies the rows of: ordinary
// tables (partitions included; a partitioned parent holds none) outside
// the system schemas and not part of an extension, biggest first.
const relsQuery = `SELECT n.nspname::text, c.relname::text,
  ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = $1 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.relpages DESC, 1, 2`

// Rels lists the relations of kind relkind ("r": tables, "S":
// sequences) whose contents pg_dump copies, biggest first.
func (s *Snapshot) Rels(ctx context.Context, relkind string) ([]Rel, error) {
	c, err := s.Get(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { s.conns <- c }()
	rows, _ := c.Query(ctx, relsQuery, relkind)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rel, error) {
		var x Rel
		err := r.Scan(&x.Name.Schema, &x.Name.Name, &x.Cols)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", Scrub(err))
	}
	return out, nil
}

// errCopyAborted closes the pipes of a table copy when one end failed.
var errCopyAborted = errors.New("copy aborted")

// CopyObserver shows a masked table's rows, as they are copied, to the
// gates' observer: ranges of observeRange rows per goroutine.
type CopyObserver struct {
	Obs mask.Observer
	Job int // index in the plan's jobs
}

const observeRange = 5000

// wrap returns fn seeing rows whose nread Read values are followed by the
// job's key values, and a function that ends the last range (call it
// once the copy succeeded).
func (o *CopyObserver) wrap(fn mask.RowFunc, mk *transform.Masker, nread int) (mask.RowFunc, func()) {
	ro := o.Obs.Range(o.Job, mk)
	n := 0
	return func(in, out []mask.Value) error {
			ro.Row(in)
			if n++; n == observeRange {
				ro.Done()
				ro, n = o.Obs.Range(o.Job, mk), 0
			}
			return fn(in[:nread], out)
		}, func() {
			ro.Done()
		}
}

// CopyTable copies one table's rows from src (a session under the
// snapshot) to dst. With tp, the rows go through its row function, one
// goroutine per masker in mks: the source COPY also prints the columns
// the function reads, as text (the form the engine reads them in), and
// writes back only the values it changed; with o, the gates' observer
// sees the masked rows' originals on their way. The rows read, written
// and counted by COUNT(*) in the snapshot must agree.
func CopyTable(ctx context.Context, src, dst *pgx.Conn, rel Rel, tp *mask.TablePlan, mks []*transform.Masker, o *CopyObserver) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qt := pgx.Identifier{rel.Name.Schema, rel.Name.Name}.Sanitize()
	qcols := make([]string, len(rel.Cols))
	for i, c := range rel.Cols {
		qcols[i] = Quote(c)
	}
	colList := ""
	if len(qcols) > 0 {
		colList = " (" + strings.Join(qcols, ", ") + ")"
	}
	out := "COPY " + qt + colList + " TO STDOUT"
	in := "COPY " + qt + colList + " FROM STDIN"
	var pos []int
	if tp != nil {
		sel := make([]string, 0, len(qcols)+len(tp.Job.Read))
		for _, c := range qcols {
			sel = append(sel, "t."+c)
		}
		for _, r := range tp.Job.Read {
			sel = append(sel, "t."+Quote(r)+"::text")
		}
		if o != nil {
			// The observer sees the Read values, then the key values.
			for _, k := range tp.Job.Key {
				sel = append(sel, "t."+Quote(k)+"::text")
			}
		}
		out = "COPY (SELECT " + strings.Join(sel, ", ") + " FROM ONLY " + qt + " AS t) TO STDOUT"
		for _, w := range tp.Job.Write {
			i := columnIndex(rel.Cols, w)
			if i < 0 {
				return 0, fmt.Errorf("masked column %q is not among the copied columns", w)
			}
			pos = append(pos, i)
		}
	}

	r1, w1 := io.Pipe()
	var readTag pgconn.CommandTag
	readDone := make(chan error, 1)
	go func() {
		tag, err := src.PgConn().CopyTo(ctx, w1, out)
		readTag = tag
		w1.CloseWithError(err)
		readDone <- err
	}()
	var load io.Reader = r1
	var r2 *io.PipeReader
	xDone := make(chan error, 1)
	var transformed int64
	if tp != nil {
		var w2 *io.PipeWriter
		r2, w2 = io.Pipe()
		load = r2
		fns := make([]mask.RowFunc, len(mks))
		var ends []func()
		extra := len(tp.Job.Read)
		for i, mk := range mks {
			fns[i] = tp.RowFunc(mk)
			if o != nil {
				var end func()
				fns[i], end = o.wrap(fns[i], mk, len(tp.Job.Read))
				ends = append(ends, end)
			}
		}
		if o != nil {
			extra += len(tp.Job.Key)
		}
		go func() {
			n, err := TransformCopyParallel(r1, w2, len(rel.Cols), pos, extra, fns)
			if err == nil {
				for _, end := range ends {
					end()
				}
			}
			transformed = n
			if err != nil {
				r1.CloseWithError(errCopyAborted)
			}
			w2.CloseWithError(err)
			xDone <- err
		}()
	} else {
		xDone <- nil
	}
	tag, loadErr := dst.PgConn().CopyFrom(ctx, load, in)
	if loadErr != nil {
		cancel()
		r1.CloseWithError(errCopyAborted)
		if r2 != nil {
			r2.CloseWithError(errCopyAborted)
		}
	}
	readErr, xErr := <-readDone, <-xDone
	var pe *pgconn.PgError
	switch {
	case xErr != nil && !errors.Is(xErr, errCopyAborted):
		return 0, xErr
	case errors.As(readErr, &pe):
		return 0, fmt.Errorf("read: %w", Scrub(readErr))
	case errors.As(loadErr, &pe):
		return 0, fmt.Errorf("write: %w", Scrub(loadErr))
	case readErr != nil:
		return 0, fmt.Errorf("read: %w", Scrub(readErr))
	case loadErr != nil:
		return 0, fmt.Errorf("write: %w", Scrub(loadErr))
	}
	read, wrote := readTag.RowsAffected(), tag.RowsAffected()
	if read != wrote || tp != nil && transformed != read {
		return 0, fmt.Errorf("read %d rows but wrote %d", read, wrote)
	}
	// An independent count in the same snapshot: the verification gate
	// compares the copy with the rows the source held, not only with the
	// rows the stream carried.
	var count int64
	if err := src.QueryRow(ctx, "SELECT count(*) FROM ONLY "+qt).Scan(&count); err != nil {
		return 0, fmt.Errorf("count: %w", Scrub(err))
	}
	if count != read {
		return 0, fmt.Errorf("the snapshot holds %d rows but the copy read %d", count, read)
	}
	return wrote, nil
}

func columnIndex(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// CopySequences sets every sequence in seqs (Rels(ctx, "S")) on dst to
// its value in the snapshot, as pg_dump's data section does
// (setval(name, last_value, is_called)).
func CopySequences(ctx context.Context, s *Snapshot, seqs []Rel, dst *pgx.Conn) error {
	c, err := s.Get(ctx)
	if err != nil {
		return err
	}
	defer s.Put(c)
	for _, q := range seqs {
		name := pgx.Identifier{q.Name.Schema, q.Name.Name}.Sanitize()
		var last string
		var called bool
		if err := c.QueryRow(ctx, "SELECT last_value::text, is_called FROM "+name).Scan(&last, &called); err != nil {
			return fmt.Errorf("read sequence %s: %w", q.Name, Scrub(err))
		}
		if _, err := dst.Exec(ctx, "SELECT pg_catalog.setval($1::text::regclass, $2::text::int8, $3)", name, last, called); err != nil {
			return fmt.Errorf("set sequence %s: %w", q.Name, Scrub(err))
		}
	}
	return nil
}

// BinaryValue decodes a binary column's text form as the engine does.
func (s *Snapshot) BinaryValue(text string) string { return s.src.BinaryValue(text) }

// TableSample samples pages as the engine does.
func (s *Snapshot) TableSample(percent float64) string { return s.src.TableSample(percent) }
