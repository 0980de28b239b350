// Command benchreport prints the benchmark report behind `make bench`:
// what a user waits for, side by side in one run. For each engine and each
// -rows size it generates a people table server-side and measures, each on
// a fresh copy of it:
//
//   - M0, the rewrite limit: CREATE TABLE … AS SELECT with md5 expressions
//     for the four masked columns, PRIMARY KEY, UNIQUE(email), ANALYZE;
//   - the plain copy of a database holding the table (pg_dump | psql,
//     mariadb-dump | mariadb);
//   - restage run on the local provider from that database, end to end;
//   - restage mask (the built binary, as a subprocess) with each -workers
//     count: masking phase, + statistics, whole command, peak RSS, table
//     size before and after;
//   - a plain server-side, set-based UPDATE of the same four columns, and
//     a row-by-row loop over the first -loop-rows rows, extrapolated;
//
// plus restage mask of the Japanese e-commerce fixture (-jpshop size,
// per-table rates). Every measurement runs -repeat times in interleaved
// rounds and reports its median. Each target prints PASS or MISS; -strict
// exits 1 on a MISS.
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
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/restage/restage/internal/engines"
)

// Admin DSNs, as internal/testdb reads them.
const (
	envMySQL        = "RESTAGE_TEST_MYSQL_DSN"
	envPostgres     = "RESTAGE_TEST_POSTGRES_DSN"
	defaultMySQL    = "restage:restage@tcp(127.0.0.1:3306)/"
	defaultPostgres = "postgres://restage:restage@127.0.0.1:5432/postgres?sslmode=disable"
)

