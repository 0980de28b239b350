package main

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets. The first three are of the first performance issue; the
// others of issue 13 (point 5, and point 3's budget for the gates).
const (
	targetVsUpdate = 0.9
	targetVsLoop   = 15.0
	targetRSSBytes = 100_000_000 // 100 MB
	// restage run ≤ 1.25× the plain copy (dump | load), both engines.
	targetRunVsCopy = 1.25
	// PostgreSQL: table + indexes after masking ≤ 1.05× before.
	targetPGSize = 1.05
	// The whole restage mask command, its leak scan not counted (that has
	// its own budget), ≤ 1.15× its mask duration.
	targetGates = 1.15
	// MariaDB: the jpshop events table ≥ 0.6× PostgreSQL's rate.
	targetJPEvents = 0.6
)

// m0Targets are, per engine, masking + statistics and the whole restage
// mask command as a fraction of M0's speed.
func m0Targets(engine string) (withStats, whole float64) {
	if engine == "postgres" {
		return 1.0, 0.8
	}
	return 0.8, 0.7
}

func rate(rows int64, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return float64(rows) / d.Seconds()
}

func ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRate(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return group(int64(math.Round(r)))
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

func fmtMiB(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// m left-aligns a method name in the right-aligned table.
func m(s string) string { return fmt.Sprintf("%-28s", s) }

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// target is one checked target.
type target struct {
	what, value string
	ok          bool
}

func (sr *sizeResult) updateFor(w int) *updateRun {
	for _, u := range sr.update {
		if u.workers == w {
			return u
		}
	}
	return nil
}

func (sr *sizeResult) restageFor(w int) *restageRun {
	for _, r := range sr.restage {
		if r.workers == w {
			return r
		}
	}
	return nil
}

func (sr *sizeResult) runFor(w int) *runRun {
	for _, r := range sr.run {
		if r.workers == w {
			return r
		}
	}
	return nil
}

// speed is how fast a method is next to a reference that took ref: > 1
// is faster.
func speed(ref, d time.Duration) float64 {
	if d <= 0 || ref <= 0 {
		return math.NaN()
	}
	return ref.Seconds() / d.Seconds()
}

func (res *engineResult) targets(cfg *config) []target {
	var ts []target
	for _, sr := range res.sizes {
		ts = append(ts, res.sizeTargets(cfg, sr)...)
	}
	return ts
}

func (res *engineResult) sizeTargets(cfg *config, sr *sizeResult) []target {
	var ts []target
	at := fmt.Sprintf("%s rows", group(sr.rows))
	w := cfg.mainWorkers()
	wantStats, wantWhole := m0Targets(res.name)
	if r := sr.restageFor(w); r != nil && sr.m0 != nil {
		v := speed(sr.m0.dur, r.total)
		ts = append(ts, target{fmt.Sprintf("masking + statistics ≥ %.1f× M0 (%s, workers %d)", wantStats, at, w), fmtRatio(v), v >= wantStats})
		v = speed(sr.m0.dur, r.wall)
		ts = append(ts, target{fmt.Sprintf("whole restage mask ≥ %.1f× M0 (%s, workers %d)", wantWhole, at, w), fmtRatio(v), v >= wantWhole})
	}
	if r := sr.restageFor(w); r != nil {
		v := ratio((r.wall - r.leak).Seconds(), r.total.Seconds())
		ts = append(ts, target{fmt.Sprintf("whole restage mask without its leak scan ≤ %.2f× its masking + statistics (%s, workers %d)", targetGates, at, w), fmtRatio(v), v <= targetGates})
		if res.name == "postgres" {
			v := ratio(float64(r.after), float64(r.before))
			ts = append(ts, target{fmt.Sprintf("table + indexes after ≤ %.2f× before (%s, workers %d)", targetPGSize, at, w), fmtRatio(v), v <= targetPGSize})
		}
	}
	if r := sr.runFor(w); r != nil && sr.copy != nil {
		v := ratio(r.wall.Seconds(), sr.copy.dur.Seconds())
		ts = append(ts, target{fmt.Sprintf("restage run ≤ %.2f× plain copy (%s, workers %d)", targetRunVsCopy, at, w), fmtRatio(v), v <= targetRunVsCopy})
	}
	loopRate := math.NaN()
	if sr.loop != nil {
		loopRate = rate(sr.loop.rows, sr.loop.dur)
	}
	for _, r := range sr.restage {
		if u := sr.updateFor(r.workers); u != nil {
			m := ratio(rate(r.rows, r.mask), rate(u.rows, u.update))
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.1f× server-side UPDATE, masking only (%s, workers %d)", targetVsUpdate, at, r.workers), fmtRatio(m), m >= targetVsUpdate})
			e := ratio(rate(r.rows, r.total), rate(u.rows, u.update+u.stats))
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.1f× server-side UPDATE, with statistics (%s, workers %d)", targetVsUpdate, at, r.workers), fmtRatio(e), e >= targetVsUpdate})
		}
		if !math.IsNaN(loopRate) {
			l := ratio(rate(r.rows, r.mask), loopRate)
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.0f× row-by-row loop (%s, workers %d)", targetVsLoop, at, r.workers), fmtRatio(l), l >= targetVsLoop})
		}
		rss := r.rssKiB * 1024
		ts = append(ts, target{fmt.Sprintf("restage mask peak RSS < 100 MB (%s, workers %d)", at, r.workers), fmtMiB(rss), rss > 0 && rss < targetRSSBytes})
	}
	for _, r := range sr.run {
		rss := r.rssKiB * 1024
		ts = append(ts, target{fmt.Sprintf("restage run peak RSS < 100 MB (%s, workers %d)", at, r.workers), fmtMiB(rss), rss > 0 && rss < targetRSSBytes})
	}
	return ts
}

// jpEvents is the masking rate of the jpshop events table.
func (res *engineResult) jpEvents() float64 {
	if res.jp == nil {
		return math.NaN()
	}
	for _, t := range res.jp.tables {
		if t.name == "events" || strings.HasSuffix(t.name, ".events") {
			return rate(t.rows, t.dur)
		}
	}
	return math.NaN()
}

// crossTargets compare the engines: MariaDB's jpshop events rate next to
// PostgreSQL's, same run.
func crossTargets(results []*engineResult) []target {
	var my, pg *engineResult
	for _, r := range results {
		switch r.name {
		case "mysql":
			my = r
		case "postgres":
			pg = r
		}
	}
	if my == nil || pg == nil || my.jp == nil || pg.jp == nil {
		return nil
	}
	v := ratio(my.jpEvents(), pg.jpEvents())
	return []target{{fmt.Sprintf("jpshop events: MariaDB ≥ %.1f× PostgreSQL's rows/s", targetJPEvents), fmtRatio(v), v >= targetJPEvents}}
}

func missed(cfg *config, results []*engineResult) bool {
	for _, t := range crossTargets(results) {
		if !t.ok {
			return true
		}
	}
	for _, res := range results {
		for _, t := range res.targets(cfg) {
			if !t.ok {
				return true
			}
		}
	}
	return false
}

func render(cfg *config, results []*engineResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "restage benchmark — %s\n", time.Now().Format("2006-01-02 15:04 MST"))
	sizes := make([]string, len(cfg.rows))
	for i, n := range cfg.rows {
		sizes[i] = group(int64(n))
	}
	fmt.Fprintf(&b, "table people: %s rows (id int PK, full_name, email UNIQUE, phone ~10%% NULL, address ~10%% NULL, birth_date, note, created_at)\n", strings.Join(sizes, " and "))
	fmt.Fprintf(&b, "masked: full_name (full_name), email (email), phone (phone), address (street_address); batch %s rows; host %s/%s, %d CPUs\n",
		group(int64(cfg.batch)), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(&b, "%d round(s), interleaved: each round runs every measurement once, each on a fresh copy; the median run is shown\n", cfg.repeat)

	var all []target
	for _, res := range results {
		b.WriteString("\n")
		title := res.name
		if res.version != "" {
			title += " — " + res.version
		}
		fmt.Fprintf(&b, "== %s\n", title)
		for _, sr := range res.sizes {
			renderSize(&b, cfg, res, sr)
		}
		if jp := res.jp; jp != nil {
			fmt.Fprintf(&b, "\njpshop (internal/testdb/jpshop, size %s): restage mask --workers %d: %s rows in %s s (+ statistics), whole command %s s, peak RSS %s\n",
				group(int64(cfg.jpSize)), jp.workers, group(jp.rows), fmtSecs(jp.mask), fmtSecs(jp.wall), fmtMiB(jp.rssKiB*1024))
			tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(tw, m("  table")+"\trows\tseconds\trows/s\t")
			for _, t := range jp.tables {
				fmt.Fprintf(tw, m("  "+t.name)+"\t%s\t%s\t%s\t\n", group(t.rows), fmtSecs(t.dur), fmtRate(rate(t.rows, t.dur)))
			}
			tw.Flush()
		}
		if res.err != nil {
			fmt.Fprintf(&b, "\nERROR: %v\n", res.err)
		}
		ts := res.targets(cfg)
		if len(ts) > 0 {
			b.WriteString("\ntargets:\n")
			writeTargets(&b, ts)
		}
		all = append(all, ts...)
	}
	if ts := crossTargets(results); len(ts) > 0 {
		b.WriteString("\ntargets across engines:\n")
		writeTargets(&b, ts)
		all = append(all, ts...)
	}

	pass, miss := 0, 0
	for _, t := range all {
		if t.ok {
			pass++
		} else {
			miss++
		}
	}
	fmt.Fprintf(&b, "\nsummary: %d targets PASS, %d MISS", pass, miss)
	var errs []string
	for _, res := range results {
		if res.err != nil {
			errs = append(errs, res.name)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(&b, "; incomplete: %s failed", strings.Join(errs, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

func writeTargets(b *strings.Builder, ts []target) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	printed := map[string]bool{}
	for _, t := range ts {
		if printed[t.what] { // one line per target, whichever path found it
			continue
		}
		printed[t.what] = true
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.what, t.value, passMiss(t.ok))
	}
	tw.Flush()
}

// renderSize is one table size's measurements, side by side.
func renderSize(b *strings.Builder, cfg *config, res *engineResult, sr *sizeResult) {
	fmt.Fprintf(b, "\n-- %s rows (generated server-side in %.1f s)\n\n", group(sr.rows), sr.gen.Seconds())
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, m("method")+"\tworkers\trows\tseconds\trows/s\tvs M0¹\tpeak RSS\tsize before\tsize after\tCPU s⁸\tbusy cores⁹\t")
	var m0 time.Duration
	if sr.m0 != nil {
		m0 = sr.m0.dur
		fmt.Fprintf(tw, m("M0: rewrite limit²")+"\t1\t%s\t%s\t%s\t%s\t\t\t\t\t%s\t\n", group(sr.m0.rows), fmtSecs(m0), fmtRate(rate(sr.m0.rows, m0)), fmtRatio(1), fmtCores(sr.m0.cores))
	}
	if c := sr.copy; c != nil {
		fmt.Fprintf(tw, m("plain copy³")+"\t1\t%s\t%s\t%s\t%s\t\t\t\t%s\t%s\t\n", group(sr.rows), fmtSecs(c.dur), fmtRate(rate(sr.rows, c.dur)), fmtRatio(speed(m0, c.dur)), fmtCPU(c.cpu), fmtCores(c.cores))
	}
	for _, w := range cfg.workers {
		if r := sr.runFor(w); r != nil {
			fmt.Fprintf(tw, m("restage run, local⁴")+"\t%d\t%s\t%s\t%s\t%s\t%s\t\t\t%s\t%s\t\n", w, group(sr.rows), fmtSecs(r.wall), fmtRate(rate(sr.rows, r.wall)), fmtRatio(speed(m0, r.wall)), fmtMiB(r.rssKiB*1024), fmtCPU(r.cpu), fmtCores(r.cores))
		}
	}
	for _, w := range cfg.workers {
		if r := sr.restageFor(w); r != nil {
			fmt.Fprintf(tw, m("restage mask: masking phase")+"\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\t\n", w, group(r.rows), fmtSecs(r.mask), fmtRate(rate(r.rows, r.mask)), fmtRatio(speed(m0, r.mask)), fmtMiB(r.rssKiB*1024), fmtMiB(r.before), fmtMiB(r.after))
			fmt.Fprintf(tw, m("restage mask: + statistics⁵")+"\t%d\t%s\t%s\t%s\t%s\t\t\t\t\t\t\n", w, group(r.rows), fmtSecs(r.total), fmtRate(rate(r.rows, r.total)), fmtRatio(speed(m0, r.total)))
			fmt.Fprintf(tw, m("restage mask: whole command⁶")+"\t%d\t%s\t%s\t%s\t%s\t\t\t\t%s\t%s\t\n", w, group(r.rows), fmtSecs(r.wall), fmtRate(rate(r.rows, r.wall)), fmtRatio(speed(m0, r.wall)), fmtCPU(r.cpu), fmtCores(r.cores))
			fmt.Fprintf(tw, m("  of which its leak scan")+"\t%d\t\t%s\t\t\t\t\t\t\t\t\n", w, fmtSecs(r.leak))
		}
	}
	for _, w := range cfg.workers {
		if u := sr.updateFor(w); u != nil {
			fmt.Fprintf(tw, m("server-side UPDATE")+"\t%d\t%s\t%s\t%s\t%s\t\t%s\t\t\t\t\n", w, group(u.rows), fmtSecs(u.update), fmtRate(rate(u.rows, u.update)), fmtRatio(speed(m0, u.update)), fmtMiB(u.before))
			fmt.Fprintf(tw, m("server-side UPDATE + stats")+"\t%d\t%s\t%s\t%s\t%s\t\t%s\t%s\t\t\t\n", w, group(u.rows), fmtSecs(u.update+u.stats), fmtRate(rate(u.rows, u.update+u.stats)), fmtRatio(speed(m0, u.update+u.stats)), fmtMiB(u.before), fmtMiB(u.after))
		}
	}
	if l := sr.loop; l != nil {
		fmt.Fprintf(tw, m("row-by-row loop⁷")+"\t1\t%s\t%s\t%s\t%s\t\t\t\t\t\t\n", group(l.rows), fmtSecs(l.dur), fmtRate(rate(l.rows, l.dur)), fmtRatio(ratio(rate(l.rows, l.dur), rate(sr.rows, m0))))
	}
	tw.Flush()
	b.WriteString("\n¹ speed next to M0 (M0 seconds / method seconds; the loop: rows/s next to M0's)\n")
	b.WriteString("² CREATE TABLE … AS SELECT with md5 expressions for the four columns, then PRIMARY KEY + UNIQUE(email) + ANALYZE\n")
	fmt.Fprintf(b, "³ %s of a database holding people only, into an empty database\n", map[string]string{"mysql": "mariadb-dump --single-transaction | mariadb", "postgres": "pg_dump | psql"}[res.name])
	b.WriteString("⁴ restage run, local provider, from that database to a new staging database: copy, drift gate, masking, verification, switch; process wall clock\n")
	b.WriteString("⁵ restage's own mask duration (--report mask.duration_ns): prepare, masking, statistics refresh\n")
	b.WriteString("⁶ process wall clock: start, connect, schema read, drift gate, masking (verification baseline taken in it), statistics, verification, leak scan, exit\n")
	if l := sr.loop; l != nil {
		fmt.Fprintf(b, "⁷ SELECT %s rows, one UPDATE … WHERE id = ? per row, commit per batch, 1 connection", group(int64(cfg.batch)))
		if l.rows < sr.rows {
			fmt.Fprintf(b, "; measured on the first %s rows only, rows/s extrapolated", group(l.rows))
		}
		b.WriteString("\n")
	}
	b.WriteString("⁸ CPU seconds (user + system) of restage's process; for the plain copy, of its dump and load clients (the server's own CPU is in ⁹)\n")
	fmt.Fprintf(b, "⁹ average busy cores of the whole machine during the measurement (/proc/stat; servers included), of %d\n", runtime.NumCPU())
}
