package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

var _ refresh.StreamingRestorer = (*pgProvider)(nil)

// pgStreamUnsupported is the one place that chooses between the two ways
// of filling the new DB: it says why the masking copy can't copy this
// source ("" when it can). The masking copy moves ordinary tables and
// sequences; what pg_dump's data section carries besides (large objects,
// the configuration tables of extensions) it does not, so such a source
// takes the plain dump | load followed by masking in place.
func pgStreamUnsupported(ctx context.Context, c *pgx.Conn) (string, error) {
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

// RestoreMasked fills the new DB in one pass, masking rows on their way:
// the drift gate runs on the source first (nothing is created when it
// refuses), then, under one snapshot the source exports (REPEATABLE READ,
// READ ONLY: production's writes never wait for it), pg_dump's pre-data
// section (tables without indexes, constraints or triggers), the gates'
// baselines, every table COPYed out by parallel readers sharing the
// snapshot, masked rows transformed by the rules' plan on their way, the
// sequences' values, and last pg_dump's post-data section (indexes,
// constraints, triggers: built after the data, as a restore does).
func (p *pgProvider) RestoreMasked(ctx context.Context, runID string, m *refresh.Masking) (*refresh.DB, bool, error) {
	c, err := p.connectSource(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("restore: connect to source %s: %w", p.src.Target(), err)
	}
	reason, err := pgStreamUnsupported(ctx, c)
	pgClose(c)
	if err != nil {
		return nil, false, fmt.Errorf("restore: inspect source %s: %w", p.src.Target(), pgScrub(err))
	}
	if reason != "" {
		p.log.Info("plain copy, then masking in place", "step", "restore", "reason", reason)
		return nil, false, nil
	}
	src, err := postgres.Open(ctx, pgReadOnlyDSN(p.cfg.SourceDSN))
	if err != nil {
		return nil, true, fmt.Errorf("restore: open source %s: %w", p.src.Target(), err)
	}
	defer src.Close()
	if err := m.Check(ctx, src); err != nil {
		return nil, true, err
	}
	db, err := p.restore(ctx, runID, func(ctx context.Context, name string) error {
		return p.streamCopy(ctx, name, m, src)
	})
	return db, true, err
}

// pgReadOnlyDSN makes every transaction of a session on d read only (pgx
// passes unknown parameters on as run-time parameters).
func pgReadOnlyDSN(d string) string {
	if u, err := url.Parse(d); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("default_transaction_read_only", "on")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return d + " default_transaction_read_only=on"
}

func (p *pgProvider) streamCopy(ctx context.Context, name string, m *refresh.Masking, src *postgres.Engine) error {
	workers := max(m.Workers, 1)
	if m.Workers <= 0 {
		workers = 2
	}
	snap, err := p.openSnapshot(ctx, workers, src)
	if err != nil {
		return err
	}
	defer snap.close()
	if err := snap.sameTables(ctx, m.Schema); err != nil {
		return err
	}
	if err := p.dumpRestore(ctx, name, "--snapshot="+snap.id, "--section=pre-data"); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	// The gates' baselines come from the rows the copy reads (one read of
	// the source); rules with links need the followed rows before masking,
	// so for them the baselines are read first, in the same snapshot.
	capt, err := m.CaptureStream()
	if err != nil {
		capt = nil
		if err := m.CaptureFrom(ctx, snap); err != nil {
			return err
		}
	}
	rep, err := p.copyRows(ctx, name, snap, m, workers, capt)
	if err != nil {
		return err
	}
	if err := p.copySequences(ctx, name, snap); err != nil {
		return err
	}
	if err := p.dumpRestore(ctx, name, "--snapshot="+snap.id, "--section=post-data"); err != nil {
		return fmt.Errorf("indexes, constraints and triggers: %w", err)
	}
	if capt != nil {
		return m.StreamedFrom(rep, capt)
	}
	m.Streamed(rep)
	return nil
}

// pgTextParams print values as the postgres engine reads them
// (internal/postgres sessionParams): the rules' transformers and the
// gates' fingerprints see the same text on the source's snapshot as on a
// copy. row_security off makes a row-level security policy that would
// hide rows from the copy an error instead (as pg_dump does).
var pgTextParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"statement_timeout":  "0",
}

