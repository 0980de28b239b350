package localserver

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
	"github.com/restage/restage/internal/refresh"
)

// TestMySQLSwitchKilledThenSwept stops the switch before each sub-step as
// a SIGKILL would (no rollback), then lets a new provider's Sweep finish
// it: staging is exactly the old database before the RENAME TABLE and
// exactly the new one after it, the holding database and the control
// records match, and no intent is left. Both a hand-made staging DB and a
// first run (no staging DB yet).
func TestMySQLSwitchKilledThenSwept(t *testing.T) {
	t.Parallel()
	steps := []string{"capture", "intent", "create-staging", "create-holding", "drop-new-objects", "drop-staging-objects",
		"rename", "record", "create-new-objects", "create-previous-objects", "drop-new-database"}
	forwardFrom := slices.Index(steps, "record") // killed before "record": the rename happened
	for _, handMade := range []bool{true, false} {
		for i, step := range steps {
			if !handMade && (step == "create-holding" || step == "create-previous-objects") {
				continue // nothing to hold on a first run
			}
			e := newMyEnv(t, false)
			ctx := context.Background()
			e.smallSchema(e.src, "new")
			if handMade {
				e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
				e.smallSchema(e.staging, "old")
			}
			db := e.restore("r1")
			oldStaging := e.snapshot(e.staging)
			newDB := e.snapshot(db.Name)
			e.s.failAt = localtest.FailAt(step, local.ErrTestKilled)
			if _, err := e.p.Switch(ctx, db); !errors.Is(err, local.ErrTestKilled) {
				t.Fatalf("handMade=%v, kill before %s: switch returned %v", handMade, step, err)
			}
			// A new process.
			p := e.provider()
			if _, err := p.Sweep(ctx); err != nil {
				t.Fatalf("handMade=%v, kill before %s: sweep: %v", handMade, step, err)
			}
			hold := local.DBName(e.target, "previous_r1")
			if n := e.count("SELECT COUNT(*) FROM " + my(p).intentTable()); n != 0 {
				t.Errorf("handMade=%v, kill before %s: %d intent records left", handMade, step, n)
			}
			if i < forwardFrom {
				if got := e.snapshot(e.staging); !slices.Equal(got, oldStaging) {
					t.Errorf("handMade=%v, kill before %s: staging is not the old DB:\n got %q\nwant %q", handMade, step, got, oldStaging)
				}
				if e.exists(e.staging) != handMade {
					t.Errorf("handMade=%v, kill before %s: staging database exists = %v", handMade, step, e.exists(e.staging))
				}
				if e.exists(hold) || e.state(hold) != "unrecorded" {
					t.Errorf("handMade=%v, kill before %s: holding database left behind", handMade, step)
				}
				// The new DB was intact until the sweep discarded it as a
				// failed run's copy.
				if e.exists(db.Name) || e.state(db.Name) != myStateDiscarded {
					t.Errorf("handMade=%v, kill before %s: new DB exists %v, state %s; want swept", handMade, step, e.exists(db.Name), e.state(db.Name))
				}
				continue
			}
			if got := e.snapshot(e.staging); !slices.Equal(mySchemaless(got, e.staging), mySchemaless(newDB, db.Name)) {
				t.Errorf("handMade=%v, kill before %s: staging is not the new DB:\n got %q\nwant %q", handMade, step, got, newDB)
			}
			if e.exists(db.Name) || e.state(db.Name) != myStateLive {
				t.Errorf("handMade=%v, kill before %s: new DB exists %v, state %s; want gone and live", handMade, step, e.exists(db.Name), e.state(db.Name))
			}
			if handMade {
				if got := e.snapshot(hold); !slices.Equal(mySchemaless(got, hold), mySchemaless(oldStaging, e.staging)) {
					t.Errorf("handMade=%v, kill before %s: the holding DB is not the old staging DB:\n got %q\nwant %q", handMade, step, got, oldStaging)
				}
				if e.state(hold) != myStatePrevious {
					t.Errorf("handMade=%v, kill before %s: holding DB state %s", handMade, step, e.state(hold))
				}
			}
		}
	}
}

// TestMySQLSweepGoesBackWhenForwardFails: a swap killed after its RENAME
// TABLE whose new objects then can't be created in staging (an injected
// failure) is rolled back instead, so staging serves exactly the old
// database rather than tables without their views.
func TestMySQLSweepGoesBackWhenForwardFails(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	db := e.handMade()
	oldStaging := e.snapshot(e.staging)
	e.s.failAt = localtest.FailAt("create-previous-objects", local.ErrTestKilled)
	if _, err := e.p.Switch(ctx, db); !errors.Is(err, local.ErrTestKilled) {
		t.Fatalf("switch returned %v", err)
	}
	p := e.provider()
	my(p).failAt = localtest.FailAt("create-new-objects", errors.New("injected failure"))
	if _, err := p.Sweep(ctx); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if got := e.snapshot(e.staging); !slices.Equal(got, oldStaging) {
		t.Errorf("staging is not the old DB:\n got %q\nwant %q", got, oldStaging)
	}
	if n := e.count("SELECT COUNT(*) FROM " + e.s.intentTable()); n != 0 {
		t.Errorf("%d intent records left", n)
	}
	if hold := local.DBName(e.target, "previous_r1"); e.exists(hold) || e.state(hold) != "unrecorded" {
		t.Errorf("holding database left behind")
	}
	if e.exists(db.Name) || e.state(db.Name) != myStateDiscarded {
		t.Errorf("new DB exists %v, state %s; want swept", e.exists(db.Name), e.state(db.Name))
	}
}

// TestSweepRefusesAnIntentForADBNotOurs: an intent record naming a
// database no run of this target created (here: another target's) is
// refused by the one ownership check before anything is touched.
func TestSweepRefusesAnIntentForADBNotOurs(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	db := e.handMade()
	e.s.failAt = localtest.FailAt("drop-new-objects", local.ErrTestKilled)
	if _, err := e.p.Switch(ctx, db); !errors.Is(err, local.ErrTestKilled) {
		t.Fatalf("switch returned %v", err)
	}
	e.exec("UPDATE " + e.s.ctl + " SET target = 'someone_else' WHERE name = '" + db.Name + "'")
	before := e.snapshot(db.Name)
	if _, err := e.provider().Sweep(ctx); !errors.Is(err, refresh.ErrNotOurs) {
		t.Fatalf("sweep: %v, want ErrNotOurs", err)
	}
	if got := e.snapshot(db.Name); !slices.Equal(got, before) {
		t.Errorf("the database not ours changed")
	}
	if n := e.count("SELECT COUNT(*) FROM " + e.s.intentTable()); n != 1 {
		t.Errorf("%d intent records, want the refused one kept", n)
	}
}
