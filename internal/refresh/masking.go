package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/gate"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// Masking is one mask + verify pass over one database: the mask and verify
// steps of `restage run`, and the whole of `restage mask`. Both commands
// go through it, so they check in the same order, run post-mask SQL, and
// refuse for the same reasons with the same exit codes.
//
// Use: Check, then Mask, then Verify, each at most once. The exported
// fields hold what each phase found, also after a failure, for reports.
type Masking struct {
	Rules     *config.Rules
	RulesText []byte
	Key       transform.Key
	Workers   int
	BatchSize int
	Log       *slog.Logger

	// Set by Check.
	Schema *schema.Schema
	Drift  *gate.DriftReport
	Plan   *mask.Plan
	// Set by Mask.
	Report *mask.Report
	// Set by Verify.
	Verify *gate.VerifyReport
	Leak   *gate.LeakReport

	base     *gate.VerifyBaseline
	leakBase *gate.LeakBaseline
	// streamed is set when a provider masked the rows while copying them
	// (Streamed): Mask then only runs the post-mask SQL.
	streamed bool
}

// reader is the engine as the gates read it.
func reader(eng mask.Engine) (mask.Reader, error) {
	rd, ok := eng.(mask.Reader)
	if !ok {
		return nil, errors.New("engine cannot be read by the gates")
	}
	return rd, nil
}

// Check reads the live schema, runs the drift gate and plans the rules
// against the schema; nothing is changed. Rules that don't fit the schema
// (and stale rules) are bad input, exit 2, and are reported before the
// gate's refusal of unclassified columns, exit 4.
func (m *Masking) Check(ctx context.Context, eng mask.Engine) error {
	rd, err := reader(eng)
	if err != nil {
		return err
	}
	s, err := eng.Introspect(ctx)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	m.Schema = s
	drift, err := gate.Drift(ctx, rd, s, m.Rules, m.RulesText, gate.DriftOptions{})
	if err != nil {
		return fmt.Errorf("drift gate: %w", err)
	}
	m.Drift = drift
	plan, err := mask.NewPlan(m.Rules, s)
	switch {
	case err != nil && len(drift.Stale) > 0:
		return fmt.Errorf("%w: %d stale rule(s); %w", errBadRules, len(drift.Stale), err)
	case err != nil:
		return fmt.Errorf("%w: %w", errBadRules, err)
	case len(drift.Stale) > 0:
		return fmt.Errorf("%w: drift gate: %d stale rule(s), %d unclassified column(s); the report holds the rules patch", errBadRules, len(drift.Stale), len(drift.Unclassified))
	case !drift.OK():
		return fmt.Errorf("%w: drift gate: %d unclassified column(s); the report holds the rules patch", errRefused, len(drift.Unclassified))
	}
	m.Plan = plan
	return nil
}

// CaptureFrom takes the verification and leak-scan baselines from rd
// before any row is copied: a provider that masks while copying calls it
// on a reader bound to the very snapshot it copies, so the baselines and
// the copy see the same rows. Check must have passed.
func (m *Masking) CaptureFrom(ctx context.Context, rd mask.Reader) error {
	if m.Plan == nil {
		return errors.New("baselines before a passed check")
	}
	var err error
	m.base, err = gate.VerifyCapture(ctx, rd, m.Plan, m.Key, gate.VerifyOptions{Schema: m.Schema, Workers: m.Workers})
	if err != nil {
		return fmt.Errorf("verification baseline: %w", err)
	}
	m.leakBase, err = gate.LeakCapture(ctx, rd, m.Plan, m.Key, gate.LeakOptions{})
	if err != nil {
		return fmt.Errorf("leak scan baseline: %w", err)
	}
	return nil
}

// StreamCapture takes the gates' baselines from the rows a provider
// copies when no other reader can share the copy's snapshot (MariaDB's
// dump reads under a snapshot of its own): Observer sees every masked row
// on its way, as masking in place does, and Count gets the row count of
// every other table as the copy read it. Use: CaptureStream after Check,
// the copy, then StreamedFrom.
type StreamCapture struct {
	verify *gate.VerifyCapturer
	leak   *gate.LeakCapturer
}

// Observer sees each masked row's TableJob.Read values, then its Key
// values, before it is masked (mask.Observer's contract).
func (s *StreamCapture) Observer() mask.Observer { return mask.Observers(s.verify, s.leak) }

// Count records the rows the copy read of table t, a table the plan
// does not mask (truncated tables included: the rows it dropped).
func (s *StreamCapture) Count(t schema.TableName, rows int64) { s.verify.Count(t, rows) }

// CaptureStream lays out the baselines taken from a copy's stream. Check
// must have passed; rules with links are refused (their check reads the
// followed rows before masking).
func (m *Masking) CaptureStream() (*StreamCapture, error) {
	if m.Plan == nil {
		return nil, errors.New("baselines before a passed check")
	}
	v, err := gate.NewVerifyStreamCapturer(m.Plan, m.Key, gate.VerifyOptions{Schema: m.Schema, Workers: m.Workers})
	if err != nil {
		return nil, fmt.Errorf("verification baseline: %w", err)
	}
	return &StreamCapture{verify: v, leak: gate.NewLeakCapturer(m.Plan, m.Key, gate.LeakOptions{})}, nil
}

// StreamedFrom is Streamed for a copy whose baselines s took from the
// stream: it seals them once every row was copied.
func (m *Masking) StreamedFrom(rep *mask.Report, s *StreamCapture) error {
	base, err := s.verify.Baseline()
	if err != nil {
		return fmt.Errorf("verification baseline: %w", err)
	}
	m.base, m.leakBase = base, s.leak.Baseline()
	m.Streamed(rep)
	return nil
}

