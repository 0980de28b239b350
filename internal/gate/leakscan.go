package gate

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// The leak scan: after masking (and post-mask SQL), look for the original
// values of the masked e-mail, phone, name and IP columns in every text,
// JSON and binary column that was kept, only partly masked (regex, json,
// template) or not mentioned in the rules. Originals are held as keyed
// fingerprints (a sorted []uint64 per kind), never in clear; a scanned
// value is cut into candidates (e-mail and IP addresses by pattern, phone
// numbers digit-normalised, names as whole full names or family + given
// pairs) and each candidate's fingerprint is looked up. docs/rules.md
// ("Leak scan") describes it.

// Leak kinds, as reported.
const (
	LeakEmail = "email"
	LeakPhone = "phone"
	LeakName  = "name"
	LeakIP    = "ip"
)

// LeakDefaultMaxOriginals bounds the fingerprints held per kind: 16 bytes
// each, so the four kinds together hold at most 32 MB once sealed (a
// quarter more while the capture runs: a kind is compacted when it holds a
// quarter more than the bound, and collectors hand their fingerprints over
// every 16k), and the usual case
// (tens of thousands of customers) a few MB. Above it a deterministic
// sample (by fingerprint) is kept.
const LeakDefaultMaxOriginals = 500_000

// LeakOptions tune the scan.
type LeakOptions struct {
	// MaxOriginals bounds the fingerprints held per kind (default
	// LeakDefaultMaxOriginals).
	MaxOriginals int
	// Workers is how many tables are read at once. Default 2.
	Workers int
}

// minPhoneDigits is the fewest digits a phone number (original or found in
// text) must have: shorter digit runs are order numbers, dates and prices.
const minPhoneDigits = 8

// LeakBaseline holds the fingerprints of the originals, taken before
// masking.
type LeakBaseline struct {
	mu      sync.Mutex // merges from the collectors
	key     transform.Key
	opt     LeakOptions
	sip     map[string]transform.ShortMAC // kind -> keyed fingerprint
	fps     map[string][]uint64           // kind -> fingerprints, sorted
	mod     map[string]uint64             // kind -> sampling modulus (1: all)
	elapsed time.Duration
}

// A fingerprint is one original's SipHash-2-4 under a key derived from
// the masking key for its kind: a keyed pseudorandom function at a tenth
// of an HMAC's cost (the capture fingerprints every distinct original in
// the masking pass), 8 bytes that can't be turned back into the value.
// One sorted []uint64 per kind both screens and confirms a candidate: a
// false match needs a 64-bit collision.

func (b *LeakBaseline) fingerprint(kind, norm string) uint64 {
	return b.sip[kind].String64(norm)
}

// Duration is how long the capture took.
func (b *LeakBaseline) Duration() time.Duration { return b.elapsed }

// Bytes is the memory the fingerprints hold.
func (b *LeakBaseline) Bytes() int64 {
	var n int64
	for _, f := range b.fps {
		n += int64(cap(f)) * 8
	}
	return n
}

// Originals reports how many distinct originals of a kind are held.
func (b *LeakBaseline) Originals(kind string) int { return len(b.fps[kind]) }

// leakKind maps a rule's transformer to the kind of original it masks.
func leakKind(name string) string {
	switch name {
	case "email":
		return LeakEmail
	case "phone":
		return LeakPhone
	case "full_name":
		return LeakName
	case "ip":
		return LeakIP
	}
	return ""
}

// leakSource is one masked table's columns whose originals are captured.
type leakSource struct {
	table *schema.Table
	job   int      // index in plan.Jobs
	cols  []string // quoted in the select order
	idx   []int    // each column's index among the job's Read values
	kinds []string
	// first/last name column pairs (indexes into cols) that make a full
	// name together.
	firsts, lasts []int
}

