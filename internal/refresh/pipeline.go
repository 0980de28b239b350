package refresh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/gate"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/transform"
)

// Step names, in run order.
const (
	StepPrepare     = "prepare"
	StepRestore     = "restore"
	StepCredentials = "credentials"
	StepReady       = "ready"
	StepMask        = "mask"
	StepVerify      = "verify"
	StepUsers       = "users"
	StepSwap        = "swap"
	StepRetire      = "retire"
)

// Steps lists the steps in order.
var Steps = []string{StepPrepare, StepRestore, StepCredentials, StepReady, StepMask, StepVerify, StepUsers, StepSwap, StepRetire}

// Config is one run's validated configuration.
type Config struct {
	Target    string
	RunID     string // NewRunID(Now()) when empty
	Rules     *config.Rules
	RulesText []byte
	Key       transform.Key
	Workers   int
	BatchSize int
	// MaxDuration aborts the run (cleanup, alert) when exceeded; 0: none.
	MaxDuration time.Duration
	// RetireGrace is waited after the swap before the previous staging DB
	// is deleted (clients holding the old endpoint finish).
	RetireGrace time.Duration
	// CleanupTimeout bounds the cleanup that runs from a fresh context
	// after a failure or cancellation.
	CleanupTimeout time.Duration
	Users          []StagingUser
	Preserve       []PreserveSpec
}

// Notice is what the pipeline tells a Notifier. It never holds personal
// data or secrets.
type Notice struct {
	Kind     string // "failure", "warning", "success"
	Target   string
	RunID    string
	Step     string
	Class    string
	Detail   string
	Duration time.Duration
	Rows     int64
	Tables   int
	ExitCode int
	// Median is the median duration of the last MedianWindow recorded
	// successful runs before this one (MedianRuns of them); 0 without
	// history.
	Median     time.Duration
	MedianRuns int
}

// Notifier delivers notices (Slack). It must not fail or hang the run:
// errors are its own to log.
type Notifier interface {
	Notify(ctx context.Context, n Notice)
}

// Deps are what the pipeline runs with.
type Deps struct {
	Provider Provider
	// OpenEngine opens the masking engine on a DB's admin DSN; the engine
	// must also implement mask.Reader and mask.Execer.
	OpenEngine func(ctx context.Context, adminDSN string) (mask.Engine, error)
	Notifier   Notifier
	Log        *slog.Logger
	Now        func() time.Time
	// Hook, when set, is called at the start of every step; a test uses it
	// to inject failures. An error it returns fails that step.
	Hook func(ctx context.Context, step string) error
	// History keeps the target's recent runs for the forecast; nil: the
	// provider's, when it implements History; else none.
	History History
	// OnForecast, when set, gets the forecast as soon as it is known, before
	// the restore (the CLI prints it on stderr); not called without one.
	OnForecast func(*Forecast)
}

// StepReport is the outcome of one step.
type StepReport struct {
	Step     string        `json:"step"`
	Status   string        `json:"status"` // ok, no-op, failed, skipped, warning
	Duration time.Duration `json:"duration_ns"`
	Note     string        `json:"note,omitempty"`
}

// Report is the run's structured summary.
type Report struct {
	Target   string             `json:"target"`
	RunID    string             `json:"run_id"`
	ExitCode int                `json:"exit_code"`
	Error    string             `json:"error,omitempty"`
	Steps    []StepReport       `json:"steps"`
	New      *DB                `json:"new_db,omitempty"`
	Previous *DB                `json:"previous_db,omitempty"`
	Swept    []string           `json:"swept,omitempty"`
	Mask     *mask.Report       `json:"mask,omitempty"`
	Drift    *gate.DriftReport  `json:"drift,omitempty"`
	Verify   *gate.VerifyReport `json:"verify,omitempty"`
	Leak     *gate.LeakReport   `json:"leak_scan,omitempty"`
	Warnings []string           `json:"warnings,omitempty"`
	Duration time.Duration      `json:"duration_ns"`
	Forecast *Forecast          `json:"forecast,omitempty"`
	// Median is the median duration of the last MedianWindow recorded
	// successful runs before this one; 0 without history.
	Median time.Duration `json:"median_ns,omitempty"`
}

