package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/refresh"
)

// Provider is the local provider for every engine. The step order of a
// copy's life, its control records' states (internal/lifecycle), the run
// lock's place before anything changes and the one ownership rule
// (ownership.go) are written here once; what only an engine knows — its
// control store's SQL, its databases, its copy, its switch, its logins — is
// its Server (internal/mysql/localserver, internal/postgres/localserver,
// registered in internal/engines), whose steps Provider drives.
type Provider struct {
	srv         Server
	cfg         Config
	log         *slog.Logger
	preflighted onceOK
}

var _ refresh.Provider = (*Provider)(nil)
var _ refresh.StreamingRestorer = (*Provider)(nil)
var _ refresh.History = (*Provider)(nil)
var _ refresh.RowEstimator = (*Provider)(nil)

// Server is one engine's side of the local provider, implemented in the
// engine's home (internal/<engine>/localserver) and opened by its Kind.Local
// in internal/engines. It is made of small contracts by concern; Provider
// drives them in one step order for every engine. Every error is scrubbed
// by the engine and names no password.
type Server interface {
	Guard
	ControlStore
	Databases
	Copier
	Switcher
	// Users, Preserve and the run history (Record, Recent, RowEstimates)
	// are the engine's whole steps: refresh.Provider's, as they are.
	Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error
	Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error)
	Record(ctx context.Context, rec refresh.RunRecord) error
	Recent(ctx context.Context, n int) ([]refresh.RunRecord, error)
	RowEstimates(ctx context.Context) (map[string]int64, error)
	// Close ends the server's sessions (and so its locks).
	Close() error
}

// Guard is what stands before any change: identity, adoption, the lock.
type Guard interface {
	// CheckIdentity asks the servers whether source and staging are one
	// (host names can't tell) and refuses the source behind any name
	// restage writes (refresh.ErrBadInput). Once the servers were
	// compared it does nothing. A source it can't reach is
	// ErrSourceUnreachable.
	CheckIdentity(ctx context.Context) error
	// CheckStaging refuses (refresh.ErrBadInput) a hand-made database
	// behind the staging name that is not adopted.
	CheckStaging(ctx context.Context) error
	// TryLock takes the target's run lock on a session of its own (the
	// server frees it when the session ends); a lock held elsewhere is an
	// error wrapping refresh.ErrLocked that names the holder.
	TryLock(ctx context.Context, runID string) (release func(), err error)
}

// ControlStore is restage's records on the staging server (MySQL: a
// table in the control schema; PostgreSQL: a control database), in the
// states of internal/lifecycle.
type ControlStore interface {
	EnsureControl(ctx context.Context) error
	Lookup(ctx context.Context, name string) (ControlRecord, bool, error)
	// Insert records a new database; one recorded already is an error.
	Insert(ctx context.Context, r ControlRecord) error
	SetState(ctx context.Context, name, state string) error
	// List lists this target's records in states, most recently updated
	// first.
	List(ctx context.Context, states ...string) ([]ControlRecord, error)
	// RecoverMarkers records the databases a lost control DB forgot, from
	// the markers on them (marker.go).
	RecoverMarkers(ctx context.Context) error
}

// Databases are the databases on the staging server.
type Databases interface {
	// DBFor describes database name on the staging server.
	DBFor(name, runID string) *refresh.DB
	// Protected says why restage must never drop or create database
	// name (the source, the staging name, the control DB, a system
	// database), or "".
	Protected(name string) string
	// DBState reports whether database name exists and its identity where
	// the engine has one (PostgreSQL's OID; 0 on MySQL).
	DBState(ctx context.Context, name string) (exists bool, oid int64, err error)
	// Create creates database name for runID like the source (character
	// set, encoding), marked as the run's copy, its identity recorded,
	// open to the admin only.
	Create(ctx context.Context, name, runID string) error
	// Drop drops database name, ending its sessions, and forgets what the
	// server keeps about it (MySQL: its grants).
	Drop(ctx context.Context, name string) error
	// Ping logs in to db as the admin and runs one query.
	Ping(ctx context.Context, db *refresh.DB) error
}