type config struct {
	rows     []int
	jpSize   int
	endToEnd bool
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
	case cfg.strict && missed(cfg, results):
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := &config{}
	engines := fs.String("engines", "mysql,postgres", "engines to bench, comma-separated: mysql, postgres")
	workers := fs.String("workers", "1,2,4", "worker (connection) counts, comma-separated")
	rows := fs.String("rows", "1000000,5000000", "row counts of the generated table, comma-separated: each is benched in turn")
	fs.IntVar(&cfg.jpSize, "jpshop", 400_000, "size of the Japanese e-commerce fixture (internal/testdb/jpshop; MariaDB and PostgreSQL); 0 skips it")
	fs.BoolVar(&cfg.endToEnd, "end-to-end", true, "also measure the plain copy (dump | load) and restage run on the local provider")
	fs.StringVar(&cfg.out, "out", "", "also write the report to this file")
	fs.StringVar(&cfg.bin, "bin", "bin/restage", "the restage binary (make build)")
	fs.IntVar(&cfg.batch, "batch", 10_000, "rows per range and transaction, for restage (--batch-size) and the baselines")
	fs.IntVar(&cfg.loopRows, "loop-rows", 50_000, "rows the row-by-row loop masks (its rows/s is extrapolated)")
	fs.IntVar(&cfg.repeat, "repeat", 3, "rounds: every measurement runs once per round (each on a fresh copy), rounds interleaved; the median is reported")
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
	for _, r := range strings.Split(*rows, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 100 {
			problems = append(problems, fmt.Errorf("-rows: %q is not a row count ≥ 100", r))
			continue
		}
		cfg.rows = append(cfg.rows, n)
	}
	if cfg.jpSize < 0 {
		problems = append(problems, errors.New("-jpshop must be ≥ 0"))
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
	sizes         []*sizeResult
	jp            *jpRun // the Japanese e-commerce fixture, -jpshop
	err           error
}

// sizeResult is everything measured on one table size: medians.
type sizeResult struct {
	rows    int64
	gen     time.Duration
	m0      *m0Run
	restage []*restageRun
	update  []*updateRun
	loop    *loopRun
	copy    *copyRun
	run     []*runRun
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
		if err := s.dropAll(dctx); err != nil {
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
	parsed, err := engines.ParseDSN(s.dsn)
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
	for _, rows := range cfg.rows {
		sr, ok := s.benchSize(ctx, rows, note)
		if sr != nil {
			res.sizes = append(res.sizes, sr)
		}
		if !ok {
			return res
		}
	}
	if cfg.jpSize > 0 {
		w := cfg.mainWorkers()
		var runs []*jpRun
		for range cfg.repeat {
			r, err := s.runJPShop(ctx, w)
			if !note(err) {
				return res
			}
			if r != nil {
				runs = append(runs, r)
			}
		}
		res.jp = medianOf(runs, func(r *jpRun) time.Duration { return r.wall })
	}
	return res
}

// benchSize generates a table of rows rows and runs every measurement
// -repeat times, interleaved (round 1 runs each once, then round 2, …) so
// a slow spell of the machine spreads over all of them; each reports its
// median. ok false means stop (interrupted).
func (s *session) benchSize(ctx context.Context, rows int, note func(error) bool) (sr *sizeResult, ok bool) {
	cfg := s.cfg
	s.rowsWanted = rows
	s.logf("  generating %d rows ...", rows)
	start := time.Now()
	if err := s.generateSource(ctx); err != nil {
		return nil, note(err)
	}
	sr = &sizeResult{gen: time.Since(start)}
	if err := s.freshCopy(ctx); err != nil {
		return nil, note(err)
	}
	if err := s.countNulls(ctx); err != nil {
		return nil, note(err)
	}
	sr.rows = s.rows
	s.logf("  generated in %s", sr.gen.Round(time.Millisecond))
	endToEnd := cfg.endToEnd
	if _, ok := s.d.(templater); endToEnd && !ok {
		if err := s.makeProd(ctx); err != nil {
			if !note(err) {
				return sr, false
			}
			endToEnd = false // reported; the other measurements still run
		}
	}

	restage := map[int][]*restageRun{}
	update := map[int][]*updateRun{}
	run := map[int][]*runRun{}
	var m0s []*m0Run
	var loops []*loopRun
	var copies []*copyRun
	for round := range cfg.repeat {
		if cfg.repeat > 1 {
			s.logf("  -- round %d of %d (%d rows)", round+1, cfg.repeat, rows)
		}
		m0, err := s.runM0(ctx)
		if !note(err) {
			return sr, false
		}
		if m0 != nil {
			m0s = append(m0s, m0)
		}
		for _, w := range cfg.workers {
			r, err := s.runRestage(ctx, w)
			if !note(err) {
				return sr, false
			}
			if r != nil {
				restage[w] = append(restage[w], r)
			}
		}
		for _, w := range cfg.workers {
			u, err := s.runUpdate(ctx, w)
			if !note(err) {
				return sr, false
			}
			if u != nil {
				update[w] = append(update[w], u)
			}
		}
		l, err := s.runLoop(ctx)
		if !note(err) {
			return sr, false
		}
		if l != nil {
			loops = append(loops, l)
		}
		if !endToEnd {
			continue
		}
		c, err := s.runCopy(ctx)
		if !note(err) {
			return sr, false
		}
		if c != nil {
			copies = append(copies, c)
		}
		for _, w := range cfg.workers {
			r, err := s.runRun(ctx, w)
			if !note(err) {
				return sr, false
			}
			if r != nil {
				run[w] = append(run[w], r)
			}
		}
	}
	sr.m0 = medianOf(m0s, func(r *m0Run) time.Duration { return r.dur })
	sr.loop = medianOf(loops, func(r *loopRun) time.Duration { return r.dur })
	sr.copy = medianOf(copies, func(r *copyRun) time.Duration { return r.dur })
	for _, w := range cfg.workers {
		if r := medianOf(restage[w], func(r *restageRun) time.Duration { return r.wall }); r != nil {
			sr.restage = append(sr.restage, r)
		}
		if u := medianOf(update[w], func(u *updateRun) time.Duration { return u.update }); u != nil {
			sr.update = append(sr.update, u)
		}
		if r := medianOf(run[w], func(r *runRun) time.Duration { return r.wall }); r != nil {
			sr.run = append(sr.run, r)
		}
	}
	return sr, true
}

// makeProd (re)creates the production database of the end-to-end run.
func (s *session) makeProd(ctx context.Context) error {
	s.prod = s.base + "_prod"
	if err := s.d.DropDB(ctx, s.admin, s.prod); err != nil {
		return err
	}
	if err := s.d.CreateDB(ctx, s.admin, s.prod); err != nil {
		return err
	}
	d, err := s.d.DSN(s.prod)
	if err != nil {
		return err
	}
	db, err := sql.Open(s.d.Driver(), d)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := s.d.FillProd(ctx, s.db, db, s.prod, func(db *sql.DB) error { return s.generate(ctx, db) }); err != nil {
		return fmt.Errorf("production database for the end-to-end run: %w", err)
	}
	return nil
}

// medianOf returns the run with the median duration (the upper one for
// an even count), nil for none. Every run is kept in runs' order.
func medianOf[T any](runs []T, dur func(T) time.Duration) T {
	var zero T
	if len(runs) == 0 {
		return zero
	}
	sorted := slices.Clone(runs)
	sort.SliceStable(sorted, func(i, j int) bool { return dur(sorted[i]) < dur(sorted[j]) })
	return sorted[len(sorted)/2]
}

// mainWorkers is the worker count the targets are checked at: 2 (the
// issue's figure) when benched, else the first.
func (c *config) mainWorkers() int {
	if slices.Contains(c.workers, 2) {
		return 2
	}
	return c.workers[0]
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
