package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// The verification gate: after masking and before anything is published,
// prove with keyed fingerprints taken before masking that no masked value
// kept its production value, that nothing but the masked columns changed
// shape, that constraints hold and that the server's statistics hold no
// original value. docs/verification-gate.md describes every check.

// Verification check names, as listed in a VerifyReport.
const (
	VerifyCheckUnchanged   = "unchanged"
	VerifyCheckRowCount    = "row_count"
	VerifyCheckNullCount   = "null_count"
	VerifyCheckUnique      = "unique"
	VerifyCheckForeignKeys = "foreign_keys"
	VerifyCheckConsistency = "consistency"
	VerifyCheckStatistics  = "statistics"
)

// Defaults of VerifyOptions.
const (
	VerifyDefaultMaxRowsPerTable   = 200_000
	VerifyDefaultConsistencySample = 20_000
	VerifyDefaultWorkers           = 2
)

// VerifyOptions tune the gate.
type VerifyOptions struct {
	// MaxRowsPerTable bounds the memory of the baseline: up to this many
	// rows per masked table are held (8 bytes for the row key's
	// fingerprint plus 8 per masked column). Above it a deterministic
	// sample is held and compared: the rows whose key fingerprint is 0
	// modulo m, m the smallest power of two that leaves at most
	// MaxRowsPerTable rows. Tables without a key hold up to this many
	// distinct original fingerprints per column, sampled the same way by
	// value fingerprint. NULL counts, row counts and the statistics check
	// always cover every row. Default 200,000 (≈ 1.6 MB + 1.6 MB per
	// masked column for each table): restage's peak memory stays well under
	// 100 MB whatever the table size; a 1-in-2^k sample of a big table
	// still catches a broken transformer at once.
	MaxRowsPerTable int64
	// ConsistencySample bounds the original values tracked per rule
	// signature for the consistency check (≈ 60 bytes each). Default
	// 20,000.
	ConsistencySample int
	// Workers is how many tables are read at once (one connection each).
	// Default 2.
	Workers int
	// Schema, when set, makes VerifyCapture count the rows of every table
	// of the database, so row_count covers tables without rules too.
	// Without it only the plan's tables (masked and truncated) are counted.
	Schema *schema.Schema
}

func (o *VerifyOptions) defaults() {
	if o.MaxRowsPerTable <= 0 {
		o.MaxRowsPerTable = VerifyDefaultMaxRowsPerTable
	}
	if o.ConsistencySample <= 0 {
		o.ConsistencySample = VerifyDefaultConsistencySample
	}
	if o.Workers <= 0 {
		o.Workers = VerifyDefaultWorkers
	}
}

// VerifyBaseline is what VerifyCapture took before masking: keyed
// fingerprints, never values. It holds the masking key (which formats as
// "[redacted]") to fingerprint the masked values the same way.
type VerifyBaseline struct {
	key       transform.Key
	opt       VerifyOptions
	counts    map[schema.TableName]int64
	added     map[schema.TableName]int64            // Preserved: rows
	nullDelta map[schema.TableName]map[string]int64 // Preserved: NULLs per masked column
	tables    []*schema.Table                       // counted tables, in schema/plan order
	jobs      []*verifyJobBase
	groups    []*verifyGroup
	links     []*verifyLink
	elapsed   time.Duration
}

// Preserved runs run — which adds rows to tables or replaces rows in
// them: rows preserved from the current staging DB, copied in after
// masking and before verification — and makes Verify expect exactly what
// it changed: each table's row count and each masked column's NULL count
// move by the difference run made, and at most as many rows as it added
// may have a key the baseline lacks. Every row run wrote is otherwise
// checked like the others (a replaced row is compared with its original:
// never equal). It returns the number of rows added. Call it before
// Verify, not concurrently with it.
func (b *VerifyBaseline) Preserved(ctx context.Context, rd mask.Reader, tables []*schema.Table, run func() error) (added int64, err error) {
	type counts struct {
		rows  int64
		nulls map[string]int64
	}
	count := func() ([]counts, error) {
		out := make([]counts, len(tables))
		for i, t := range tables {
			n, err := verifyCount(ctx, rd, t)
			if err != nil {
				return nil, err
			}
			out[i] = counts{rows: n, nulls: map[string]int64{}}
			for _, jb := range b.jobs {
				if jb.table.TableName != t.TableName {
					continue
				}
				for _, col := range jb.cols {
					q := "SELECT COUNT(*) FROM " + rd.From(t.TableName) + " WHERE " + rd.QuoteIdent(col.Name) + " IS NULL"
					var k int64
					err := rd.Query(ctx, q, func(row []mask.Value) error {
						_, err := fmt.Sscan(row[0].S, &k)
						return err
					})
					if err != nil {
						return nil, fmt.Errorf("count NULLs of %s.%s: %w", t.TableName, col.Name, err)
					}
					out[i].nulls[col.Name] = k
				}
			}
		}
		return out, nil
	}
	before, err := count()
	if err != nil {
		return 0, err
	}
	if err := run(); err != nil {
		return 0, err
	}
	after, err := count()
	if err != nil {
		return 0, err
	}
	if b.added == nil {
		b.added = map[schema.TableName]int64{}
		b.nullDelta = map[schema.TableName]map[string]int64{}
	}
	for i, t := range tables {
		d := after[i].rows - before[i].rows
		b.added[t.TableName] += d
		if d > 0 {
			added += d
		}
		for c, n := range after[i].nulls {
			if b.nullDelta[t.TableName] == nil {
				b.nullDelta[t.TableName] = map[string]int64{}
			}
			b.nullDelta[t.TableName][c] += n - before[i].nulls[c]
		}
	}
	return added, nil
}

