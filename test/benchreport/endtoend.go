package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/testdb/jpshop"
)

// What a user waits for, next to what the same server does without
// restage: M0 (rewrite the table with md5 expressions), a plain copy of
// the database (dump | load), and restage's own end-to-end `run` on the
// local provider. The copy and the run read a production database that
// holds only the people table (prod, a copy of the generated source).

// m0Run is one rewrite-limit measurement.
type m0Run struct {
	rows  int64
	dur   time.Duration
	cores float64 // busy cores during it (cpuMeter)
}

// runM0 builds people_m0 from people with the md5 expressions, adds the
// primary key and the UNIQUE index, and analyzes it: the fastest a masked
// table can come to be on this server. The table is dropped untimed.
func (s *session) runM0(ctx context.Context) (*m0Run, error) {
	if err := s.freshCopy(ctx); err != nil {
		return nil, err
	}
	s.logf("  M0: CREATE TABLE AS SELECT + PK + UNIQUE + ANALYZE ...")
	start, meter := time.Now(), startCPU()
	for _, q := range s.d.M0SQL() {
		if err := s.d.Exec(ctx, s.db, q); err != nil {
			return nil, fmt.Errorf("M0: %w", err)
		}
	}
	r := &m0Run{dur: time.Since(start), cores: meter.cores()}
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+m0Table).Scan(&r.rows); err != nil {
		return nil, fmt.Errorf("M0: count: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DROP TABLE "+m0Table); err != nil {
		return nil, fmt.Errorf("M0: drop: %w", err)
	}
	if r.rows != s.rows {
		return nil, fmt.Errorf("M0 wrote %d rows, want %d", r.rows, s.rows)
	}
	return r, nil
}

// copyRun is one plain dump | load of the production database.
type copyRun struct {
	dur   time.Duration
	cpu   time.Duration // the dump and load clients' CPU (not the server's)
	cores float64       // busy cores during it (cpuMeter)
}

func (s *session) runCopy(ctx context.Context) (*copyRun, error) {
	to := s.base + "_copy"
	if err := s.d.DropDB(ctx, s.admin, to); err != nil {
		return nil, err
	}
	if err := s.d.CreateDB(ctx, s.admin, to); err != nil {
		return nil, err
	}
	defer s.d.DropDB(context.WithoutCancel(ctx), s.admin, to) //nolint:errcheck // Drop at the end catches it
	script, args, env := s.d.CopyScript(s.prod, to)
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-o", "pipefail", "-c", script, "copy"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	s.logf("  plain copy (%s) ...", s.d.CopyName())
	start, meter := time.Now(), startCPU()
	err := cmd.Run()
	c := &copyRun{dur: time.Since(start), cores: meter.cores(), cpu: processCPU(cmd.ProcessState)}
	if err != nil {
		return nil, fmt.Errorf("plain copy: %v\n%s", err, indent(tail(s.scrub(out.String()), 20)))
	}
	return c, nil
}

// runRun is one `restage run` on the local provider: prod → a new
// staging database, masked and verified, switched in.
type runRun struct {
	workers int
	wall    time.Duration
	rssKiB  int64
	cpu     time.Duration // restage's own CPU (user + system)
	cores   float64       // busy cores during it (cpuMeter)
}

func (s *session) runTarget() string { return "bench" + s.base[strings.LastIndex(s.base, "_")+1:] }

// cleanRun drops everything a run created: staging, control DB and the
// run's restage_<target>_* databases.
func (s *session) cleanRun(ctx context.Context) error {
	names, err := s.d.ListDBs(ctx, s.admin, "restage_"+s.runTarget()+"_")
	if err != nil {
		return err
	}
	names = append(names, s.base+"_stg", s.base+"_ctl")
	for _, n := range names {
		if err := s.d.DropDB(ctx, s.admin, n); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) runRun(ctx context.Context, workers int) (*runRun, error) {
	if err := s.cleanRun(ctx); err != nil {
		return nil, err
	}
	rules := filepath.Join(s.tmp, "rules-run.yaml")
	if err := os.WriteFile(rules, []byte(rulesYAML), 0o600); err != nil {
		return nil, err
	}
	src, err := s.d.DSN(s.prod)
	if err != nil {
		return nil, err
	}
	stg, err := s.d.DSN(s.base + "_stg")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, s.cfg.bin, "run")
	cmd.Env = append(restageEnv(),
		"RESTAGE_PROVIDER=local", "RESTAGE_SOURCE_DSN="+src, "RESTAGE_STAGING_DSN="+stg,
		"RESTAGE_RULES="+rules, "RESTAGE_TARGET="+s.runTarget(), "RESTAGE_CONTROL_DB="+s.base+"_ctl",
		"RESTAGE_WORKERS="+strconv.Itoa(workers), "RESTAGE_BATCH_SIZE="+strconv.Itoa(s.cfg.batch),
		// Production and staging share the bench's server (and its
		// admin logins): the staging-users step would refuse them.
		"RESTAGE_ACCEPT_SHARED_LOGINS=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	s.logf("  restage run (local) --workers %d ...", workers)
	start, meter := time.Now(), startCPU()
	runErr := cmd.Run()
	r := &runRun{workers: workers, wall: time.Since(start), cores: meter.cores(), cpu: processCPU(cmd.ProcessState)}
	if cmd.ProcessState != nil {
		r.rssKiB = maxRSSKiB(cmd.ProcessState)
	}
	if runErr != nil {
		return nil, fmt.Errorf("restage run --workers %d: %v\n%s", workers, runErr, indent(tail(s.scrub(out.String()), 30)))
	}
	if s.cfg.verbose {
		s.logf("%s", indent(s.scrub(out.String())))
	}
	db, err := sql.Open(s.d.Driver(), stg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n, left int64
	err = db.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN email LIKE '%@corp.example' THEN 1 ELSE 0 END), 0) FROM "+table).Scan(&n, &left)
	if err != nil {
		return nil, fmt.Errorf("restage run: check staging: %w", err)
	}
	if n != s.rows || left != 0 {
		return nil, fmt.Errorf("restage run: staging has %d rows (want %d), %d original emails", n, s.rows, left)
	}
	db.Close()
	return r, s.cleanRun(ctx)
}

