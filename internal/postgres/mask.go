package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

func qname(n schema.TableName) string { return pgx.Identifier{n.Schema, n.Name}.Sanitize() }
func qcol(c string) string            { return Quote(c) }

// Quote quotes one identifier: PostgreSQL's one identifier quoting
// (providers use it too).
func Quote(name string) string { return pgx.Identifier{name}.Sanitize() }

func hasCode(err error, code string) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == code
	}
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Truncate empties the tables in one TRUNCATE statement, without CASCADE
// (a set that is not closed under foreign keys fails instead of silently
// truncating more) and without ONLY (partitions and children are listed
// anyway, and ONLY is refused on a partitioned table). User ON TRUNCATE
// triggers are kept from firing where the login may; foreign keys are still
// checked, they are not triggers for TRUNCATE.
func (e *Engine) Truncate(ctx context.Context, tables []*schema.Table) error {
	if len(tables) == 0 {
		return nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = qname(t.TableName)
	}
	err := e.with(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			if _, err := sp.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				if !hasCode(err, "42501") {
					return err
				}
				if err := sp.Rollback(ctx); err != nil {
					return err
				}
			} else if err := sp.Commit(ctx); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, "TRUNCATE TABLE "+strings.Join(names, ", "))
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("truncate %d tables: %w", len(tables), scrub(err))
	}
	return nil
}

// ctid ranges are encoded as Lo = [first page, snapshot], Hi = [end page
// (exclusive), snapshot] or nil for "to the end". Range{} is the whole
// table, read and written in one transaction.
var snapshotID = regexp.MustCompile(`^[0-9A-Fa-f]+-[0-9A-Fa-f]+-[0-9]+$`)

// Chunks splits job.Table into ranges of about size rows.
//
// With a key, boundaries are every size-th key in key order, so chunks are
// exact. Without one, ranges are ctid page ranges sized from the table's
// rows per page. Masking rewrites rows, and a rewritten row may land in a
// page of a range not yet masked (or past the last page): to read every
// row exactly once, every ctid range of a multi-range table is read under
// one snapshot exported here, taken before any of them is masked. The
// exporting transaction stays open until Finish or Close.
//
// Partitioned tables hold no rows: no ranges. Inheritance parents are read
// with ONLY: their children are separate jobs.
func (e *Engine) Chunks(ctx context.Context, job *mask.TableJob, size int) ([]mask.Range, error) {
	t := job.Table
	if t.Partitioned {
		return nil, nil
	}
	if size <= 0 {
		return []mask.Range{{}}, nil
	}
	var (
		out []mask.Range
		err error
	)
	if len(job.Key) > 0 {
		out, err = e.keyChunks(ctx, job, size)
	} else {
		out, err = e.ctidChunks(ctx, job, size)
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", t.TableName, scrub(err))
	}
	return out, nil
}

func (e *Engine) keyChunks(ctx context.Context, job *mask.TableJob, size int) ([]mask.Range, error) {
	keys := make([]string, len(job.Key))
	texts := make([]string, len(job.Key))
	xkeys := make([]string, len(job.Key))
	for i, k := range job.Key {
		keys[i] = qcol(k)
		// Qualified: a bare name in ORDER BY would mean the ::text output
		// column of the same name, and sort as text.
		xkeys[i] = "x." + qcol(k)
		texts[i] = xkeys[i] + "::text"
	}
	kl := strings.Join(keys, ", ")
	q := fmt.Sprintf(`SELECT %s FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS restage_rn FROM ONLY %s) x
WHERE x.restage_rn %% $1 = 0 ORDER BY %s`, strings.Join(texts, ", "), kl, kl, qname(job.Table.TableName), strings.Join(xkeys, ", "))
	var out []mask.Range
	var prev []string
	err := e.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, int64(size))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			raw := rows.RawValues()
			b := make([]string, len(raw))
			for i, v := range raw {
				b[i] = string(v)
			}
			out = append(out, mask.Range{Lo: prev, Hi: b})
			prev = b
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return append(out, mask.Range{Lo: prev}), nil
}