// Duration is how long the capture took.
func (b *VerifyBaseline) Duration() time.Duration { return b.elapsed }

// Bytes estimates the memory the baseline holds.
func (b *VerifyBaseline) Bytes() int64 {
	var n int64
	for _, j := range b.jobs {
		if j.rows2 != nil {
			n += j.rows2.bytes()
		}
		for _, s := range j.sets {
			if s != nil {
				n += s.bytes()
			}
		}
	}
	for _, g := range b.groups {
		n += int64(len(g.pairs)) * 64
	}
	for _, l := range b.links {
		n += l.bytes()
	}
	return n
}

// verifyJobBase is the baseline of one masked table.
type verifyJobBase struct {
	idx     int
	table   *schema.Table
	keyCols []string // empty: compared as sets
	cols    []*schema.Column
	rules   []string
	exempt  []bool // fixed and nullify: no unchanged check
	nullify []bool
	group   []int // per column: consistency group, -1 none
	// seedIdx are, per column of a seeded rule in a consistency group,
	// the indexes of its seed columns among seedCols; seedNS its
	// namespace. A seeded original is tracked together with its seed.
	seedIdx  [][]int
	seedNS   []string
	seedCols []string // read after the masked columns
	seedRead []int    // their indexes in the plan's TableJob.Read
	rows     int64
	nulls    []int64
	rows2    *verifyRows  // keyed tables
	sets     []*verifySet // keyless tables, per column
	// want maps a row key fingerprint to the consistency places in this
	// table whose masked value is needed.
	want map[uint64][]verifyWant
}

type verifyWant struct {
	group, pair, slot int
	col               int
}

func (j *verifyJobBase) keyed() bool { return len(j.keyCols) > 0 }

// verifyNonZero keeps 0 free: in a baseline row it marks NULL and blank
// values.
func verifyNonZero(fp uint64) uint64 {
	if fp == 0 {
		return 1
	}
	return fp
}

// verifyBlank mirrors the transformers: blank text stays blank.
func verifyBlank(c *schema.Column, v string) bool {
	return c.Kind == schema.KindText && strings.TrimSpace(v) == ""
}

// verifyExact reports whether the column compares bytes exactly, so its
// collation fingerprint is also the exact one.
func verifyExact(c *schema.Column) bool { return !c.CaseInsensitive && !c.PadSpace }

// VerifyCapture reads, BEFORE masking, keyed fingerprints (never originals)
// of every masked column of every job (row key → fingerprint), the row
// counts of every table (of opt.Schema, else of the plan), NULL counts per
// masked column and per-rule-signature samples for the consistency check.
// Memory is bounded by opt.MaxRowsPerTable and opt.ConsistencySample.
func VerifyCapture(ctx context.Context, rd mask.Reader, plan *mask.Plan, key transform.Key, opt VerifyOptions) (*VerifyBaseline, error) {
	start := time.Now()
	b, err := newVerifyBaseline(plan, key, opt)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex // guards b.counts, the jobs' samples and the groups
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.opt.Workers)
	for _, jb := range b.jobs {
		g.Go(func() error {
			return verifyCaptureJob(gctx, rd, newVerifyRowCapture(b, jb, transform.NewMasker(key)), &mu)
		})
	}
	b.countOthers(gctx, g, rd, &mu)
	b.captureLinks(gctx, g, rd)
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify: capture: %w", err)
	}
	b.finish()
	b.elapsed = time.Since(start)
	return b, nil
}

