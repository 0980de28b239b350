package refresh_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/ddblock/ddbfake"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/transform"
)

// The fake provider keeps its history in memory, the way both real
// providers keep theirs: newest first, the newest HistoryKeep only.
var _ refresh.History = (*fakeProvider)(nil)

func (p *fakeProvider) Record(ctx context.Context, rec refresh.RunRecord) error {
	if err := p.call("Record"); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.history = refresh.TrimHistory(append(p.history, rec))
	return nil
}

func (p *fakeProvider) Recent(ctx context.Context, n int) ([]refresh.RunRecord, error) {
	if err := p.call("Recent"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]refresh.RunRecord(nil), p.history[:min(n, len(p.history))]...), nil
}

// seed records n successful runs, newest first, run i lasting dur(i).
func seed(p *fakeProvider, n int, dur func(i int) time.Duration) {
	base := time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC)
	for i := n - 1; i >= 0; i-- {
		d := dur(i)
		p.history = append([]refresh.RunRecord{{RunID: fmt.Sprintf("seed%02d", i), Start: base.Add(-time.Duration(i) * 24 * time.Hour), Duration: d, OK: true,
			Steps:  map[string]time.Duration{refresh.StepRestore: d / 2, refresh.StepMask: d / 2},
			Tables: []refresh.TableRecord{{Table: "customer", Rows: 50, Duration: d / 2}}}}, p.history...)
	}
	p.history = refresh.TrimHistory(p.history)
}