func leakSources(plan *mask.Plan) []*leakSource {
	var out []*leakSource
	for j, tp := range plan.Jobs {
		src := &leakSource{table: tp.Job.Table, job: j}
		var first, last []int
		for i, r := range tp.Rules {
			if i >= len(tp.Job.Write) {
				break
			}
			col := tp.Job.Write[i]
			kind := leakKind(r.Name)
			switch r.Name {
			case "first_name":
				kind = "first"
			case "last_name":
				kind = "last"
			}
			if kind == "" {
				continue
			}
			switch kind {
			case "first":
				first = append(first, len(src.cols))
			case "last":
				last = append(last, len(src.cols))
			}
			src.cols = append(src.cols, col)
			src.idx = append(src.idx, i) // the masked columns are the first Read values, in Write order
			src.kinds = append(src.kinds, kind)
		}
		// A first and a last name in one row make a pair; with several of
		// each (kanji and kana columns), every combination counts.
		for _, f := range first {
			for _, l := range last {
				src.firsts = append(src.firsts, f)
				src.lasts = append(src.lasts, l)
			}
		}
		if len(src.cols) > 0 {
			out = append(out, src)
		}
	}
	return out
}

// LeakCapture reads the originals of the plan's masked e-mail, phone,
// name and IP columns and keeps their fingerprints. It must run before
// masking. A run that masks with mask.Run takes the same baseline in the
// masking pass instead (LeakCapturer), without this second read.
func LeakCapture(ctx context.Context, rd mask.Reader, plan *mask.Plan, key transform.Key, opt LeakOptions) (*LeakBaseline, error) {
	start := time.Now()
	b := newLeakBaseline(key, opt)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.opt.Workers)
	for _, src := range leakSources(plan) {
		g.Go(func() error {
			c := b.collector()
			sel := make([]string, len(src.cols))
			for i, col := range src.cols {
				sel[i] = rd.Text(rd.QuoteIdent(col))
			}
			q := "SELECT " + strings.Join(sel, ", ") + " FROM " + rd.From(src.table.TableName)
			err := rd.Query(gctx, q, func(row []mask.Value) error {
				c.row(src, row)
				return nil
			})
			if err != nil {
				return fmt.Errorf("leak scan: read originals of %s: %w", src.table.TableName, err)
			}
			b.merge(c)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	b.seal()
	b.elapsed = time.Since(start)
	return b, nil
}

func newLeakBaseline(key transform.Key, opt LeakOptions) *LeakBaseline {
	if opt.MaxOriginals <= 0 {
		opt.MaxOriginals = LeakDefaultMaxOriginals
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	b := &LeakBaseline{key: key, opt: opt, sip: map[string]transform.ShortMAC{}, fps: map[string][]uint64{}, mod: map[string]uint64{}}
	m := transform.NewMasker(key)
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		b.mod[k] = 1
		b.sip[k] = m.ShortMAC(leakDomain + k)
	}
	return b
}

// leakCollector fingerprints the originals of one table (or one range of
// it) on one goroutine.
type leakCollector struct {
	b     *LeakBaseline
	local [len(leakKinds)][]uint64 // by index in leakKinds
	// Originals repeat (an event log repeats its user's address): a small
	// direct-mapped cache of the screening hashes kept last spares a repeat
	// its fingerprint and its place in the baseline. A repeat the cache
	// has forgotten is kept twice, and compact removes it.
	seen [leakSeenSlots]uint64
	// mod is each kind's sampling modulus as of the last merge: a
	// fingerprint it leaves out is not kept (a stale, smaller modulus
	// only keeps a few that the next compaction drops).
	mod   [len(leakKinds)]uint64
	digit []byte // scratch for phone digits
	cat   []byte // scratch for a family + given name pair
	form  []byte // scratch for a name's forms
}

// leakKinds are the kinds of original, in the collector's order.
var leakKinds = [...]string{LeakEmail, LeakPhone, LeakName, LeakIP}

const leakSeenSlots = 1024

// leakFlushAt is how many fingerprints of a kind a collector holds before
// it merges them into the baseline: a collector may see a whole table (a
// separate read, or a rewrite that streams the table as one range), and
// its memory must not grow with it.
const leakFlushAt = 16 << 10

func (b *LeakBaseline) collector() *leakCollector {
	c := &leakCollector{b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, k := range leakKinds {
		c.mod[i] = b.mod[k]
	}
	return c
}

func (c *leakCollector) add(k int, norm string) {
	if h := c.b.sip[leakKinds[k]].String64(norm); h&(c.mod[k]-1) == 0 && c.fresh(h) {
		c.keep(k, h)
	}
}

func (c *leakCollector) addBytes(k int, p []byte) {
	if h := c.b.sip[leakKinds[k]].Sum64(p); h&(c.mod[k]-1) == 0 && c.fresh(h) {
		c.keep(k, h)
	}
}

func (c *leakCollector) keep(k int, fp uint64) {
	c.local[k] = append(c.local[k], fp)
	if len(c.local[k]) >= leakFlushAt {
		c.b.merge(c)
	}
}

// fresh reports whether q is not in the cache, and puts it there.
func (c *leakCollector) fresh(q uint64) bool {
	slot := &c.seen[q%leakSeenSlots]
	if q != 0 && *slot == q {
		return false
	}
	*slot = q
	return true
}

// row takes the originals of one row, its values in src.cols order.
func (c *leakCollector) row(src *leakSource, row []mask.Value) {
	for i, v := range row {
		if v.Null {
			continue
		}
		switch src.kinds[i] {
		case LeakEmail:
			if e, ok := normEmail(v.S); ok {
				c.add(0, e)
			}
		case LeakPhone:
			if c.digit = appendPhoneDigits(c.digit[:0], v.S); len(c.digit) >= minPhoneDigits {
				c.addBytes(1, c.digit)
			}
		case LeakIP:
			if a, ok := normIP(v.S); ok {
				c.addBytes(3, a[:])
			}
		case LeakName:
			c.names(bytesOf(v.S))
		}
	}
	for k := range src.firsts {
		f, l := row[src.firsts[k]], row[src.lasts[k]]
		if f.Null || l.Null {
			continue
		}
		c.cat = append(append(append(c.cat[:0], l.S...), ' '), f.S...)
		c.names(c.cat)
	}
}

// names adds the forms nameForms gives for s, without allocating for the
// names it sees most (ASCII, or with kanji); others go through nameForms.
func (c *leakCollector) names(s []byte) {
	var fields [8][2]int // start, end
	n, han, latin, ascii := 0, 0, 0, true
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(s[i:])
			ascii = false
		}
		if unicode.IsSpace(r) || r == '・' {
			i += size
			continue
		}
		if n == len(fields) {
			c.slowNames(s)
			return
		}
		start := i
		for i < len(s) {
			r, size = rune(s[i]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRune(s[i:])
				ascii = false
			}
			if unicode.IsSpace(r) || r == '・' {
				break
			}
			switch {
			case r >= utf8.RuneSelf && unicode.Is(unicode.Han, r):
				han++
			case r < utf8.RuneSelf && unicode.IsLetter(r):
				latin++
			}
			i += size
		}
		fields[n] = [2]int{start, i}
		n++
	}
	switch {
	case n == 0:
	case han > 0:
		if han >= 2 {
			c.form = c.form[:0]
			for _, f := range fields[:n] {
				c.form = append(c.form, s[f[0]:f[1]]...)
			}
			c.addBytes(2, c.form)
		}
	case latin < 4 || n < 2:
	case !ascii:
		c.slowNames(s) // strings.ToLower's Unicode case mapping
	default:
		c.form = c.form[:0]
		for i, f := range fields[:n] {
			if i > 0 {
				c.form = append(c.form, ' ')
			}
			c.form = appendLowerASCII(c.form, s[f[0]:f[1]])
		}
		c.addBytes(2, c.form)
		if n == 2 {
			c.form = appendLowerASCII(c.form[:0], s[fields[1][0]:fields[1][1]])
			c.form = append(c.form, ' ')
			c.form = appendLowerASCII(c.form, s[fields[0][0]:fields[0][1]])
			c.addBytes(2, c.form)
		}
	}
}

func (c *leakCollector) slowNames(s []byte) {
	for _, f := range nameForms(string(s)) {
		c.add(2, f)
	}
}

func appendLowerASCII(dst, s []byte) []byte {
	for _, b := range s {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst = append(dst, b)
	}
	return dst
}

// bytesOf views a string as bytes without copying; the result is only read.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// merge moves a collector's fingerprints into the baseline (the collector
// keeps its buffers) and gives it the current sampling moduli. A kind is
// compacted when it holds a quarter more than its bound.
func (b *LeakBaseline) merge(c *leakCollector) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, fps := range c.local {
		k := leakKinds[i]
		b.fps[k] = append(b.fps[k], fps...)
		if max := b.opt.MaxOriginals; max > 0 && len(b.fps[k]) > max+max/4 {
			b.compact(k)
		}
		c.local[i] = fps[:0]
		c.mod[i] = b.mod[k]
	}
}

