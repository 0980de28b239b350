package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets from the performance issue.
const (
	targetVsUpdate = 0.9
	targetVsLoop   = 15.0
	targetRSSBytes = 100_000_000 // 100 MB
)

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

func (res *engineResult) updateFor(w int) *updateRun {
	for _, u := range res.update {
		if u.workers == w {
			return u
		}
	}
	return nil
}

// loopBase is the UPDATE the loop is compared with: 1 connection if run.
func (res *engineResult) loopBase() *updateRun {
	if u := res.updateFor(1); u != nil {
		return u
	}
	if len(res.update) > 0 {
		return res.update[0]
	}
	return nil
}

func (res *engineResult) targets() []target {
	var ts []target
	var loopRate float64 = math.NaN()
	if res.loop != nil {
		loopRate = rate(res.loop.rows, res.loop.dur)
	}
	for _, r := range res.restage {
		if u := res.updateFor(r.workers); u != nil {
			m := ratio(rate(r.rows, r.mask), rate(u.rows, u.update))
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.1f× server-side UPDATE, masking only (workers %d)", targetVsUpdate, r.workers), fmtRatio(m), m >= targetVsUpdate})
			e := ratio(rate(r.rows, r.total), rate(u.rows, u.update+u.stats))
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.1f× server-side UPDATE, with statistics (workers %d)", targetVsUpdate, r.workers), fmtRatio(e), e >= targetVsUpdate})
		}
		if !math.IsNaN(loopRate) {
			l := ratio(rate(r.rows, r.mask), loopRate)
			le := ratio(rate(r.rows, r.total), loopRate)
			ts = append(ts, target{fmt.Sprintf("restage ≥ %.0f× row-by-row loop (workers %d; with stats %s)", targetVsLoop, r.workers, fmtRatio(le)), fmtRatio(l), l >= targetVsLoop})
		}
		rss := r.rssKiB * 1024
		ts = append(ts, target{fmt.Sprintf("restage peak RSS < 100 MB (workers %d)", r.workers), fmtMiB(rss), rss > 0 && rss < targetRSSBytes})
	}
	return ts
}

func missed(results []*engineResult) bool {
	for _, res := range results {
		for _, t := range res.targets() {
			if !t.ok {
				return true
			}
		}
	}
	return false
}

