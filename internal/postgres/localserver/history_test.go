package localserver

import (
	"context"
	"testing"

	"github.com/restage/restage/internal/local/localtest"

	"github.com/restage/restage/internal/refresh"
)

func TestPGHistory(t *testing.T) {
	f := pgSetup(t, false, nil)
	localtest.HistoryContract(t, f.p, func() refresh.History { return f.provider(t) })
	// Another target's history is its own.
	other := f.cfg
	other.Target = f.target + "x"
	p2, err := newProvider(other)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if got, err := p2.Recent(context.Background(), 100); err != nil || len(got) != 0 {
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
