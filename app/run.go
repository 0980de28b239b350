package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/gate"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/slack"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restage run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "validate everything and print what would be done; touch nothing")
	reportFile := fs.String("report", "", "write the JSON report to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return badInput(err)
	}
	if fs.NArg() > 0 {
		return badInput(fmt.Errorf("unexpected arguments: %v", fs.Args()))
	}
	rc, err := loadRunConfig(ctx)
	if err != nil {
		return badInput(err)
	}
	log := newLogger(stdout, rc.settings.LogLevel).With("target", rc.cfg.Target)
	log.Info("restage run", "version", version, "provider", rc.settings.Provider, "reason", rc.settings.RunReason)

	if *dryRun {
		restore := fmt.Sprintf("copy %s into %s from one consistent snapshot", rc.source.Target(), local.DBName(rc.cfg.Target, "<run>"))
		swap := "make it the database behind " + rc.staging.Target()
		if rc.aws != nil {
			restore = fmt.Sprintf("restore the newest %s snapshot of %s into restage-%s-<yyyymmddhhmm>", rc.aws.rds.Engine, rc.aws.rds.SourceID, rc.cfg.Target)
			swap = "point " + rc.aws.dns.Name + " at the new endpoint"
		}
		fmt.Fprintf(stderr, "dry run for target %s (provider %s):\n", rc.cfg.Target, rc.settings.Provider)
		fmt.Fprintf(stderr, "  prepare      take the run lock; remove leftovers of earlier runs\n")
		fmt.Fprintf(stderr, "  restore      %s\n", restore)
		fmt.Fprintf(stderr, "  credentials  local: no-op; AWS: take over the master login\n")
		fmt.Fprintf(stderr, "  ready        log in and SELECT 1, with backoff\n")
		fmt.Fprintf(stderr, "  mask         drift gate, then %d masked / %d truncated table rule(s) with %d worker(s); %d post-mask statement(s)\n",
			len(rc.cfg.Rules.Tables), len(rc.cfg.Rules.Truncate), rc.cfg.Workers, len(rc.cfg.Rules.PostMaskSQL))
		fmt.Fprintf(stderr, "  verify       verification gate\n")
		fmt.Fprintf(stderr, "  users        %d staging user(s); %d preserved table(s)\n", len(rc.cfg.Users), len(rc.cfg.Preserve))
		fmt.Fprintf(stderr, "  swap         %s\n", swap)
		fmt.Fprintf(stderr, "  retire       delete the previous staging DB after %s\n", rc.cfg.RetireGrace)
		dryRunForecast(ctx, rc, log, stderr)
		err := dryRunCheck(ctx, rc, stderr)
		fmt.Fprintln(stderr, "nothing was changed")
		return err
	}

	var prov refresh.Provider
	if rc.aws != nil {
		prov, err = newAWSProvider(ctx, rc.settings, log)
	} else {
		prov, err = engines.NewLocal(rc.local(log))
	}
	if err != nil {
		return badInput(err)
	}
	defer prov.Close()
	notifier := &slackNotifier{n: slack.New(rc.slack, log)}
	// The local provider keeps its history in the control DB itself; on
	// AWS it is an item of the lock table.
	var hist refresh.History
	if rc.aws != nil {
		if hist, err = newAWSHistory(ctx, rc.aws, rc.cfg.Target); err != nil {
			log.Warn("run history not available; no forecast", "error", err.Error())
		}
	}
	rep, err := refresh.Run(ctx, rc.cfg, refresh.Deps{
		Provider: prov,
		OpenEngine: func(ctx context.Context, adminDSN string) (mask.Engine, error) {
			d, err := engines.ParseDSN(adminDSN)
			if err != nil {
				return nil, err
			}
			return openEngine(ctx, d)
		},
		Notifier: notifier,
		Log:      log,
		History:  hist,
		// Printed at the start, so a run that will take long says so
		// before it does.
		OnForecast: func(f *refresh.Forecast) { f.Print(stderr) },
	})
	printRunReport(stderr, rep)
	if *reportFile != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if werr := os.WriteFile(*reportFile, append(b, '\n'), 0o644); werr != nil {
			fmt.Fprintf(stderr, "restage: write report: %v\n", werr)
		}
	}
	if rc.aws != nil && rep != nil {
		if merr := writeRunMetrics(stdout, rc.aws.set.MetricsNamespace, rc.cfg.Target, rep, err == nil, time.Now()); merr != nil {
			log.Error("run metrics not written", "error", merr.Error())
		}
	}
	if err != nil {
		return err
	}
	if rc.aws != nil {
		if err := writeSuccessMetric(stdout, rc.aws.set.MetricsNamespace, rc.cfg.Target, time.Now()); err != nil {
			log.Error("success metric not written", "error", err.Error())
		}
	}
	return nil
}