func render(cfg *config, results []*engineResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "restage masking benchmark — %s\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "table people: %s rows (id int PK, full_name, email UNIQUE, phone ~10%% NULL, address ~10%% NULL, birth_date, note, created_at)\n", group(int64(cfg.rows)))
	fmt.Fprintf(&b, "masked: full_name (full_name), email (email), phone (phone), address (street_address); batch %s rows; host %s/%s, %d CPUs\n",
		group(int64(cfg.batch)), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	if cfg.repeat > 1 {
		fmt.Fprintf(&b, "every measurement run %d times, each on a fresh copy; the run with the median duration is shown\n", cfg.repeat)
	}

	var all []target
	for _, res := range results {
		b.WriteString("\n")
		title := res.name
		if res.version != "" {
			title += " — " + res.version
		}
		fmt.Fprintf(&b, "== %s\n", title)
		if res.rows > 0 {
			fmt.Fprintf(&b, "generated %s rows server-side in %.1f s; every measurement runs on its own fresh copy\n\n", group(res.rows), res.gen.Seconds())
		}
		measured := len(res.restage) > 0 || len(res.update) > 0 || res.loop != nil
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		if !measured {
			tw = tabwriter.NewWriter(io.Discard, 0, 0, 2, ' ', 0)
		}
		fmt.Fprintln(tw, m("method")+"\tworkers\trows\tseconds\trows/s\tvs UPDATE\tpeak RSS\tsize before\tsize after\t")
		for _, w := range cfg.workers {
			u := res.updateFor(w)
			for _, r := range res.restage {
				if r.workers != w {
					continue
				}
				vm, ve := math.NaN(), math.NaN()
				if u != nil {
					vm = ratio(rate(r.rows, r.mask), rate(u.rows, u.update))
					ve = ratio(rate(r.rows, r.total), rate(u.rows, u.update+u.stats))
				}
				fmt.Fprintf(tw, m("restage mask: masking phase")+"\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", w, group(r.rows), fmtSecs(r.mask), fmtRate(rate(r.rows, r.mask)), fmtRatio(vm), fmtMiB(r.rssKiB*1024), fmtMiB(r.before), fmtMiB(r.after))
				fmt.Fprintf(tw, m("restage mask: + stats¹")+"\t%d\t%s\t%s\t%s\t%s²\t\t\t\t\n", w, group(r.rows), fmtSecs(r.total), fmtRate(rate(r.rows, r.total)), fmtRatio(ve))
				fmt.Fprintf(tw, m("restage mask: whole command⁵")+"\t%d\t%s\t%s\t%s\t\t\t\t\t\n", w, group(r.rows), fmtSecs(r.wall), fmtRate(rate(r.rows, r.wall)))
			}
			if u != nil {
				fmt.Fprintf(tw, m("server-side UPDATE")+"\t%d\t%s\t%s\t%s\t%s\t\t%s\t\t\n", w, group(u.rows), fmtSecs(u.update), fmtRate(rate(u.rows, u.update)), fmtRatio(1), fmtMiB(u.before))
				fmt.Fprintf(tw, m("server-side UPDATE + stats³")+"\t%d\t%s\t%s\t%s\t%s²\t\t%s\t%s\t\n", w, group(u.rows), fmtSecs(u.update+u.stats), fmtRate(rate(u.rows, u.update+u.stats)), fmtRatio(1), fmtMiB(u.before), fmtMiB(u.after))
			}
		}
		if l := res.loop; l != nil {
			v := math.NaN()
			if u := res.loopBase(); u != nil {
				v = ratio(rate(l.rows, l.dur), rate(u.rows, u.update))
			}
			fmt.Fprintf(tw, m("row-by-row loop⁴")+"\t1\t%s\t%s\t%s\t%s\t\t\t\t\n", group(l.rows), fmtSecs(l.dur), fmtRate(rate(l.rows, l.dur)), fmtRatio(v))
		}
		tw.Flush()
		if measured {
			b.WriteString("\n")
			b.WriteString("¹ restage's own mask duration (--report mask.duration_ns): prepare, masking, statistics refresh\n")
			b.WriteString("² compared with server-side UPDATE + stats (same workers); other ratios with server-side UPDATE (same workers)\n")
			statsName := "ANALYZE TABLE people"
			if res.name == "postgres" {
				statsName = "VACUUM ANALYZE people"
			}
			fmt.Fprintf(&b, "³ the statistics refresh restage also runs, timed separately:")
			for _, u := range res.update {
				fmt.Fprintf(&b, " %s %.2f s (workers %d run);", statsName, u.stats.Seconds(), u.workers)
			}
			b.WriteString(" sizes after it\n")
			if l := res.loop; l != nil {
				r := rate(l.rows, l.dur)
				fmt.Fprintf(&b, "⁴ SELECT %s rows, one UPDATE … WHERE id = ? per row, commit per batch, 1 connection", group(int64(cfg.batch)))
				if l.rows < res.rows {
					fmt.Fprintf(&b, "; measured on the first %s rows only, rows/s extrapolated (≈ %.0f s for all %s rows)", group(l.rows), float64(res.rows)/r, group(res.rows))
				}
				b.WriteString("\n")
			}
		}
		if len(res.restage) > 0 {
			b.WriteString("⁵ process wall clock: start, connect, schema read, drift gate, verification baseline, masking, statistics, verification, exit (no target)\n")
		}
		if res.err != nil {
			fmt.Fprintf(&b, "\nERROR: %v\n", res.err)
		}
		ts := res.targets()
		if len(ts) > 0 {
			b.WriteString("\ntargets:\n")
			tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
			for _, t := range ts {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.what, t.value, passMiss(t.ok))
			}
			tw.Flush()
		}
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
