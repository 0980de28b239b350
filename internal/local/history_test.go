package local

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/restage/restage/internal/refresh"
)

// historyContract records more runs than are kept through one provider
// and reads them back through a fresh one (the history survives the
// process): the newest refresh.HistoryKeep, newest first, intact.
func historyContract(t *testing.T, p refresh.History, reopen func() refresh.History) {
	t.Helper()
	ctx := context.Background()
	if got, err := p.Recent(ctx, 100); err != nil || len(got) != 0 {
		t.Fatalf("Recent before any run: %d runs, %v; want none, no error", len(got), err)
	}
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	n := refresh.HistoryKeep + 2
	for i := range n {
		rec := refresh.RunRecord{RunID: fmt.Sprintf("run%02d", i), Start: base.Add(time.Duration(i) * 24 * time.Hour),
			Duration: time.Duration(i+1) * time.Minute, OK: i%5 != 0,
			Steps:  map[string]time.Duration{refresh.StepRestore: time.Duration(i) * time.Second, refresh.StepMask: 3 * time.Second},
			Tables: []refresh.TableRecord{{Table: "public.customer", Rows: int64(100 + i), Duration: 2 * time.Second}}}
		if err := p.Record(ctx, rec); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	got, err := reopen().Recent(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != refresh.HistoryKeep {
		t.Fatalf("%d runs kept, want %d", len(got), refresh.HistoryKeep)
	}
	if got[0].RunID != fmt.Sprintf("run%02d", n-1) || got[len(got)-1].RunID != "run02" {
		t.Errorf("kept %s … %s, want run%02d … run02 (newest first, the two oldest dropped)", got[0].RunID, got[len(got)-1].RunID, n-1)
	}
	r := got[0]
	if !r.OK || r.Duration != time.Duration(n)*time.Minute || !r.Start.Equal(base.Add(time.Duration(n-1)*24*time.Hour)) ||
		r.Steps[refresh.StepRestore] != time.Duration(n-1)*time.Second || len(r.Tables) != 1 || r.Tables[0].Rows != int64(100+n-1) {
		t.Errorf("newest record read back as %+v", r)
	}
	if few, err := p.Recent(ctx, 7); err != nil || len(few) != 7 || few[0].RunID != r.RunID {
		t.Errorf("Recent(7): %d runs, %v", len(few), err)
	}
}

func TestPGHistory(t *testing.T) {
	f := pgSetup(t, false, nil)
	historyContract(t, f.p, func() refresh.History { return f.provider(t) })
	// Another target's history is its own.
	other := f.cfg
	other.Target = f.target + "x"
	p2, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got, err := p2.(refresh.History).Recent(context.Background(), 100); err != nil || len(got) != 0 {
		t.Errorf("other target sees %d runs (%v), want none", len(got), err)
	}
}

func TestPGHistoryReadCreatesNothing(t *testing.T) {
	f := pgSetup(t, false, nil)
	if got, err := f.p.Recent(context.Background(), 10); err != nil || got != nil {
		t.Fatalf("Recent: %v, %v", got, err)
	}
	if pgExists(t, f.ctl) {
		t.Error("reading the history created the control DB")
	}
}

func TestPGRowEstimates(t *testing.T) {
	f := pgSetup(t, false, nil)
	pgExec(t, f.src, "CREATE TABLE big (id int)", "INSERT INTO big SELECT generate_series(1, 5000)", "ANALYZE big")
	est, err := f.p.RowEstimates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if est["public.big"] != 5000 {
		t.Errorf("estimates %v, want public.big 5000", est)
	}
}

func TestMyHistory(t *testing.T) {
	e := newMyEnv(t, false)
	historyContract(t, e.p, func() refresh.History { return e.provider() })
}

func TestMyRowEstimates(t *testing.T) {
	e := newMyEnv(t, false)
	e.exec("CREATE TABLE "+mysqlQuote(e.src)+".big (id int PRIMARY KEY)",
		"INSERT INTO "+mysqlQuote(e.src)+".big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) SELECT n FROM s",
		"ANALYZE TABLE "+mysqlQuote(e.src)+".big")
	est, err := e.p.RowEstimates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// InnoDB's estimate is sampled: near, not exact.
	if v, ok := est["big"]; !ok || v < 150 || v > 600 {
		t.Errorf("estimates %v, want big near 300", est)
	}
}
