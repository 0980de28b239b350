package refresh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// HistoryKeep is how many runs a History keeps per target: enough for a
// stable median, small enough for one DynamoDB item or a few control-DB
// rows.
const HistoryKeep = 30

// MedianWindow is how many recent successful runs the Slack summary and
// DurationToMedian compare a run with: a week of nightly runs.
const MedianWindow = 7

// TableRecord is one table's share of a run. It names the table, never a
// value.
type TableRecord struct {
	Table    string        `json:"table"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"duration_ns"`
}

// RowsPerSec is the table's recorded masking rate; 0 when unknown.
func (t TableRecord) RowsPerSec() float64 {
	if t.Duration <= 0 || t.Rows <= 0 {
		return 0
	}
	return float64(t.Rows) / t.Duration.Seconds()
}

// RunRecord is what one run leaves in its target's history.
type RunRecord struct {
	RunID    string                   `json:"run_id"`
	Start    time.Time                `json:"start"`
	Duration time.Duration            `json:"duration_ns"`
	OK       bool                     `json:"ok"`
	Steps    map[string]time.Duration `json:"steps"`
	Tables   []TableRecord            `json:"tables,omitempty"`
}

// History is where a provider keeps the target's recent runs: the local
// control DB, or an item next to the lock in the DynamoDB lock table.
type History interface {
	// Record adds one run and keeps only the newest HistoryKeep.
	Record(ctx context.Context, rec RunRecord) error
	// Recent returns up to n runs, newest first.
	Recent(ctx context.Context, n int) ([]RunRecord, error)
}

// RowEstimator is implemented by providers that can read the source's row
// estimates cheaply (local servers: the catalog statistics). On AWS restage
// never connects to production, so the forecast there rests on history
// alone.
type RowEstimator interface {
	RowEstimates(ctx context.Context) (map[string]int64, error)
}

// ErrForecastTooLong is returned before the restore when the forecast
// exceeds the run's maximum duration: the run would be cut off anyway, after
// paying for a restore.
var ErrForecastTooLong = errors.New("forecast exceeds the maximum run duration")

// StepForecast is the expected duration of one step.
type StepForecast struct {
	Step     string        `json:"step"`
	Duration time.Duration `json:"duration_ns"`
}

// TableForecast is the expected masking time of one table.
type TableForecast struct {
	Table    string        `json:"table"`
	Duration time.Duration `json:"duration_ns"`
	// Rows is the source's current row estimate when known, else the median
	// recorded rows.
	Rows int64 `json:"rows"`
	// FromEstimate: the duration is Rows over the recorded rows/s rather
	// than the recorded duration.
	FromEstimate bool `json:"from_estimate,omitempty"`
}

// Forecast is the expected run, from the medians of the recorded
// successful runs.
type Forecast struct {
	Runs   int             `json:"runs"`
	Total  time.Duration   `json:"total_ns"`
	Steps  []StepForecast  `json:"steps"`
	Tables []TableForecast `json:"tables,omitempty"`
}

