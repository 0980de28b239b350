package local

import (
	"context"
	"errors"
	"slices"
	"testing"

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
			e.s.failAt = func(s string) error {
				if s == step {
					return errTestKilled
				}
				return nil
			}
			if _, err := e.p.Switch(ctx, db); !errors.Is(err, errTestKilled) {
				t.Fatalf("handMade=%v, kill before %s: switch returned %v", handMade, step, err)
			}
			// A new process.
			p := e.provider()
			if _, err := p.Sweep(ctx); err != nil {
				t.Fatalf("handMade=%v, kill before %s: sweep: %v", handMade, step, err)
			}
			hold := DBName(e.target, "previous_r1")
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
		f.s.testHook = func(s string) error {
			if s == step {
				return errTestKilled
			}
			return nil
		}
		if _, err := f.p.Switch(ctx, db); !errors.Is(err, errTestKilled) {
			t.Fatalf("kill at %s: switch returned %v", step, err)
		}
		if step != "intent" && allow() == want {
			t.Fatalf("kill at %s: connections are allowed before the sweep: the test proves nothing", step)
		}
		p := f.provider(t)
		// Sweep also drops the ready new DB; keep it for the next round.
		if _, err := p.finishSwap(ctx); err != nil {
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

// TestMySQLSweepGoesBackWhenForwardFails: a swap killed after its RENAME
// TABLE whose new objects then can't be created in staging (an injected
// failure) is rolled back instead, so staging serves exactly the old
// database rather than tables without their views.
func TestMySQLSweepGoesBackWhenForwardFails(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	e.smallSchema(e.src, "new")
	e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
	e.smallSchema(e.staging, "old")
	db := e.restore("r1")
	oldStaging := e.snapshot(e.staging)
	e.s.failAt = func(s string) error {
		if s == "create-previous-objects" {
			return errTestKilled
		}
		return nil
	}
	if _, err := e.p.Switch(ctx, db); !errors.Is(err, errTestKilled) {
		t.Fatalf("switch returned %v", err)
	}
	p := e.provider()
	my(p).failAt = func(s string) error {
		if s == "create-new-objects" {
			return errors.New("injected failure")
		}
		return nil
	}
	if _, err := p.Sweep(ctx); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if got := e.snapshot(e.staging); !slices.Equal(got, oldStaging) {
		t.Errorf("staging is not the old DB:\n got %q\nwant %q", got, oldStaging)
	}
	if n := e.count("SELECT COUNT(*) FROM " + e.s.intentTable()); n != 0 {
		t.Errorf("%d intent records left", n)
	}
	if hold := DBName(e.target, "previous_r1"); e.exists(hold) || e.state(hold) != "unrecorded" {
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
	t.Run("mysql", func(t *testing.T) {
		t.Parallel()
		e := newMyEnv(t, false)
		ctx := context.Background()
		e.smallSchema(e.src, "new")
		e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
		e.smallSchema(e.staging, "old")
		db := e.restore("r1")
		e.s.failAt = func(s string) error {
			if s == "drop-new-objects" {
				return errTestKilled
			}
			return nil
		}
		if _, err := e.p.Switch(ctx, db); !errors.Is(err, errTestKilled) {
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
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f := pgSetup(t, true, nil)
		ctx := context.Background()
		pgExec(t, f.staging, "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('old')")
		db := f.restore(t, "r1", "new")
		f.s.testHook = func(s string) error {
			if s == "blocked" {
				return errTestKilled
			}
			return nil
		}
		if _, err := f.p.Switch(ctx, db); !errors.Is(err, errTestKilled) {
			t.Fatalf("switch returned %v", err)
		}
		pgExec(t, f.ctl, "UPDATE "+pgControlTable+" SET target = 'someone_else' WHERE name = "+pgLiteral(db.Name))
		if _, err := f.provider(t).finishSwap(ctx); !errors.Is(err, refresh.ErrNotOurs) {
			t.Fatalf("finish: %v, want ErrNotOurs", err)
		}
		if got := pgString(t, "postgres", "SELECT datallowconn::text FROM pg_database WHERE datname = $1", db.Name); got != "false" {
			t.Errorf("the database not ours was touched: datallowconn %s", got)
		}
	})
}
