// Command benchreport prints the masking benchmark report behind `make
// bench`: for each engine it generates a people table with -rows rows
// server-side and compares, each on a fresh copy of it,
//
//   - restage mask (the built binary, as a subprocess) with each -workers
//     count: masking-phase and end-to-end rows/s, peak RSS, table size;
//   - a plain server-side, set-based UPDATE of the same four columns in
//     -batch-row id ranges (one transaction each) over the same number of
//     connections, plus the statistics refresh restage also does;
//   - a row-by-row loop (SELECT a batch, one UPDATE per row, commit per
//     batch) over the first -loop-rows rows, extrapolated;
//
// and checks the performance targets: restage ≥ 0.9× the server-side
// UPDATE, ≥ 15× the row-by-row loop, peak RSS < 100 MB.
//
// Each engine works in its own uniquely named databases, dropped at the
// end, also on failure and Ctrl-C. Servers are found like the tests find
// them (RESTAGE_TEST_MYSQL_DSN, RESTAGE_TEST_POSTGRES_DSN); passwords are
// never printed.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/dsn"
)

// Admin DSNs, as internal/testdb reads them.
const (
	envMySQL        = "RESTAGE_TEST_MYSQL_DSN"
	envPostgres     = "RESTAGE_TEST_POSTGRES_DSN"
	defaultMySQL    = "restage:restage@tcp(127.0.0.1:3306)/"
	defaultPostgres = "postgres://restage:restage@127.0.0.1:5432/postgres?sslmode=disable"
)

type config struct {
	rows     int
	engines  []string
	workers  []int
	out      string
	bin      string
	batch    int
	loopRows int
	strict   bool
	verbose  bool
	keep     bool
	repeat   int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "benchreport:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	var results []*engineResult
	failed := false
	for _, name := range cfg.engines {
		res := benchEngine(ctx, cfg, name, logf)
		results = append(results, res)
		if res.err != nil { // already logged as it happened; also in the report
			failed = true
		}
		if ctx.Err() != nil {
			break
		}
	}

	report := render(cfg, results)
	fmt.Fprint(stdout, report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			logf("write %s: %v", cfg.out, err)
			failed = true
		}
	}
	switch {
	case ctx.Err() != nil:
		logf("benchreport: interrupted; bench databases dropped")
		return 130
	case failed:
		return 1
	case cfg.strict && missed(results):
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	engines := fs.String("engines", "mysql,postgres", "engines to bench, comma-separated: mysql, postgres")
	workers := fs.String("workers", "1,2", "worker (connection) counts, comma-separated")
	fs.IntVar(&cfg.rows, "rows", 1_000_000, "rows in the generated table")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.StringVar(&cfg.bin, "bin", "bin/restage", "the restage binary (make build)")
	fs.IntVar(&cfg.batch, "batch", 10_000, "rows per range and transaction, for restage (--batch-size) and the baselines")
	fs.IntVar(&cfg.loopRows, "loop-rows", 50_000, "rows the row-by-row loop masks (its rows/s is extrapolated)")
	fs.IntVar(&cfg.repeat, "repeat", 1, "run every measurement this many times (each on a fresh copy) and report the median")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 when a target is missed")
	fs.BoolVar(&cfg.verbose, "v", false, "print restage's own output")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the bench databases (for inspection); their names are printed")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	var problems []error
	if cfg.rows < 1 {
		problems = append(problems, errors.New("-rows must be ≥ 1"))
	}
	if cfg.batch < 100 || cfg.batch > 1_000_000 {
		problems = append(problems, errors.New("-batch must be within 100–1,000,000 (restage's range)"))
	}
	if cfg.repeat < 1 {
		problems = append(problems, errors.New("-repeat must be ≥ 1"))
	}
	if cfg.loopRows < 1 {
		problems = append(problems, errors.New("-loop-rows must be ≥ 1"))
	}
	seen := map[string]bool{}
	for _, e := range strings.Split(*engines, ",") {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case e != "mysql" && e != "postgres":
			problems = append(problems, fmt.Errorf("-engines: unknown engine %q (valid: mysql, postgres)", e))
		case !seen[e]:
			seen[e] = true
			cfg.engines = append(cfg.engines, e)
		}
	}
	if len(cfg.engines) == 0 && len(problems) == 0 {
		problems = append(problems, errors.New("-engines names no engine"))
	}
	for _, w := range strings.Split(*workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 || n > 64 {
			problems = append(problems, fmt.Errorf("-workers: %q is not a count within 1–64", w))
			continue
		}
		cfg.workers = append(cfg.workers, n)
	}
	if abs, err := filepath.Abs(cfg.bin); err == nil {
		cfg.bin = abs
	}
	if st, err := os.Stat(cfg.bin); err != nil || st.IsDir() {
		problems = append(problems, fmt.Errorf("restage binary %s not found: run make build (or pass -bin)", cfg.bin))
	}
	return cfg, errors.Join(problems...)
}

// engineResult is everything measured on one engine.
type engineResult struct {
	name, version string
	rows          int64
	gen           time.Duration
	restage       []*restageRun
	update        []*updateRun
	loop          *loopRun
	err           error
}

