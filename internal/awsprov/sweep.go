package awsprov

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

// ErrRecordUnproven is returned by Sweep and SweepTask when a DB of this
// target is tagged live but the staging record does not point exactly at
// one of restage's DBs of this target (no record, or another spelling of
// an endpoint — a writer instance's, a reader's): which DB serves staging
// can't be proven, so nothing is deleted. Fix or check the record by
// hand; retrying will not help until then.
var ErrRecordUnproven = errors.New("the staging record does not prove which DB serves staging: nothing deleted")

// leftovers returns restage's DBs of this target that Sweep may delete:
// all but the one exactly behind the staging record. A DB tagged live is
// deletable only when the record provably points at another of restage's
// DBs of this target (or exactly at the adopted DB); otherwise (no record, an unexpected endpoint
// spelling) it is ErrRecordUnproven and nothing is returned.
func (p *Provider) leftovers(ctx context.Context) ([]*rds.DB, error) {
	host, _, managed, live, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	// The adopted hand-made DB (RESTAGE_ADOPT) exactly behind the record
	// proves it too: ops named it this target's staging DB.
	adoptedLive := false
	if live == nil && host != "" && p.cfg.Adopt != "" {
		a, err := p.rdsc.Get(ctx, p.cfg.Adopt)
		switch {
		case errors.Is(err, rds.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("describe adopted %s: %w", p.cfg.Adopt, err)
		default:
			adoptedLive = sameHost(a.Endpoint, host)
		}
	}
	if live == nil && !adoptedLive {
		var tagged []string
		for _, d := range managed {
			if d.Tags[rds.TagState] == string(lifecycle.Live) {
				tagged = append(tagged, d.ID)
			}
		}
		if len(tagged) > 0 {
			rec := "there is no staging record " + p.cfg.DNSName
			if host != "" {
				rec = fmt.Sprintf("the staging record %s points at %q, not exactly at an endpoint of one of restage's DBs of target %s", p.cfg.DNSName, host, p.cfg.Target)
			}
			p.log.Error("sweep refused", "step", refresh.StepPrepare, "tagged_live", strings.Join(tagged, ","), "record", host)
			return nil, fmt.Errorf("%s while %s is tagged live: %w", rec, strings.Join(tagged, ", "), ErrRecordUnproven)
		}
	}
	var out []*rds.DB
	for _, d := range managed {
		if live != nil && d.ID == live.ID {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// Sweep is the start-of-run sweep (the caller holds the lock, so no other
// run is live): it deletes every restage DB of this target except the one
// behind the staging record, which also finishes a retire that failed.
// Deletes are issued for all of them first, then waited for. A leftover
// RDS is still creating can't be deleted yet: it is skipped and reported
// (the sweep task started for the killed run waits for it), so the run
// goes on.
func (p *Provider) Sweep(ctx context.Context) ([]string, error) {
	dbs, err := p.leftovers(ctx)
	if err != nil {
		return nil, err
	}
	var started, swept []string
	var errs []error
	var skipped []string
	for _, d := range dbs {
		p.log.Info("removing leftover", "step", refresh.StepPrepare, "db", d.ID, "run_of", d.RunID, "state", d.Tags[rds.TagState], "status", d.Status)
		err := p.rdsc.StartDelete(ctx, d, false, false)
		switch {
		case errors.Is(err, rds.ErrCreating):
			skipped = append(skipped, d.ID)
		case err != nil:
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", d.ID, err))
		default:
			started = append(started, d.ID)
		}
	}
	if len(skipped) > 0 {
		p.mu.Lock()
		p.skipped = skipped
		p.mu.Unlock()
		p.log.Warn("leftovers still being created are left to the sweep task", "step", refresh.StepPrepare, "dbs", strings.Join(skipped, ","))
	}
	for _, d := range dbs {
		if !slices.Contains(started, d.ID) {
			continue
		}
		if err := p.rdsc.WaitDeleted(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", d.ID, err))
			continue
		}
		swept = append(swept, d.ID)
	}
	return swept, errors.Join(errs...)
}

// Skipped returns the leftovers the last Sweep skipped because RDS was
// still creating them.
func (p *Provider) Skipped() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.skipped...)
}

// SweepTask is what `restage sweep` does on AWS after a run stopped
// abnormally: it waits — at most LockWait — for the dead run's lease to
// expire and takes the lock; then, unlike Sweep, it waits (bounded by the
// RDS wait timeout) for leftovers still being created to become deletable
// and deletes them too. Deletes are issued for every leftover before any
// is waited for. A lock still held after LockWait is returned as
// refresh.ErrLocked: a live run holds it, and its own prepare sweeps.
func (p *Provider) SweepTask(ctx context.Context, runID string) ([]string, error) {
	release, err := p.lockWaiting(ctx, runID)
	if err != nil {
		return nil, err
	}
	defer release()
	dbs, err := p.leftovers(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	var started []*rds.DB
	var creating []*rds.DB
	for _, d := range dbs {
		p.log.Info("removing leftover", "step", "sweep", "db", d.ID, "run_of", d.RunID, "state", d.Tags[rds.TagState], "status", d.Status)
		err := p.rdsc.StartDelete(ctx, d, false, false)
		switch {
		case errors.Is(err, rds.ErrCreating):
			creating = append(creating, d)
		case err != nil:
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", d.ID, err))
		default:
			started = append(started, d)
		}
	}
	// Those still being created: wait for each, then delete it.
	for _, d := range creating {
		if err := p.rdsc.StartDelete(ctx, d, false, true); err != nil {
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", d.ID, err))
			continue
		}
		started = append(started, d)
	}
	var swept []string
	for _, d := range started {
		if err := p.rdsc.WaitDeleted(ctx, d); err != nil {
			errs = append(errs, fmt.Errorf("delete leftover %s: %w", d.ID, err))
			continue
		}
		swept = append(swept, d.ID)
	}
	return swept, errors.Join(errs...)
}

// lockWaiting takes the target's lock, retrying while another holder's
// lease is unexpired, for at most LockWait.
func (p *Provider) lockWaiting(ctx context.Context, runID string) (func(), error) {
	deadline := time.Now().Add(p.cfg.LockWait)
	for {
		release, err := p.Lock(ctx, runID)
		if err == nil || !errors.Is(err, refresh.ErrLocked) {
			return release, err
		}
		if time.Now().Add(p.cfg.LockPoll).After(deadline) {
			return nil, fmt.Errorf("after waiting %s for the lease to expire: %w", p.cfg.LockWait, err)
		}
		p.log.Info("waiting for the run lock's lease to expire", "step", "sweep", "error", err.Error())
		t := time.NewTimer(p.cfg.LockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
