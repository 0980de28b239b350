package localserver

import (
	"context"
	"errors"
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
	"github.com/restage/restage/internal/refresh"
)

// TestPGSwitchKilledThenSwept stops the switch at each of its test hooks as
// a SIGKILL would (the rename transaction, open at some of them, rolls back
// with the session): staging refuses connections until a new provider
// finishes the swap as its Sweep does, which leaves the old DB serving with
// connections allowed on both databases again and no intent record.
func TestPGSwitchKilledThenSwept(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, true, nil)
	ctx := context.Background()
	pgExec(t, f.staging, "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('old')")
	db := f.restore(t, "r1", "new")
	allow := func() string {
		return pgString(t, "postgres", "SELECT string_agg(datname || '=' || datallowconn, ',' ORDER BY datname = $2) FROM pg_database WHERE datname IN ($1, $2)", f.staging, db.Name)
	}
	want := f.staging + "=true," + db.Name + "=true"
	for _, step := range []string{"intent", "blocked", "renamed-old", "renamed-new", "recorded"} {
		f.s.testHook = localtest.FailAt(step, local.ErrTestKilled)
		if _, err := f.p.Switch(ctx, db); !errors.Is(err, local.ErrTestKilled) {
			t.Fatalf("kill at %s: switch returned %v", step, err)
		}
		if step != "intent" && allow() == want {
			t.Fatalf("kill at %s: connections are allowed before the sweep: the test proves nothing", step)
		}
		p := f.provider(t)
		// Sweep also drops the ready new DB; keep it for the next round.
		if _, err := pg(p).FinishSwap(ctx); err != nil {
			t.Fatalf("kill at %s: finish: %v", step, err)
		}
		if got := allow(); got != want {
			t.Errorf("kill at %s: after the sweep %s, want %s", step, got, want)
		}
		if got := f.marker(t); got != "old" {
			t.Errorf("kill at %s: staging serves %q, want old", step, got)
		}
		if n := pgString(t, f.ctl, "SELECT count(*)::text FROM "+pgIntentTable); n != "0" {
			t.Errorf("kill at %s: %s intent records left", step, n)
		}
		if got := f.state(t, db.Name); got != "ready" {
			t.Errorf("kill at %s: new DB is %q, want ready", step, got)
		}
	}
	f.switchAfterFaults(t, db)
}

// TestSweepRefusesAnIntentForADBNotOurs: an intent record naming a
// database no run of this target created (here: another target's) is
// refused by the one ownership check before anything is touched.
func TestSweepRefusesAnIntentForADBNotOurs(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, true, nil)
	ctx := context.Background()
	pgExec(t, f.staging, "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('old')")
	db := f.restore(t, "r1", "new")
	f.s.testHook = localtest.FailAt("blocked", local.ErrTestKilled)
	if _, err := f.p.Switch(ctx, db); !errors.Is(err, local.ErrTestKilled) {
		t.Fatalf("switch returned %v", err)
	}
	pgExec(t, f.ctl, "UPDATE "+pgControlTable+" SET target = 'someone_else' WHERE name = "+pgLiteral(db.Name))
	if _, err := pg(f.provider(t)).FinishSwap(ctx); !errors.Is(err, refresh.ErrNotOurs) {
		t.Fatalf("finish: %v, want ErrNotOurs", err)
	}
	if got := pgString(t, "postgres", "SELECT datallowconn::text FROM pg_database WHERE datname = $1", db.Name); got != "false" {
		t.Errorf("the database not ours was touched: datallowconn %s", got)
	}
}