// StepError is a failed step: which step, which exit code, and the cause.
type StepError struct {
	Step string
	Code int
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// ExitCode is the step's exit code (exitcode.Of reads it).
func (e *StepError) ExitCode() int { return e.Code }

// ExitCode maps a Run error to the process exit code: exitcode.Of.
func ExitCode(err error) int { return exitcode.Of(err) }

// errRefused marks a safety-gate refusal: exit 4 in every command.
var errRefused = exitcode.New(exitcode.Refused, errors.New("safety gate refused"))

// errBadRules marks rules that don't fit the restored schema: bad input,
// exit 2, as `restage mask` and `restage check` say for the same rules.
var errBadRules = exitcode.New(exitcode.BadInput, errors.New("the rules do not fit the database"))

type run struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	rep   *Report
	start time.Time
	// created is the DB this run created; discarded on failure before the
	// swap succeeded.
	created *DB
	swapped bool
	// release frees the run lock; called after cleanup, so no other run
	// can sweep what this one is still removing.
	release func()
	// recent are the recorded runs read for the forecast, newest first.
	recent []RunRecord
}

// Run refreshes the target's staging DB once. It is fail-closed: the
// staging name is switched only after masking and both gates passed; any
// failure before that removes what the run created (from a fresh context)
// and leaves the current staging DB serving, untouched. A failed retire
// after a successful swap is a warning (exit 0); the next run finishes it.
func Run(ctx context.Context, cfg Config, deps Deps) (*Report, error) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RunID == "" {
		cfg.RunID = NewRunID(deps.Now())
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = 10 * time.Minute
	}
	r := &run{cfg: cfg, deps: deps, start: deps.Now(),
		log: deps.Log.With("target", cfg.Target, "run", cfg.RunID),
		rep: &Report{Target: cfg.Target, RunID: cfg.RunID}}

	var cancel context.CancelFunc = func() {}
	if cfg.MaxDuration > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, cfg.MaxDuration, errMaxDuration)
	}
	defer cancel()

	err := r.steps(ctx)
	if err != nil && !r.swapped {
		r.cleanup(ctx)
	}
	r.rep.Duration = deps.Now().Sub(r.start)
	r.rep.Median, _ = MedianOfRecent(r.recent, MedianWindow)
	// Recorded while the lock is held, so two runs never interleave their
	// read-trim-write of the history; a run refused before it took the
	// lock (bad input, another run, the source behind the staging name)
	// records nothing and so creates nothing. A run the forecast stopped
	// did no work worth recording.
	if r.release != nil && !errors.Is(err, ErrForecastTooLong) {
		r.saveHistory(ctx, err == nil)
	}
	if r.release != nil {
		r.release()
	}
	r.rep.ExitCode = ExitCode(err)
	if err != nil {
		r.rep.Error = err.Error()
		r.notifyFailure(ctx, err)
	} else {
		r.notifySuccess(ctx)
	}
	return r.rep, err
}

var errMaxDuration = errors.New("maximum run duration exceeded")

// NewRunID is the UTC time to the second plus 4 random hex digits: sortable,
// and unique even for runs started in the same second (a rerun right after
// a killed run, a duplicate scheduler delivery).
func NewRunID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102150405") + "_" + hex.EncodeToString(b[:])
}

// step runs one named step with logging, timing and the report entry.
func (r *run) step(ctx context.Context, name string, f func(ctx context.Context) (note string, err error)) error {
	t0 := r.deps.Now()
	r.log.Info("step start", "step", name)
	var note string
	err := func() error {
		if r.deps.Hook != nil {
			if err := r.deps.Hook(ctx, name); err != nil {
				return err
			}
		}
		var err error
		note, err = f(ctx)
		return err
	}()
	d := r.deps.Now().Sub(t0)
	sr := StepReport{Step: name, Status: "ok", Duration: d, Note: note}
	if err != nil {
		sr.Status = "failed"
		r.rep.Steps = append(r.rep.Steps, sr)
		r.log.Error("step failed", "step", name, "duration", d.String(), "error", err.Error())
		return r.classify(ctx, name, err)
	}
	if len(note) >= 5 && note[:5] == "no-op" {
		sr.Status = "no-op"
	}
	r.rep.Steps = append(r.rep.Steps, sr)
	r.log.Info("step end", "step", name, "duration", d.String(), "status", sr.Status)
	return nil
}

