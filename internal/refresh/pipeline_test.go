package refresh_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/transform"
)

const rulesYAML = `version: 1
tables:
  customer:
    columns:
      name: {transformer: full_name, seed: [id]}
      email: {transformer: email, seed: [id]}
`

// notices records what the pipeline tells its Notifier.
type notices struct {
	mu   sync.Mutex
	list []refresh.Notice
}

func (n *notices) Notify(_ context.Context, no refresh.Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, no)
}

func (n *notices) all() []refresh.Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]refresh.Notice(nil), n.list...)
}

func runWith(t *testing.T, ctx context.Context, p *fakeProvider, hook func(ctx context.Context, step string) error) (*refresh.Report, *notices, error) {
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
	rep, err := refresh.Run(ctx, refresh.Config{Target: "unit", Rules: rules, RulesText: []byte(rulesYAML), Key: key, Workers: 2, BatchSize: 100,
		Users:    []refresh.StagingUser{{Name: "app", Password: "pw", Privileges: "read"}},
		Preserve: []refresh.PreserveSpec{{Table: "customer"}}},
		refresh.Deps{
			Provider:   p,
			OpenEngine: func(ctx context.Context, dsn string) (mask.Engine, error) { return postgres.Open(ctx, dsn) },
			Notifier:   n,
			Hook:       hook,
		})
	return rep, n, err
}

func TestRunRefreshesThroughTheProvider(t *testing.T) {
	p := newFakeProvider(t)
	if _, _, err := runWith(t, context.Background(), p, nil); err != nil {
		t.Fatalf("first run: %v", err)
	}
	first := p.inState("live")
	rep, n, err := runWith(t, context.Background(), p, nil)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := p.inState("retired"); len(got) != 1 || got[0] != first[0] {
		t.Errorf("retired %v, want the first run's DB %v", got, first)
	}
	if rep.Previous == nil || rep.Previous.Name != first[0] || p.live != rep.New.Name {
		t.Errorf("report previous %+v new %+v, live %s", rep.Previous, rep.New, p.live)
	}
	var steps []string
	for _, s := range rep.Steps {
		steps = append(steps, s.Step)
	}
	if got, want := strings.Join(steps, ","), "prepare,restore,credentials,ready,mask,verify,users,swap,retire"; got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if rep.Mask == nil || rep.Mask.Rows != 50 || !rep.Verify.OK() {
		t.Errorf("mask rows %v, verify ok %v", rep.Mask, rep.Verify.OK())
	}
	if p.released != 2 {
		t.Errorf("lock released %d times over two runs, want 2", p.released)
	}
	if ns := n.all(); len(ns) != 1 || ns[0].Kind != "success" {
		t.Errorf("notices %+v, want one success", ns)
	}
	// The live DB really is masked.
	db, err := sql.Open("pgx", rep.New.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var same int
	if err := db.QueryRow("SELECT count(*) FROM customer WHERE email = 'person' || id || '@mail.example.com'").Scan(&same); err != nil || same != 0 {
		t.Errorf("%d e-mails kept their original (%v)", same, err)
	}
}

// TestRunFailsClosed fails each provider call in turn: the run exits 1,
// the DB it created is discarded, the live DB stays live, the lock is
// released, and one notice names the step.
func TestRunFailsClosed(t *testing.T) {
	cases := []struct {
		method, step string
		created      bool
	}{
		{"Sweep", refresh.StepPrepare, false},
		{"Restore", refresh.StepRestore, false},
		{"Restore.after", refresh.StepRestore, true},
		{"Credentials", refresh.StepCredentials, true},
		{"Ready", refresh.StepReady, true},
		{"Preserve", "", true},
		{"ScaleDown", refresh.StepUsers, true},
		{"Users", refresh.StepUsers, true},
		{"Switch", refresh.StepSwap, true},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			p := newFakeProvider(t)
			if _, _, err := runWith(t, context.Background(), p, nil); err != nil {
				t.Fatalf("first run: %v", err)
			}
			live := p.live
			injected := errors.New("injected " + c.method + " failure")
			p.fail[c.method] = injected
			rep, n, err := runWith(t, context.Background(), p, nil)
			if !errors.Is(err, injected) || exitcode.Of(err) != exitcode.Failed {
				t.Fatalf("err = %v (exit %d), want the injected failure, exit 1", err, exitcode.Of(err))
			}
			if p.live != live {
				t.Errorf("staging moved from %s to %s after a failed run", live, p.live)
			}
			if c.created {
				if rep.New == nil || p.state[rep.New.Name] != "discarded" {
					t.Errorf("the failed run's DB was not discarded: %+v, states %v", rep.New, p.state)
				}
			} else if p.called("Discard") {
				t.Errorf("Discard called although nothing was created")
			}
			if p.locked {
				t.Error("the lock is still held after the run")
			}
			ns := n.all()
			step := c.step
			var se *refresh.StepError
			if errors.As(err, &se) && step == "" {
				step = se.Step // Preserve runs inside a step of its provider's choosing
			}
			if len(ns) != 1 || ns[0].Kind != "failure" || ns[0].Step != step || ns[0].ExitCode != exitcode.Failed {
				t.Errorf("notices %+v, want one failure at step %s", ns, step)
			}
		})
	}
}