// Copier fills a new database from the source.
type Copier interface {
	// Copy fills database name with a plain copy of the source, from one
	// consistent snapshot that blocks none of production's writes.
	Copy(ctx context.Context, name string) error
	// StreamRestore is refresh.StreamingRestorer's RestoreMasked: it runs
	// the drift gate on the source and, when the engine can stream it,
	// calls restore with the masking copy; handled is false when it
	// can't (the pipeline then copies plainly and masks in place).
	StreamRestore(ctx context.Context, runID string, m *refresh.Masking, restore RestoreFunc) (db *refresh.DB, handled bool, err error)
}

// Switcher is the engine's atomic move behind the staging name, with the
// intent-record discipline of intent.go.
type Switcher interface {
	// Switch puts db behind the staging name and returns the previous
	// staging DB (nil on the first run). A failure leaves the old staging
	// DB serving; a kill leaves the intent record for FinishSwap.
	Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error)
	// FinishSwap finishes a swap a killed run left half done, from its
	// intent record, after checking the record names a database of this
	// target: "" when none was pending, else "forward" or "back".
	FinishSwap(ctx context.Context) (string, error)
}

// RestoreFunc is provider.restore: record, create and fill a new DB.
type RestoreFunc func(ctx context.Context, runID string, fill func(ctx context.Context, name string) error) (*refresh.DB, error)

// ControlRecord is one control record: a database restage created (or moved out
// of the staging name) and where it is in its life.
type ControlRecord struct {
	Name   string
	Target string
	RunID  string // "" when no run created it (a hand-made DB's data)
	State  string // a lifecycle.State
	Origin string // the hand-made database whose data it holds, if any
	OID    int64  // the database's identity where the engine has one; 0: none or not known
}

func (r ControlRecord) Claim() Claim {
	return Claim{Name: r.Name, Recorded: true, Target: r.Target, RunID: r.RunID, Origin: r.Origin}
}

// New returns the local provider over srv, the server of the engine
// cfg's DSNs name (internal/engines.NewLocal validates cfg and opens both).
func New(cfg Config, srv Server) *Provider {
	if cfg.ControlDB == "" {
		cfg.ControlDB = DefaultControlDB
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Provider{srv: srv, cfg: cfg, log: cfg.Log}
}

// ErrSourceUnreachable marks a failed connection to the source in a
// server's identity check: preflight goes on, and Restore checks again
// before it creates anything.
var ErrSourceUnreachable = errors.New("source unreachable")

// Server is the engine's server under p, for tests and tools that drive
// its primitives themselves; the pipeline goes through p's steps.
func (p *Provider) Server() Server { return p.srv }

// Users, Preserve, the run history and Close are the engine's own steps.

func (p *Provider) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	return p.srv.Users(ctx, db, users)
}

func (p *Provider) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	return p.srv.Preserve(ctx, db, specs)
}

func (p *Provider) Record(ctx context.Context, rec refresh.RunRecord) error {
	return p.srv.Record(ctx, rec)
}

func (p *Provider) Recent(ctx context.Context, n int) ([]refresh.RunRecord, error) {
	return p.srv.Recent(ctx, n)
}

func (p *Provider) RowEstimates(ctx context.Context) (map[string]int64, error) {
	return p.srv.RowEstimates(ctx)
}

// Close ends the server's sessions (and so the run locks they hold).
func (p *Provider) Close() error { return p.srv.Close() }

func (p *Provider) owner() Owner { return Owner{Target: p.cfg.Target, Adopt: p.cfg.Adopt} }

// mayDrop reports whether restage may drop the recorded database: never a
// protected one, else the one ownership rule.
func (p *Provider) mayDrop(r ControlRecord) bool {
	return p.srv.Protected(r.Name) == "" && p.owner().Check(r.Claim()) == nil
}

// ---- lock, ready, credentials ----

// Lock runs the preflight (once) and takes the target's run lock.
func (p *Provider) Lock(ctx context.Context, runID string) (func(), error) {
	if err := p.preflighted.do(ctx, p.preflight); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", p.cfg.Target, err)
	}
	release, err := p.srv.TryLock(ctx, runID)
	if err != nil {
		return nil, err
	}
	p.log.Info("lock taken", "step", "lock", "target", p.cfg.Target, "run", runID)
	return release, nil
}