func (e *Engine) ctidChunks(ctx context.Context, job *mask.TableJob, size int) ([]mask.Range, error) {
	name := qname(job.Table.TableName)
	var (
		pages, relpages int64
		reltuples       float64
		sampled         int64
	)
	err := e.with(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT pg_relation_size(c.oid) / current_setting('block_size')::int8, c.relpages::int8, c.reltuples::float8
FROM pg_class c WHERE c.oid = $1::text::regclass`, name).Scan(&pages, &relpages, &reltuples)
		if err != nil || reltuples > 0 && relpages > 0 || pages == 0 {
			return err
		}
		// Never analysed (e.g. restored by pg_restore): sample the first pages.
		n := min(pages, 128)
		return c.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM ONLY %s WHERE ctid < '(%d,0)'::tid`, name, n)).Scan(&sampled)
	})
	if err != nil {
		return nil, err
	}
	perPage := 1.0
	switch {
	case reltuples > 0 && relpages > 0:
		perPage = reltuples / float64(relpages)
	case sampled > 0:
		perPage = float64(sampled) / float64(min(pages, 128))
	}
	step := max(int64(float64(size)/max(perPage, 1)), 1)
	if pages <= step {
		return []mask.Range{{}}, nil
	}
	snap, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out []mask.Range
	for p := int64(0); p < pages; p += step {
		r := mask.Range{Lo: []string{strconv.FormatInt(p, 10), snap}}
		if p+step < pages {
			r.Hi = []string{strconv.FormatInt(p+step, 10), snap}
		}
		out = append(out, r)
	}
	return out, nil
}

// exporter is an open READ COMMITTED transaction that exports a fresh
// snapshot for each table chunked by ctid (a READ COMMITTED transaction may
// export several; each stays importable until the transaction ends).
type exporter struct {
	conn *pgx.Conn
}

// snapshot exports a snapshot of now, for the ranges of one table.
func (e *Engine) snapshot(ctx context.Context) (string, error) {
	e.expMu.Lock()
	defer e.expMu.Unlock()
	if e.exp != nil && e.exp.conn.IsClosed() {
		e.exp = nil
	}
	if e.exp == nil {
		c, err := connect(ctx, e.cfg)
		if err != nil {
			return "", err
		}
		for _, q := range []string{"SET idle_in_transaction_session_timeout = 0", "BEGIN ISOLATION LEVEL READ COMMITTED, READ ONLY"} {
			if _, err = c.Exec(ctx, q); err != nil {
				closeConn(c)
				return "", fmt.Errorf("export snapshot: %w", err)
			}
		}
		e.exp = &exporter{conn: c}
	}
	var id string
	err := e.exp.conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&id)
	if err == nil && !snapshotID.MatchString(id) {
		err = fmt.Errorf("unexpected snapshot id format %q", id)
	}
	if err != nil {
		// Later exports start a new transaction; ranges planned under this
		// one fail to import their snapshot, loudly.
		closeConn(e.exp.conn)
		e.exp = nil
		return "", fmt.Errorf("export snapshot: %w", err)
	}
	return id, nil
}

func (e *Engine) closeExporter() {
	e.expMu.Lock()
	exp := e.exp
	e.exp = nil
	e.expMu.Unlock()
	if exp != nil {
		closeConn(exp.conn)
	}
}

// Worker opens a dedicated connection with session_replication_role =
// replica, so user triggers (and foreign-key triggers) don't fire on the
// masking UPDATEs. A login that may not set it still gets a worker: Prepare
// reports the triggers that fire.
func (e *Engine) Worker(ctx context.Context) (mask.Worker, error) {
	c, err := connect(ctx, e.cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres worker: %w", err)
	}
	w := &worker{e: e, conn: c, cfg: e.cfg, plans: map[*mask.TableJob]*plan{}}
	if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		if !hasCode(err, "42501") {
			closeConn(c)
			return nil, fmt.Errorf("open postgres worker: %w", scrub(err))
		}
	} else {
		w.replica = true
	}
	// The database is a throwaway copy and a crash fails the run anyway:
	// no need to wait for each masking commit's WAL flush (~15% faster).
	if _, err := c.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		closeConn(c)
		return nil, fmt.Errorf("open postgres worker: %w", scrub(err))
	}
	return w, nil
}

