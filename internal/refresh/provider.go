// Package refresh is the refresh pipeline: prepare → restore → credentials
// → ready → mask → verify → users → swap → retire → report, fail-closed,
// and the small interfaces it consumes. Providers (local servers, AWS)
// implement Provider; the pipeline does not know which one it runs on.
package refresh

import (
	"context"
	"errors"

	"github.com/restage/restage/internal/engine"
)

// DB is one database a provider created or found behind the staging name.
type DB struct {
	// Name identifies it: a database name on local servers, a cluster or
	// instance identifier on AWS.
	Name string `json:"name"`
	// RunID is the run that created it; empty for a DB restage did not
	// create (hand-made, adopted).
	RunID string `json:"run_id,omitempty"`
	// Engine is dsn.MySQL or dsn.Postgres.
	Engine string `json:"engine"`
	// Endpoint names it in logs and reports (host:port/db); no password.
	Endpoint string `json:"endpoint"`
	// AdminDSN connects with rights to mask, grant and read. Never logged.
	AdminDSN string `json:"-"`
}

// StagingUser is a login the staging application uses.
type StagingUser struct {
	Name string
	// Password is never logged. On MySQL, an empty password means "copy
	// the account's grants from the current staging DB" (the old system's
	// way); PostgreSQL can't read passwords back, so it needs one.
	Password string
	// Privileges: "read" (SELECT) or "write" (SELECT, INSERT, UPDATE,
	// DELETE).
	Privileges string
}

// PreserveSpec names rows copied from the current staging DB into the new
// one after masking (QA accounts, feature flags): the engine admin
// contract's row spec, which every engine's CopyRows takes.
type PreserveSpec = engine.RowSpec

// ErrLocked is returned by Provider.Lock when another live run holds the
// target's lock.
var ErrLocked = errors.New("another run of this target holds the lock")

// The provider contract is split by concern, so that a provider's parts
// (a lock service, the DB lifecycle, access to a DB, the switch) read and
// test on their own; Provider is all of them. Every method must be safe to
// call from a fresh context after the run's context was cancelled
// (cleanup). internal/providertest is the conformance suite every provider
// passes.

// Locker is the target's run lock.
type Locker interface {
	// Lock takes this target's run lock and returns ErrLocked when another
	// live run holds it. The lock must die with the process (a server-side
	// session lock, or a lease that stops being renewed). release is
	// idempotent.
	Lock(ctx context.Context, runID string) (release func(), err error)
}

// Lifecycle creates and removes the copies: creating → ready → live →
// previous → retired | discarded.
type Lifecycle interface {
	// Sweep removes every DB restage created for this target that is
	// neither the live staging DB nor owned by a live run (the caller holds
	// the lock, so no other run is live), and returns their names. It also
	// finishes a retire that failed. Before anything else it must finish a
	// Switch that a killed process left half done, from the intent record
	// that Switch wrote before its first change: forward past Switch's
	// commit point, back before it, so that staging serves exactly the old
	// or exactly the new DB. `restage sweep` is Lock + Sweep alone.
	Sweep(ctx context.Context) ([]string, error)
	// Restore creates the new DB from the source's newest consistent state.
	// It records the DB (run id, state) before creating it, so that a
	// killed run leaves a leftover Sweep finds. After an error, what it
	// created is removed by Discard.
	Restore(ctx context.Context, runID string) (*DB, error)
	// Retire deletes a previous staging DB — only one restage created for
	// this target, or the one the configuration adopts; never the source.
	// It returns ErrNotOurs for anything else.
	Retire(ctx context.Context, prev *DB) error
	// Discard deletes a DB this run created (cleanup). Idempotent.
	Discard(ctx context.Context, db *DB) error
}

// Access is who can reach a copy: the master login, readiness, preserved
// rows and the staging users.
type Access interface {
	// Credentials takes over the new DB's master login. A provider with
	// nothing to do returns a note saying so.
	Credentials(ctx context.Context, db *DB) (note string, err error)
	// Ready waits until a real login and SELECT 1 succeed on db, with
	// bounded backoff (no fixed sleeps).
	Ready(ctx context.Context, db *DB) error
	// Preserve copies rows from the current staging DB into db. No current
	// staging DB, or a table missing there, copies nothing (reported).
	Preserve(ctx context.Context, db *DB, specs []PreserveSpec) (rows int64, err error)
	// Users gives each staging user access to db, keeps production's
	// logins out of it, and logs in as each user to read. It refuses
	// (ErrSharedLogin) when a production login can't be shut out and the
	// configuration does not accept that.
	Users(ctx context.Context, db *DB, users []StagingUser) error
}

// Switcher points the stable staging name at a copy.
type Switcher interface {
	// Switch makes db the DB behind the stable staging name and returns
	// the DB that was there before (nil if none). On failure, the previous
	// staging DB is serving again, untouched. Before its first change it
	// records its intent where the next Sweep finds it, and each of its
	// sub-steps is idempotent, so a killed Switch is finished by Sweep.
	Switch(ctx context.Context, db *DB) (previous *DB, err error)
}

// Provider is where the databases live: every concern above, and Close.
// A provider that creates copies bigger while masking also implements
// Scaler; the run calls it after verification, before the users step.
type Provider interface {
	Locker
	Lifecycle
	Access
	Switcher
	// Close releases the provider's connections.
	Close() error
}

// Scaler is an optional Provider capability: ScaleDown moves a copy
// created at a masking size (a bigger instance class, a higher Serverless
// v2 maximum) to its staging size and returns only once the change is
// applied. The run calls it after verification and before users, the
// security-group move and the switch; an error fails the run and the copy
// is discarded, so a big instance never serves staging. A provider with
// nothing to scale returns nil.
type Scaler interface {
	ScaleDown(ctx context.Context, db *DB) error
}

// SkipReporter is an optional Provider capability: the leftovers the last
// Sweep could not delete yet (RDS still creating them; the sweep task
// started for the killed run waits for them). The run reports them as a
// warning and goes on.
type SkipReporter interface {
	Skipped() []string
}

// StreamingRestorer is an optional Provider capability: a Restore that
// masks the rows on their way from the source into the new DB, in one pass
// instead of a copy followed by a second, in-place masking pass. Before it
// creates anything it runs m.Check on the source (the drift gate, on the
// source's schema and rows); before it copies a row it takes m's baselines
// from the snapshot it copies (m.CaptureFrom); after the copy it calls
// m.Streamed. used is false, with nothing created and a nil error, when
// it can't copy this source that way: the pipeline then calls Restore and
// masks in place.
type StreamingRestorer interface {
	RestoreMasked(ctx context.Context, runID string, m *Masking) (db *DB, used bool, err error)
}

// ErrNotOurs is returned by Retire for a DB restage must not delete.
var ErrNotOurs = errors.New("not created by restage for this target and not adopted")

// ErrSharedLogin is returned by Users when a production login can read
// every database on a shared server (superuser, global grants).
var ErrSharedLogin = errors.New("a production login can't be shut out of staging")

// ErrBadInput is returned by a provider when the configuration points at
// something restage must not touch — the production source behind another
// spelling of its server, a hand-made database behind the staging name
// that is not adopted. The run stops with exit 2 before creating anything.
var ErrBadInput = errors.New("bad input, nothing was created")
