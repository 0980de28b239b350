package refresh_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// fakeProvider is an in-memory provider: it keeps the lifecycle of the
// databases it hands out (creating → ready → live → previous → retired |
// discarded) and the lock in memory, and injects failures per method.
// The databases themselves are real PostgreSQL test databases, since the
// mask and verify steps run a real engine on them.
type fakeProvider struct {
	t *testing.T

	mu     sync.Mutex
	locked bool
	// state of every DB by name; live is the one behind the staging name.
	state map[string]string
	live  string
	dbs   map[string]*refresh.DB
	calls []string
	// fail makes the named method return an error.
	fail map[string]error
	// discardCtxErr is the context error Discard saw (cleanup must run
	// from a context that is not cancelled).
	discardCtxErr []error
	// released counts release calls.
	released int
	// history is the fake's History store (history_test.go), newest first.
	history []refresh.RunRecord
	// skipped is what Skipped reports (leftovers still being created).
	skipped []string
}

// ScaleDown implements refresh.Scaler: nothing to scale, a recorded call.
func (p *fakeProvider) ScaleDown(ctx context.Context, db *refresh.DB) error {
	return p.call("ScaleDown")
}

// Skipped implements refresh.SkipReporter.
func (p *fakeProvider) Skipped() []string { return p.skipped }

func newFakeProvider(t *testing.T) *fakeProvider {
	return &fakeProvider{t: t, state: map[string]string{}, dbs: map[string]*refresh.DB{}, fail: map[string]error{}}
}

var _ refresh.Provider = (*fakeProvider)(nil)

func (p *fakeProvider) call(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, name)
	return p.fail[name]
}

func (p *fakeProvider) Lock(ctx context.Context, runID string) (func(), error) {
	if err := p.call("Lock"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.locked {
		return nil, refresh.ErrLocked
	}
	p.locked = true
	once := sync.Once{}
	return func() {
		once.Do(func() {
			p.mu.Lock()
			p.locked = false
			p.released++
			p.mu.Unlock()
		})
	}, nil
}

func (p *fakeProvider) Sweep(ctx context.Context) ([]string, error) {
	if err := p.call("Sweep"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var swept []string
	for name, st := range p.state {
		if st == "creating" || st == "ready" || st == "previous" {
			p.state[name] = "discarded"
			swept = append(swept, name)
		}
	}
	return swept, nil
}

func (p *fakeProvider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	if err := p.call("Restore"); err != nil {
		return nil, err
	}
	dsn, name := testdb.Postgres(p.t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for _, s := range []string{
		"CREATE TABLE customer (id int PRIMARY KEY, name text, email text UNIQUE, note text)",
		"INSERT INTO customer SELECT i, 'Person ' || i, 'person' || i || '@mail.example.com', CASE WHEN i % 3 = 0 THEN NULL ELSE 'vip' END FROM generate_series(1, 50) i",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("fake restore: %w", err)
		}
	}
	d := &refresh.DB{Name: name, RunID: runID, Engine: "postgres", Endpoint: "fake/" + name, AdminDSN: dsn}
	p.mu.Lock()
	p.state[name] = "creating"
	p.dbs[name] = d
	p.mu.Unlock()
	return d, p.failAfter("Restore.after")
}

// failAfter lets a test fail a method after it created something.
func (p *fakeProvider) failAfter(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fail[name]
}

func (p *fakeProvider) Credentials(ctx context.Context, db *refresh.DB) (string, error) {
	return "no-op: fake", p.call("Credentials")
}

func (p *fakeProvider) Ready(ctx context.Context, db *refresh.DB) error {
	if err := p.call("Ready"); err != nil {
		return err
	}
	p.mu.Lock()
	p.state[db.Name] = "ready"
	p.mu.Unlock()
	return nil
}

func (p *fakeProvider) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	return 0, p.call("Preserve")
}

func (p *fakeProvider) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	return p.call("Users")
}

func (p *fakeProvider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	if err := p.call("Switch"); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.dbs[p.live]
	if prev != nil {
		p.state[prev.Name] = "previous"
	}
	p.live = db.Name
	p.state[db.Name] = "live"
	return prev, nil
}

func (p *fakeProvider) Retire(ctx context.Context, prev *refresh.DB) error {
	if err := p.call("Retire"); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state[prev.Name] != "previous" {
		return refresh.ErrNotOurs
	}
	p.state[prev.Name] = "retired"
	return nil
}

func (p *fakeProvider) Discard(ctx context.Context, db *refresh.DB) error {
	p.mu.Lock()
	p.discardCtxErr = append(p.discardCtxErr, ctx.Err())
	p.mu.Unlock()
	if err := p.call("Discard"); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state[db.Name] == "live" {
		p.t.Errorf("Discard of the live DB %s", db.Name)
		return errors.New("refusing to discard the live DB")
	}
	p.state[db.Name] = "discarded"
	return nil
}

func (p *fakeProvider) Close() error { return nil }

func (p *fakeProvider) called(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.calls, name)
}

// inState lists the DBs in a state.
func (p *fakeProvider) inState(st string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n, s := range p.state {
		if s == st {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