type worker struct {
	e       *Engine
	conn    *pgx.Conn
	cfg     *pgx.ConnConfig // for a rewrite's second (reading) connection
	replica bool
	plans   map[*mask.TableJob]*plan
	tmps    int
}

func (w *worker) Close() error {
	closeConn(w.conn)
	return nil
}

// plan is what a worker prepared for one job: its temp table and the SQL
// fragments of its statements.
type plan struct {
	table    string // quoted
	tmp      string // temp table name, unquoted
	ctid     bool
	nkeys    int
	copyCols []string
	keyTypes []string
	keys     []string // quoted key columns
	sel      string   // SELECT … FROM ONLY t WHERE (range appended)
	order    string
	upd      string // UPDATE … WHERE key match AND (range appended)
}

func (w *worker) plan(ctx context.Context, job *mask.TableJob) (*plan, error) {
	if p := w.plans[job]; p != nil {
		return p, nil
	}
	t := job.Table
	if len(job.Write) > len(job.Read) {
		return nil, errors.New("job writes more columns than it reads")
	}
	for i, c := range job.Write {
		if job.Read[i] != c {
			return nil, fmt.Errorf("job.Read must start with job.Write (column %d)", i)
		}
		for _, k := range job.Key {
			if k == c {
				// Rows would move between key ranges and be masked twice.
				return nil, fmt.Errorf("key column %q can't be masked", c)
			}
		}
	}
	w.tmps++
	p := &plan{table: qname(t.TableName), tmp: fmt.Sprintf("restage_mask_%d", w.tmps), ctid: len(job.Key) == 0}
	var sel, tmpCols, set, match []string
	if p.ctid {
		p.nkeys = 1
		sel = append(sel, "t.ctid::text")
		tmpCols = append(tmpCols, "k1 text")
		p.copyCols = append(p.copyCols, "k1")
		match = append(match, "t.ctid = s.k1::tid")
	} else {
		p.nkeys = len(job.Key)
		var tk, sk []string
		for i, k := range job.Key {
			col := t.Column(k)
			if col == nil {
				return nil, fmt.Errorf("no key column %q", k)
			}
			n := fmt.Sprintf("k%d", i+1)
			p.keys = append(p.keys, qcol(k))
			p.keyTypes = append(p.keyTypes, col.DataType)
			sel = append(sel, "t."+qcol(k)+"::text")
			tmpCols = append(tmpCols, n+" text")
			p.copyCols = append(p.copyCols, n)
			tk = append(tk, "t."+qcol(k))
			sk = append(sk, "s."+n+"::"+col.DataType)
		}
		match = append(match, "("+strings.Join(tk, ", ")+") = ("+strings.Join(sk, ", ")+")")
		// Qualified: a bare name would mean the ::text output column.
		p.order = " ORDER BY " + strings.Join(tk, ", ")
	}
	for _, r := range job.Read {
		if t.Column(r) == nil {
			return nil, fmt.Errorf("no column %q", r)
		}
		sel = append(sel, "t."+qcol(r)+"::text")
	}
	for i, c := range job.Write {
		col := t.Column(c)
		n := fmt.Sprintf("v%d", i+1)
		tmpCols = append(tmpCols, n+" text")
		p.copyCols = append(p.copyCols, n)
		if col.Kind == schema.KindText {
			// Assignment cast: a value too long for varchar(n)/char(n)
			// fails instead of being cut short as an explicit cast would.
			set = append(set, qcol(c)+" = s."+n)
		} else {
			set = append(set, qcol(c)+" = s."+n+"::"+col.DataType)
		}
	}
	p.sel = "SELECT " + strings.Join(sel, ", ") + " FROM ONLY " + p.table + " AS t WHERE "
	p.upd = "UPDATE ONLY " + p.table + " AS t SET " + strings.Join(set, ", ") +
		" FROM pg_temp." + p.tmp + " AS s WHERE " + strings.Join(match, " AND ") + " AND "
	create := "CREATE TEMP TABLE " + p.tmp + " (" + strings.Join(tmpCols, ", ") + ") ON COMMIT DELETE ROWS"
	if _, err := w.conn.Exec(ctx, create); err != nil {
		return nil, fmt.Errorf("create temp table: %w", err)
	}
	w.plans[job] = p
	return p, nil
}