// jpRun is one `restage mask` of the Japanese e-commerce fixture.
type jpRun struct {
	workers int
	rows    int64
	mask    time.Duration // restage's mask duration: prepare, masking, statistics
	wall    time.Duration
	rssKiB  int64
	tables  []jpTable
}

type jpTable struct {
	name string
	rows int64
	dur  time.Duration
}

func (s *session) runJPShop(ctx context.Context, workers int) (*jpRun, error) {
	name := s.base + "_jp"
	if err := s.d.DropDB(ctx, s.admin, name); err != nil {
		return nil, err
	}
	if err := s.d.CreateDB(ctx, s.admin, name); err != nil {
		return nil, err
	}
	defer s.d.DropDB(context.WithoutCancel(ctx), s.admin, name) //nolint:errcheck // Drop at the end catches it
	d, err := s.d.DSN(name)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(s.d.Driver(), d)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	flavor := jpshop.MariaDB
	if s.d.Name() == "postgres" {
		flavor = jpshop.Postgres
	}
	s.logf("  jpshop: loading size %d ...", s.cfg.jpSize)
	if _, err := jpshop.Load(ctx, db, flavor, s.cfg.jpSize); err != nil {
		return nil, fmt.Errorf("jpshop: load: %w", err)
	}
	if err := s.d.SettleAll(ctx, db); err != nil {
		return nil, fmt.Errorf("jpshop: settle: %w", err)
	}
	db.Close()
	rules := filepath.Join(s.tmp, "rules-jpshop.yaml")
	if err := os.WriteFile(rules, []byte(jpshop.RulesYAML), 0o600); err != nil {
		return nil, err
	}
	reportFile := filepath.Join(s.tmp, "report-jpshop.json")
	parsed, err := engines.ParseDSN(d)
	if err != nil {
		return nil, fmt.Errorf("jpshop DSN: %w", err)
	}
	cmd := exec.CommandContext(ctx, s.cfg.bin, "mask", "--dsn", d, "--rules", rules, "--confirm", parsed.Target(),
		"--workers", strconv.Itoa(workers), "--batch-size", strconv.Itoa(s.cfg.batch), "--report", reportFile)
	cmd.Env = restageEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	s.logf("  jpshop: restage mask --workers %d ...", workers)
	start := time.Now()
	runErr := cmd.Run()
	r := &jpRun{workers: workers, wall: time.Since(start)}
	if cmd.ProcessState != nil {
		r.rssKiB = maxRSSKiB(cmd.ProcessState)
	}
	if runErr != nil {
		return nil, fmt.Errorf("jpshop: restage mask --workers %d: %v\n%s", workers, runErr, indent(tail(s.scrub(out.String()), 30)))
	}
	b, err := os.ReadFile(reportFile)
	if err != nil {
		return nil, fmt.Errorf("jpshop: report: %w", err)
	}
	var wrapped struct {
		Mask *restageReport `json:"mask"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil || wrapped.Mask == nil {
		return nil, fmt.Errorf("jpshop: report %s: not a restage mask report", reportFile)
	}
	for _, t := range wrapped.Mask.Tables {
		if t.Action != "mask" {
			continue
		}
		r.rows += t.Rows
		r.tables = append(r.tables, jpTable{name: t.Table, rows: t.Rows, dur: t.Duration})
	}
	r.mask = wrapped.Mask.Duration
	return r, nil
}