// preflight runs once before the first lock, before anything is created:
// identity by server, then the staging DB's ownership. A source it can't
// reach does not stop it — `restage sweep` must be able to finish a swap
// while production is down — and Restore, which needs the source anyway,
// runs the identity check before it records anything.
func (p *Provider) preflight(ctx context.Context) error {
	if err := p.srv.CheckIdentity(ctx); errors.Is(err, ErrSourceUnreachable) {
		p.log.Warn("source unreachable: the same-server check runs again before restore", "step", "prepare", "target", p.cfg.Target, "error", err.Error())
	} else if err != nil {
		return err
	}
	return p.srv.CheckStaging(ctx)
}

// Ready logs in to db as the admin and runs one query, retrying with
// exponential backoff (100 ms doubling to 5 s) for at most two minutes.
func (p *Provider) Ready(ctx context.Context, db *refresh.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		err := p.srv.Ping(actx, db)
		acancel()
		if err == nil {
			return nil
		}
		p.log.Info("not ready yet", "step", "ready", "target", p.cfg.Target, "db", db.Name, "attempt", attempt, "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ready %s: gave up after %d attempts: %w (last error: %v)", db.Endpoint, attempt, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Credentials has nothing to do: local servers keep their logins.
func (p *Provider) Credentials(context.Context, *refresh.DB) (string, error) {
	return "no-op: local servers keep their logins", nil
}

// ---- switch ----

// Switch puts db behind the staging name with the engine's move, once the
// control records say db is this run's ready copy of this target (the one
// ownership rule): a DB restage did not create for this run is never
// swapped in, whatever its name.
func (p *Provider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	if db == nil {
		return nil, errors.New("switch: no database")
	}
	if err := p.srv.EnsureControl(ctx); err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	r, ok, err := p.srv.Lookup(ctx, db.Name)
	if err != nil {
		return nil, fmt.Errorf("switch %s: %w", db.Name, err)
	}
	if !ok || r.Target != p.cfg.Target || r.RunID == "" || r.RunID != db.RunID {
		return nil, fmt.Errorf("switch %s: not recorded as created by this run for target %s: %w", db.Name, p.cfg.Target, refresh.ErrNotOurs)
	}
	if err := p.owner().Check(r.Claim()); err != nil {
		return nil, fmt.Errorf("switch: %w", err)
	}
	if r.State != string(lifecycle.Ready) {
		return nil, fmt.Errorf("switch %s: it is %s, not ready", db.Name, r.State)
	}
	return p.srv.Switch(ctx, db)
}

// ---- restore ----

var runIDRE = regexp.MustCompile(`^[a-z0-9_]+$`)

// Restore records restage_<target>_<run> as "creating", creates it like
// the source and fills it with the engine's plain copy (a consistent
// snapshot of the source that blocks none of production's writes), then
// records it "ready". On error the returned DB (non-nil once recorded) is
// what the caller passes to Discard.
func (p *Provider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	return p.restore(ctx, runID, p.srv.Copy)
}

// RestoreMasked is Restore with the engine's masking copy, when the engine
// can stream the source (refresh.StreamingRestorer).
func (p *Provider) RestoreMasked(ctx context.Context, runID string, m *refresh.Masking) (*refresh.DB, bool, error) {
	return p.srv.StreamRestore(ctx, runID, m, p.restore)
}

// restore creates and records the new DB and fills it with fill.
func (p *Provider) restore(ctx context.Context, runID string, fill func(ctx context.Context, name string) error) (*refresh.DB, error) {
	name := DBName(p.cfg.Target, runID)
	if !runIDRE.MatchString(runID) {
		return nil, fmt.Errorf("restore %s: run id %q: want lower-case letters, digits or underscores", p.cfg.Target, runID)
	}
	if err := p.srv.CheckIdentity(ctx); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	if why := p.srv.Protected(name); why != "" {
		return nil, fmt.Errorf("restore into %s: %s", name, why)
	}
	if err := p.srv.EnsureControl(ctx); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	exists, _, err := p.srv.DBState(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	if exists {
		return nil, fmt.Errorf("restore %s: a database by that name exists already; restage did not create it in this run and leaves it alone", name)
	}
	if err := p.srv.Insert(ctx, ControlRecord{Name: name, Target: p.cfg.Target, RunID: runID, State: string(lifecycle.Creating)}); err != nil {
		return nil, fmt.Errorf("restore %s: %w", name, err)
	}
	db := p.srv.DBFor(name, runID)
	if err := p.srv.Create(ctx, name, runID); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	log := p.log.With("step", "restore", "target", p.cfg.Target, "db", name)
	log.Info("created database; copying the source")
	start := time.Now()
	if err := fill(ctx, name); err != nil {
		return db, fmt.Errorf("restore %s: %w", name, err)
	}
	if err := p.srv.SetState(ctx, name, string(lifecycle.Ready)); err != nil {
		return db, fmt.Errorf("restore %s: mark ready: %w", name, err)
	}
	log.Info("restored", "duration", time.Since(start).Round(time.Millisecond).String())
	return db, nil
}

// ---- sweep, retire, discard ----

// Sweep first finishes a swap a killed run left half done (from its intent
// record) and recovers records a lost control DB forgot (from markers),
// then drops this target's leftovers: DBs of runs that never switched
// (creating, ready) and previous DBs beyond KeepLast. Live DBs, unrecorded
// DBs and hand-made data that is not adopted stay.
func (p *Provider) Sweep(ctx context.Context) ([]string, error) {
	if err := p.srv.EnsureControl(ctx); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	// Nothing else is safe to remove while staging is half swapped.
	if _, err := p.srv.FinishSwap(ctx); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	if err := p.srv.RecoverMarkers(ctx); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	recs, err := p.srv.List(ctx, string(lifecycle.Creating), string(lifecycle.Ready), string(lifecycle.Previous))
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	var dropped []string
	var errs []error
	kept := 0
	for _, r := range recs {
		if !p.mayDrop(r) {
			continue
		}
		state := lifecycle.Discarded
		if r.State == string(lifecycle.Previous) {
			if kept < p.cfg.KeepLast {
				kept++
				continue
			}
			state = lifecycle.Retired
		}
		existed, err := p.drop(ctx, r, state)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if existed {
			dropped = append(dropped, r.Name)
			p.log.Info("swept", "step", "sweep", "target", p.cfg.Target, "db", r.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return dropped, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	return dropped, nil
}

// Retire drops a previous staging DB restage created for this target (or
// the hand-made one the configuration adopts), or with KeepLast N the
// previous DBs beyond the N most recent. Anything else is ErrNotOurs.
func (p *Provider) Retire(ctx context.Context, prev *refresh.DB) error {
	if prev == nil {
		return nil
	}
	if why := p.srv.Protected(prev.Name); why != "" {
		return fmt.Errorf("retire %s: %s: %w", prev.Name, why, refresh.ErrNotOurs)
	}
	if err := p.srv.EnsureControl(ctx); err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	r, ok, err := p.srv.Lookup(ctx, prev.Name)
	if err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	if !ok {
		if p.cfg.Adopt == "" || prev.Name != p.cfg.Adopt {
			return fmt.Errorf("retire: %w", p.owner().Check(Claim{Name: prev.Name}))
		}
		// The adopted DB: recorded first, so that a failed drop is
		// finished by the next Sweep.
		_, oid, err := p.srv.DBState(ctx, prev.Name)
		if err != nil {
			return fmt.Errorf("retire %s: %w", prev.Name, err)
		}
		r = ControlRecord{Name: prev.Name, Target: p.cfg.Target, State: string(lifecycle.Previous), Origin: prev.Name, OID: oid}
		if err := p.srv.Insert(ctx, r); err != nil {
			return fmt.Errorf("retire %s: record adoption: %w", prev.Name, err)
		}
	}
	if err := p.owner().Check(r.Claim()); err != nil {
		return fmt.Errorf("retire: %w", err)
	}
	switch r.State {
	case string(lifecycle.Retired), string(lifecycle.Discarded):
		return nil
	case string(lifecycle.Previous):
	default:
		return fmt.Errorf("retire %s: it is %s, not a previous staging DB", prev.Name, r.State)
	}
	if p.cfg.KeepLast == 0 {
		if _, err := p.drop(ctx, r, lifecycle.Retired); err != nil {
			return fmt.Errorf("retire: %w", err)
		}
		return nil
	}
	recs, err := p.srv.List(ctx, string(lifecycle.Previous))
	if err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	var errs []error
	kept := 0
	for _, r := range recs {
		if !p.mayDrop(r) {
			continue
		}
		if kept < p.cfg.KeepLast {
			kept++
			p.log.Info("kept previous staging database", "step", "retire", "target", p.cfg.Target, "db", r.Name, "keep_last", p.cfg.KeepLast)
			continue
		}
		if _, err := p.drop(ctx, r, lifecycle.Retired); err != nil {
			errs = append(errs, fmt.Errorf("retire: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Discard drops a DB this run created and marks it discarded. Idempotent;
// a DB the control records do not attribute to this run is never dropped.
func (p *Provider) Discard(ctx context.Context, db *refresh.DB) error {
	if db == nil {
		return nil
	}
	if err := p.srv.EnsureControl(ctx); err != nil {
		return fmt.Errorf("discard %s: %w", db.Name, err)
	}
	r, ok, err := p.srv.Lookup(ctx, db.Name)
	if err != nil {
		return fmt.Errorf("discard %s: %w", db.Name, err)
	}
	if !ok {
		exists, _, err := p.srv.DBState(ctx, db.Name)
		if err != nil {
			return fmt.Errorf("discard %s: %w", db.Name, err)
		}
		if !exists {
			return nil // never created
		}
		return fmt.Errorf("discard %s: restage has no record of creating it: %w", db.Name, refresh.ErrNotOurs)
	}
	if r.Target != p.cfg.Target || r.RunID == "" || r.RunID != db.RunID {
		return fmt.Errorf("discard %s: recorded for target %q run %q, not this run: %w", db.Name, r.Target, r.RunID, refresh.ErrNotOurs)
	}
	switch r.State {
	case string(lifecycle.Discarded), string(lifecycle.Retired):
		return nil
	case string(lifecycle.Live), string(lifecycle.Previous):
		return fmt.Errorf("discard %s: it is %s; only Retire drops it", db.Name, r.State)
	}
	if _, err := p.drop(ctx, r, lifecycle.Discarded); err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	return nil
}

// drop drops the recorded database (if it still exists and is the one
// recorded) and records state. existed says whether a database was
// dropped.
func (p *Provider) drop(ctx context.Context, r ControlRecord, state lifecycle.State) (existed bool, err error) {
	if why := p.srv.Protected(r.Name); why != "" {
		return false, fmt.Errorf("refusing to drop %s: %s: %w", r.Name, why, refresh.ErrNotOurs)
	}
	if err := lifecycle.Move(lifecycle.State(r.State), state); err != nil {
		return false, fmt.Errorf("drop %s: %w", r.Name, err)
	}
	exists, oid, err := p.srv.DBState(ctx, r.Name)
	if err != nil {
		return false, fmt.Errorf("drop %s: %w", r.Name, err)
	}
	if exists && oid != 0 && r.OID != 0 && oid != r.OID {
		// Same name, another database: not the one restage recorded.
		return false, fmt.Errorf("drop %s: the database by that name is not the one restage recorded (oid %d, recorded %d); not touching it", r.Name, oid, r.OID)
	}
	if exists {
		if err := p.srv.Drop(ctx, r.Name); err != nil {
			return false, fmt.Errorf("drop %s: %w", r.Name, err)
		}
		p.log.Info("dropped database", "target", p.cfg.Target, "db", r.Name, "run_id", r.RunID, "state", string(state))
	}
	if err := p.srv.SetState(ctx, r.Name, string(state)); err != nil {
		return exists, fmt.Errorf("drop %s: mark %s: %w", r.Name, state, err)
	}
	return exists, nil
}