// where returns the range predicate on alias (or the bare table), its
// arguments, and the snapshot to read under ("" for the current one).
func (p *plan) where(alias string, r mask.Range) (pred string, args []any, snap string, err error) {
	if p.ctid {
		return p.ctidWhere(alias, r)
	}
	var conds []string
	bound := func(op string, b []string) error {
		if len(b) != len(p.keys) {
			return fmt.Errorf("range bound has %d values for %d key columns", len(b), len(p.keys))
		}
		l, rr := make([]string, len(b)), make([]string, len(b))
		for i, v := range b {
			args = append(args, v)
			l[i] = alias + p.keys[i]
			rr[i] = fmt.Sprintf("$%d::text::%s", len(args), p.keyTypes[i])
		}
		conds = append(conds, "("+strings.Join(l, ", ")+") "+op+" ("+strings.Join(rr, ", ")+")")
		return nil
	}
	if r.Lo != nil {
		if err := bound(">", r.Lo); err != nil {
			return "", nil, "", err
		}
	}
	if r.Hi != nil {
		if err := bound("<=", r.Hi); err != nil {
			return "", nil, "", err
		}
	}
	if len(conds) == 0 {
		return "true", nil, "", nil
	}
	return strings.Join(conds, " AND "), args, "", nil
}

func (p *plan) ctidWhere(alias string, r mask.Range) (string, []any, string, error) {
	if r.Lo == nil && r.Hi == nil {
		return "true", nil, "", nil
	}
	page := func(b []string) (int64, string, error) {
		if len(b) != 2 || !snapshotID.MatchString(b[1]) {
			return 0, "", errors.New("not a ctid range of this engine")
		}
		n, err := strconv.ParseInt(b[0], 10, 64)
		if err != nil || n < 0 || n > 1<<32 {
			return 0, "", errors.New("not a ctid range of this engine")
		}
		return n, b[1], nil
	}
	lo, snap, err := page(r.Lo)
	if err != nil {
		return "", nil, "", err
	}
	pred := fmt.Sprintf("%sctid >= '(%d,0)'::tid", alias, lo)
	if r.Hi != nil {
		hi, s2, err := page(r.Hi)
		if err != nil || s2 != snap {
			return "", nil, "", errors.New("not a ctid range of this engine")
		}
		pred += fmt.Sprintf(" AND %sctid < '(%d,0)'::tid", alias, hi)
	}
	return pred, nil, snap, nil
}

// MaskRange masks the rows of r in one transaction: read key + Read columns
// as text, compute, COPY (key, new values) into the job's temp table, one
// UPDATE … FROM joining on the key (or ctid). Rows whose output equals
// their input are not written.
func (w *worker) MaskRange(ctx context.Context, job *mask.TableJob, r mask.Range, fn mask.RowFunc) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.maskRange(ctx, job, r, fn)
	if err != nil {
		return n, fmt.Errorf("mask %s: %w", job.Table.TableName, scrub(err))
	}
	return n, nil
}

