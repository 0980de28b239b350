// Package localtest holds what the local provider's tests share across
// engines: the run history's contract, the Sakila masking pass, the
// comparison of a masking copy with masking in place.
package localtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
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