// seal sorts and bounds every kind once the capture is complete.
func (b *LeakBaseline) seal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.fps {
		b.compact(k)
	}
}

// LeakCapturer takes the leak scan's baseline in the masking pass: pass it
// as (part of) mask.Options.Observer, then call Baseline after a
// successful run. The baseline equals the one LeakCapture reads of the
// same rows.
type LeakCapturer struct {
	b     *LeakBaseline
	srcs  map[int]*leakSource // by plan job
	mu    sync.Mutex
	spent time.Duration
}

// NewLeakCapturer lays out the capture of plan's masked e-mail, phone,
// name and IP columns.
func NewLeakCapturer(plan *mask.Plan, key transform.Key, opt LeakOptions) *LeakCapturer {
	c := &LeakCapturer{b: newLeakBaseline(key, opt), srcs: map[int]*leakSource{}}
	for _, src := range leakSources(plan) {
		c.srcs[src.job] = src
	}
	return c
}

// Range implements mask.Observer.
func (c *LeakCapturer) Range(job int, _ *transform.Masker) mask.RangeObserver {
	src := c.srcs[job]
	if src == nil {
		return nopRange{}
	}
	return &leakRange{c: c, src: src, col: c.b.collector(), row: make([]mask.Value, len(src.cols))}
}

