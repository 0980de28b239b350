package test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/refresh"
)

// TestRunForecastFromHistory: with recorded runs in the control DB,
// --dry-run prints the forecast per step and per table, and a run whose
// forecast exceeds its maximum duration stops before restoring (exit 1,
// the notice says why), creating nothing.
func TestRunForecastFromHistory(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			prov, err := engines.NewLocal(f.localConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer prov.Close()
			h := prov.(refresh.History)
			base := time.Now().Add(-72 * time.Hour).UTC()
			for i := range 3 {
				if err := h.Record(context.Background(), refresh.RunRecord{RunID: "seed" + string(rune('a'+i)), Start: base.Add(time.Duration(i) * time.Hour),
					Duration: 2 * time.Hour, OK: true, Steps: map[string]time.Duration{refresh.StepRestore: time.Hour, refresh.StepMask: time.Hour},
					Tables: []refresh.TableRecord{{Table: "customer", Rows: 1000, Duration: time.Hour}}}); err != nil {
					t.Fatal(err)
				}
			}
			res := restage(t, append(f.env(), "RESTAGE_MAX_DURATION=1h"), "run", "--dry-run")
			if res.code != 0 {
				t.Fatalf("dry run: exit %d\n%s", res.code, res.stderr)
			}
			for _, want := range []string{"forecast from the median of 3 recorded run(s): 2h0m0s", "step  restore", "step  mask", "table customer", "would stop before restoring"} {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("dry run output lacks %q:\n%s", want, res.stderr)
				}
			}

			cfg := f.runConfig(t)
			cfg.MaxDuration = time.Hour
			var notices []refresh.Notice
			rep, err := refresh.Run(context.Background(), cfg, refresh.Deps{
				Provider:   prov,
				OpenEngine: func(ctx context.Context, admin string) (mask.Engine, error) { return f.ec.open(ctx, admin) },
				Notifier:   notifierFunc(func(_ context.Context, n refresh.Notice) { notices = append(notices, n) }),
			})
			if !errors.Is(err, refresh.ErrForecastTooLong) || refresh.ExitCode(err) != exitcode.Failed {
				t.Fatalf("err = %v (exit %d), want the forecast refusal, exit 1", err, refresh.ExitCode(err))
			}
			if rep.New != nil || len(f.databases(t, "restage_"+f.target+"_")) != 0 {
				t.Errorf("the refused run created %v", f.databases(t, "restage_"+f.target+"_"))
			}
			if len(notices) != 1 || notices[0].Class != "forecast exceeds maximum duration" || !strings.Contains(notices[0].Detail, "stopped before restoring") {
				t.Errorf("notices = %+v, want one saying the forecast exceeds the limit", notices)
			}

			// A real run without a limit proceeds and is recorded in the
			// control DB with its tables; the refused one was not.
			cfg.MaxDuration = 0
			var printed *refresh.Forecast
			rep, err = refresh.Run(context.Background(), cfg, refresh.Deps{
				Provider:   prov,
				OpenEngine: func(ctx context.Context, admin string) (mask.Engine, error) { return f.ec.open(ctx, admin) },
				OnForecast: func(fc *refresh.Forecast) { printed = fc },
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if printed == nil || printed.Runs != 3 {
				t.Errorf("forecast handed out at the start: %+v, want one from 3 runs", printed)
			}
			runs, err := h.Recent(context.Background(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 4 || runs[0].RunID != rep.RunID || !runs[0].OK || len(runs[0].Tables) == 0 || runs[0].Steps[refresh.StepSwap] <= 0 {
				t.Errorf("history after the run: %d runs, newest %+v; want 4, this run first with its tables and steps", len(runs), runs[0])
			}

			// The source's row estimates name tables the way the masking
			// report does, so the forecast can use them.
			if ec.name == "postgres" {
				f.exec(t, "ANALYZE")
			}
			est, err := prov.(refresh.RowEstimator).RowEstimates(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range runs[0].Tables {
				if _, ok := est[tr.Table]; tr.Rows > 0 && !ok {
					t.Errorf("masked table %s has no source estimate (estimates %v)", tr.Table, est)
				}
			}
			fromEstimate := 0
			for _, tf := range refresh.NewForecast(runs, est).Tables {
				if tf.FromEstimate {
					fromEstimate++
				}
			}
			if fromEstimate == 0 {
				t.Error("no table forecast from the source's estimates")
			}
		})
	}
}
