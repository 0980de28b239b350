package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
)

// runSweep is `restage sweep`: what a run's prepare step does, alone. Under
// the target's run lock it finishes a swap a killed run left half done
// (forward or back, from the swap's intent record) and removes the
// databases earlier runs of this target left behind. It is meant for cron
// or a systemd OnFailure= unit, so a live run holding the lock is not a
// failure: it is reported and nothing is touched (exit 0) — that run's own
// cleanup, or its successor's prepare, does the same work.
//
// It needs only the provider's settings (target, DSNs or AWS variables),
// not the rules or the masking key: nothing is masked.
func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restage sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return badInput(err)
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	// The same typed settings and checks as run (names held to plain
	// identifiers), every problem at once.
	s, err := config.LoadSettings()
	if err := errors.Join(err, s.Validate(), sweepSettings(s)); err != nil {
		return badInput(err)
	}
	log := newLogger(stdout, s.LogLevel)
	log.Info("restage sweep", "version", version, "provider", s.Provider, "target", s.Target)
	var prov refresh.Provider
	if s.Provider == "aws" {
		prov, err = newAWSProvider(ctx, s, log)
	} else {
		prov, err = engines.NewLocal(local.Config{Target: s.Target, SourceDSN: s.SourceDSN, StagingDSN: s.StagingDSN,
			ControlDB: s.ControlDB, KeepLast: s.KeepLast, Adopt: s.Adopt, Log: log})
	}
	if err != nil {
		return badInput(err)
	}
	defer prov.Close()
	if st, ok := prov.(sweepTasker); ok {
		return runSweepTask(ctx, st, s, log, stderr)
	}

	release, err := prov.Lock(ctx, "sweep-"+refresh.NewRunID(time.Now()))
	if errors.Is(err, refresh.ErrLocked) {
		fmt.Fprintf(stderr, "restage sweep %s: a run holds the lock; nothing touched (%v)\n", s.Target, err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", s.Target, err)
	}
	defer release()
	swept, err := prov.Sweep(ctx)
	if len(swept) > 0 {
		fmt.Fprintf(stderr, "restage sweep %s: removed %s\n", s.Target, strings.Join(swept, ", "))
	}
	if err != nil {
		return err
	}
	if len(swept) == 0 {
		fmt.Fprintf(stderr, "restage sweep %s: nothing left to remove\n", s.Target)
	}
	return nil
}

// sweepSettings checks, all at once, the settings a sweep needs.
func sweepSettings(s *config.Settings) error {
	var errs []error
	if s.Target == "" {
		errs = append(errs, errors.New("RESTAGE_TARGET is required (the name of the staging database being refreshed)"))
	}
	switch s.Provider {
	case "local":
		if s.SourceDSN == "" {
			errs = append(errs, errors.New("RESTAGE_SOURCE_DSN is required (the production source: sweep never touches it)"))
		} else if _, err := engines.ParseDSN(s.SourceDSN); err != nil {
			errs = append(errs, fmt.Errorf("RESTAGE_SOURCE_DSN: %w", err))
		}
		if s.StagingDSN == "" {
			errs = append(errs, errors.New("RESTAGE_STAGING_DSN is required (admin login on the staging server; its database is the staging name)"))
		} else if _, err := engines.ParseDSN(s.StagingDSN); err != nil {
			errs = append(errs, fmt.Errorf("RESTAGE_STAGING_DSN: %w", err))
		}
		if len(errs) == 0 {
			lc := local.Config{Target: s.Target, SourceDSN: s.SourceDSN, StagingDSN: s.StagingDSN, ControlDB: s.ControlDB, KeepLast: s.KeepLast, Adopt: s.Adopt}
			if err := lc.Validate(engines.ParseDSN); err != nil {
				errs = append(errs, err)
			}
		}
	case "aws":
		if _, err := readAWSEnv(s); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("RESTAGE_PROVIDER %q: want local or aws", s.Provider))
	}
	return errors.Join(errs...)
}