// dryRunCheck checks the rules against the live source schema the way
// `restage check` does, and fails the way it does (rulesVerdict): exit 2
// when a rule doesn't fit the database, 1 for unclassified columns. Only on local
// servers: on AWS restage never connects to production.
func dryRunCheck(ctx context.Context, rc *runConfig, w io.Writer) error {
	if rc.aws != nil {
		fmt.Fprintln(w, "rules not checked against a live schema: on AWS restage never connects to production (run restage check against a restored copy)")
		return nil
	}
	fmt.Fprintf(w, "rules checked against the source schema of %s:\n", rc.source.Target())
	rep, planErr, err := checkLive(ctx, rc.source, rc.cfg.Rules, rc.cfg.RulesText, gate.DriftDefaultSampleRows)
	if err != nil {
		return err
	}
	fmt.Fprint(w, rep.Summary())
	if rep.Patch != "" {
		fmt.Fprintf(w, "\nrules patch (save it as FILE and apply with: %s, or run restage check --fix):\n%s", rep.PatchCommand("FILE"), rep.Patch)
	}
	return rulesVerdict(rep, planErr, errUnclassified)
}

type runConfig struct {
	settings *config.Settings
	cfg      refresh.Config
	source   dsn.DSN
	staging  dsn.DSN
	slack    slack.Config
	prodLogs []string
	aws      *awsEnv // set when RESTAGE_PROVIDER=aws
}

func (rc *runConfig) local(log *slog.Logger) local.Config {
	s := rc.settings
	return local.Config{
		Target: s.Target, SourceDSN: s.SourceDSN, StagingDSN: s.StagingDSN, ControlDB: s.ControlDB,
		KeepLast: s.KeepLast, Adopt: s.Adopt, ProductionLogins: rc.prodLogs, AcceptSharedLogins: s.AcceptSharedLogins, Log: log,
		TestPauseAt: s.TestPauseAt,
	}
}

var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

// loadRunConfig reads and validates every setting `restage run` needs and
// reports every problem at once.
func loadRunConfig(ctx context.Context) (*runConfig, error) {
	rc := &runConfig{}
	var problems []error
	add := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	// Variables that don't parse are reported with everything else.
	s, err := config.LoadSettings()
	add(err)
	rc.settings = s
	add(s.Validate())
	key, err := s.Key()
	add(err)
	if s.Target == "" {
		add(errors.New("RESTAGE_TARGET is required (the name of the staging database being refreshed)"))
	}
	switch s.Provider {
	case "local":
		if s.SourceDSN == "" {
			add(errors.New("RESTAGE_SOURCE_DSN is required (the production source)"))
		} else if rc.source, err = engines.ParseDSN(s.SourceDSN); err != nil {
			add(fmt.Errorf("RESTAGE_SOURCE_DSN: %w", err))
		}
		if s.StagingDSN == "" {
			add(errors.New("RESTAGE_STAGING_DSN is required (admin login on the staging server; its database is the staging name)"))
		} else if rc.staging, err = engines.ParseDSN(s.StagingDSN); err != nil {
			add(fmt.Errorf("RESTAGE_STAGING_DSN: %w", err))
		} else {
			add(config.CheckDatabaseName("RESTAGE_STAGING_DSN", rc.staging.Database))
		}
	case "aws":
		rc.aws, err = readAWSEnv(s)
		add(err)
	default:
		add(fmt.Errorf("RESTAGE_PROVIDER %q: want local or aws", s.Provider))
	}
	var rules *config.Rules
	var rulesText []byte
	if strings.HasPrefix(s.Rules, "s3://") {
		region := os.Getenv("RESTAGE_AWS_REGION")
		if rulesText, err = readS3Rules(ctx, region, s.Rules); err != nil {
			add(err)
		} else if rules, err = config.ParseRules(s.Rules, rulesText); err != nil {
			add(err)
		}
	} else {
		rules, rulesText, err = readRules("RESTAGE_RULES", s.Rules)
		add(err)
	}
	users, err := parseStagingUsers(s.StagingUsers, rc.aws == nil && rc.staging.Engine == dsn.MySQL)
	add(err)
	preserve, err := parsePreserve(s.Preserve)
	add(err)
	rc.slack = slack.Config{Token: s.SlackToken, Channel: s.SlackChannel, WebhookURL: s.SlackWebhook, OnSuccess: s.SlackOnSuccess, Timeout: s.SlackTimeout}
	add(rc.slack.Validate())
	for _, l := range strings.Split(s.ProductionLogins, ",") {
		if l = strings.TrimSpace(l); l != "" {
			rc.prodLogs = append(rc.prodLogs, l)
		}
	}
	if len(problems) == 0 && rc.aws == nil {
		lc := rc.local(nil)
		add(lc.Validate(engines.ParseDSN))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	rc.cfg = refresh.Config{
		Target: s.Target, Rules: rules, RulesText: rulesText, Key: key,
		Workers: s.Workers, BatchSize: s.BatchSize, MaxDuration: s.MaxDuration, RetireGrace: s.RetireGrace,
		Users: users, Preserve: preserve,
	}
	return rc, nil
}

// parseStagingUsers reads "name:read,other:write"; passwords come from
// RESTAGE_STAGING_USER_<NAME>_PASSWORD or …_PASSWORD_FILE.
//
// On MySQL a user without a password keeps the account's grants copied
// from the current staging DB (the old system's way); PostgreSQL can't
// read passwords back, so there it needs one.
func parseStagingUsers(spec string, copyAllowed bool) ([]refresh.StagingUser, error) {
	var users []refresh.StagingUser
	var errs []error
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, priv, ok := strings.Cut(item, ":")
		if !ok {
			priv = "read"
		}
		if !userNameRE.MatchString(name) {
			errs = append(errs, fmt.Errorf("RESTAGE_STAGING_USERS: user %q: want lower-case letters, digits, underscores", name))
			continue
		}
		if priv != "read" && priv != "write" {
			errs = append(errs, fmt.Errorf("RESTAGE_STAGING_USERS: user %s: privileges must be read or write, got %q", name, priv))
			continue
		}
		env := "RESTAGE_STAGING_USER_" + strings.ToUpper(name) + "_PASSWORD"
		pw := os.Getenv(env)
		if f := os.Getenv(env + "_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", env, err))
				continue
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		if pw == "" && !copyAllowed {
			errs = append(errs, fmt.Errorf("staging user %s has no password: set %s or %s_FILE", name, env, env))
			continue
		}
		users = append(users, refresh.StagingUser{Name: name, Password: pw, Privileges: priv})
	}
	return users, errors.Join(errs...)
}