// newVerifyBaseline lays out an empty baseline for plan: the tables to
// count, the masked jobs and the consistency groups. Nothing is read.
func newVerifyBaseline(plan *mask.Plan, key transform.Key, opt VerifyOptions) (*VerifyBaseline, error) {
	opt.defaults()
	b := &VerifyBaseline{key: key, opt: opt, counts: map[schema.TableName]int64{}}
	_ = transform.NewMasker(key) // panics on the zero Key before any query

	// Tables to count.
	seen := map[schema.TableName]bool{}
	addTable := func(t *schema.Table) {
		if !seen[t.TableName] {
			seen[t.TableName] = true
			b.tables = append(b.tables, t)
		}
	}
	if opt.Schema != nil {
		for _, t := range opt.Schema.Tables {
			addTable(t)
		}
	}
	for _, t := range plan.Truncate {
		addTable(t)
	}
	for _, j := range plan.Jobs {
		addTable(j.Job.Table)
	}

	// Consistency groups: rules with one signature, whatever the column
	// (issue 12: one value, one fake everywhere), seeded ones apart by
	// namespace (their originals are tracked with their seed). consistent:
	// false rules fit their column and stay out.
	groupOf := map[string]int{}
	for ji, tp := range plan.Jobs {
		jb := &verifyJobBase{idx: ji, table: tp.Job.Table, keyCols: tp.Job.Key}
		for _, c := range tp.Job.Key {
			if slices.Contains(tp.Job.Write, c) {
				jb.keyCols = nil // the key itself is masked: rows can't be matched
			}
		}
		n := len(tp.Job.Write)
		jb.nulls = make([]int64, n)
		for i, name := range tp.Job.Write {
			col := tp.Job.Table.Column(name)
			if col == nil {
				return nil, fmt.Errorf("verify: column %s.%s is not in the schema", tp.Job.Table.TableName, name)
			}
			r := tp.Rules[i]
			jb.cols = append(jb.cols, col)
			jb.rules = append(jb.rules, r.Name)
			nul := transform.Nullifies(r.Transformer)
			jb.nullify = append(jb.nullify, nul)
			jb.exempt = append(jb.exempt, nul || r.Name == "fixed" || transform.IsKeep(r.Transformer))
			g := -1
			var sidx []int
			ns, seedCols := "", r.Seed
			if i < len(tp.SeedNamespaces) {
				ns, seedCols = tp.SeedNamespaces[i], tp.SeedColumns[i]
			}
			if jb.keyed() && !jb.exempt[i] && !r.Loose {
				sig := transform.Signature(r.Transformer)
				if len(r.Seed) > 0 {
					sig += "\x00seeded\x00" + transform.FoldKey(ns)
					for _, sc := range seedCols {
						j := slices.Index(jb.seedCols, sc)
						if j < 0 {
							jb.seedCols = append(jb.seedCols, sc)
							jb.seedRead = append(jb.seedRead, slices.Index(tp.Job.Read, sc))
							j = len(jb.seedCols) - 1
						}
						sidx = append(sidx, j)
					}
				}
				var ok bool
				if g, ok = groupOf[sig]; !ok {
					g = len(b.groups)
					groupOf[sig] = g
					b.groups = append(b.groups, newVerifyGroup(r.Name, opt.ConsistencySample))
				}
			}
			jb.group = append(jb.group, g)
			jb.seedIdx = append(jb.seedIdx, sidx)
			jb.seedNS = append(jb.seedNS, ns)
		}
		if jb.keyed() {
			jb.rows2 = newVerifyRows(n, opt.MaxRowsPerTable)
		} else {
			jb.sets = make([]*verifySet, n)
			for i := range jb.sets {
				jb.sets[i] = newVerifySet(opt.MaxRowsPerTable)
			}
		}
		b.jobs = append(b.jobs, jb)
	}
	for _, l := range plan.Links {
		var keyCols []string
		for _, jb := range b.jobs {
			if jb.table.TableName == l.Table.TableName {
				keyCols = jb.keyCols
			}
		}
		b.links = append(b.links, newVerifyLink(l, keyCols, opt.MaxRowsPerTable))
	}
	return b, nil
}

// captureLinks reads, on g, what the links check needs before masking:
// the followed and linked columns' fingerprints. It must be done before
// masking starts (the masking pass sees one table at a time).
func (b *VerifyBaseline) captureLinks(ctx context.Context, g *errgroup.Group, rd mask.Reader) {
	for _, l := range b.links {
		g.Go(func() error { return l.capture(ctx, rd, transform.NewMasker(b.key)) })
	}
}

// countOthers counts, on g, the rows of every table of the baseline that
// is not masked (truncated tables and tables without rules).
func (b *VerifyBaseline) countOthers(ctx context.Context, g *errgroup.Group, rd mask.Reader, mu *sync.Mutex) {
	jobTable := map[schema.TableName]bool{}
	for _, jb := range b.jobs {
		jobTable[jb.table.TableName] = true
	}
	for _, t := range b.tables {
		if jobTable[t.TableName] {
			continue
		}
		g.Go(func() error {
			n, err := verifyCount(ctx, rd, t)
			if err != nil {
				return err
			}
			mu.Lock()
			b.counts[t.TableName] = n
			mu.Unlock()
			return nil
		})
	}
}

// finish seals the samples once every row was seen: the masked tables'
// row counts, sorted samples, and the consistency places (the originals
// seen twice) indexed by table and row key for Verify.
func (b *VerifyBaseline) finish() {
	for _, jb := range b.jobs {
		b.counts[jb.table.TableName] = jb.rows
		if jb.rows2 != nil {
			jb.rows2.finish()
		}
		for _, s := range jb.sets {
			if s != nil {
				s.finish()
			}
		}
	}
	for gi, gr := range b.groups {
		gr.finish()
		for pi, p := range gr.pairs {
			for slot, at := range p.at {
				jb := b.jobs[at.job]
				if jb.want == nil {
					jb.want = map[uint64][]verifyWant{}
				}
				jb.want[at.key] = append(jb.want[at.key], verifyWant{group: gi, pair: pi, slot: slot, col: int(at.col)})
			}
		}
	}
}