func (r *run) classify(ctx context.Context, step string, err error) error {
	code := exitcode.Failed
	switch {
	case errors.Is(err, errRefused):
		code = exitcode.Refused
	case errors.Is(context.Cause(ctx), errMaxDuration):
		// A run that outlives its budget failed (exit 1), like any other
		// failure: retrying as is would likely hit the same limit. Exit 3
		// is for a run someone stopped.
		err = fmt.Errorf("%w (%s): %v", errMaxDuration, r.cfg.MaxDuration, err)
	case ctx.Err() != nil:
		code = exitcode.Cancelled
		err = fmt.Errorf("cancelled: %w", err)
	case errors.Is(err, ErrSharedLogin), errors.Is(err, errBadRules), errors.Is(err, preserve.ErrUnknownColumn), errors.Is(err, ErrBadInput):
		code = exitcode.BadInput
	}
	return &StepError{Step: step, Code: code, Err: err}
}

func (r *run) steps(ctx context.Context) error {
	p := r.deps.Provider

	// prepare: the lock, then leftovers of earlier runs.
	if err := r.step(ctx, StepPrepare, func(ctx context.Context) (string, error) {
		rel, err := p.Lock(ctx, r.cfg.RunID)
		if err != nil {
			return "", err
		}
		r.release = rel
		swept, err := p.Sweep(ctx)
		r.rep.Swept = swept
		if err != nil {
			return "", fmt.Errorf("remove leftovers: %w", err)
		}
		if sk, ok := p.(SkipReporter); ok {
			if left := sk.Skipped(); len(left) > 0 {
				r.warn(ctx, StepPrepare, "leftover still being created",
					fmt.Sprintf("leftover DB(s) still being created, left for the sweep task: %s", strings.Join(left, ", ")))
			}
		}
		if err := r.forecast(ctx); err != nil {
			return "", err
		}
		if len(swept) > 0 {
			return fmt.Sprintf("removed %d leftover DB(s) of earlier runs", len(swept)), nil
		}
		return "lock taken; no leftovers", nil
	}); err != nil {
		return err
	}

	var db *DB
	m := &Masking{Rules: r.cfg.Rules, RulesText: r.cfg.RulesText, Key: r.cfg.Key,
		Workers: r.cfg.Workers, BatchSize: r.cfg.BatchSize, Log: r.log}
	// streamed: the provider masked the rows while copying them (its drift
	// gate ran on the source); the mask step then only runs post-mask SQL.
	streamed := false
	if err := r.step(ctx, StepRestore, func(ctx context.Context) (string, error) {
		var err error
		if sr, ok := p.(StreamingRestorer); ok {
			db, streamed, err = sr.RestoreMasked(ctx, r.cfg.RunID, m)
			r.rep.Drift = m.Drift
		}
		if !streamed && err == nil {
			db, err = p.Restore(ctx, r.cfg.RunID)
		}
		if db != nil {
			r.created = db
			r.rep.New = db
		}
		if err != nil {
			return "", err
		}
		if streamed {
			return "drift gate passed on the source; copied with masking into " + db.Name, nil
		}
		return "restored into " + db.Name, nil
	}); err != nil {
		return err
	}
	if err := r.step(ctx, StepCredentials, func(ctx context.Context) (string, error) {
		return p.Credentials(ctx, db)
	}); err != nil {
		return err
	}
	if err := r.step(ctx, StepReady, func(ctx context.Context) (string, error) {
		return "", p.Ready(ctx, db)
	}); err != nil {
		return err
	}

	eng, err := r.deps.OpenEngine(ctx, db.AdminDSN)
	if err != nil {
		return r.classify(ctx, StepMask, fmt.Errorf("connect to %s: %w", db.Endpoint, err))
	}
	engClosed := false
	closeEngine := func() {
		if !engClosed {
			engClosed = true
			eng.Close()
		}
	}
	defer closeEngine()
	if err := r.step(ctx, StepMask, func(ctx context.Context) (string, error) {
		if !streamed {
			err := m.Check(ctx, eng)
			r.rep.Drift = m.Drift
			if err != nil {
				return "", err
			}
		}
		err := m.Mask(ctx, eng)
		r.rep.Mask = m.Report
		if err != nil {
			return "", err
		}
		return m.Note(), nil
	}); err != nil {
		return err
	}
	if err := r.step(ctx, StepVerify, func(ctx context.Context) (string, error) {
		var notes []string
		if len(r.cfg.Preserve) > 0 {
			note, err := r.preserve(ctx, db, eng, m)
			if err != nil {
				return "", err
			}
			notes = append(notes, note)
		}
		err := m.VerifyMasked(ctx, eng)
		r.rep.Verify, r.rep.Leak = m.Verify, m.Leak
		if err != nil {
			return "", err
		}
		passed := "every check passed"
		if m.Leak != nil {
			passed += "; leak scan: " + m.Leak.Summary()
		}
		return joinNotes(append(notes, passed)), nil
	}); err != nil {
		return err
	}
	closeEngine()

	if err := r.step(ctx, StepUsers, func(ctx context.Context) (string, error) {
		// Verified: the masking size is no longer needed, and nobody but
		// restage may reach the copy before it is down to the staging
		// size (the users come next, then the security-group move).
		if sc, ok := p.(Scaler); ok {
			if err := sc.ScaleDown(ctx, db); err != nil {
				return "", fmt.Errorf("scale %s down to the staging size: %w", db.Name, err)
			}
		}
		if err := p.Users(ctx, db, r.cfg.Users); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d staging user(s) can log in", len(r.cfg.Users)), nil
	}); err != nil {
		return err
	}

	var prev *DB
	if err := r.step(ctx, StepSwap, func(ctx context.Context) (string, error) {
		var err error
		prev, err = p.Switch(ctx, db)
		if err != nil {
			return "", err
		}
		r.swapped = true
		r.rep.Previous = prev
		if prev == nil {
			return "staging now serves " + db.Name + " (first run)", nil
		}
		return fmt.Sprintf("staging now serves %s (was %s)", db.Name, prev.Name), nil
	}); err != nil {
		return err
	}

	// retire: a failure is a warning; the next run's sweep finishes it.
	if prev == nil {
		r.rep.Steps = append(r.rep.Steps, StepReport{Step: StepRetire, Status: "no-op", Note: "no-op: no previous staging DB"})
		return nil
	}
	if err := r.step(ctx, StepRetire, func(ctx context.Context) (string, error) {
		if r.cfg.RetireGrace > 0 {
			t := time.NewTimer(r.cfg.RetireGrace)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-t.C:
			}
		}
		if err := p.Retire(ctx, prev); err != nil {
			return "", err
		}
		return "retired " + prev.Name, nil
	}); err != nil {
		msg := fmt.Sprintf("retire of %s failed; staging serves the new copy and the next run retires it: %v", prev.Name, err)
		r.rep.Steps[len(r.rep.Steps)-1].Status = "warning"
		r.warn(ctx, StepRetire, "retire failed", msg)
	}
	return nil
}