func (w *worker) maskRange(ctx context.Context, job *mask.TableJob, r mask.Range, fn mask.RowFunc) (int64, error) {
	p, err := w.plan(ctx, job)
	if err != nil {
		return 0, err
	}
	pred, args, snap, err := p.where("t.", r)
	if err != nil {
		return 0, err
	}

	opts := pgx.TxOptions{}
	if snap != "" {
		opts.IsoLevel = pgx.RepeatableRead
	}
	tx, err := w.conn.BeginTx(ctx, opts)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after Commit
	if snap != "" {
		// Must be the transaction's first statement; snap matched snapshotID.
		if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snap+"'"); err != nil {
			return 0, fmt.Errorf("import snapshot: %w", err)
		}
	}

	nw := len(job.Write)
	nr := len(job.Read)
	in := make([]mask.Value, nr, nr+len(job.Key))
	if job.Observed && !p.ctid {
		in = in[:nr+p.nkeys]
	}
	out := make([]mask.Value, nw)
	var batch [][]any
	var read int64
	rows, err := tx.Query(ctx, p.sel+pred+p.order, args...)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		raw := rows.RawValues()
		read++
		for i := range nr {
			v := raw[p.nkeys+i]
			in[i] = mask.Value{S: string(v), Null: v == nil}
		}
		for i := nr; i < len(in); i++ {
			v := raw[i-nr]
			in[i] = mask.Value{S: string(v), Null: v == nil}
		}
		clear(out)
		if err := fn(in, out); err != nil {
			rows.Close()
			return read, fmt.Errorf("row function: %w", err)
		}
		same := true
		for i := range out {
			if out[i] != in[i] {
				same = false
				break
			}
		}
		if same {
			continue
		}
		row := make([]any, 0, p.nkeys+nw)
		for i := 0; i < p.nkeys; i++ {
			row = append(row, string(raw[i]))
		}
		for _, v := range out {
			if v.Null {
				row = append(row, nil)
			} else {
				row = append(row, v.S)
			}
		}
		batch = append(batch, row)
	}
	if err := rows.Err(); err != nil {
		return read, err
	}
	if len(batch) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", p.tmp}, p.copyCols, pgx.CopyFromRows(batch)); err != nil {
			return read, fmt.Errorf("copy to temp table: %w", err)
		}
		tag, err := tx.Exec(ctx, p.upd+pred, args...)
		if err != nil {
			return read, fmt.Errorf("update: %w", err)
		}
		if tag.RowsAffected() != int64(len(batch)) {
			return read, fmt.Errorf("update wrote %d rows, want %d", tag.RowsAffected(), len(batch))
		}
	}
	return read, tx.Commit(ctx)
}

// Prepare reports the user triggers that will fire on the masking UPDATEs
// of tables: with session_replication_role = replica only ENABLE ALWAYS and
// ENABLE REPLICA triggers fire; a login that may not set it fires the
// ordinary (ENABLE / ENABLE ALWAYS) ones. Prepare changes nothing.
func (e *Engine) Prepare(ctx context.Context, tables []*schema.Table) ([]string, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = qname(t.TableName)
	}
	var firing []string
	err := e.with(ctx, func(c *pgx.Conn) error {
		enabled := []string{"A", "R"}
		if _, err := c.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			if !hasCode(err, "42501") {
				return err
			}
			enabled = []string{"O", "A"}
		} else if _, err := c.Exec(ctx, "RESET session_replication_role"); err != nil {
			return err
		}
		// tgtype bit 4 (16) is TRIGGER_TYPE_UPDATE.
		rows, _ := c.Query(ctx, `SELECT format('%s on %s', quote_ident(t.tgname), t.tgrelid::regclass)
FROM pg_trigger t
WHERE NOT t.tgisinternal AND t.tgtype & 16 <> 0 AND t.tgenabled::text = ANY($2)
  AND t.tgrelid = ANY($1::text[]::regclass[])
ORDER BY 1`, names, enabled)
		var err error
		firing, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare masking: %w", scrub(err))
	}
	return firing, nil
}