// verifySelect renders SELECT key columns, masked columns FROM the table.
func verifySelect(rd mask.Reader, jb *verifyJobBase) string {
	var cols []string
	for _, k := range jb.keyCols {
		cols = append(cols, rd.Text(rd.QuoteIdent(k)))
	}
	for _, c := range jb.cols {
		cols = append(cols, rd.Text(rd.QuoteIdent(c.Name)))
	}
	for _, c := range jb.seedCols {
		cols = append(cols, rd.Text(rd.QuoteIdent(c)))
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + rd.From(jb.table.TableName)
}

// verifyKeyFP fingerprints a row key (exact bytes of its unambiguous
// encoding).
func verifyKeyFP(m *transform.Masker, row []mask.Value, n int, buf []string) uint64 {
	buf = buf[:0]
	for _, v := range row[:n] {
		buf = append(buf, v.S)
	}
	return m.Fingerprint(nil, string(transform.SeedOf(buf, nil)))
}

// verifyRowCapture fingerprints the rows of one masked table seen by one
// goroutine and merges them into the baseline in batches (flush, under the
// baseline's lock): VerifyCapture reads a whole table with it, the
// masking pass one range at a time.
type verifyRowCapture struct {
	b      *VerifyBaseline
	jb     *verifyJobBase
	m      *transform.Masker
	mod    uint64 // the sample's modulus when last merged; may lag (add re-checks)
	keyBuf []string
	fps    []uint64
	// pending, merged by flush
	rows  int64
	nulls []int64
	keys  []uint64 // sampled rows: key fingerprints
	vals  []uint64 // and their column fingerprints, row-major
	set   [][]uint64
	hits  []verifyConsHit
	// seed values of a seeded rule's row, reused
	seedVals  []string
	seedNulls []bool
}

type verifyConsHit struct {
	group int
	fp    uint64
	place verifyPlace
}

func newVerifyRowCapture(b *VerifyBaseline, jb *verifyJobBase, m *transform.Masker) *verifyRowCapture {
	n := len(jb.cols)
	c := &verifyRowCapture{b: b, jb: jb, m: m, mod: 1, keyBuf: make([]string, 0, len(jb.keyCols)), fps: make([]uint64, n), nulls: make([]int64, n)}
	if !jb.keyed() {
		c.set = make([][]uint64, n)
	}
	return c
}

// row takes one row: the key columns, then the masked columns (the order
// of verifySelect).
func (c *verifyRowCapture) row(row []mask.Value) {
	jb, m := c.jb, c.m
	nk := len(jb.keyCols)
	c.rows++
	var kfp uint64
	sampled := false
	if nk > 0 {
		kfp = verifyKeyFP(m, row, nk, c.keyBuf)
		sampled = verifySampled(kfp, c.mod)
	}
	fps := c.fps
	for i, col := range jb.cols {
		v := row[nk+i]
		fps[i] = 0
		if v.Null {
			c.nulls[i]++
			continue
		}
		// Exempt columns (fixed, nullify) are fingerprinted too: the
		// statistics check needs their originals.
		if verifyBlank(col, v.S) {
			continue
		}
		switch {
		case nk == 0:
			c.set[i] = append(c.set[i], verifyNonZero(m.Fingerprint(col, v.S)))
		case sampled:
			fps[i] = verifyNonZero(m.Fingerprint(col, v.S))
		}
		if g := jb.group[i]; g >= 0 {
			var exact uint64
			switch {
			case jb.seedIdx[i] != nil:
				// A seeded original is tracked with its seed (the seed
				// columns follow the masked ones in verifySelect).
				c.seedVals, c.seedNulls = c.seedVals[:0], c.seedNulls[:0]
				for _, j := range jb.seedIdx[i] {
					sv := row[nk+len(jb.cols)+j]
					c.seedVals, c.seedNulls = append(c.seedVals, sv.S), append(c.seedNulls, sv.Null)
				}
				seed := transform.SeedFor(jb.seedNS[i], c.seedVals, c.seedNulls)
				exact = verifyNonZero(m.Fingerprint(nil, string(transform.SeedOf([]string{string(seed), v.S}, nil))))
			case sampled && verifyExact(col):
				exact = fps[i]
			default:
				exact = verifyNonZero(m.Fingerprint(nil, v.S))
			}
			c.hits = append(c.hits, verifyConsHit{g, exact, verifyPlace{job: int32(jb.idx), col: int32(i), key: kfp}})
		}
	}
	if sampled {
		c.keys = append(c.keys, kfp)
		c.vals = append(c.vals, fps...)
	}
}

// pending reports whether enough is held to merge.
func (c *verifyRowCapture) pending() bool {
	return len(c.keys)+len(c.hits) >= 4096 || len(c.set) > 0 && len(c.set[0]) >= 4096
}

// flush merges what is held into the baseline under mu.
func (c *verifyRowCapture) flush(mu *sync.Mutex) {
	jb, n := c.jb, len(c.jb.cols)
	mu.Lock()
	jb.rows += c.rows
	for i, k := range c.nulls {
		jb.nulls[i] += k
	}
	for r, k := range c.keys {
		jb.rows2.add(k, c.vals[r*n:(r+1)*n])
	}
	for i, fps := range c.set {
		for _, fp := range fps {
			jb.sets[i].add(fp)
		}
	}
	for _, h := range c.hits {
		c.b.groups[h.group].add(h.fp, h.place)
	}
	if jb.rows2 != nil {
		c.mod = jb.rows2.mod
	}
	mu.Unlock()
	c.rows = 0
	clear(c.nulls)
	c.keys, c.vals, c.hits = c.keys[:0], c.vals[:0], c.hits[:0]
	for i := range c.set {
		c.set[i] = c.set[i][:0]
	}
}

func verifyCaptureJob(ctx context.Context, rd mask.Reader, c *verifyRowCapture, mu *sync.Mutex) error {
	err := rd.Query(ctx, verifySelect(rd, c.jb), func(row []mask.Value) error {
		c.row(row)
		if c.pending() {
			c.flush(mu)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", c.jb.table.TableName, err)
	}
	c.flush(mu)
	return nil
}

// VerifyCapturer takes the verification baseline in the masking pass
// instead of a read of its own before it: the workers already read every
// masked value (and the row key) in the transaction that masks it, so the
// fingerprints are taken there. Use: NewVerifyCapturer before masking
// (it counts the tables masking does not read, truncated ones included),
// pass it as mask.Options.Observer, then Baseline after a successful run.
// The baseline equals the one VerifyCapture takes of the same rows.
type VerifyCapturer struct {
	b     *VerifyBaseline
	mu    sync.Mutex
	spent time.Duration
	done  bool
}

// NewVerifyCapturer lays out the baseline of plan and counts the rows of
// every table masking will not read (of opt.Schema, else of the plan).
func NewVerifyCapturer(ctx context.Context, rd mask.Reader, plan *mask.Plan, key transform.Key, opt VerifyOptions) (*VerifyCapturer, error) {
	start := time.Now()
	b, err := newVerifyBaseline(plan, key, opt)
	if err != nil {
		return nil, err
	}
	c := &VerifyCapturer{b: b}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.opt.Workers)
	b.countOthers(gctx, g, rd, &c.mu)
	b.captureLinks(gctx, g, rd)
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify: capture: %w", err)
	}
	c.spent = time.Since(start)
	return c, nil
}

// Range implements mask.Observer.
func (c *VerifyCapturer) Range(job int, m *transform.Masker) mask.RangeObserver {
	jb := c.b.jobs[job]
	rc := newVerifyRowCapture(c.b, jb, m)
	c.mu.Lock()
	if jb.rows2 != nil {
		rc.mod = jb.rows2.mod
	}
	c.mu.Unlock()
	nk, nw := len(jb.keyCols), len(jb.cols)
	return &verifyRangeObserver{c: c, rc: rc, nk: nk, nw: nw, seedRead: jb.seedRead, row: make([]mask.Value, nk+nw+len(jb.seedRead))}
}

// Baseline seals the baseline once masking succeeded. It is nil with an
// error when called twice.
func (c *VerifyCapturer) Baseline() (*VerifyBaseline, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil, errors.New("verify: baseline already taken")
	}
	c.done = true
	start := time.Now()
	c.b.finish()
	c.b.elapsed = c.spent + time.Since(start)
	return c.b, nil
}