// Baseline seals the baseline once masking succeeded.
func (c *LeakCapturer) Baseline() *LeakBaseline {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := time.Now()
	c.b.seal()
	c.b.elapsed = c.spent + time.Since(start)
	return c.b
}

type leakRange struct {
	c     *LeakCapturer
	src   *leakSource
	col   *leakCollector
	row   []mask.Value
	spent time.Duration
}

func (r *leakRange) Row(in []mask.Value) {
	t := time.Now()
	for i, j := range r.src.idx {
		r.row[i] = in[j]
	}
	r.col.row(r.src, r.row)
	r.spent += time.Since(t)
}

func (r *leakRange) Done() {
	r.c.b.merge(r.col)
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	r.c.spent += r.spent
}

type nopRange struct{}

func (nopRange) Row([]mask.Value) {}
func (nopRange) Done()            {}

// leakDomain prefixes every fingerprinted candidate, so a leak-scan
// fingerprint never equals a verification one.
const leakDomain = "leak\x00"

// compact sorts and dedups a kind's fingerprints and, above the bound,
// keeps the ones that are 0 modulo a growing power of two.
func (b *LeakBaseline) compact(kind string) {
	f := b.fps[kind]
	// By q alone: confirm looks at every entry of a q, and the rare
	// duplicate that a q collision keeps apart from its twin only costs
	// its 16 bytes.
	slices.Sort(f)
	f = slices.Compact(f)
	// Fingerprints merged since the last compaction were not yet held to
	// the modulus: filter by it first, and double it only while that is
	// not enough (doubling on every compaction thinned the sample far
	// below the bound).
	for mod := b.mod[kind]; ; mod = b.mod[kind] {
		if mod > 1 {
			f = slices.DeleteFunc(f, func(x uint64) bool { return x&(mod-1) != 0 })
		}
		if b.opt.MaxOriginals <= 0 || len(f) <= b.opt.MaxOriginals {
			break
		}
		b.mod[kind] *= 2
	}
	b.fps[kind] = slices.Clip(f)
}