func runLimited(t *testing.T, p *fakeProvider, maxDur time.Duration) (*refresh.Report, *notices, error) {
	t.Helper()
	rules, err := config.ParseRules("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte("refresh-unit-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	n := &notices{}
	rep, err := refresh.Run(context.Background(), refresh.Config{Target: "unit", Rules: rules, RulesText: []byte(rulesYAML), Key: key, Workers: 2, BatchSize: 100,
		MaxDuration: maxDur, Users: []refresh.StagingUser{{Name: "app", Password: "pw", Privileges: "read"}}},
		refresh.Deps{
			Provider:   p,
			OpenEngine: func(ctx context.Context, dsn string) (mask.Engine, error) { return postgres.Open(ctx, dsn) },
			Notifier:   n,
		})
	return rep, n, err
}

// TestHistoryRecordsEachRun: with no history there is no forecast and no
// refusal; the run is recorded with its steps and tables.
func TestHistoryRecordsEachRun(t *testing.T) {
	p := newFakeProvider(t)
	rep, n, err := runLimited(t, p, time.Hour)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if rep.Forecast != nil {
		t.Errorf("forecast %+v without history, want none", rep.Forecast)
	}
	if len(p.history) != 1 {
		t.Fatalf("%d runs recorded, want 1", len(p.history))
	}
	h := p.history[0]
	if !h.OK || h.RunID != rep.RunID || h.Duration != rep.Duration {
		t.Errorf("record %+v, report run %s duration %s", h, rep.RunID, rep.Duration)
	}
	for _, s := range []string{refresh.StepPrepare, refresh.StepRestore, refresh.StepMask, refresh.StepSwap} {
		if _, ok := h.Steps[s]; !ok {
			t.Errorf("step %s not recorded: %v", s, h.Steps)
		}
	}
	if len(h.Tables) != 1 || h.Tables[0].Table != "public.customer" || h.Tables[0].Rows != 50 || h.Tables[0].RowsPerSec() <= 0 {
		t.Errorf("tables %+v, want public.customer with 50 rows and a rate", h.Tables)
	}
	if ns := n.all(); len(ns) != 1 || ns[0].Median != 0 || ns[0].MedianRuns != 0 {
		t.Errorf("notices %+v, want a success without a median", ns)
	}
}

// TestHistoryForecastAndMedian: the forecast is the median of the recorded
// successful runs (a failed run is left out), the run proceeds under the
// limit, and the success notice carries the median of the last seven.
func TestHistoryForecastAndMedian(t *testing.T) {
	p := newFakeProvider(t)
	// Newest first: 1m, 2m, … 9m; the newest seven have median 4m.
	seed(p, 9, func(i int) time.Duration { return time.Duration(i+1) * time.Minute })
	p.history = append([]refresh.RunRecord{{RunID: "failed", Start: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Duration: 10 * time.Hour,
		Steps: map[string]time.Duration{refresh.StepRestore: 10 * time.Hour}}}, p.history...)
	rep, n, err := runLimited(t, p, 30*time.Minute)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	f := rep.Forecast
	if f == nil || f.Runs != 9 || f.Total != 5*time.Minute {
		t.Fatalf("forecast %+v, want 9 runs, 5m (median of 1m…9m; the failed run left out)", f)
	}
	if len(f.Tables) != 1 || f.Tables[0].Table != "customer" || f.Tables[0].Duration != 150*time.Second {
		t.Errorf("table forecast %+v, want customer 2m30s", f.Tables)
	}
	if rep.Median != 4*time.Minute {
		t.Errorf("report median %s, want 4m (DurationToMedian's denominator)", rep.Median)
	}
	ns := n.all()
	if len(ns) != 1 || ns[0].Kind != "success" || ns[0].Median != 4*time.Minute || ns[0].MedianRuns != 7 {
		t.Errorf("notices %+v, want a success with median 4m of 7 runs", ns)
	}
	if len(p.history) != 11 || p.history[0].RunID != rep.RunID {
		t.Errorf("%d runs kept, newest %s; want 11, this run first", len(p.history), p.history[0].RunID)
	}
}

// TestHistoryForecastOverLimitStopsBeforeRestore: exit 1, nothing
// restored, Slack says why, and the refused run is not recorded.
func TestHistoryForecastOverLimitStopsBeforeRestore(t *testing.T) {
	p := newFakeProvider(t)
	seed(p, 3, func(int) time.Duration { return 2 * time.Hour })
	rep, n, err := runLimited(t, p, time.Hour)
	if !errors.Is(err, refresh.ErrForecastTooLong) || refresh.ExitCode(err) != exitcode.Failed {
		t.Fatalf("err %v (exit %d), want the forecast refusal, exit 1", err, refresh.ExitCode(err))
	}
	if p.called("Restore") {
		t.Error("Restore called after the forecast exceeded the limit")
	}
	if rep.Forecast == nil || rep.Forecast.Total != 2*time.Hour {
		t.Errorf("forecast %+v, want 2h in the report", rep.Forecast)
	}
	ns := n.all()
	if len(ns) != 1 || ns[0].Kind != "failure" || ns[0].Step != refresh.StepPrepare || ns[0].Class != "forecast exceeds maximum duration" ||
		!strings.Contains(ns[0].Detail, "2h0m0s forecast against 1h0m0s allowed") {
		t.Errorf("notices %+v, want a failure saying the forecast exceeds the limit", ns)
	}
	if len(p.history) != 3 {
		t.Errorf("%d runs recorded, want the 3 seeded (a refused run is not recorded)", len(p.history))
	}
	if p.released != 1 {
		t.Errorf("lock released %d times, want 1", p.released)
	}
}

// TestHistoryKeepsThirty: a run over a full history drops the oldest.
func TestHistoryKeepsThirty(t *testing.T) {
	p := newFakeProvider(t)
	seed(p, refresh.HistoryKeep, func(int) time.Duration { return time.Minute })
	oldest := p.history[len(p.history)-1].RunID
	rep, _, err := runLimited(t, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.history) != refresh.HistoryKeep || p.history[0].RunID != rep.RunID {
		t.Fatalf("%d runs kept, newest %s; want %d, this run first", len(p.history), p.history[0].RunID, refresh.HistoryKeep)
	}
	for _, h := range p.history {
		if h.RunID == oldest {
			t.Errorf("oldest run %s still kept", oldest)
		}
	}
}

// TestHistoryUnreadableIsNoRefusal: a history that can't be read or
// written never fails the run.
func TestHistoryUnreadableIsNoRefusal(t *testing.T) {
	p := newFakeProvider(t)
	p.fail["Recent"] = errors.New("throttled")
	p.fail["Record"] = errors.New("throttled")
	rep, _, err := runLimited(t, p, time.Hour)
	if err != nil || rep.Forecast != nil {
		t.Fatalf("err %v forecast %+v, want a plain successful run", err, rep.Forecast)
	}
}

// TestForecastFromSourceEstimates: a table recorded at 10 rows/s whose
// source now estimates twice the rows is forecast at twice the time, and
// the mask step and total grow by the difference.
func TestForecastFromSourceEstimates(t *testing.T) {
	runs := []refresh.RunRecord{{OK: true, Duration: time.Minute,
		Steps:  map[string]time.Duration{refresh.StepMask: 20 * time.Second},
		Tables: []refresh.TableRecord{{Table: "big", Rows: 100, Duration: 10 * time.Second}, {Table: "small", Rows: 5, Duration: time.Second}}}}
	f := refresh.NewForecast(runs, map[string]int64{"big": 200})
	if f == nil || len(f.Tables) != 2 {
		t.Fatalf("forecast %+v", f)
	}
	if b := f.Tables[0]; b.Table != "big" || b.Duration != 20*time.Second || b.Rows != 200 || !b.FromEstimate {
		t.Errorf("big %+v, want 200 rows in 20s from the estimate", b)
	}
	if s := f.Tables[1]; s.Duration != time.Second || s.FromEstimate {
		t.Errorf("small %+v, want the recorded 1s", s)
	}
	if f.Total != 70*time.Second || f.Steps[0].Duration != 30*time.Second {
		t.Errorf("total %s mask %s, want 1m10s and 30s", f.Total, f.Steps[0].Duration)
	}
	var b strings.Builder
	f.Print(&b)
	if !strings.Contains(b.String(), "big") || !strings.Contains(b.String(), "source estimate") {
		t.Errorf("printed forecast:\n%s", b.String())
	}
	if refresh.NewForecast(nil, map[string]int64{"big": 1}) != nil {
		t.Error("forecast without a recorded run, want none")
	}
}

// TestHistoryInTheLockTable: the pipeline over the AWS history store (the
// lock table's "<target>#history" item, ddbfake): a run is recorded there,
// and the next run's forecast comes from it.
func TestHistoryInTheLockTable(t *testing.T) {
	tbl := ddbfake.New("restage-locks", ddblock.AttrTarget)
	h := ddblock.NewHistory(tbl, "restage-locks", "unit")
	p := &noHistoryProvider{newFakeProvider(t)}
	rules, err := config.ParseRules("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte("refresh-unit-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	run := func() (*refresh.Report, error) {
		return refresh.Run(context.Background(), refresh.Config{Target: "unit", Rules: rules, RulesText: []byte(rulesYAML), Key: key, Workers: 2, BatchSize: 100,
			MaxDuration: time.Hour, Users: []refresh.StagingUser{{Name: "app", Password: "pw", Privileges: "read"}}},
			refresh.Deps{Provider: p, History: h,
				OpenEngine: func(ctx context.Context, dsn string) (mask.Engine, error) { return postgres.Open(ctx, dsn) }})
	}
	first, err := run()
	if err != nil || first.Forecast != nil {
		t.Fatalf("first run: %v, forecast %+v", err, first.Forecast)
	}
	if _, ok := tbl.Get("unit#history"); !ok {
		t.Fatal("no history item in the lock table")
	}
	second, err := run()
	if err != nil || second.Forecast == nil || second.Forecast.Runs != 1 || second.Forecast.Total != first.Duration {
		t.Fatalf("second run: %v, forecast %+v, want one from the first run (%s)", err, second.Forecast, first.Duration)
	}
	runs, err := h.Recent(context.Background(), 10)
	if err != nil || len(runs) != 2 || runs[0].RunID != second.RunID {
		t.Errorf("history %+v (%v), want both runs, newest first", runs, err)
	}
}

// noHistoryProvider hides the fake's own history, as the AWS provider has
// none (its history is Deps.History).
type noHistoryProvider struct{ p *fakeProvider }

func (n *noHistoryProvider) Lock(ctx context.Context, runID string) (func(), error) {
	return n.p.Lock(ctx, runID)
}
func (n *noHistoryProvider) Sweep(ctx context.Context) ([]string, error) { return n.p.Sweep(ctx) }
func (n *noHistoryProvider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	return n.p.Restore(ctx, runID)
}
func (n *noHistoryProvider) Retire(ctx context.Context, prev *refresh.DB) error {
	return n.p.Retire(ctx, prev)
}
func (n *noHistoryProvider) Discard(ctx context.Context, db *refresh.DB) error {
	return n.p.Discard(ctx, db)
}
func (n *noHistoryProvider) Credentials(ctx context.Context, db *refresh.DB) (string, error) {
	return n.p.Credentials(ctx, db)
}
func (n *noHistoryProvider) Ready(ctx context.Context, db *refresh.DB) error {
	return n.p.Ready(ctx, db)
}
func (n *noHistoryProvider) Preserve(ctx context.Context, db *refresh.DB, s []refresh.PreserveSpec) (int64, error) {
	return n.p.Preserve(ctx, db, s)
}
func (n *noHistoryProvider) Users(ctx context.Context, db *refresh.DB, u []refresh.StagingUser) error {
	return n.p.Users(ctx, db, u)
}
func (n *noHistoryProvider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	return n.p.Switch(ctx, db)
}
func (n *noHistoryProvider) Close() error { return n.p.Close() }