// NewVerifyStreamCapturer is NewVerifyCapturer for a copy that reads
// every table's rows as one stream nothing else can read alongside (the
// MariaDB dump's private snapshot): it reads nothing; the copy reports the
// row count of every table masking does not see through Count before
// Baseline. Links need a read of their own before masking, so a plan with
// links is refused.
func NewVerifyStreamCapturer(plan *mask.Plan, key transform.Key, opt VerifyOptions) (*VerifyCapturer, error) {
	b, err := newVerifyBaseline(plan, key, opt)
	if err != nil {
		return nil, err
	}
	if len(b.links) > 0 {
		return nil, errors.New("verify: links need a read before masking")
	}
	return &VerifyCapturer{b: b}, nil
}

// Count records the row count of table t, which masking does not read
// (a table without rules or a truncated one), as the copy saw it.
func (c *VerifyCapturer) Count(t schema.TableName, rows int64) {
	c.mu.Lock()
	c.b.counts[t] = rows
	c.mu.Unlock()
}

// verifyRangeObserver adapts a worker's rows (mask.TableJob.Read values,
// then the Key values) to the capture's order (key, masked columns). The
// masked columns are the first Read values (mask.TableJob.Write order),
// the same columns VerifyCapture selects.
type verifyRangeObserver struct {
	c        *VerifyCapturer
	rc       *verifyRowCapture
	nk, nw   int
	seedRead []int // the seed columns' indexes among the Read values
	row      []mask.Value
}

func (o *verifyRangeObserver) Row(in []mask.Value) {
	if o.nk > 0 {
		copy(o.row, in[len(in)-o.nk:])
	}
	copy(o.row[o.nk:], in[:o.nw])
	for i, j := range o.seedRead {
		o.row[o.nk+o.nw+i] = in[j]
	}
	o.rc.row(o.row)
	if o.rc.pending() {
		o.rc.flush(&o.c.mu)
	}
}

func (o *verifyRangeObserver) Done() { o.rc.flush(&o.c.mu) }