// has reports whether a normalised candidate is a held original.
func (b *LeakBaseline) has(kind, norm string) bool {
	return b.held(kind, b.sip[kind].String64(norm))
}

// hasBytes is has for a candidate in a scratch buffer.
func (b *LeakBaseline) hasBytes(kind string, p []byte) bool {
	return b.held(kind, b.sip[kind].Sum64(p))
}

func (b *LeakBaseline) held(kind string, h uint64) bool {
	fps := b.fps[kind]
	if len(fps) == 0 || h&(b.mod[kind]-1) != 0 {
		return false
	}
	_, ok := slices.BinarySearch(fps, h)
	return ok
}

// LeakHit is one scanned column holding originals.
type LeakHit struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Kind   string `json:"kind"`
	// Rows is how many rows of the column hold at least one original of
	// the kind.
	Rows int64 `json:"rows"`
}

// LeakReport is the scan's outcome. It names tables, columns, kinds and
// counts, never values.
type LeakReport struct {
	Columns  int           `json:"columns_scanned"`
	Rows     int64         `json:"rows_scanned"`
	Hits     []LeakHit     `json:"hits,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// OK reports a scan without hits.
func (r *LeakReport) OK() bool { return r != nil && len(r.Hits) == 0 }

// Summary is one line per hit, for logs and Slack, or the scan's extent
// when nothing was found. Callers say "leak scan:" before it.
func (r *LeakReport) Summary() string {
	if r == nil {
		return ""
	}
	if r.OK() {
		return fmt.Sprintf("%d column(s), %d row(s), no original found", r.Columns, r.Rows)
	}
	var b strings.Builder
	for i, h := range r.Hits {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s.%s holds original %s values in %d row(s)", h.Table, h.Column, h.Kind, h.Rows)
	}
	return b.String()
}

// leakTarget is one table's columns to scan.
type leakTarget struct {
	table *schema.Table
	cols  []*schema.Column
	// partly: the rule of a partly masked column (regex, json, template),
	// nil for a kept or unmentioned one.
	partly []func(string) string
}

// leakTargets lists the text, JSON and binary columns that were not fully
// masked: kept, not mentioned, or masked by regex, json or template (which
// change only parts of a value). Truncated tables are empty and skipped.
func leakTargets(s *schema.Schema, plan *mask.Plan) []leakTarget {
	full := map[schema.TableName]map[string]bool{}
	partly := map[schema.TableName]map[string]transform.Transformer{}
	for _, tp := range plan.Jobs {
		m := map[string]bool{}
		pm := map[string]transform.Transformer{}
		for i, c := range tp.Job.Write {
			if i < len(tp.Rules) {
				switch tp.Rules[i].Name {
				case "regex", "json", "template":
					pm[c] = tp.Rules[i].Transformer
					continue
				case "keep":
					continue
				}
			}
			m[c] = true
		}
		full[tp.Job.Table.TableName] = m
		partly[tp.Job.Table.TableName] = pm
	}
	truncated := map[schema.TableName]bool{}
	for _, t := range plan.Truncate {
		truncated[t.TableName] = true
	}
	var out []leakTarget
	for _, t := range s.Tables {
		if truncated[t.TableName] || t.Partitioned {
			continue
		}
		lt := leakTarget{table: t}
		for _, c := range t.Columns {
			switch c.Kind {
			case schema.KindText, schema.KindJSON, schema.KindBinary:
			default:
				continue
			}
			if full[t.TableName][c.Name] {
				continue
			}
			lt.cols = append(lt.cols, c)
			var unmasked func(string) string
			if tr := partly[t.TableName][c.Name]; tr != nil {
				unmasked = transform.Unmasker(tr)
			}
			lt.partly = append(lt.partly, unmasked)
		}
		if len(lt.cols) > 0 {
			out = append(out, lt)
		}
	}
	return out
}

// LeakScan reads every row of every target column (streamed) and counts
// the rows holding an original. It runs after masking and post-mask SQL;
// s is the schema as it is then.
func LeakScan(ctx context.Context, rd mask.Reader, s *schema.Schema, plan *mask.Plan, base *LeakBaseline) (*LeakReport, error) {
	start := time.Now()
	rep := &LeakReport{}
	empty := true
	for _, f := range base.fps {
		empty = empty && len(f) == 0
	}
	targets := leakTargets(s, plan)
	for _, t := range targets {
		rep.Columns += len(t.cols)
	}
	if empty {
		rep.Duration = time.Since(start)
		return rep, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(base.opt.Workers)
	for _, t := range targets {
		g.Go(func() error {
			sc := &leakScanner{b: base}
			counts := make([]map[string]int64, len(t.cols))
			sel := make([]string, len(t.cols))
			for i, c := range t.cols {
				sel[i] = rd.Text(rd.QuoteIdent(c.Name))
				counts[i] = map[string]int64{}
			}
			var rows int64
			q := "SELECT " + strings.Join(sel, ", ") + " FROM " + rd.From(t.table.TableName)
			err := rd.Query(gctx, q, func(row []mask.Value) error {
				rows++
				for i, v := range row {
					if v.Null || v.S == "" {
						continue
					}
					text := v.S
					if t.cols[i].Kind == schema.KindBinary {
						text = rd.BinaryValue(text)
					}
					// Only what the rule left of the original: its fakes
					// could equal another row's original by chance.
					if um := t.partly[i]; um != nil {
						text = um(text)
					}
					for _, kind := range sc.scan(text) {
						counts[i][kind]++
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("leak scan: read %s: %w", t.table.TableName, err)
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Rows += rows
			for i, c := range t.cols {
				for kind, n := range counts[i] {
					rep.Hits = append(rep.Hits, LeakHit{Table: t.table.TableName.String(), Column: c.Name, Kind: kind, Rows: n})
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(rep.Hits, func(i, j int) bool {
		a, b := rep.Hits[i], rep.Hits[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Kind < b.Kind
	})
	rep.Duration = time.Since(start)
	return rep, nil
}

// leakScanner finds candidates in one value and looks them up.
type leakScanner struct {
	b     *LeakBaseline
	found [4]bool
	// scratch, reused across values
	text  []byte
	buf   []byte
	runes []rune
	run   []rune
}

// scan returns the kinds of originals found in s (each at most once).
// Candidates are cut by hand-written scanners, not regular expressions:
// the scan reads every row of every kept text column and must stay a
// small fraction of the masking time.
func (sc *leakScanner) scan(s string) []string {
	sc.found = [4]bool{}
	look := func(i int, kind, norm string) {
		if !sc.found[i] && sc.b.has(kind, norm) {
			sc.found[i] = true
		}
	}
	hasAt := strings.IndexByte(s, '@') >= 0
	if hasAt && len(sc.b.fps[LeakEmail]) > 0 {
		emailSpans(s, func(a, b int) {
			if n, ok := normEmail(s[a:b]); ok {
				look(0, LeakEmail, n)
			}
		})
	}
	if len(sc.b.fps[LeakPhone]) > 0 {
		phoneRuns(s, func(d string) { look(1, LeakPhone, d) })
	}
	if len(sc.b.fps[LeakIP]) > 0 {
		ipRuns(s, func(c string) {
			if a, ok := normIP(c); ok && !sc.found[3] && sc.b.hasBytes(LeakIP, a[:]) {
				sc.found[3] = true
			}
		})
	}
	if len(sc.b.fps[LeakName]) > 0 {
		// The words of an e-mail address are not a written name (and a
		// fake address's would make false hits).
		text := s
		if hasAt {
			sc.text = append(sc.text[:0], s...)
			emailSpans(s, func(x, y int) {
				for k := x; k < y; k++ {
					sc.text[k] = ' '
				}
			})
			text = string(sc.text)
		}
		sc.nameCandidates(text, func(p []byte) bool {
			if !sc.found[2] && sc.b.hasBytes(LeakName, p) {
				sc.found[2] = true
			}
			return !sc.found[2]
		})
	}
	var out []string
	for i, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		if sc.found[i] {
			out = append(out, k)
		}
	}
	return out
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// emailSpans calls fn with the bounds of every local@domain.tld in s.
func emailSpans(s string, fn func(a, b int)) {
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		a := i
		for a > 0 && isLocalChar(s[a-1]) {
			a--
		}
		b := i + 1
		for b < len(s) && isDomainChar(s[b]) {
			b++
		}
		for b > i+1 && (s[b-1] == '.' || s[b-1] == '-') {
			b--
		}
		if a < i && strings.IndexByte(s[i+1:b], '.') > 0 {
			fn(a, b)
			i = b - 1
		}
	}
}

// phoneRuns calls fn with the digits of every run of digits and phone
// separators (hyphens, spaces, parentheses, dots; full-width forms too)
// that holds at least minPhoneDigits digits.
func phoneRuns(s string, fn func(digits string)) {
	var d []byte
	inRun := false
	flush := func() {
		if len(d) >= minPhoneDigits {
			fn(string(d))
		}
		d, inRun = d[:0], false
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			d = append(d, byte(r))
			inRun = true
		case r >= '０' && r <= '９':
			d = append(d, byte(r-'０'+'0'))
			inRun = true
		case inRun && strings.ContainsRune("-‐－ー ()（）.・", r):
		case !inRun && (r == '+' || r == '＋' || r == '(' || r == '（'):
		default:
			if inRun {
				flush()
			}
		}
	}
	if inRun {
		flush()
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// ipRuns calls fn with every run that could be an address: digits and
// three dots (IPv4), or hex digits, colons (at least two) and dots (IPv6,
// IPv4-mapped too).
func ipRuns(s string, fn func(string)) {
	for i := 0; i < len(s); {
		c := s[i]
		if !isHex(c) && c != ':' {
			i++
			continue
		}
		j, colons, dots, hexLetters := i, 0, 0, false
		for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
			switch {
			case s[j] == ':':
				colons++
			case s[j] == '.':
				dots++
			case s[j] > '9':
				hexLetters = true
			}
			j++
		}
		run := strings.TrimRight(s[i:j], ".")
		switch {
		case colons >= 2:
			fn(run)
		case colons == 0 && dots >= 3 && !hexLetters:
			fn(run)
		case colons == 0 && dots >= 3:
			// "cafe1.2.3.4": the digits after the last hex letter.
			k := len(run)
			for k > 0 && (run[k-1] >= '0' && run[k-1] <= '9' || run[k-1] == '.') {
				k--
			}
			fn(run[k:])
		}
		i = j
	}
}

// normEmail lower-cases an address; ok is false for what is not one.
func normEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	return strings.ToLower(s), true
}

// appendPhoneDigits appends the digits of s (full-width ones as ASCII) to
// dst.
func appendPhoneDigits(dst []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			dst = append(dst, byte(r))
		case r >= '０' && r <= '９':
			dst = append(dst, byte(r-'０'+'0'))
		}
	}
	return dst
}

// normIP parses an address with an optional prefix length or zone and
// returns its canonical form: the 16 bytes of its IPv6 form (an IPv4
// address and its IPv4-mapped IPv6 spelling are one). Addresses that
// name no one on the internet (loopback, private, link-local, multicast,
// unspecified) are not originals to look for: an internal proxy's 10.0.0.1
// in an ip column would otherwise refuse every run whose kept config
// tables mention it.
func normIP(s string) ([16]byte, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "/%"); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return [16]byte{}, false
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() {
		return [16]byte{}, false
	}
	return a.As16(), true
}

// nameForms returns the normalised forms of a full name that a text may
// hold: Japanese names (any kanji) without spaces, as written; Latin
// names in lower case with single spaces, in both orders. Names with
// fewer than 2 kanji or 4 Latin letters give nothing: they would match
// ordinary words.
func nameForms(s string) []string {
	fields := strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '・' })
	if len(fields) == 0 {
		return nil
	}
	joined := strings.Join(fields, "")
	han, latin := 0, 0
	for _, r := range joined {
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case r < utf8.RuneSelf && unicode.IsLetter(r):
			latin++
		}
	}
	if han > 0 {
		if han < 2 {
			return nil
		}
		return []string{joined}
	}
	if latin < 4 || len(fields) < 2 {
		return nil
	}
	lower := strings.ToLower(strings.Join(fields, " "))
	if len(fields) == 2 {
		return []string{lower, strings.ToLower(fields[1] + " " + fields[0])}
	}
	return []string{lower}
}

// nameCandidates calls fn with every piece of s that could be a full name
// in nameForms' form, until fn returns false: substrings of 2 to 8
// characters of Japanese runs (kanji and kana; starting with a kanji and
// holding 2 or more) with the spaces between two runs removed, and pairs of
// adjacent Latin words (4 or more letters together), lower-cased. The
// slice passed to fn is scratch space, valid during the call.
func (sc *leakScanner) nameCandidates(s string, fn func(p []byte) bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		if !sc.japaneseCandidates(s, fn) {
			return
		}
	}
	// Latin: adjacent words.
	isWord := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '\'' || c == '-'
	}
	prevA, prevB := -1, -1
	for i := 0; i < len(s); {
		if !isWord(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWord(s[j]) {
			j++
		}
		if prevA >= 0 && (prevB-prevA)+(j-i) >= 4 {
			sc.buf = appendLower(appendLower(sc.buf[:0], s[prevA:prevB]), " ")
			sc.buf = appendLower(sc.buf, s[i:j])
			if !fn(sc.buf) {
				return
			}
		}
		prevA, prevB = i, j
		i = j
	}
}

func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func isJapanese(r rune) bool {
	if r < 0x3000 {
		return false
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 'ー' || r == '々'
}

// japaneseCandidates feeds nameCandidates' Japanese pieces to fn; false
// when fn asked to stop.
func (sc *leakScanner) japaneseCandidates(s string, fn func(p []byte) bool) bool {
	runes := sc.runes[:0]
	for _, r := range s {
		runes = append(runes, r)
	}
	sc.runes = runes
	run := sc.run[:0]
	defer func() { sc.run = run }()
	for i := 0; i < len(runes); {
		if !isJapanese(runes[i]) {
			i++
			continue
		}
		// A run, letting one space (ASCII or full-width) join two runs:
		// "山田 花子".
		run = run[:0]
		for i < len(runes) {
			if isJapanese(runes[i]) {
				run = append(run, runes[i])
				i++
				continue
			}
			if (runes[i] == ' ' || runes[i] == '　') && i+1 < len(runes) && isJapanese(runes[i+1]) && len(run) > 0 {
				i++
				continue
			}
			break
		}
		for a := 0; a < len(run); a++ {
			if !unicode.Is(unicode.Han, run[a]) {
				continue
			}
			han := 0
			sc.buf = sc.buf[:0]
			for b := a; b < len(run) && b-a < 8; b++ {
				if unicode.Is(unicode.Han, run[b]) {
					han++
				}
				sc.buf = utf8.AppendRune(sc.buf, run[b])
				if han >= 2 && !fn(sc.buf) {
					return false
				}
			}
		}
	}
	return true
}