// Finish ends the shared snapshot (it would keep the original row versions
// alive), then, after a successful run, VACUUM (ANALYZE)s each masked table
// and ANALYZEs their inheritance/partition ancestors: pg_statistic (most
// common values, histograms) and extended statistics are rebuilt from the
// masked rows, and the dead row versions that hold the originals are
// removed. VACUUM can't run in a transaction block: one statement per table.
func (e *Engine) Finish(ctx context.Context, masked []*schema.Table) error {
	e.closeExporter()
	if err := e.rebuildIndexes(ctx); err != nil {
		return fmt.Errorf("finish masking: %w", err)
	}
	if len(masked) == 0 {
		return nil
	}
	names := make([]string, len(masked))
	for i, t := range masked {
		names[i] = qname(t.TableName)
	}
	var ancestors []string
	err := e.with(ctx, func(c *pgx.Conn) error {
		rows, _ := c.Query(ctx, `WITH RECURSIVE up(oid) AS (
    SELECT unnest($1::text[]::regclass[])::oid
  UNION
    SELECT i.inhparent FROM pg_inherits i JOIN up ON i.inhrelid = up.oid
)
SELECT up.oid::regclass::text FROM up WHERE up.oid <> ALL($1::text[]::regclass[]::oid[])`, names)
		var err error
		ancestors, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return fmt.Errorf("finish masking: %w", scrub(err))
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, t := range masked {
		stmt := "VACUUM (ANALYZE) " + names[i]
		// A rewritten table holds no dead row versions: VACUUM would only
		// read it whole again to set visibility bits.
		if t.Partitioned || e.wasRewritten(t.TableName) {
			stmt = "ANALYZE " + names[i]
		}
		g.Go(func() error { return e.exec(gctx, stmt) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("finish masking: %w", err)
	}
	for _, a := range ancestors {
		// a is regclass output: already quoted as needed.
		if err := e.exec(ctx, "ANALYZE "+a); err != nil {
			return fmt.Errorf("finish masking: %w", err)
		}
	}
	if err := e.analyzeUntargeted(ctx, names); err != nil {
		return fmt.Errorf("finish masking: %w", err)
	}
	return nil
}

// analyzeUntargeted refreshes the statistics of columns set to STATISTICS
// 0: ANALYZE skips them and leaves their old pg_statistic rows, with the
// original values, in place. Each table's columns are set to the default
// target, analysed and set back in one transaction (needs ownership).
func (e *Engine) analyzeUntargeted(ctx context.Context, tables []string) error {
	type col struct{ table, column string }
	var cols []col
	err := e.with(ctx, func(c *pgx.Conn) error {
		rows, _ := c.Query(ctx, `SELECT a.attrelid::regclass::text, a.attname::text FROM pg_attribute a
WHERE a.attrelid = ANY($1::text[]::regclass[]) AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget = 0
ORDER BY 1, 2`, tables)
		var err error
		cols, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
			var x col
			err := r.Scan(&x.table, &x.column)
			return x, err
		})
		return err
	})
	if err != nil || len(cols) == 0 {
		return scrub(err)
	}
	byTable := map[string][]string{}
	var order []string
	for _, c := range cols {
		if byTable[c.table] == nil {
			order = append(order, c.table)
		}
		byTable[c.table] = append(byTable[c.table], qcol(c.column))
	}
	for _, t := range order {
		cs := byTable[t]
		set := func(target string) string {
			parts := make([]string, len(cs))
			for i, c := range cs {
				parts[i] = "ALTER COLUMN " + c + " SET STATISTICS " + target
			}
			return "ALTER TABLE " + t + " " + strings.Join(parts, ", ")
		}
		err := e.with(ctx, func(c *pgx.Conn) error {
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				for _, q := range []string{set("-1"), "ANALYZE " + t + " (" + strings.Join(cs, ", ") + ")", set("0")} {
					if _, err := tx.Exec(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("statistics of STATISTICS 0 columns of %s: %w", t, scrub(err))
		}
	}
	return nil
}

func (e *Engine) exec(ctx context.Context, stmt string) error {
	return e.with(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, stmt)
		return scrub(err)
	})
}
