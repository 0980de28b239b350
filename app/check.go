package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/gate"
	"github.com/restage/restage/internal/mask"
)

// errUnclassified is the drift gate's refusal: the database has personal-
// looking columns the rules don't cover. It exits 4 from `check` and
// `run --dry-run` as from `mask` and `run`: one problem, one code.
var errUnclassified = exitcode.New(exitcode.Refused, errors.New("the rules do not cover the database"))

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restage check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dsnFlag   = fs.String("dsn", "", "connection string of the database to check (read-only)")
		rulesFlag = fs.String("rules", "", "rules file (YAML)")
		patchOut  = fs.String("patch", "", "write the rules patch (unified diff) to this file")
		fix       = fs.Bool("fix", false, "apply the suggested rules to the rules file in place")
		jsonOut   = fs.String("report", "", "write the JSON report to this file")
		sample    = fs.Int("sample", 200, "values sampled per column for personal-data detection")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return badInput(err)
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	var problems []error
	var target dsn.DSN
	var err error
	if *dsnFlag == "" {
		problems = append(problems, errors.New("--dsn is required"))
	} else if target, err = engines.ParseDSN(*dsnFlag); err != nil {
		problems = append(problems, fmt.Errorf("--dsn: %w", err))
	}
	if *sample < 1 || *sample > 100000 {
		problems = append(problems, fmt.Errorf("--sample must be between 1 and 100000, got %d", *sample))
	}
	rules, rulesText, err := readRules("--rules", *rulesFlag)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return badInput(errors.Join(problems...))
	}

	rep, planErr, err := checkLive(ctx, target, rules, rulesText, *sample)
	if err != nil {
		return err
	}

	fmt.Fprint(stdout, rep.Summary())
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if rep.Patch != "" {
		switch {
		case *fix:
			fixed, err := gate.PatchApply(rulesText, rep)
			if err != nil {
				return fmt.Errorf("apply patch: %w", err)
			}
			if err := os.WriteFile(*rulesFlag, fixed, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "applied the rules patch to %s: review it, then run check again\n", *rulesFlag)
		case *patchOut != "":
			if err := os.WriteFile(*patchOut, []byte(rep.Patch), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "rules patch written to %s (apply with: %s)\n", *patchOut, gate.PatchCommand(*rulesFlag, *patchOut))
		default:
			fmt.Fprintf(stdout, "\nrules patch (save it as FILE and apply with: %s, or rerun with --fix):\n%s", gate.PatchCommand(*rulesFlag, "FILE"), rep.Patch)
		}
	}
	if err := rulesVerdict(rep, planErr, errUnclassified); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ok: every column is masked, kept, truncated or not personal-looking")
	return nil
}

// rulesVerdict is the one verdict on rules checked against a live schema,
// for check, run --dry-run and mask (the pipeline's mask step decides the
// same way): rules that don't fit the database — a rule for a table or
// column it doesn't have, a rule that can't produce its column — are bad
// input (exit 2), whatever else is wrong, and their errors are shown even
// when the drift gate also objects; personal-looking columns without a
// rule come next, as unclassified (check: exit 1; mask: refused, exit 4).
func rulesVerdict(rep *gate.DriftReport, planErr, unclassified error) error {
	switch {
	case planErr != nil:
		return badInput(fmt.Errorf("the rules do not fit the database:\n%w", planErr))
	case len(rep.Stale) > 0:
		return badInput(fmt.Errorf("the rules do not fit the database: %d rule(s) name tables or columns it doesn't have (listed above)", len(rep.Stale)))
	case !rep.OK():
		return unclassified
	}
	return nil
}

// checkLive runs the drift gate and the planner against a live database,
// read-only: what `restage check` and `restage run --dry-run` report.
// planErr says a rule doesn't fit its column; err that the check could not
// run at all (exit 1, as for every command that can't reach its server).
func checkLive(ctx context.Context, target dsn.DSN, rules *config.Rules, rulesText []byte, sample int) (rep *gate.DriftReport, planErr, err error) {
	eng, err := openEngine(ctx, target)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to %s: %w", target.Target(), err)
	}
	defer eng.Close()
	rd, ok := eng.(mask.Reader)
	if !ok {
		return nil, nil, fmt.Errorf("engine %s cannot be read by the gates", target.Engine)
	}
	sch, err := eng.Introspect(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read schema of %s: %w", target.Target(), err)
	}
	rep, err = gate.Drift(ctx, rd, sch, rules, rulesText, gate.DriftOptions{SampleRows: sample})
	if err != nil {
		return nil, nil, fmt.Errorf("drift gate: %w", err)
	}
	// The rules must also fit the schema (types, lengths, NOT NULL, ...).
	_, planErr = mask.NewPlan(rules, sch)
	return rep, planErr, nil
}