// preserve copies the preserved rows from the current staging DB into db
// after masking and before verification, so that they pass the gate like
// every other row (Masking.Preserved).
func (r *run) preserve(ctx context.Context, db *DB, eng mask.Engine, m *Masking) (string, error) {
	tables := make([]string, len(r.cfg.Preserve))
	for i, sp := range r.cfg.Preserve {
		tables[i] = sp.Table
	}
	var n int64
	added, err := m.Preserved(ctx, eng, tables, func() error {
		var err error
		n, err = r.deps.Provider.Preserve(ctx, db, r.cfg.Preserve)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("preserve rows: %w", err)
	}
	return fmt.Sprintf("%d preserved rows copied before verification (%d added)", n, added), nil
}

// warn records a warning in the report and tells the Notifier; the run
// goes on. The Slack detail is fixed text per class: msg may name DBs and
// errors, which stay in the report and the log.
func (r *run) warn(ctx context.Context, step, class, msg string) {
	r.rep.Warnings = append(r.rep.Warnings, msg)
	r.log.Warn("warning", "step", step, "detail", msg)
	if r.deps.Notifier == nil {
		return
	}
	detail := msg
	if step == StepRetire {
		detail = "staging serves the new copy; the previous DB is left for the next run"
	}
	r.deps.Notifier.Notify(ctx, Notice{Kind: "warning", Target: r.cfg.Target, RunID: r.cfg.RunID, Step: step,
		Class: class, Detail: detail, Duration: r.deps.Now().Sub(r.start)})
}

func joinNotes(n []string) string {
	s := ""
	for i, v := range n {
		if i > 0 {
			s += "; "
		}
		s += v
	}
	return s
}

// cleanup removes what the run created, from a fresh context with its own
// timeout so a cancelled run still cleans up.
func (r *run) cleanup(ctx context.Context) {
	if r.created == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.CleanupTimeout)
	defer cancel()
	if err := r.deps.Provider.Discard(cctx, r.created); err != nil {
		msg := fmt.Sprintf("cleanup: could not remove %s (the next run removes it): %v", r.created.Name, err)
		r.rep.Warnings = append(r.rep.Warnings, msg)
		r.log.Error("cleanup failed", "step", "cleanup", "error", err.Error())
		return
	}
	r.log.Info("cleanup: removed the new DB", "step", "cleanup", "db", r.created.Name)
}

