package gate

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

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

// LeakDefaultMaxOriginals bounds the fingerprints held per kind: 8 bytes
// each, so 4M of each kind stay under 130 MB in the worst case and the
// usual case (tens of thousands of customers) needs a few MB. Above it a
// deterministic sample (by fingerprint) is kept.
const LeakDefaultMaxOriginals = 2_000_000

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
	key     transform.Key
	opt     LeakOptions
	fps     map[string][]uint64 // kind -> sorted fingerprints
	mod     map[string]uint64   // kind -> sampling modulus (1: all)
	elapsed time.Duration
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
	cols  []string // quoted in the select order
	kinds []string
	// first/last name column pairs (indexes into cols) that make a full
	// name together.
	firsts, lasts []int
}

func leakSources(plan *mask.Plan) []*leakSource {
	var out []*leakSource
	for _, tp := range plan.Jobs {
		src := &leakSource{table: tp.Job.Table}
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
// masking.
func LeakCapture(ctx context.Context, rd mask.Reader, plan *mask.Plan, key transform.Key, opt LeakOptions) (*LeakBaseline, error) {
	start := time.Now()
	if opt.MaxOriginals <= 0 {
		opt.MaxOriginals = LeakDefaultMaxOriginals
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	b := &LeakBaseline{key: key, opt: opt, fps: map[string][]uint64{}, mod: map[string]uint64{}}
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		b.mod[k] = 1
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opt.Workers)
	for _, src := range leakSources(plan) {
		g.Go(func() error {
			m := transform.NewMasker(key)
			local := map[string][]uint64{}
			add := func(kind string, fp uint64) { local[kind] = append(local[kind], fp) }
			sel := make([]string, len(src.cols))
			for i, c := range src.cols {
				sel[i] = rd.Text(rd.QuoteIdent(c))
			}
			q := "SELECT " + strings.Join(sel, ", ") + " FROM " + rd.From(src.table.TableName)
			err := rd.Query(gctx, q, func(row []mask.Value) error {
				for i, v := range row {
					if v.Null {
						continue
					}
					switch src.kinds[i] {
					case LeakEmail:
						if e, ok := normEmail(v.S); ok {
							add(LeakEmail, m.Fingerprint(nil, leakDomain+LeakEmail+e))
						}
					case LeakPhone:
						if d := phoneDigits(v.S); len(d) >= minPhoneDigits {
							add(LeakPhone, m.Fingerprint(nil, leakDomain+LeakPhone+d))
						}
					case LeakIP:
						if a, ok := normIP(v.S); ok {
							add(LeakIP, m.Fingerprint(nil, leakDomain+LeakIP+a))
						}
					case LeakName:
						for _, n := range nameForms(v.S) {
							add(LeakName, m.Fingerprint(nil, leakDomain+LeakName+n))
						}
					}
				}
				for k := range src.firsts {
					f, l := row[src.firsts[k]], row[src.lasts[k]]
					if f.Null || l.Null {
						continue
					}
					for _, n := range nameForms(l.S + " " + f.S) {
						add(LeakName, m.Fingerprint(nil, leakDomain+LeakName+n))
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("leak scan: read originals of %s: %w", src.table.TableName, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, fps := range local {
				b.fps[k] = append(b.fps[k], fps...)
				if len(b.fps[k]) > 2*opt.MaxOriginals {
					b.compact(k)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for k := range b.fps {
		b.compact(k)
	}
	b.elapsed = time.Since(start)
	return b, nil
}

// leakDomain prefixes every fingerprinted candidate, so a leak-scan
// fingerprint never equals a verification one.
const leakDomain = "leak\x00"

// compact sorts and dedups a kind's fingerprints and, above the bound,
// keeps the ones that are 0 modulo a growing power of two.
func (b *LeakBaseline) compact(kind string) {
	f := b.fps[kind]
	slices.Sort(f)
	f = slices.Compact(f)
	for len(f) > b.opt.MaxOriginals {
		b.mod[kind] *= 2
		mod := b.mod[kind]
		f = slices.DeleteFunc(f, func(x uint64) bool { return x&(mod-1) != 0 })
	}
	b.fps[kind] = slices.Clip(f)
}

func (b *LeakBaseline) has(kind string, fp uint64) bool {
	mod := b.mod[kind]
	if fp&(mod-1) != 0 {
		return false
	}
	_, ok := slices.BinarySearch(b.fps[kind], fp)
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

// Summary is one line per hit, for logs and Slack.
func (r *LeakReport) Summary() string {
	if r == nil {
		return ""
	}
	if r.OK() {
		return fmt.Sprintf("leak scan: %d column(s), %d row(s), no original found", r.Columns, r.Rows)
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
}

// leakTargets lists the text, JSON and binary columns that were not fully
// masked: kept, not mentioned, or masked by regex, json or template (which
// change only parts of a value). Truncated tables are empty and skipped.
func leakTargets(s *schema.Schema, plan *mask.Plan) []leakTarget {
	full := map[schema.TableName]map[string]bool{}
	for _, tp := range plan.Jobs {
		m := map[string]bool{}
		for i, c := range tp.Job.Write {
			if i < len(tp.Rules) {
				switch tp.Rules[i].Name {
				case "regex", "json", "template", "keep":
					continue
				}
			}
			m[c] = true
		}
		full[tp.Job.Table.TableName] = m
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
			m := transform.NewMasker(base.key)
			sc := &leakScanner{m: m, b: base}
			counts := make([]map[string]int64, len(t.cols))
			sel := make([]string, len(t.cols))
			for i, c := range t.cols {
				sel[i] = rd.Text(rd.QuoteIdent(c.Name))
				counts[i] = map[string]int64{}
			}
			pgBinary := rd.Flavor() == "postgres"
			var rows int64
			q := "SELECT " + strings.Join(sel, ", ") + " FROM " + rd.From(t.table.TableName)
			err := rd.Query(gctx, q, func(row []mask.Value) error {
				rows++
				for i, v := range row {
					if v.Null || v.S == "" {
						continue
					}
					text := v.S
					if pgBinary && t.cols[i].Kind == schema.KindBinary && strings.HasPrefix(text, `\x`) {
						if raw, err := hex.DecodeString(text[2:]); err == nil {
							text = string(raw)
						}
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
	m     *transform.Masker
	b     *LeakBaseline
	found [4]bool
}

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)
	reIPv4  = regexp.MustCompile(`\d{1,3}(?:\.\d{1,3}){3}`)
	reIPv6  = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\d{1,3}(?:\.\d{1,3}){3})?`)
	rePhone = regexp.MustCompile(`[+＋]?[0-9０-９](?:[0-9０-９]|[\-‐－ー ()（）.・]){6,}[0-9０-９]`)
)

// scan returns the kinds of originals found in s (each at most once).
func (sc *leakScanner) scan(s string) []string {
	sc.found = [4]bool{}
	look := func(i int, kind, norm string) {
		if !sc.found[i] && sc.b.has(kind, sc.m.Fingerprint(nil, leakDomain+kind+norm)) {
			sc.found[i] = true
		}
	}
	if len(sc.b.fps[LeakEmail]) > 0 && strings.IndexByte(s, '@') >= 0 {
		for _, e := range reEmail.FindAllString(s, -1) {
			if n, ok := normEmail(e); ok {
				look(0, LeakEmail, n)
			}
		}
	}
	if len(sc.b.fps[LeakPhone]) > 0 {
		for _, p := range rePhone.FindAllString(s, -1) {
			if d := phoneDigits(p); len(d) >= minPhoneDigits {
				look(1, LeakPhone, d)
			}
		}
	}
	if len(sc.b.fps[LeakIP]) > 0 {
		if strings.IndexByte(s, '.') >= 0 {
			for _, c := range reIPv4.FindAllString(s, -1) {
				if a, ok := normIP(c); ok {
					look(3, LeakIP, a)
				}
			}
		}
		if strings.Count(s, ":") >= 2 {
			for _, c := range reIPv6.FindAllString(s, -1) {
				if a, ok := normIP(c); ok {
					look(3, LeakIP, a)
				}
			}
		}
	}
	if len(sc.b.fps[LeakName]) > 0 {
		// The words of an e-mail address are not a written name (and a
		// fake address's would make false hits).
		if strings.IndexByte(s, '@') >= 0 {
			s = reEmail.ReplaceAllString(s, " ")
		}
		nameCandidates(s, func(n string) bool {
			look(2, LeakName, n)
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

// normEmail lower-cases an address; ok is false for what is not one.
func normEmail(s string) (string, bool) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	return strings.ToLower(s), true
}

// phoneDigits keeps the digits of s (full-width ones as ASCII).
func phoneDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune(r - '０' + '0')
		}
	}
	return b.String()
}

// normIP parses an address with an optional prefix length or zone and
// returns its canonical form (IPv4-mapped IPv6 as IPv4).
func normIP(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "/%"); i >= 0 {
		s = s[:i]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsLoopback() {
		return "", false
	}
	return a.String(), true
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
// adjacent Latin words (4 or more letters together).
func nameCandidates(s string, fn func(string) bool) {
	// Japanese: runs of kanji/kana, optionally joined across one space.
	runes := []rune(s)
	isJ := func(r rune) bool {
		return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) || r == 'ー' || r == '々'
	}
	var buf []rune
	var idx []int // position in buf -> whether a Han
	for i := 0; i < len(runes); {
		if !isJ(runes[i]) {
			i++
			continue
		}
		// Collect a run, letting one space (ASCII or full-width) join two
		// runs: "山田 花子".
		buf = buf[:0]
		for i < len(runes) {
			if isJ(runes[i]) {
				buf = append(buf, runes[i])
				i++
				continue
			}
			if (runes[i] == ' ' || runes[i] == '　') && i+1 < len(runes) && isJ(runes[i+1]) && len(buf) > 0 {
				i++
				continue
			}
			break
		}
		idx = idx[:0]
		for _, r := range buf {
			if unicode.Is(unicode.Han, r) {
				idx = append(idx, 1)
			} else {
				idx = append(idx, 0)
			}
		}
		for a := 0; a < len(buf); a++ {
			if idx[a] == 0 {
				continue
			}
			han := 0
			for b := a; b < len(buf) && b-a < 8; b++ {
				han += idx[b]
				if han >= 2 && !fn(string(buf[a:b+1])) {
					return
				}
			}
		}
	}
	// Latin: adjacent words.
	words := strings.FieldsFunc(s, func(r rune) bool { return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || r == '\'' || r == '-')) })
	for i := 0; i+1 < len(words); i++ {
		if len(words[i])+len(words[i+1]) < 4 {
			continue
		}
		if !fn(strings.ToLower(words[i] + " " + words[i+1])) {
			return
		}
	}
}