// parsePreserve reads "table[: predicate]; table2 …". A predicate is
// parsed into preserve's closed grammar here, so a setting that isn't one
// stops the run before anything is created (exit 2).
func parsePreserve(spec string) ([]refresh.PreserveSpec, error) {
	var out []refresh.PreserveSpec
	var errs []error
	for _, item := range splitOutsideQuotes(spec, ';') {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		table, where, _ := strings.Cut(item, ":")
		table, where = strings.TrimSpace(table), strings.TrimSpace(where)
		if !tableNameRE.MatchString(table) {
			errs = append(errs, fmt.Errorf("RESTAGE_PRESERVE: %q is not a table name (want table or schema.table)", table))
			continue
		}
		ps := refresh.PreserveSpec{Table: table}
		if where != "" {
			p, err := preserve.Parse(where)
			if err != nil {
				errs = append(errs, fmt.Errorf("RESTAGE_PRESERVE %s: %w", table, err))
				continue
			}
			ps.Where = p
		}
		out = append(out, ps)
	}
	return out, errors.Join(errs...)
}

var tableNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// splitOutsideQuotes splits s at sep except inside '…' (a predicate's
// string may hold the separator).
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted := false
	last := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			quoted = !quoted
		case s[i] == sep && !quoted:
			out = append(out, s[last:i])
			last = i + 1
		}
	}
	return append(out, s[last:])
}

func printRunReport(w io.Writer, rep *refresh.Report) {
	if rep == nil {
		return
	}
	fmt.Fprintf(w, "restage run %s, target %s: exit %d in %s\n", rep.RunID, rep.Target, rep.ExitCode, rep.Duration.Round(time.Millisecond))
	for _, s := range rep.Steps {
		fmt.Fprintf(w, "  %-12s %-8s %8s  %s\n", s.Step, s.Status, s.Duration.Round(time.Millisecond), s.Note)
	}
	if rep.Mask != nil {
		printSummary(w, &maskReport{Mask: rep.Mask, Verify: rep.Verify})
	}
	if rep.Drift != nil && !rep.Drift.OK() {
		fmt.Fprint(w, rep.Drift.Summary())
		if rep.Drift.Patch != "" {
			fmt.Fprintf(w, "\nrules patch (save it as FILE and apply with: %s):\n%s", rep.Drift.PatchCommand("FILE"), rep.Drift.Patch)
		}
	}
	for _, warn := range rep.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

// slackNotifier adapts the Slack client to the pipeline's Notifier.
type slackNotifier struct{ n *slack.Notifier }

func (s *slackNotifier) Notify(ctx context.Context, n refresh.Notice) {
	ev := slack.Event{Target: n.Target, RunID: n.RunID, Step: n.Step, Class: n.Class, Detail: n.Detail,
		Duration: n.Duration, Rows: n.Rows, Tables: n.Tables, ExitCode: n.ExitCode, Median: n.Median, MedianRuns: n.MedianRuns}
	switch n.Kind {
	case "failure":
		s.n.Failure(ctx, ev)
	case "warning":
		s.n.Warning(ctx, ev)
	default:
		s.n.Success(ctx, ev)
	}
}

// readRules reads and parses a rules file; what names where it came from
// (a flag or a variable) for the error when it is missing or unreadable.
func readRules(what, path string) (*config.Rules, []byte, error) {
	if path == "" {
		return nil, nil, fmt.Errorf("%s is required (the rules file)", what)
	}
	text, err := config.ReadRulesFile(path)
	if err != nil {
		var re *config.RulesError
		if errors.As(err, &re) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	rules, err := config.ParseRules(path, text)
	if err != nil {
		return nil, nil, err
	}
	return rules, text, nil
}