// serverCoder is implemented by the engines' scrubbed server errors
// (postgres.Error, mysql.ServerError): the code names the problem — an
// operator can look it up — and never carries a value, so it may go to
// Slack.
type serverCoder interface{ ServerCode() string }

func (r *run) notifyFailure(ctx context.Context, err error) {
	if r.deps.Notifier == nil {
		return
	}
	n := Notice{Kind: "failure", Target: r.cfg.Target, RunID: r.cfg.RunID, Duration: r.deps.Now().Sub(r.start), ExitCode: exitcode.Of(err)}
	var se *StepError
	if errors.As(err, &se) {
		n.Step = se.Step
	}
	switch n.ExitCode {
	case exitcode.Refused:
		n.Class = "safety gate refused"
	case exitcode.Cancelled:
		n.Class = "cancelled"
	case exitcode.BadInput:
		n.Class = "bad input"
	default:
		n.Class = "failed"
		if errors.Is(err, errMaxDuration) {
			n.Class = "maximum duration exceeded"
		}
		if errors.Is(err, ErrForecastTooLong) {
			// Durations and a count only: safe for Slack.
			n.Class = "forecast exceeds maximum duration"
			n.Detail = err.Error() + "; stopped before restoring"
		}
	}
	var sc serverCoder
	if errors.As(err, &sc) {
		n.Class += " (" + sc.ServerCode() + ")"
	}
	n.Detail = joinNotes(nonEmpty(n.Detail, "staging still serves the previous copy; nothing of this run is left"))
	// A gate's short summary names tables, columns and checks — never a
	// value — so it may go to Slack.
	switch {
	case r.rep.Verify != nil && !r.rep.Verify.OK():
		n.Detail = r.rep.Verify.Summary() + "\n" + n.Detail
	case r.rep.Leak != nil && !r.rep.Leak.OK():
		n.Detail = "leak scan: " + r.rep.Leak.Summary() + "\n" + n.Detail
	case r.rep.Drift != nil && !r.rep.Drift.OK():
		n.Detail = fmt.Sprintf("drift gate: %d column(s) look personal but have no rule, %d stale rule(s); the run report holds the rules patch\n%s",
			len(r.rep.Drift.Unclassified), len(r.rep.Drift.Stale), n.Detail)
	}
	r.deps.Notifier.Notify(ctx, n)
}

func (r *run) notifySuccess(ctx context.Context) {
	if r.deps.Notifier == nil {
		return
	}
	n := Notice{Kind: "success", Target: r.cfg.Target, RunID: r.cfg.RunID, Duration: r.deps.Now().Sub(r.start)}
	if r.rep.Mask != nil {
		n.Rows = r.rep.Mask.Rows
		n.Tables = len(r.rep.Mask.Tables)
	}
	n.Median, n.MedianRuns = MedianOfRecent(r.recent, MedianWindow)
	r.deps.Notifier.Notify(ctx, n)
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
