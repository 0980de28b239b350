package ddblock_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/ddblock/ddbfake"
	"github.com/restage/restage/internal/refresh"
)

func runRecord(i int) refresh.RunRecord {
	return refresh.RunRecord{RunID: fmt.Sprintf("run%02d", i), Start: time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour),
		Duration: time.Duration(i+1) * time.Minute, OK: true,
		Steps:  map[string]time.Duration{refresh.StepRestore: time.Minute, refresh.StepMask: time.Duration(i) * time.Second},
		Tables: []refresh.TableRecord{{Table: "customer", Rows: int64(1000 + i), Duration: time.Second}}}
}

// TestHistoryCoexistsWithTheLock: the history item sits next to the lock
// item under "<target>#history"; taking, releasing and taking over the lock
// (its conditional PutItem, its DeleteItem) leave the history intact, and
// recording leaves the lock intact.
func TestHistoryCoexistsWithTheLock(t *testing.T) {
	tbl := ddbfake.New(table, ddblock.AttrTarget)
	clk := newClock()
	l := newLocker(t, tbl, clk, time.Minute, 30*time.Second)
	h := ddblock.NewHistory(tbl, table, target)
	ctx := context.Background()

	if got, err := h.Recent(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("Recent with no item: %v, %v", got, err)
	}
	release, err := l.Acquire(ctx, target, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Record(ctx, runRecord(0)); err != nil {
		t.Fatal(err)
	}
	if owner, _, ok := holder(t, tbl); !ok || owner != "run-a" {
		t.Errorf("lock after Record: owner %q held %v, want run-a", owner, ok)
	}
	release()
	// A dead holder's lease expires and the next run takes the lock over
	// with its conditional PutItem.
	if _, err := l.Acquire(ctx, target, "run-b"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := l.Acquire(ctx, target, "run-c"); err != nil {
		t.Fatalf("take over an expired lease: %v", err)
	}
	if err := h.Record(ctx, runRecord(1)); err != nil {
		t.Fatal(err)
	}
	got, err := h.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RunID != "run01" || got[1].RunID != "run00" || got[0].Tables[0].Rows != 1001 {
		t.Fatalf("history %+v, want run01, run00", got)
	}
	if _, ok := tbl.Get(target + ddblock.HistorySuffix); !ok {
		t.Error("no item under the history key")
	}
	if owner, _, ok := holder(t, tbl); !ok || owner != "run-c" {
		t.Errorf("lock owner %q, want run-c", owner)
	}
	// The history is written with UpdateItem only, never a PutItem that
	// could replace a whole item.
	if tbl.Count(ddbfake.OpPut, "ok") != 3 || tbl.Count(ddbfake.OpUpdate, "ok") < 2 {
		t.Errorf("calls %v, want one PutItem per lock taken and the history's UpdateItems", tbl.Calls())
	}
}

// TestHistoryKeepsThirtyInTheItem: recording more than refresh.HistoryKeep
// runs keeps the newest ones, newest first.
func TestHistoryKeepsThirtyInTheItem(t *testing.T) {
	tbl := ddbfake.New(table, ddblock.AttrTarget)
	h := ddblock.NewHistory(tbl, table, target)
	ctx := context.Background()
	for i := range refresh.HistoryKeep + 3 {
		if err := h.Record(ctx, runRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.Recent(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != refresh.HistoryKeep || got[0].RunID != fmt.Sprintf("run%02d", refresh.HistoryKeep+2) || got[len(got)-1].RunID != "run03" {
		t.Errorf("%d runs, %s … %s; want %d, newest first, the three oldest dropped", len(got), got[0].RunID, got[len(got)-1].RunID, refresh.HistoryKeep)
	}
}

// TestHistoryReadFailureIsAnError: a throttled read is reported (the
// pipeline then runs without a forecast), naming the operation.
func TestHistoryReadFailureIsAnError(t *testing.T) {
	tbl := ddbfake.New(table, ddblock.AttrTarget)
	tbl.Inject(ddbfake.OpGet, ddbfake.Throttling())
	_, err := ddblock.NewHistory(tbl, table, target).Recent(context.Background(), 5)
	if err == nil || !strings.Contains(err.Error(), "read run history") {
		t.Errorf("err %v, want the read failure", err)
	}
}
