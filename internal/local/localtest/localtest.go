// Package localtest holds what the local provider's tests share across
// engines: the run history's contract, the Sakila masking pass, the
// comparison of a masking copy with masking in place.
package localtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/transform"
)

// HistoryContract records more runs than are kept through one provider
// and reads them back through a fresh one (the history survives the
// process): the newest refresh.HistoryKeep, newest first, intact.
func HistoryContract(t *testing.T, p refresh.History, reopen func() refresh.History) {
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

// SakilaMasking is the mask + verify pass of an examples/rules file for
// Sakila.
func SakilaMasking(t *testing.T, rulesFile string) *refresh.Masking {
	t.Helper()
	path := filepath.Join(repoRoot(t), "examples", "rules", rulesFile)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseRules(path, text)
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return &refresh.Masking{Rules: rules, RulesText: text, Key: key, Workers: 2, BatchSize: 500}
}

// JSONString is v as JSON, for a test's message.
func JSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// MaskedInPlaceEqual masks the plain copy (eng) in place with m and
// compares every masked table with the masking copy's: sum is a table's
// checksum in a database.
func MaskedInPlaceEqual(t *testing.T, m *refresh.Masking, eng mask.Engine, masked map[string][]string, sum func(db, table string) string, plain, streamed string) {
	t.Helper()
	ctx := context.Background()
	if err := m.Check(ctx, eng); err != nil {
		t.Fatal(err)
	}
	if err := m.Mask(ctx, eng); err != nil {
		t.Fatal(err)
	}
	for tb := range masked {
		if a, b := sum(plain, tb), sum(streamed, tb); a != b {
			t.Errorf("%s: masked in place and masked while copying differ", tb)
		}
	}
}

// AcceptShared: the test servers' superusers can read every database, as
// on any shared server; the suite is about the lifecycle, not logins.
func AcceptShared(c *local.Config) { c.AcceptSharedLogins = true }

// repoRoot is the directory holding go.mod, above the test's own.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// World is what the shared local-provider tests ask of an engine's test
// fixture: its target and control DB, and its server, looked at from
// outside the provider.
type World struct {
	Target    string
	ControlDB string
	// Exists reports whether a database exists on the staging server.
	Exists func(name string) bool
	// Recorded is a database's control record state, "" when unrecorded.
	Recorded func(name string) string
	// SourceSum is a checksum of one table of the source (name without
	// schema).
	SourceSum func(table string) string
}

// RefusedBeforeAnything: p's configuration puts the production source
// behind a name restage writes (reached under another host name); Lock
// refuses with ErrBadInput naming the production source, and nothing —
// not even the control DB — is created, the source's table unchanged.
func RefusedBeforeAnything(t *testing.T, p refresh.Provider, w World, table string) {
	t.Helper()
	before := w.SourceSum(table)
	rel, err := p.Lock(context.Background(), "r1")
	if err == nil {
		rel()
		t.Fatal("Lock succeeded with the source behind the staging configuration")
	}
	if !errors.Is(err, refresh.ErrBadInput) || !strings.Contains(err.Error(), "production source") {
		t.Errorf("Lock: %v; want ErrBadInput naming the production source", err)
	}
	if w.Exists(w.ControlDB) {
		t.Error("the control DB was created by a refused run")
	}
	if w.SourceSum(table) != before {
		t.Error("the source changed")
	}
}

// SourceDownLeavesIdentityToRestore: with production down, the lock and
// the sweep still work (`restage sweep` must finish a half-done swap), and
// Restore, which needs the source, fails before it records or creates
// anything.
func SourceDownLeavesIdentityToRestore(t *testing.T, p refresh.Provider, w World) {
	t.Helper()
	ctx := context.Background()
	rel, err := p.Lock(ctx, "r1")
	if err != nil {
		t.Fatalf("Lock with the source down: %v", err)
	}
	defer rel()
	if _, err := p.Sweep(ctx); err != nil {
		t.Fatalf("Sweep with the source down: %v", err)
	}
	if _, err := p.Restore(ctx, "r1"); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("Restore with the source down: %v, want a source error", err)
	}
	name := local.DBName(w.Target, "r1")
	if s := recorded(w, name); s != "" || w.Exists(name) {
		t.Errorf("the copy is recorded %q, exists %v; want neither", s, w.Exists(name))
	}
}