// TestRunCleansUpAfterCancel cancels the run's context in the middle of a
// step: the run exits 3 and Discard runs from a context that is not
// cancelled.
func TestRunCleansUpAfterCancel(t *testing.T) {
	p := newFakeProvider(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, n, err := runWith(t, ctx, p, func(ctx context.Context, step string) error {
		if step == refresh.StepVerify {
			cancel()
			return ctx.Err()
		}
		return nil
	})
	if exitcode.Of(err) != exitcode.Cancelled {
		t.Fatalf("err = %v (exit %d), want exit 3", err, exitcode.Of(err))
	}
	if rep.New == nil || p.state[rep.New.Name] != "discarded" {
		t.Fatalf("the cancelled run's DB was not discarded: %v", p.state)
	}
	for _, e := range p.discardCtxErr {
		if e != nil {
			t.Errorf("Discard ran from a done context: %v", e)
		}
	}
	if p.live != "" || p.locked {
		t.Errorf("live %q locked %v after a cancelled first run", p.live, p.locked)
	}
	if ns := n.all(); len(ns) != 1 || ns[0].ExitCode != exitcode.Cancelled {
		t.Errorf("notices %+v, want one with exit 3", ns)
	}
}

// TestRunRetireFailureIsAWarning: the swap happened, so the run succeeds
// (exit 0) with a warning; the next run's sweep finishes the retire.
func TestRunRetireFailureIsAWarning(t *testing.T) {
	p := newFakeProvider(t)
	if _, _, err := runWith(t, context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	p.fail["Retire"] = errors.New("injected retire failure")
	rep, n, err := runWith(t, context.Background(), p, nil)
	if err != nil || len(rep.Warnings) != 1 {
		t.Fatalf("err %v, warnings %v; want exit 0 with one warning", err, rep.Warnings)
	}
	if ns := n.all(); len(ns) != 2 || ns[0].Kind != "warning" || ns[0].Step != refresh.StepRetire {
		t.Errorf("notices %+v, want a retire warning (then the success)", ns)
	}
	left := p.inState("previous")
	if len(left) != 1 {
		t.Fatalf("previous DBs %v, want the one whose retire failed", left)
	}
	delete(p.fail, "Retire")
	rep, _, err = runWith(t, context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rep.Swept, ","), left[0]) {
		t.Errorf("the next run swept %v, want %s among them", rep.Swept, left[0])
	}
}

// TestRunRefusedWhileLocked: another live run holds the lock; nothing is
// created and nothing is released that this run did not take.
func TestRunRefusedWhileLocked(t *testing.T) {
	p := newFakeProvider(t)
	p.locked = true
	_, n, err := runWith(t, context.Background(), p, nil)
	if !errors.Is(err, refresh.ErrLocked) || exitcode.Of(err) != exitcode.Failed {
		t.Fatalf("err = %v (exit %d), want ErrLocked, exit 1", err, exitcode.Of(err))
	}
	if p.called("Restore") || p.called("Sweep") || p.called("Discard") {
		t.Errorf("a refused run went on: calls %v", p.calls)
	}
	if !p.locked || p.released != 0 {
		t.Errorf("the other run's lock was released")
	}
	if ns := n.all(); len(ns) != 1 || ns[0].Step != refresh.StepPrepare {
		t.Errorf("notices %+v, want one at prepare", ns)
	}
}

// TestRunReportsSkippedLeftovers: a leftover the sweep could not delete yet
// (still being created) is a warning in the report and on Slack; the run
// goes on.
func TestRunReportsSkippedLeftovers(t *testing.T) {
	p := newFakeProvider(t)
	p.skipped = []string{"restage-unit-202611250300"}
	rep, n, err := runWith(t, context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "restage-unit-202611250300") {
		t.Errorf("warnings %q, want the skipped leftover named", rep.Warnings)
	}
	ns := n.all()
	if len(ns) != 2 || ns[0].Kind != "warning" || ns[0].Step != refresh.StepPrepare || !strings.Contains(ns[0].Detail, "restage-unit-202611250300") {
		t.Errorf("notices %+v, want a prepare warning naming the leftover, then the success", ns)
	}
}

// TestRunScalesDownBeforeUsers: the copy is scaled down after verification
// and before users and the switch.
func TestRunScalesDownBeforeUsers(t *testing.T) {
	p := newFakeProvider(t)
	if _, _, err := runWith(t, context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for i, c := range p.calls {
		if _, seen := at[c]; !seen {
			at[c] = i
		}
	}
	s, ok := at["ScaleDown"]
	if !ok || s < at["Ready"] || s > at["Users"] || s > at["Switch"] {
		t.Errorf("calls %v: want ScaleDown after Ready and verification, before Users and Switch", p.calls)
	}
}