func verifyCount(ctx context.Context, rd mask.Reader, t *schema.Table) (int64, error) {
	var n int64
	err := rd.Query(ctx, "SELECT COUNT(*) FROM "+rd.From(t.TableName), func(row []mask.Value) error {
		_, err := fmt.Sscan(row[0].S, &n)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count rows of %s: %w", t.TableName, err)
	}
	return n, nil
}

// VerifyReport is the outcome of Verify. It holds names and counts only,
// never a value.
type VerifyReport struct {
	Tables   []VerifyTable   `json:"tables"`
	Failures []VerifyFailure `json:"failures"`
	Duration time.Duration   `json:"duration_ns"`
}

// VerifyTable is one table's result.
type VerifyTable struct {
	Table string `json:"table"`
	// Rows is the table's row count after masking.
	Rows    int64          `json:"rows"`
	Columns []VerifyColumn `json:"columns,omitempty"`
	// Checks are the table-level checks that passed.
	Checks []string `json:"checks"`
	// SampleModulus is 1 when every row was compared, m when only the
	// rows whose key fingerprint is 0 modulo m were.
	SampleModulus uint64        `json:"sample_modulus,omitempty"`
	Duration      time.Duration `json:"duration_ns"`
}

// VerifyColumn is one masked column's result.
type VerifyColumn struct {
	Column      string `json:"column"`
	Transformer string `json:"transformer"`
	// Rows is how many values were compared with their original (sampled
	// rows; NULL, blank and exempt values excluded).
	Rows int64 `json:"rows"`
	// Nulls is the column's NULL count after masking.
	Nulls int64 `json:"nulls"`
	// Checks are the column-level checks that passed.
	Checks []string `json:"checks"`
}

// VerifyFailure is one failed check. Detail holds counts, never a value.
type VerifyFailure struct {
	Table  string `json:"table"`
	Column string `json:"column,omitempty"`
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

func (f VerifyFailure) String() string {
	where := f.Table
	if f.Column != "" {
		where += "." + f.Column
	}
	return where + ": " + f.Check + ": " + f.Detail
}

// OK reports whether every check passed; false means refuse (exit 4).
func (r *VerifyReport) OK() bool { return r != nil && len(r.Failures) == 0 }

// Summary is a few lines for humans (run report, Slack).
func (r *VerifyReport) Summary() string {
	cols := 0
	for _, t := range r.Tables {
		cols += len(t.Columns)
	}
	var b strings.Builder
	if r.OK() {
		fmt.Fprintf(&b, "verification passed: %d tables, %d masked columns, every check held (%s)", len(r.Tables), cols, r.Duration.Round(time.Millisecond))
		return b.String()
	}
	fmt.Fprintf(&b, "verification REFUSED: %d failed checks over %d tables, %d masked columns (%s)", len(r.Failures), len(r.Tables), cols, r.Duration.Round(time.Millisecond))
	const show = 5
	for i, f := range r.Failures {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more (see the report)", len(r.Failures)-show)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}

// verifyAcc gathers results from concurrent tasks.
type verifyAcc struct {
	mu       sync.Mutex
	tables   map[string]*VerifyTable
	failures []VerifyFailure
}

func (a *verifyAcc) table(name string) *VerifyTable {
	t := a.tables[name]
	if t == nil {
		t = &VerifyTable{Table: name}
		a.tables[name] = t
	}
	return t
}

func (a *verifyAcc) fail(table, column, check, format string, args ...any) {
	a.failures = append(a.failures, VerifyFailure{Table: table, Column: column, Check: check, Detail: fmt.Sprintf(format, args...)})
}

// Verify runs every check AFTER masking and returns the report;
// report.OK() false means refuse. s is the database's schema (unique
// indexes and foreign keys are taken from it); plan and base are the ones
// VerifyCapture was given and returned. An error means the checks could
// not run (the caller must refuse too); it never holds a value. Verify
// may be called again on the same baseline, but not concurrently.
func Verify(ctx context.Context, rd mask.Reader, s *schema.Schema, plan *mask.Plan, base *VerifyBaseline) (*VerifyReport, error) {
	start := time.Now()
	if base == nil {
		return nil, errors.New("verify: no baseline")
	}
	if len(plan.Jobs) != len(base.jobs) {
		return nil, errors.New("verify: the plan is not the one the baseline was captured for")
	}
	for i, tp := range plan.Jobs {
		jb := base.jobs[i]
		if tp.Job.Table.TableName != jb.table.TableName || len(tp.Job.Write) != len(jb.cols) {
			return nil, fmt.Errorf("verify: the plan is not the one the baseline was captured for (%s)", tp.Job.Table.TableName)
		}
	}
	acc := &verifyAcc{tables: map[string]*VerifyTable{}}
	truncated := map[schema.TableName]bool{}
	for _, t := range plan.Truncate {
		truncated[t.TableName] = true
	}
	involved := map[schema.TableName]bool{}
	for t := range truncated {
		involved[t] = true
	}
	jobTable := map[schema.TableName]bool{}
	for _, jb := range base.jobs {
		involved[jb.table.TableName] = true
		jobTable[jb.table.TableName] = true
	}
	for _, t := range base.tables {
		acc.table(t.TableName.String())
	}

	timed := func(table string, t0 time.Time) {
		acc.mu.Lock()
		acc.table(table).Duration += time.Since(t0)
		acc.mu.Unlock()
	}
	results := make([]*verifyJobResult, len(base.jobs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(base.opt.Workers)
	for i, jb := range base.jobs {
		g.Go(func() error {
			t0 := time.Now()
			defer timed(jb.table.TableName.String(), t0)
			res, err := verifyJob(gctx, rd, s, transform.NewMasker(base.key), jb)
			if err != nil {
				return err
			}
			results[i] = res
			return nil
		})
	}
	for _, t := range base.tables {
		if jobTable[t.TableName] {
			continue
		}
		g.Go(func() error {
			t0 := time.Now()
			defer timed(t.TableName.String(), t0)
			n, err := verifyCount(gctx, rd, t)
			if err != nil {
				return err
			}
			acc.mu.Lock()
			defer acc.mu.Unlock()
			acc.rowCount(t, n, base.counts[t.TableName]+base.added[t.TableName], truncated[t.TableName])
			return nil
		})
	}
	// statistics of truncated tables: empty tables, so any value left is
	// a stale original.
	for _, t := range plan.Truncate {
		g.Go(func() error {
			t0 := time.Now()
			defer timed(t.TableName.String(), t0)
			vals, err := verifyStatValues(gctx, rd, s, t, "")
			if err != nil {
				return err
			}
			acc.mu.Lock()
			defer acc.mu.Unlock()
			if len(vals) > 0 {
				acc.fail(t.TableName.String(), "", VerifyCheckStatistics, "%d values remain in the statistics of a truncated table", len(vals))
			} else {
				acc.pass(t.TableName.String(), VerifyCheckStatistics)
			}
			return nil
		})
	}
	// unique: every primary key and unique index of a masked table.
	for _, jb := range base.jobs {
		t := jb.table
		if st := s.Lookup(t.TableName); st != nil {
			t = st
		}
		g.Go(func() error {
			t0 := time.Now()
			defer timed(t.TableName.String(), t0)
			return verifyUnique(gctx, rd, t, acc)
		})
	}
	// links: rows that matched their followed row before still do.
	linkRes := make([][2]int64, len(base.links))
	for i, l := range base.links {
		g.Go(func() error {
			t0 := time.Now()
			defer timed(l.link.Table.TableName.String(), t0)
			broken, checked, err := l.verify(gctx, rd, transform.NewMasker(base.key))
			linkRes[i] = [2]int64{broken, checked}
			return err
		})
	}
	// foreign_keys: every FK whose child or parent was masked or truncated.
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if !involved[t.TableName] && !involved[fk.RefTable] {
				continue
			}
			ref := s.Lookup(fk.RefTable)
			if ref == nil {
				continue
			}
			g.Go(func() error {
				t0 := time.Now()
				defer timed(t.TableName.String(), t0)
				return verifyForeignKey(gctx, rd, t, ref, fk, acc)
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}

	// Per-table results of the masked tables.
	for i, jb := range base.jobs {
		res := results[i]
		name := jb.table.TableName.String()
		vt := acc.table(name)
		acc.rowCount(jb.table, res.rows, jb.rows+base.added[jb.table.TableName], false)
		if jb.rows2 != nil {
			vt.SampleModulus = jb.rows2.mod
		}
		for c, col := range jb.cols {
			vc := VerifyColumn{Column: col.Name, Transformer: jb.rules[c], Rows: res.compared[c], Nulls: res.nulls[c]}
			if !jb.exempt[c] {
				if res.unchanged[c] > 0 {
					acc.fail(name, col.Name, VerifyCheckUnchanged, "%d of %d compared values equal their original (%s)", res.unchanged[c], res.compared[c], jb.rules[c])
				} else {
					vc.Checks = append(vc.Checks, VerifyCheckUnchanged)
				}
			}
			wantNulls := jb.nulls[c] + base.nullDelta[jb.table.TableName][col.Name]
			if jb.nullify[c] {
				wantNulls = res.rows
			}
			if res.nulls[c] != wantNulls {
				acc.fail(name, col.Name, VerifyCheckNullCount, "%d NULLs after masking, want %d", res.nulls[c], wantNulls)
			} else {
				vc.Checks = append(vc.Checks, VerifyCheckNullCount)
			}
			if res.statBad[c] > 0 {
				acc.fail(name, col.Name, VerifyCheckStatistics, "%d of %d statistics values are original values not in the masked column", res.statBad[c], res.statValues[c])
			} else {
				vc.Checks = append(vc.Checks, VerifyCheckStatistics)
			}
			vt.Columns = append(vt.Columns, vc)
		}
		if extra := res.missing - base.added[jb.table.TableName]; extra > 0 {
			acc.fail(name, "", VerifyCheckUnchanged, "%d rows have no row with their key in the baseline", extra)
		}
	}

	// consistency
	for _, gr := range base.groups {
		for i := range gr.pairs {
			gr.pairs[i].got = [2]bool{}
		}
	}
	for _, res := range results {
		for _, h := range res.cons {
			p := &base.groups[h.group].pairs[h.pair]
			p.masked[h.slot], p.got[h.slot] = h.fp, true
		}
	}
	type colKey struct{ job, col int32 }
	bad := map[colKey]int{}
	other := map[colKey]colKey{} // the first place a bad pair was compared with
	checked := map[colKey]int{}
	for _, gr := range base.groups {
		for i := range gr.pairs {
			p := &gr.pairs[i]
			if !p.got[0] || !p.got[1] {
				continue // a NULL after masking: null_count reports it
			}
			for _, at := range p.at {
				checked[colKey{at.job, at.col}]++
			}
			if p.masked[0] != p.masked[1] {
				// Which side is wrong can't be told: name both columns,
				// each with the other.
				k0, k1 := colKey{p.at[0].job, p.at[0].col}, colKey{p.at[1].job, p.at[1].col}
				bad[k1]++
				if _, ok := other[k1]; !ok {
					other[k1] = k0
				}
				if k0 != k1 {
					bad[k0]++
					if _, ok := other[k0]; !ok {
						other[k0] = k1
					}
				}
			}
		}
	}
	colName := func(k colKey) string {
		jb := base.jobs[k.job]
		return jb.table.TableName.String() + "." + jb.cols[k.col].Name
	}
	for ji, jb := range base.jobs {
		vt := acc.table(jb.table.TableName.String())
		for c := range jb.cols {
			if jb.group[c] < 0 {
				continue
			}
			k := colKey{int32(ji), int32(c)}
			if n := bad[k]; n > 0 {
				where := "elsewhere in this column"
				if o := other[k]; o != k {
					where = "in " + colName(o)
				}
				acc.fail(vt.Table, jb.cols[c].Name, VerifyCheckConsistency, "%d originals seen %s too were masked differently here (%s; %d places compared)", n, where, jb.rules[c], checked[k])
				continue
			}
			for i := range vt.Columns {
				if vt.Columns[i].Column == jb.cols[c].Name {
					vt.Columns[i].Checks = append(vt.Columns[i].Checks, VerifyCheckConsistency)
				}
			}
		}
	}

	for i, l := range base.links {
		name := l.link.Table.TableName.String()
		if broken, checked := linkRes[i][0], linkRes[i][1]; broken > 0 {
			acc.fail(name, l.link.Column, VerifyCheckLinks, "%d of %d rows that equalled %s.%s through %s before masking no longer do", broken, checked, l.link.Follows.TableName, l.link.FollowsColumn, l.link.Via)
		} else {
			vt := acc.table(name)
			for j := range vt.Columns {
				if vt.Columns[j].Column == l.link.Column {
					vt.Columns[j].Checks = append(vt.Columns[j].Checks, VerifyCheckLinks)
				}
			}
		}
	}

	rep := &VerifyReport{Failures: acc.failures}
	for _, t := range acc.tables {
		sort.Strings(t.Checks)
		rep.Tables = append(rep.Tables, *t)
	}
	sort.Slice(rep.Tables, func(i, j int) bool { return rep.Tables[i].Table < rep.Tables[j].Table })
	sort.SliceStable(rep.Failures, func(i, j int) bool {
		a, b := rep.Failures[i], rep.Failures[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Check < b.Check
	})
	if rep.Failures == nil {
		rep.Failures = []VerifyFailure{}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// rowCount records the row_count check; the caller holds a.mu (or runs
// alone).
func (a *verifyAcc) rowCount(t *schema.Table, got, before int64, truncated bool) {
	name := t.TableName.String()
	vt := a.table(name)
	vt.Rows = got
	want := before
	if truncated {
		want = 0
	}
	if got != want {
		if truncated {
			a.fail(name, "", VerifyCheckRowCount, "%d rows after truncation, want 0", got)
		} else {
			a.fail(name, "", VerifyCheckRowCount, "%d rows after masking, %d before", got, before)
		}
		return
	}
	vt.Checks = append(vt.Checks, VerifyCheckRowCount)
}

func (a *verifyAcc) pass(table, check string) {
	vt := a.table(table)
	for _, c := range vt.Checks {
		if c == check {
			return
		}
	}
	vt.Checks = append(vt.Checks, check)
}

type verifyConsResult struct {
	group, pair, slot int
	fp                uint64
}

type verifyJobResult struct {
	rows       int64
	nulls      []int64
	compared   []int64
	unchanged  []int64
	missing    int64
	statValues []int
	statBad    []int64
	cons       []verifyConsResult
}

// verifyJob re-reads one masked table: unchanged, null counts, consistency
// places, statistics.
func verifyJob(ctx context.Context, rd mask.Reader, s *schema.Schema, m *transform.Masker, jb *verifyJobBase) (*verifyJobResult, error) {
	n, nk := len(jb.cols), len(jb.keyCols)
	res := &verifyJobResult{nulls: make([]int64, n), compared: make([]int64, n), unchanged: make([]int64, n), statValues: make([]int, n), statBad: make([]int64, n)}

	// Statistics first: the fingerprints of the values they hold, marked
	// true below when a current (masked) value has the same one.
	stats := make([]map[uint64]bool, n)
	for c, col := range jb.cols {
		vals, err := verifyStatValues(ctx, rd, s, jb.table, col.Name)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if stats[c] == nil {
				stats[c] = map[uint64]bool{}
			}
			stats[c][verifyNonZero(m.Fingerprint(col, v))] = false
		}
		res.statValues[c] = len(vals)
	}

	keyBuf := make([]string, 0, nk)
	fps := make([]uint64, n)
	err := rd.Query(ctx, verifySelect(rd, jb), func(row []mask.Value) error {
		res.rows++
		var kfp uint64
		sampled := false
		if nk > 0 {
			kfp = verifyKeyFP(m, row, nk, keyBuf)
			sampled = jb.rows2.sampled(kfp)
		}
		for c, col := range jb.cols {
			v := row[nk+c]
			fps[c] = 0
			if v.Null {
				res.nulls[c]++
				continue
			}
			if sampled || nk == 0 || stats[c] != nil {
				fps[c] = verifyNonZero(m.Fingerprint(col, v.S))
			}
			if st := stats[c]; st != nil {
				if _, ok := st[fps[c]]; ok {
					st[fps[c]] = true
				}
			}
			if nk == 0 && !jb.exempt[c] && !verifyBlank(col, v.S) {
				res.compared[c]++
				if jb.sets[c].has(fps[c]) {
					res.unchanged[c]++
				}
			}
		}
		if sampled {
			first, count := jb.rows2.lookup(kfp)
			if count == 0 {
				res.missing++
			}
			for c := range jb.cols {
				if jb.exempt[c] || fps[c] == 0 {
					continue
				}
				counted := false
				for i := first; i < first+count; i++ {
					orig := jb.rows2.value(i, c)
					if orig == 0 {
						continue // NULL or blank before
					}
					if !counted {
						res.compared[c]++
						counted = true
					}
					if orig == fps[c] {
						res.unchanged[c]++
						break
					}
				}
			}
		}
		if jb.want != nil && nk > 0 {
			for _, w := range jb.want[kfp] {
				v := row[nk+w.col]
				if v.Null {
					continue
				}
				res.cons = append(res.cons, verifyConsResult{group: w.group, pair: w.pair, slot: w.slot, fp: verifyNonZero(m.Fingerprint(nil, v.S))})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", jb.table.TableName, err)
	}

	// A statistics value fails when it is an original of the column and
	// not one of its current values.
	for c := range jb.cols {
		st := stats[c]
		if st == nil {
			continue
		}
		orig := map[uint64]bool{}
		if nk > 0 {
			for i := range jb.rows2.keys {
				if fp := jb.rows2.value(i, c); fp != 0 {
					if _, ok := st[fp]; ok {
						orig[fp] = true
					}
				}
			}
		} else {
			for fp := range st {
				if jb.sets[c].has(fp) {
					orig[fp] = true
				}
			}
		}
		for fp, current := range st {
			if orig[fp] && !current {
				res.statBad[c]++
			}
		}
	}
	return res, nil
}