// DriftRefusesFirst: the source has a personal column (mobile_tel, values
// 080-1234-…) without a rule; the masking copy refuses (exit 4) before
// anything is created, the drift report names the column, the error quotes
// no value and the source is unchanged.
func DriftRefusesFirst(t *testing.T, p refresh.StreamingRestorer, m *refresh.Masking, w World) {
	t.Helper()
	before := w.SourceSum("customer")
	db, used, err := p.RestoreMasked(context.Background(), "d1", m)
	if !used || db != nil || exitcode.Of(err) != exitcode.Refused {
		t.Fatalf("RestoreMasked: db %v, used %v, err %v (exit %d); want a refusal, exit 4, nothing created", db, used, err, exitcode.Of(err))
	}
	if m.Drift == nil || !strings.Contains(JSONString(t, m.Drift), "mobile_tel") {
		t.Errorf("the drift report does not name customer.mobile_tel")
	}
	if strings.Contains(err.Error(), "080-1234") {
		t.Errorf("the error quotes a value: %v", err)
	}
	if name := local.DBName(w.Target, "d1"); w.Exists(name) || recorded(w, name) != "" {
		t.Errorf("the refused copy created or recorded its database")
	}
	if w.SourceSum("customer") != before {
		t.Errorf("the source changed")
	}
}

// SwitchRefusesAnotherRunsDB: db is run r1's ready copy; Switch of it
// described as run r2's is ErrNotOurs, and nothing moves: no staging
// database appears, the copy stays ready.
func SwitchRefusesAnotherRunsDB(t *testing.T, p *local.Provider, db *refresh.DB, staging string, w World) {
	t.Helper()
	if _, err := p.Switch(context.Background(), p.Server().DBFor(db.Name, "r2")); !errors.Is(err, refresh.ErrNotOurs) {
		t.Fatalf("switch of another run's DB: %v, want ErrNotOurs", err)
	}
	if w.Exists(staging) || recorded(w, db.Name) != "ready" {
		t.Errorf("after the refusal: staging exists %v, %s is %q", w.Exists(staging), db.Name, recorded(w, db.Name))
	}
}

// recorded is w.Recorded, "" while there is no control DB at all.
func recorded(w World, name string) string {
	if !w.Exists(w.ControlDB) {
		return ""
	}
	return w.Recorded(name)
}

// NewProvider is the local provider over the server open (an engine's
// localserver.New) makes for cfg, as engines.NewLocal opens it: a
// localserver's own tests can't import the registry, which imports them.
func NewProvider(cfg local.Config, open func(local.Config) (local.Server, error)) (*local.Provider, error) {
	srv, err := open(cfg)
	if err != nil {
		return nil, err
	}
	return local.New(cfg, srv), nil
}

// FailAt is a switch test hook that fails the step named step with err
// (local.ErrTestKilled: as a SIGKILL there would) and lets every other
// step run.
func FailAt(step string, err error) func(string) error {
	return func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
}

// GatesPass runs what the pipeline runs on a masking copy after it is
// made — the mask step (only post-mask SQL is left to do) and
// verification — on eng, the copy, and fails the test on a refusal.
func GatesPass(t *testing.T, m *refresh.Masking, eng mask.Engine) {
	t.Helper()
	ctx := context.Background()
	if err := m.Mask(ctx, eng); err != nil {
		t.Fatalf("Mask after the masking copy: %v", err)
	}
	if err := m.VerifyMasked(ctx, eng); err != nil {
		t.Fatalf("VerifyMasked on the masking copy: %v (%s)", err, JSONString(t, m.Verify))
	}
}