func newDialect(name string) (dialect, error) {
	switch name {
	case "mysql":
		return newMySQL(envOr(envMySQL, defaultMySQL))
	default:
		return newPostgres(envOr(envPostgres, defaultPostgres))
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func uniqueName(engine string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "restage_bench_" + engine + "_" + hex.EncodeToString(b[:]), nil
}

// benchEngine runs every measurement on one engine. It always drops what
// it created, from a context that survives cancellation.
func benchEngine(ctx context.Context, cfg *config, name string, logf func(string, ...any)) (res *engineResult) {
	res = &engineResult{name: name}
	d, err := newDialect(name)
	if err != nil {
		res.err = err
		return res
	}
	// Nothing printed should hold the password; restage and the drivers
	// don't print it, this is a second line of defence for DSN-shaped leaks
	// (user:pw@) and, where the password is long enough not to be an
	// ordinary word, for any occurrence.
	scrub := func(s string) string {
		if pw := d.Password(); pw != "" {
			s = strings.ReplaceAll(s, ":"+pw+"@", ":***@")
			if len(pw) >= 12 {
				s = strings.ReplaceAll(s, pw, "***")
			}
		}
		return s
	}
	fail := func(err error) *engineResult {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		res.err = errors.New(scrub(err.Error()))
		return res
	}

	admin, err := sql.Open(d.Driver(), d.AdminDSN())
	if err != nil {
		return fail(err)
	}
	defer admin.Close()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = admin.PingContext(pctx)
	cancel()
	if err != nil {
		return fail(fmt.Errorf("cannot connect to the %s server (admin DSN from %s or its default): %w", name, map[string]string{"mysql": envMySQL, "postgres": envPostgres}[name], err))
	}
	if res.version, err = d.Version(ctx, admin); err != nil {
		return fail(err)
	}

	base, err := uniqueName(name)
	if err != nil {
		return fail(err)
	}
	s := &session{cfg: cfg, d: d, admin: admin, base: base, logf: logf, scrub: scrub}
	logf("== %s (%s): database %s", name, res.version, base)
	defer func() {
		if s.db != nil {
			s.db.Close()
		}
		if s.tmp != "" {
			os.RemoveAll(s.tmp)
		}
		if !s.created {
			return
		}
		if cfg.keep {
			logf("== %s: kept database %s (-keep)", name, base)
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := d.Drop(dctx, admin, base); err != nil {
			logf("%s: cleanup failed, drop it by hand: %s", name, scrub(err.Error()))
			if res.err == nil {
				res.err = errors.New(scrub(err.Error()))
			}
		}
	}()
	work, err := d.Create(ctx, admin, base)
	if err != nil {
		return fail(err)
	}
	s.created = true
	if s.dsn, err = d.DSN(work); err != nil {
		return fail(err)
	}
	parsed, err := dsn.Parse(s.dsn)
	if err != nil {
		return fail(fmt.Errorf("bench DSN: %w", err))
	}
	s.target = parsed.Target()
	if s.db, err = sql.Open(d.Driver(), s.dsn); err != nil {
		return fail(err)
	}
	s.db.SetMaxOpenConns(max(slicesMax(cfg.workers), 1) + 2)
	s.db.SetMaxIdleConns(max(slicesMax(cfg.workers), 1) + 2)
	if s.tmp, err = os.MkdirTemp("", "restage-bench-"); err != nil {
		return fail(err)
	}

	logf("  generating %d rows ...", cfg.rows)
	start := time.Now()
	if err := s.generate(ctx); err != nil {
		return fail(err)
	}
	res.gen = time.Since(start)
	if err := s.freshCopy(ctx); err != nil {
		return fail(err)
	}
	if err := s.countNulls(ctx); err != nil {
		return fail(err)
	}
	res.rows = s.rows
	logf("  generated in %s", res.gen.Round(time.Millisecond))

	// A failed measurement is reported and the others still run.
	var errs []error
	note := func(err error) bool {
		if err == nil {
			return true
		}
		errs = append(errs, err)
		logf("  %s: %s", name, scrub(err.Error()))
		return ctx.Err() == nil
	}
	defer func() {
		if len(errs) > 0 && res.err == nil {
			fail(errors.Join(errs...))
		}
	}()
	for _, w := range cfg.workers {
		r, err := median(cfg.repeat, func() (*restageRun, error) { return s.runRestage(ctx, w) },
			func(r *restageRun) time.Duration { return r.mask })
		if !note(err) {
			return res
		}
		if r != nil {
			res.restage = append(res.restage, r)
		}
	}
	for _, w := range cfg.workers {
		u, err := median(cfg.repeat, func() (*updateRun, error) { return s.runUpdate(ctx, w) },
			func(u *updateRun) time.Duration { return u.update })
		if !note(err) {
			return res
		}
		if u != nil {
			res.update = append(res.update, u)
		}
	}
	l, err := median(cfg.repeat, func() (*loopRun, error) { return s.runLoop(ctx) },
		func(l *loopRun) time.Duration { return l.dur })
	note(err)
	res.loop = l
	return res
}

// median runs a measurement n times and returns the run with the median
// duration (the upper one for even n); the first error stops it.
func median[T any](n int, run func() (T, error), dur func(T) time.Duration) (T, error) {
	var runs []T
	for range n {
		r, err := run()
		if err != nil {
			var zero T
			return zero, err
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return dur(runs[i]) < dur(runs[j]) })
	return runs[len(runs)/2], nil
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