// Streamed records that a provider masked every row of m.Plan on its way
// into the new DB (rep is its report), after CaptureFrom on the source's
// snapshot. Mask then only runs the post-mask SQL; VerifyMasked checks the
// result as always.
func (m *Masking) Streamed(rep *mask.Report) {
	m.Report = rep
	m.streamed = true
}

// Mask captures the leak-scan baseline, masks while taking the
// verification baseline from the rows masking reads, and runs
// the rules' post-mask SQL. Check must have passed. After Streamed, the
// rows are masked already: only the post-mask SQL runs.
func (m *Masking) Mask(ctx context.Context, eng mask.Engine) error {
	if m.Plan == nil {
		return errors.New("mask before a passed check")
	}
	if m.streamed {
		if m.base == nil {
			return errors.New("masked while copying without baselines")
		}
	} else if err := m.maskInPlace(ctx, eng); err != nil {
		return err
	}
	return m.postMask(ctx, eng)
}

// maskInPlace masks the rows of the copy eng is open on.
func (m *Masking) maskInPlace(ctx context.Context, eng mask.Engine) error {
	rd, err := reader(eng)
	if err != nil {
		return err
	}
	// The verification baseline is taken in the masking pass itself (the
	// workers read every masked value and row key anyway); only the
	// tables masking does not read are counted first. The verification
	// reads run as many tables at once as masking has workers.
	capt, err := gate.NewVerifyCapturer(ctx, rd, m.Plan, m.Key, gate.VerifyOptions{Schema: m.Schema, Workers: m.Workers})
	if err != nil {
		return fmt.Errorf("verification baseline: %w", err)
	}
	// So is the leak scan's: the fingerprints of the masked e-mail, phone,
	// name and IP originals are taken from the rows the workers read.
	leak := gate.NewLeakCapturer(m.Plan, m.Key, gate.LeakOptions{})
	rep, err := mask.Run(ctx, eng, m.Plan, m.Key, mask.Options{Workers: m.Workers, BatchSize: m.BatchSize, Logger: m.Log,
		Observer: mask.Observers(capt, leak)})
	m.Report = rep
	if err != nil {
		return err
	}
	m.base, err = capt.Baseline()
	if err != nil {
		return fmt.Errorf("verification baseline: %w", err)
	}
	m.leakBase = leak.Baseline()
	return nil
}

// postMask runs the rules' post-mask SQL on the copy.
func (m *Masking) postMask(ctx context.Context, eng mask.Engine) error {
	if len(m.Rules.PostMaskSQL) > 0 {
		ex, ok := eng.(mask.Execer)
		if !ok {
			return errors.New("engine cannot run post-mask SQL")
		}
		for _, st := range m.Rules.PostMaskSQL {
			if err := ex.Exec(ctx, st.SQL); err != nil {
				return fmt.Errorf("post-mask SQL at %s:%d: %w", m.Rules.Path, st.Line, err)
			}
		}
	}
	return nil
}

// Note is the one-line outcome of Mask, for the run report.
func (m *Masking) Note() string {
	if m.Report == nil || m.Plan == nil {
		return ""
	}
	how := ""
	if m.streamed {
		how = " while copying"
	}
	return fmt.Sprintf("%d rows in %d tables masked%s, %d truncated", m.Report.Rows, len(m.Plan.Jobs), how, len(m.Plan.Truncate))
}

// Preserved runs run, which writes rows preserved from the current
// staging DB into the named tables ("table" or "schema.table") after Mask
// and before VerifyMasked, and makes the verification gate expect exactly
// the rows and NULLs it changed (gate.VerifyBaseline.Preserved): the
// preserved rows are checked like every other row. It returns the number
// of rows added.
func (m *Masking) Preserved(ctx context.Context, eng mask.Engine, tables []string, run func() error) (int64, error) {
	if m.base == nil {
		return 0, errors.New("preserve before masking")
	}
	rd, err := reader(eng)
	if err != nil {
		return 0, err
	}
	var ts []*schema.Table
	for _, name := range tables {
		if t := lookupTable(m.Schema, name); t != nil && !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	return m.base.Preserved(ctx, rd, ts, run)
}

// lookupTable finds "table" or "schema.table" in s.
func lookupTable(s *schema.Schema, name string) *schema.Table {
	sch, tbl, ok := strings.Cut(name, ".")
	if !ok {
		sch, tbl = "", name
	}
	for _, t := range s.Tables {
		if t.TableName.Name == tbl && (!ok || t.TableName.Schema == sch) {
			return t
		}
	}
	return nil
}

// VerifyMasked runs the verification gate and then the leak scan (after
// post-mask SQL, which may have copied originals around). A failed check
// is a refusal, exit 4.
func (m *Masking) VerifyMasked(ctx context.Context, eng mask.Engine) error {
	if m.base == nil {
		return errors.New("verify before masking")
	}
	rd, err := reader(eng)
	if err != nil {
		return err
	}
	s, err := eng.Introspect(ctx)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	v, err := gate.Verify(ctx, rd, s, m.Plan, m.base)
	m.Verify = v
	if err != nil {
		return err
	}
	if !v.OK() {
		return fmt.Errorf("%w: verification: %d check(s) failed", errRefused, len(v.Failures))
	}
	lr, err := gate.LeakScan(ctx, rd, s, m.Plan, m.leakBase)
	m.Leak = lr
	if err != nil {
		return err
	}
	if !lr.OK() {
		return fmt.Errorf("%w: leak scan: %s", errRefused, lr.Summary())
	}
	return nil
}