// pgSnapshot is one exported snapshot of the source and sessions reading
// under it. It is the gates' mask.Reader on the source while copying.
type pgSnapshot struct {
	id    string
	exp   *pgx.Conn
	conns chan *pgx.Conn
	all   []*pgx.Conn
	src   *postgres.Engine
}

var _ mask.Reader = (*pgSnapshot)(nil)

func (p *pgProvider) openSnapshot(ctx context.Context, n int, src *postgres.Engine) (_ *pgSnapshot, err error) {
	cfg := p.srcConn.Copy()
	for k, v := range pgTextParams {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["row_security"] = "off"
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = "0"
	s := &pgSnapshot{conns: make(chan *pgx.Conn, n), src: src}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	open := func() (*pgx.Conn, error) {
		c, err := pgConnect(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("snapshot of source %s: %w", p.src.Target(), err)
		}
		s.all = append(s.all, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
			return nil, fmt.Errorf("snapshot of source %s: %w", p.src.Target(), pgScrub(err))
		}
		return c, nil
	}
	if s.exp, err = open(); err != nil {
		return nil, err
	}
	if err := s.exp.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&s.id); err != nil {
		return nil, fmt.Errorf("export snapshot of source %s: %w", p.src.Target(), pgScrub(err))
	}
	for range n {
		c, err := open()
		if err != nil {
			return nil, err
		}
		// The id is pg_export_snapshot's output (hex digits and dashes),
		// quoted as a literal: SET takes no parameters.
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT "+pgLiteral(s.id)); err != nil {
			return nil, fmt.Errorf("import snapshot on source %s: %w", p.src.Target(), pgScrub(err))
		}
		s.conns <- c
	}
	return s, nil
}

func (s *pgSnapshot) close() {
	for _, c := range s.all {
		pgClose(c)
	}
	s.all = nil
}