// NewForecast computes the forecast from recorded runs and, when not nil,
// the source's row estimates. Failed runs are left out (their steps stop
// short). No successful run: nil, no forecast.
func NewForecast(runs []RunRecord, estimates map[string]int64) *Forecast {
	var ok []RunRecord
	for _, r := range runs {
		if r.OK {
			ok = append(ok, r)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	f := &Forecast{Runs: len(ok)}
	var stepSum time.Duration
	for _, s := range Steps {
		var ds []time.Duration
		for _, r := range ok {
			if d, found := r.Steps[s]; found {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue
		}
		m := medianDuration(ds)
		f.Steps = append(f.Steps, StepForecast{Step: s, Duration: m})
		stepSum += m
	}
	totals := make([]time.Duration, len(ok))
	for i, r := range ok {
		totals[i] = r.Duration
	}
	f.Total = max(medianDuration(totals), stepSum)

	byTable := map[string][]TableRecord{}
	for _, r := range ok {
		for _, t := range r.Tables {
			byTable[t.Table] = append(byTable[t.Table], t)
		}
	}
	names := make([]string, 0, len(byTable))
	for n := range byTable {
		names = append(names, n)
	}
	sort.Strings(names)
	var maskByEstimate, maskByHistory time.Duration
	for _, n := range names {
		recs := byTable[n]
		var ds []time.Duration
		var rows []int64
		var rates []float64
		for _, t := range recs {
			ds = append(ds, t.Duration)
			rows = append(rows, t.Rows)
			if r := t.RowsPerSec(); r > 0 {
				rates = append(rates, r)
			}
		}
		tf := TableForecast{Table: n, Duration: medianDuration(ds), Rows: medianInt(rows)}
		maskByHistory += tf.Duration
		if est, found := estimates[n]; found && est >= 0 && len(rates) > 0 {
			tf.Rows = est
			tf.Duration = time.Duration(float64(est) / medianFloat(rates) * float64(time.Second))
			tf.FromEstimate = true
		}
		maskByEstimate += tf.Duration
		f.Tables = append(f.Tables, tf)
	}
	// A source that grew since the recorded runs makes masking longer by
	// what its tables take more at the recorded rates; the mask step and
	// the total follow.
	if grow := maskByEstimate - maskByHistory; grow > 0 {
		for i := range f.Steps {
			if f.Steps[i].Step == StepMask {
				f.Steps[i].Duration += grow
			}
		}
		f.Total += grow
	}
	return f
}

// Print writes the forecast, one line per step and per table.
func (f *Forecast) Print(w io.Writer) {
	if f == nil {
		fmt.Fprintln(w, "forecast: no recorded run yet, no forecast")
		return
	}
	fmt.Fprintf(w, "forecast from the median of %d recorded run(s): %s in all\n", f.Runs, f.Total.Round(time.Second))
	for _, s := range f.Steps {
		fmt.Fprintf(w, "  step  %-12s %s\n", s.Step, s.Duration.Round(time.Second))
	}
	for _, t := range f.Tables {
		src := "recorded"
		if t.FromEstimate {
			src = "source estimate at the recorded rows/s"
		}
		fmt.Fprintf(w, "  table %-30s %s (%d rows, %s)\n", t.Table, t.Duration.Round(time.Second), t.Rows, src)
	}
}

// MedianOfRecent is the median duration of the newest n successful runs in
// runs (newest first), and how many it used; 0, 0 when there is none.
func MedianOfRecent(runs []RunRecord, n int) (time.Duration, int) {
	var ds []time.Duration
	for _, r := range runs {
		if r.OK && len(ds) < n {
			ds = append(ds, r.Duration)
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	return medianDuration(ds), len(ds)
}

// TrimHistory keeps the newest HistoryKeep runs of runs (any order) and
// returns them newest first; History implementations share it.
func TrimHistory(runs []RunRecord) []RunRecord {
	out := slices.Clone(runs)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return strings.Compare(out[i].RunID, out[j].RunID) > 0
	})
	if len(out) > HistoryKeep {
		out = out[:HistoryKeep]
	}
	return out
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianFloat(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// record builds this run's record from its report.
func (r *run) record(ok bool) RunRecord {
	rec := RunRecord{RunID: r.cfg.RunID, Start: r.start.UTC(), Duration: r.rep.Duration, OK: ok, Steps: map[string]time.Duration{}}
	for _, s := range r.rep.Steps {
		rec.Steps[s.Step] = s.Duration
	}
	if r.rep.Mask != nil {
		for _, t := range r.rep.Mask.Tables {
			rec.Tables = append(rec.Tables, TableRecord{Table: t.Table, Rows: t.Rows, Duration: t.Duration})
		}
	}
	return rec
}

// history is the run's history store: Deps.History, else the provider when
// it keeps one; nil when neither does.
func (r *run) history() History {
	if r.deps.History != nil {
		return r.deps.History
	}
	if h, ok := r.deps.Provider.(History); ok {
		return h
	}
	return nil
}

// forecast reads the history, prints the forecast to the log and the
// report, and refuses a run whose forecast exceeds MaxDuration. Reading the
// history is best effort: a run is never refused for want of a forecast.
func (r *run) forecast(ctx context.Context) error {
	h := r.history()
	if h == nil {
		return nil
	}
	runs, err := h.Recent(ctx, HistoryKeep)
	if err != nil {
		r.log.Warn("history not read; no forecast", "error", err.Error())
		return nil
	}
	r.recent = runs
	var est map[string]int64
	if e, ok := r.deps.Provider.(RowEstimator); ok {
		if est, err = e.RowEstimates(ctx); err != nil {
			r.log.Warn("source row estimates not read; forecast from history alone", "error", err.Error())
			est = nil
		}
	}
	f := NewForecast(runs, est)
	r.rep.Forecast = f
	if f == nil {
		r.log.Info("no forecast: no recorded successful run")
		return nil
	}
	if r.deps.OnForecast != nil {
		r.deps.OnForecast(f)
	}
	var b strings.Builder
	f.Print(&b)
	r.log.Info("forecast", "total", f.Total.Round(time.Second).String(), "runs", f.Runs, "detail", b.String())
	if r.cfg.MaxDuration > 0 && f.Total > r.cfg.MaxDuration {
		return fmt.Errorf("%w: %s forecast against %s allowed (median of %d run(s))",
			ErrForecastTooLong, f.Total.Round(time.Second), r.cfg.MaxDuration, f.Runs)
	}
	return nil
}

// saveHistory records this run, from a fresh context so a cancelled run is
// still recorded. A failure to record is logged, never a failed run.
func (r *run) saveHistory(ctx context.Context, ok bool) {
	h := r.history()
	if h == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := h.Record(cctx, r.record(ok)); err != nil {
		r.log.Warn("run not recorded in the history", "error", err.Error())
	}
}
