// Package local is the embedded default provider: the refresh pipeline on
// ordinary MySQL/MariaDB and PostgreSQL servers. Source and staging may be
// the same server or different ones.
//
// It holds what is the same for every engine, once: the configuration,
// the step order of a copy's life over the control records (Provider),
// the one ownership rule (Owner), the markers, the names restage derives,
// the swap's intent-record discipline and the run history's format. Each
// engine implements Server in its own home (internal/<engine>/localserver)
// and registers it in internal/engines, which opens the provider
// (engines.NewLocal).
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"

	"github.com/restage/restage/internal/dsn"
)

// Config configures the local provider.
type Config struct {
	// Target names the staging database being refreshed ([a-z0-9_]).
	Target string
	// SourceDSN is the production source: only ever read, to copy it.
	SourceDSN string
	// StagingDSN is an admin login on the staging server; its database is
	// the stable staging name the application connects to.
	StagingDSN string
	// ControlDB is restage's own database on the staging server, where
	// every DB a run creates is recorded with its run id and state.
	ControlDB string
	// KeepLast keeps the N most recent previous staging DBs instead of
	// dropping them at retire.
	KeepLast int
	// Adopt names a hand-made staging DB restage may retire.
	Adopt string
	// ProductionLogins must not be able to read staging. Empty: every
	// login with access to the source database.
	ProductionLogins []string
	// AcceptSharedLogins accepts production logins that can't be shut out
	// (superusers, global grants) instead of refusing.
	AcceptSharedLogins bool
	Log                *slog.Logger
	// TestPauseAt, when set (kill tests only), makes the swap stop for good
	// right after the named sub-step (see swapPause).
	TestPauseAt string
}

// DefaultControlDB is the control DB's name when the configuration names
// none.
const DefaultControlDB = "restage_control"

var targetRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)

// Validate checks the configuration offline, every problem at once, and
// fills in defaults; parse is the registry's connection-string parser
// (engines.ParseDSN).
func (c *Config) Validate(parse func(string) (dsn.DSN, error)) error {
	var errs []error
	if !targetRE.MatchString(c.Target) {
		errs = append(errs, fmt.Errorf("target %q: want 1-30 lower-case letters, digits or underscores, starting with a letter", c.Target))
	}
	src, err := parse(c.SourceDSN)
	if err != nil {
		errs = append(errs, fmt.Errorf("source DSN: %w", err))
	}
	stg, err2 := parse(c.StagingDSN)
	if err2 != nil {
		errs = append(errs, fmt.Errorf("staging DSN: %w", err2))
	}
	if err == nil && err2 == nil {
		if src.Engine != stg.Engine {
			errs = append(errs, fmt.Errorf("source is %s but staging is %s", src.Engine, stg.Engine))
		}
		if dsn.SameDatabase(src, stg) {
			errs = append(errs, errors.New("the staging DSN names the production source database"))
		}
		adopted := stg
		adopted.Database = c.Adopt
		if c.Adopt != "" && dsn.SameDatabase(src, adopted) {
			errs = append(errs, errors.New("adopt names the production source database"))
		}
	}
	if c.ControlDB == "" {
		c.ControlDB = DefaultControlDB
	}
	if c.KeepLast < 0 {
		errs = append(errs, fmt.Errorf("keep-last must be ≥ 0, got %d", c.KeepLast))
	}
	return errors.Join(errs...)
}

// onceOK runs a check until it has passed once (a provider's preflight):
// later calls return nil without running it; a failure is tried again.
type onceOK struct {
	mu   sync.Mutex
	done bool
}

func (o *onceOK) do(ctx context.Context, f func(context.Context) error) error {
	o.mu.Lock()
	done := o.done
	o.mu.Unlock()
	if done {
		return nil
	}
	if err := f(ctx); err != nil {
		return err
	}
	o.mu.Lock()
	o.done = true
	o.mu.Unlock()
	return nil
}