func (s *pgSnapshot) get(ctx context.Context) (*pgx.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// count is a table's row count in the snapshot.
func (s *pgSnapshot) count(ctx context.Context, t schema.TableName) (int64, error) {
	c, err := s.get(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { s.conns <- c }()
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM ONLY "+pgx.Identifier{t.Schema, t.Name}.Sanitize()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t, pgScrub(err))
	}
	return n, nil
}

// Flavor is "postgres".
func (s *pgSnapshot) Flavor() string { return s.src.Flavor() }

// QuoteIdent quotes an identifier as the engine does.
func (s *pgSnapshot) QuoteIdent(name string) string { return s.src.QuoteIdent(name) }

// From renders a table's own rows as the engine does.
func (s *pgSnapshot) From(t schema.TableName) string { return s.src.From(t) }

// Text renders a column as text as the engine does.
func (s *pgSnapshot) Text(col string) string { return s.src.Text(col) }

// Query runs a read-only query under the snapshot, in the simple protocol
// (every value in its text form), like the engine's Query.
func (s *pgSnapshot) Query(ctx context.Context, query string, fn func(row []mask.Value) error) error {
	c, err := s.get(ctx)
	if err != nil {
		return err
	}
	defer func() { s.conns <- c }()
	rows, err := c.Query(ctx, query, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return fmt.Errorf("query: %w", pgScrub(err))
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
		return fmt.Errorf("query: %w", pgScrub(err))
	}
	return nil
}

// StatisticsValues reads the source's planner statistics (they are not
// versioned by snapshots).
func (s *pgSnapshot) StatisticsValues(ctx context.Context, sc *schema.Schema, t *schema.Table, col string) ([]string, error) {
	return s.src.StatisticsValues(ctx, sc, t, col)
}

// sameTables checks that the snapshot holds the tables and columns the
// drift gate and the plan saw (read from the live source just before the
// snapshot was taken): DDL in between would copy what no gate checked.
func (s *pgSnapshot) sameTables(ctx context.Context, sc *schema.Schema) error {
	c, err := s.get(ctx)
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
		return fmt.Errorf("read source tables: %w", pgScrub(err))
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

// pgRel is one table whose rows are copied.
type pgRel struct {
	name schema.TableName
	cols []string // copied columns (not generated, not dropped), in order
}

// pgRelsQuery lists the tables pg_dump copies the rows of: ordinary
// tables (partitions included; a partitioned parent holds none) outside
// the system schemas and not part of an extension, biggest first.
const pgRelsQuery = `SELECT n.nspname::text, c.relname::text,
  ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
        ORDER BY a.attnum)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = $1 AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.relpages DESC, 1, 2`

func (s *pgSnapshot) rels(ctx context.Context, relkind string) ([]pgRel, error) {
	c, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { s.conns <- c }()
	rows, _ := c.Query(ctx, pgRelsQuery, relkind)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgRel, error) {
		var x pgRel
		err := r.Scan(&x.name.Schema, &x.name.Name, &x.cols)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("list source tables: %w", pgScrub(err))
	}
	return out, nil
}

// copyRows copies every table's rows from the snapshot into database
// name, workers tables at a time: tables of the plan's truncate set stay
// empty, tables the plan masks go through its row function, all others
// pass byte for byte. Each table's row count is checked on both ends.
// copyRows copies every table's rows under the snapshot, the masked ones
// through their row functions. With capt, the masked rows' originals are
// shown to its observer as they pass and every other table's row count
// is recorded; each table's count is also checked against a COUNT(*) in
// the same snapshot.
func (p *pgProvider) copyRows(ctx context.Context, name string, snap *pgSnapshot, m *refresh.Masking, workers int, capt *refresh.StreamCapture) (*mask.Report, error) {
	start := time.Now()
	rels, err := snap.rels(ctx, "r")
	if err != nil {
		return nil, err
	}
	jobs := map[schema.TableName]*mask.TablePlan{}
	jobIdx := map[schema.TableName]int{}
	for i, tp := range m.Plan.Jobs {
		jobs[tp.Job.Table.TableName] = tp
		jobIdx[tp.Job.Table.TableName] = i
	}
	var obs mask.Observer
	if capt != nil {
		obs = capt.Observer()
	}
	empty := map[schema.TableName]bool{}
	rep := &mask.Report{}
	for _, t := range m.Plan.Truncate {
		empty[t.TableName] = true
		rep.Tables = append(rep.Tables, mask.TableStats{Table: t.TableName.String(), Action: "truncate"})
		if capt != nil {
			// The copy does not read a truncated table: its count is
			// the snapshot's.
			n, err := snap.count(ctx, t.TableName)
			if err != nil {
				return nil, err
			}
			capt.Count(t.TableName, n)
		}
	}
	stats := map[schema.TableName]*mask.TableStats{}
	for _, tp := range m.Plan.Jobs {
		stats[tp.Job.Table.TableName] = &mask.TableStats{Table: tp.Job.Table.TableName.String(), Action: "mask", Columns: tp.Job.Write}
	}

	// Each slot masks its table's rows on as many goroutines as there are
	// workers (one Masker each): a database whose rows sit in one big
	// table would otherwise mask on one core while the others wait.
	type slot struct {
		src, dst *pgx.Conn
		ms       []*transform.Masker
	}
	slots := make(chan slot, workers)
	var dsts []*pgx.Conn
	defer func() {
		for _, c := range dsts {
			pgClose(c)
		}
	}()
	cfg := p.stgConn.Copy()
	cfg.Database = name
	for k, v := range pgTextParams {
		cfg.RuntimeParams[k] = v
	}
	// A crash fails the run anyway: no need to wait for WAL flushes.
	cfg.RuntimeParams["synchronous_commit"] = "off"
	for range workers {
		d, err := pgConnect(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", name, err)
		}
		dsts = append(dsts, d)
		s, err := snap.get(ctx)
		if err != nil {
			return nil, err
		}
		defer func() { snap.conns <- s }()
		ms := make([]*transform.Masker, workers)
		for i := range ms {
			ms[i] = transform.NewMasker(m.Key)
		}
		slots <- slot{src: s, dst: d, ms: ms}
	}

	var mu sync.Mutex
	// Tables whose rows other tables' seeds identify are masked first:
	// their row-level redraws are recorded for the others (mask.TablePlan
	// Owner), as mask.Run does.
	for wave := 0; wave < 2; wave++ {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for _, rel := range rels {
			if empty[rel.name] {
				continue
			}
			tp := jobs[rel.name]
			if owner := tp != nil && tp.Owner; owner != (wave == 0) {
				continue
			}
			g.Go(func() error {
				sl := <-slots
				defer func() { slots <- sl }()
				t0 := time.Now()
				var o *pgCopyObserver
				if obs != nil && tp != nil {
					o = &pgCopyObserver{obs: obs, job: jobIdx[rel.name]}
				}
				n, err := pgCopyTable(gctx, sl.src, sl.dst, rel, tp, sl.ms, o)
				if err != nil {
					return fmt.Errorf("copy %s: %w", rel.name, err)
				}
				if capt != nil && tp == nil {
					capt.Count(rel.name, n)
				}
				d := time.Since(t0)
				p.log.Debug("copied", "step", "restore", "table", rel.name.String(), "rows", n, "masked", tp != nil, "duration", d.Round(time.Millisecond).String())
				if tp != nil {
					mu.Lock()
					st := stats[rel.name]
					st.Rows, st.Duration, st.Ranges = n, d, 1
					if d > 0 {
						st.RowsPerSec = float64(n) / d.Seconds()
					}
					mu.Unlock()
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("copy stopped: %w", context.Cause(ctx))
			}
			return nil, err
		}
	}
	var masked []mask.TableStats
	for _, st := range stats {
		rep.Rows += st.Rows
		masked = append(masked, *st)
	}
	sort.Slice(masked, func(i, j int) bool { return masked[i].Table < masked[j].Table })
	rep.Tables = append(rep.Tables, masked...)
	rep.Duration = time.Since(start)
	return rep, nil
}

// errCopyAborted closes the pipes of a table copy when one end failed.
var errCopyAborted = errors.New("copy aborted")

// pgCopyTable copies one table's rows from src (under the snapshot) to
// dst. With tp, the rows go through its row function: the source COPY
// also prints the columns the function reads, as text (the form the
// engine reads them in), and writes back only the values it changed.
// pgCopyObserver shows a masked table's rows, as they are copied, to the
// gates' observer: ranges of pgObserveRange rows per goroutine.
type pgCopyObserver struct {
	obs mask.Observer
	job int // index in the plan's jobs
}

const pgObserveRange = 5000

// wrap returns fn seeing rows whose nread Read values are followed by the
// job's key values, and a function that ends the last range (call it
// once the copy succeeded).
func (o *pgCopyObserver) wrap(fn mask.RowFunc, mk *transform.Masker, nread int) (mask.RowFunc, func()) {
	ro := o.obs.Range(o.job, mk)
	n := 0
	return func(in, out []mask.Value) error {
			ro.Row(in)
			if n++; n == pgObserveRange {
				ro.Done()
				ro, n = o.obs.Range(o.job, mk), 0
			}
			return fn(in[:nread], out)
		}, func() {
			ro.Done()
		}
}

func pgCopyTable(ctx context.Context, src, dst *pgx.Conn, rel pgRel, tp *mask.TablePlan, mks []*transform.Masker, o *pgCopyObserver) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	qt := pgx.Identifier{rel.name.Schema, rel.name.Name}.Sanitize()
	qcols := make([]string, len(rel.cols))
	for i, c := range rel.cols {
		qcols[i] = pgIdent(c)
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
			sel = append(sel, "t."+pgIdent(r)+"::text")
		}
		if o != nil {
			// The observer sees the Read values, then the key values.
			for _, k := range tp.Job.Key {
				sel = append(sel, "t."+pgIdent(k)+"::text")
			}
		}
		out = "COPY (SELECT " + strings.Join(sel, ", ") + " FROM ONLY " + qt + " AS t) TO STDOUT"
		for _, w := range tp.Job.Write {
			i := indexOf(rel.cols, w)
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
			n, err := postgres.TransformCopyParallel(r1, w2, len(rel.cols), pos, extra, fns)
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
		return 0, fmt.Errorf("read: %w", pgScrub(readErr))
	case errors.As(loadErr, &pe):
		return 0, fmt.Errorf("write: %w", pgScrub(loadErr))
	case readErr != nil:
		return 0, fmt.Errorf("read: %w", pgScrub(readErr))
	case loadErr != nil:
		return 0, fmt.Errorf("write: %w", pgScrub(loadErr))
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
		return 0, fmt.Errorf("count: %w", pgScrub(err))
	}
	if count != read {
		return 0, fmt.Errorf("the snapshot holds %d rows but the copy read %d", count, read)
	}
	return wrote, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
