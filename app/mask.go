package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/gate"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/refresh"
)

func runMask(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restage mask", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dsnFlag    = fs.String("dsn", "", "connection string of the database to mask (postgres://…, mysql://… or user:pass@tcp(host:port)/db)")
		rulesFlag  = fs.String("rules", "", "rules file (YAML)")
		confirm    = fs.String("confirm", "", "repeat the exact target, host:port/dbname, to confirm the in-place masking")
		workers    = fs.Int("workers", 0, "concurrent connections (default RESTAGE_WORKERS or 2)")
		batch      = fs.Int("batch-size", 0, "rows per range and transaction (default RESTAGE_BATCH_SIZE or 10000)")
		dryRun     = fs.Bool("dry-run", false, "check rules against the database and print the plan; change nothing")
		reportFile = fs.String("report", "", "write the JSON report to this file")
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

	// Everything that can be checked offline, reported at once.
	var problems []error
	settings, err := config.LoadSettings()
	if err != nil {
		problems = append(problems, err)
	}
	// A flag overrides its variable, and a bad value blames the flag.
	if *workers != 0 {
		settings.Workers = *workers
		settings.FromFlag("WORKERS", "--workers")
	}
	if *batch != 0 {
		settings.BatchSize = *batch
		settings.FromFlag("BATCH_SIZE", "--batch-size")
	}
	if err := settings.Validate(); err != nil {
		problems = append(problems, err)
	}
	key, err := settings.Key()
	if err != nil && !*dryRun {
		problems = append(problems, err)
	}
	var target dsn.DSN
	if *dsnFlag == "" {
		problems = append(problems, errors.New("--dsn is required"))
	} else if target, err = engines.ParseDSN(*dsnFlag); err != nil {
		problems = append(problems, fmt.Errorf("--dsn: %w", err))
	}
	if target.Engine != "" && !*dryRun {
		switch {
		case *confirm == "":
			problems = append(problems, fmt.Errorf("masking changes %s in place: confirm with --confirm %s", target.Target(), target.Target()))
		case *confirm != target.Target():
			problems = append(problems, fmt.Errorf("--confirm %q does not match the target %s", *confirm, target.Target()))
		}
	}
	if settings.SourceDSN != "" && target.Engine != "" {
		src, err := engines.ParseDSN(settings.SourceDSN)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("RESTAGE_SOURCE_DSN: %w", err))
		case dsn.SameDatabase(src, target):
			problems = append(problems, fmt.Errorf("refusing to mask %s: it is the production source (RESTAGE_SOURCE_DSN)", target.Target()))
		}
	}
	rules, rulesText, err := readRules("--rules", *rulesFlag)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return badInput(errors.Join(problems...))
	}
	// Host names can't tell: an alias of the source's server passes the
	// check above. Ask the servers (internal/local/identity.go).
	if settings.SourceDSN != "" {
		same, err := engines.SameDatabase(ctx, settings.SourceDSN, *dsnFlag)
		switch {
		case err != nil:
			return badInput(fmt.Errorf("can't tell whether %s is the production source (RESTAGE_SOURCE_DSN); nothing was changed: %w", target.Target(), err))
		case same:
			return badInput(fmt.Errorf("refusing to mask %s: it is the production source (RESTAGE_SOURCE_DSN) under another name", target.Target()))
		}
	}

	log := newLogger(stdout, settings.LogLevel).With("target", target.Target())
	eng, err := openEngine(ctx, target)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", target.Target(), err)
	}
	defer eng.Close()
	// The same mask + verify pass as `restage run`'s mask and verify steps:
	// drift gate, plan, masking, post-mask SQL, verification, leak scan.
	m := &refresh.Masking{Rules: rules, RulesText: rulesText, Key: key,
		Workers: settings.Workers, BatchSize: settings.BatchSize, Log: log}
	err = m.Check(ctx, eng)
	if m.Plan != nil {
		// Read-only; masking decides again from the facts of its moment.
		if serr := mask.ChooseStrategies(ctx, eng, m.Plan); serr != nil {
			log.Warn("masking strategies unknown before masking", "error", serr.Error())
		}
		fmt.Fprintf(stderr, "plan for %s:\n%s", target.Target(), m.Plan.Describe())
	}
	if m.Drift != nil && !m.Drift.OK() {
		fmt.Fprint(stderr, m.Drift.Summary())
		if m.Drift.Patch != "" {
			fmt.Fprintf(stderr, "\nrules patch (save it as FILE and apply with: %s, or run restage check --fix):\n%s", m.Drift.PatchCommand("FILE"), m.Drift.Patch)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was changed", target.Target(), err)
	}
	if *dryRun {
		fmt.Fprintln(stderr, "dry run: rules fit, drift gate passed; nothing changed")
		return nil
	}

	log.Info("masking", "step", "mask")
	err = m.Mask(ctx, eng)
	out := &maskReport{Mask: m.Report}
	defer func() {
		printSummary(stderr, out)
		if *reportFile != "" {
			if werr := writeReport(*reportFile, out); werr != nil {
				fmt.Fprintf(stderr, "restage: write report: %v\n", werr)
			}
		}
	}()
	if err != nil {
		if ctx.Err() != nil {
			return exitcode.New(exitcode.Cancelled, fmt.Errorf("cancelled; the database is partly masked: %w", err))
		}
		return err
	}
	err = m.VerifyMasked(ctx, eng)
	out.Verify, out.Leak = m.Verify, m.Leak
	if err != nil {
		return fmt.Errorf("%s is masked but %w (see the report)", target.Target(), err)
	}
	return nil
}

// maskReport is what `restage mask --report` writes.
type maskReport struct {
	Mask   *mask.Report       `json:"mask"`
	Verify *gate.VerifyReport `json:"verify,omitempty"`
	Leak   *gate.LeakReport   `json:"leak_scan,omitempty"`
}

func printSummary(w io.Writer, r *maskReport) {
	rep := r.Mask
	if rep == nil {
		return
	}
	defer func() {
		if r.Verify != nil {
			fmt.Fprintln(w, strings.TrimRight(r.Verify.Summary(), "\n"))
		}
		if r.Leak != nil {
			fmt.Fprintln(w, "leak scan: "+r.Leak.Summary())
		}
	}()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\taction\trows\tduration\trows/s\t")
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.0f\t\n", t.Table, t.Action, t.Rows, t.Duration.Round(time.Millisecond), t.RowsPerSec)
	}
	fmt.Fprintf(tw, "total\t\t%d\t%s\t\t\n", rep.Rows, rep.Duration.Round(time.Millisecond))
	tw.Flush()
	for _, t := range rep.Tables {
		if t.Strategy != "" {
			fmt.Fprintf(w, "strategy %s: %s (%s)\n", t.Table, t.Strategy, t.StrategyWhy)
		}
	}
	for _, f := range rep.Firing {
		fmt.Fprintf(w, "warning: trigger %s fired during masking\n", f)
	}
}

func writeReport(path string, rep *maskReport) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
