package local

import (
	"context"
	"errors"
	"slices"
	"testing"
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
			e.p.failAt = func(s string) error {
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
			if n := e.count("SELECT COUNT(*) FROM " + p.intentTable()); n != 0 {
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
