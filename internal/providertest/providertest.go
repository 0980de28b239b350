// Package providertest is the conformance suite every provider passes,
// like golang-migrate's driver tests: each provider's package runs
//
//	func TestProviderContract(t *testing.T) { providertest.Run(t, harness) }
//
// against its real infrastructure (local servers) or its behavioural fakes
// (AWS). It checks the contract written on refresh.Provider: the lock is
// exclusive and dies with its holder, what Restore creates is found by
// Sweep after a killed run and removed by Discard, Switch hands back the
// previous DB, Retire deletes only what is restage's own.
package providertest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/restage/restage/internal/refresh"
)

// Harness adapts the suite to one provider.
type Harness struct {
	// New returns a provider for the suite's target; every call is a new
	// process's provider for the same target (same servers, same control
	// state), so that two calls model two runs.
	New func(t *testing.T) refresh.Provider
	// Exists reports whether the DB named is still there.
	Exists func(t *testing.T, name string) bool
	// Foreign returns a DB restage did not create and must never delete.
	Foreign func(t *testing.T) *refresh.DB
	// Users are the staging users Users is given (nil: none).
	Users []refresh.StagingUser
}

// Run runs every contract test. Each gets its own target (New is called
// from a fresh harness per test by the caller's closure when needed).
func Run(t *testing.T, h func(t *testing.T) Harness) {
	t.Run("LockIsExclusive", func(t *testing.T) { testLock(t, h(t)) })
	t.Run("DiscardIsIdempotent", func(t *testing.T) { testDiscard(t, h(t)) })
	t.Run("SweepFindsAKilledRunsDB", func(t *testing.T) { testSweep(t, h(t)) })
	t.Run("SwitchAndRetire", func(t *testing.T) { testSwitch(t, h(t)) })
	t.Run("RetireRefusesWhatIsNotOurs", func(t *testing.T) { testForeign(t, h(t)) })
}

func lock(t *testing.T, p refresh.Provider, runID string) func() {
	t.Helper()
	rel, err := p.Lock(context.Background(), runID)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	return rel
}

func open(t *testing.T, h Harness) refresh.Provider {
	t.Helper()
	p := h.New(t)
	t.Cleanup(func() { p.Close() })
	return p
}

func testLock(t *testing.T, h Harness) {
	p1, p2 := open(t, h), open(t, h)
	rel := lock(t, p1, "20260101000000_0001")
	if _, err := p2.Lock(context.Background(), "20260101000000_0002"); !errors.Is(err, refresh.ErrLocked) {
		t.Fatalf("a second Lock while the first is held: %v, want ErrLocked", err)
	}
	rel()
	rel() // idempotent
	rel2 := lock(t, p2, "20260101000000_0003")
	rel2()
}

// restore restores a new DB under the lock and waits until it is ready.
func restore(t *testing.T, p refresh.Provider, runID string) *refresh.DB {
	t.Helper()
	ctx := context.Background()
	db, err := p.Restore(ctx, runID)
	if err != nil {
		if db != nil {
			_ = p.Discard(ctx, db)
		}
		t.Fatalf("Restore: %v", err)
	}
	if _, err := p.Credentials(ctx, db); err != nil {
		t.Fatalf("Credentials: %v", err)
	}
	if err := p.Ready(ctx, db); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	return db
}

func testDiscard(t *testing.T, h Harness) {
	p := open(t, h)
	defer lock(t, p, "20260101000000_0011")()
	ctx, cancel := context.WithCancel(context.Background())
	db := restore(t, p, "20260101000000_0011")
	if !h.Exists(t, db.Name) {
		t.Fatalf("Restore returned %s, which does not exist", db.Name)
	}
	// Cleanup runs from a fresh context after the run's was cancelled.
	cancel()
	fresh := context.WithoutCancel(ctx)
	if err := p.Discard(fresh, db); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if err := p.Discard(fresh, db); err != nil {
		t.Fatalf("a second Discard: %v (must be idempotent)", err)
	}
	if h.Exists(t, db.Name) {
		t.Errorf("%s still exists after Discard", db.Name)
	}
}

func testSweep(t *testing.T, h Harness) {
	killed := open(t, h)
	rel := lock(t, killed, "20260101000000_0021")
	db := restore(t, killed, "20260101000000_0021")
	rel() // the process died: its lock died with it, its DB is left over
	p := open(t, h)
	defer lock(t, p, "20260101000000_0022")()
	swept, err := p.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if !slices.Contains(swept, db.Name) {
		t.Errorf("Sweep removed %v, want the killed run's %s among them", swept, db.Name)
	}
	if h.Exists(t, db.Name) {
		t.Errorf("%s still exists after Sweep", db.Name)
	}
}

// promote takes a DB through users and the switch, as a run does.
func promote(t *testing.T, h Harness, p refresh.Provider, db *refresh.DB) *refresh.DB {
	t.Helper()
	ctx := context.Background()
	if err := p.Users(ctx, db, h.Users); err != nil {
		t.Fatalf("Users: %v", err)
	}
	prev, err := p.Switch(ctx, db)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	return prev
}

func testSwitch(t *testing.T, h Harness) {
	p1 := open(t, h)
	rel := lock(t, p1, "20260101000000_0031")
	first := restore(t, p1, "20260101000000_0031")
	if prev := promote(t, h, p1, first); prev != nil {
		t.Errorf("the first Switch returned a previous DB %+v, want none", prev)
	}
	rel()

	p2 := open(t, h)
	defer lock(t, p2, "20260101000000_0032")()
	if swept, err := p2.Sweep(context.Background()); err != nil || slices.Contains(swept, first.Name) {
		t.Fatalf("Sweep removed %v (%v); the live DB must stay", swept, err)
	}
	second := restore(t, p2, "20260101000000_0032")
	prev := promote(t, h, p2, second)
	// The previous DB is the first copy (PostgreSQL, AWS) or the holding
	// database the old staging tables moved to (MySQL renames tables).
	if prev == nil || prev.Name == second.Name {
		t.Fatalf("Switch returned previous %+v, want the DB that served before", prev)
	}
	if err := p2.Retire(context.Background(), prev); err != nil {
		t.Fatalf("Retire of the previous staging DB: %v", err)
	}
	for _, name := range []string{prev.Name, first.Name} {
		if h.Exists(t, name) {
			t.Errorf("%s still exists after Retire", name)
		}
	}
}

func testForeign(t *testing.T, h Harness) {
	p := open(t, h)
	defer lock(t, p, "20260101000000_0041")()
	f := h.Foreign(t)
	if err := p.Retire(context.Background(), f); !errors.Is(err, refresh.ErrNotOurs) {
		t.Errorf("Retire of a DB restage did not create: %v, want ErrNotOurs", err)
	}
	if !h.Exists(t, f.Name) {
		t.Errorf("%s is gone", f.Name)
	}
}
