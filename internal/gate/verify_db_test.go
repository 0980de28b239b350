package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/transform"
)

// verifyCanary is planted in the data; no report, summary, JSON or error
// may ever show it.
const verifyCanary = "CANARYQZXW"

// verifyEngine is one engine under test.
type verifyEngine struct {
	name   string
	rules  string
	create func(t testing.TB) (string, string)
	load   func(t testing.TB, dsn string)
	open   func(ctx context.Context, dsn string) (verifyEng, error)
	driver string
	q      func(string) string // quote an identifier
	// noFK runs statements in one session with foreign keys unchecked.
	noFK []string
}

type verifyEng interface {
	mask.Engine
	mask.Reader
}

var verifyEngines = []verifyEngine{
	{
		name: "mysql", rules: "../../examples/rules/sakila-mysql.yaml",
		create: testdb.MySQL, load: testdb.LoadSakilaMySQL, driver: "mysql",
		open: func(ctx context.Context, d string) (verifyEng, error) { return mysql.Open(ctx, d) },
		q:    func(s string) string { return "`" + s + "`" },
		noFK: []string{"SET SESSION foreign_key_checks = 0"},
	},
	{
		name: "postgres", rules: "../../examples/rules/sakila-postgres.yaml",
		create: testdb.Postgres, load: testdb.LoadSakilaPostgres, driver: "pgx",
		open: func(ctx context.Context, d string) (verifyEng, error) { return postgres.Open(ctx, d) },
		q:    func(s string) string { return `"` + s + `"` },
		noFK: []string{"SET session_replication_role = replica"},
	},
}

var verifyKey = func() transform.Key {
	k, err := transform.NewKey([]byte("verify-gate-test-key-0123456789abcdefghij"))
	if err != nil {
		panic(err)
	}
	return k
}()

type verifyEnv struct {
	ec   verifyEngine
	eng  verifyEng
	db   *sql.DB
	name string
}

func verifySetup(t *testing.T, ec verifyEngine, sakila bool) *verifyEnv {
	t.Helper()
	d, name := ec.create(t)
	if sakila {
		ec.load(t, d)
	}
	db, err := sql.Open(ec.driver, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng, err := ec.open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return &verifyEnv{ec: ec, eng: eng, db: db, name: name}
}

func (e *verifyEnv) exec(t *testing.T, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// session runs statements on one connection.
func (e *verifyEnv) session(t *testing.T, qs ...string) {
	t.Helper()
	c, err := e.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range qs {
		if _, err := c.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The session's settings must not leak into the pool.
	_ = c.Raw(func(any) error { return fmt.Errorf("discard") })
}

func (e *verifyEnv) analyze(t *testing.T, tables ...string) {
	t.Helper()
	if e.ec.name == "postgres" {
		e.exec(t, "ANALYZE")
		return
	}
	for _, tb := range tables {
		rows, err := e.db.Query("ANALYZE TABLE `" + tb + "` PERSISTENT FOR ALL")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

func (e *verifyEnv) plan(t *testing.T, rulesPath string) (*schema.Schema, *mask.Plan) {
	t.Helper()
	s, err := e.eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.LoadRules(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mask.NewPlan(rules, s)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// verifyNoLeak fails when the canary shows anywhere in what the gate
// produced.
func verifyNoLeak(t *testing.T, rep *VerifyReport, err error) {
	t.Helper()
	var texts []string
	if rep != nil {
		js, jerr := json.Marshal(rep)
		if jerr != nil {
			t.Fatal(jerr)
		}
		texts = append(texts, string(js), rep.Summary(), fmt.Sprintf("%+v", rep))
	}
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, s := range texts {
		if strings.Contains(strings.ToUpper(s), verifyCanary) {
			t.Fatalf("the gate's output holds the canary value:\n%s", s)
		}
	}
}

// verifyFailed lists the failures as "table|column|check".
func verifyFailed(rep *VerifyReport) []string {
	var out []string
	for _, f := range rep.Failures {
		out = append(out, f.Table+"|"+f.Column+"|"+f.Check)
	}
	sort.Strings(out)
	return out
}

func verifyMemNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestVerifySakila: capture → mask.Run → Verify passes with every check
// listed; then the masking is broken in six ways at once and Verify
// refuses, naming exactly the broken table, column and check each time.
// The canary, an original, is written back and must never show.
func TestVerifySakila(t *testing.T) {
	for _, ec := range verifyEngines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := verifySetup(t, ec, true)
			// A canary among the originals, and a unique index over a
			// masked column (dropped later to let a duplicate in).
			e.exec(t, "UPDATE address SET phone = '"+verifyCanary+"' WHERE address_id = 7",
				// Sakila's PostgreSQL staff share one password; make it so on MySQL too.
				"UPDATE staff SET password = '8cb2237d0679ca88db6464eac60da96345513964'",
				"CREATE UNIQUE INDEX customer_email_ux ON customer (email)")
			e.analyze(t, "customer", "staff", "address")
			s, plan := e.plan(t, ec.rules)
			phones := map[string]string{}
			rows, err := e.db.Query("SELECT address_id, phone FROM address")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, ph string
				if err := rows.Scan(&id, &ph); err != nil {
					t.Fatal(err)
				}
				phones[id] = ph
			}
			rows.Close()

			m0 := verifyMemNow()
			base, err := VerifyCapture(ctx, e.eng, plan, verifyKey, VerifyOptions{Schema: s})
			if err != nil {
				t.Fatal(err)
			}
			m1 := verifyMemNow()
			if _, err := mask.Run(ctx, e.eng, plan, verifyKey, mask.Options{Workers: 2, BatchSize: 200}); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Sakila %s: capture %v (baseline ≈ %d KB, heap +%d KB), verify %v\n%s", ec.name, base.Duration().Round(time.Millisecond),
				base.Bytes()/1024, (int64(m1)-int64(m0))/1024, rep.Duration.Round(time.Millisecond), rep.Summary())
			if !rep.OK() {
				t.Fatalf("a correct masking was refused:\n%s", rep.Summary())
			}
			listed := map[string]bool{}
			for _, tb := range rep.Tables {
				for _, c := range tb.Checks {
					listed[c] = true
				}
				for _, col := range tb.Columns {
					for _, c := range col.Checks {
						listed[c] = true
					}
				}
			}
			for _, c := range []string{VerifyCheckUnchanged, VerifyCheckRowCount, VerifyCheckNullCount, VerifyCheckUnique, VerifyCheckForeignKeys, VerifyCheckConsistency, VerifyCheckStatistics} {
				if !listed[c] {
					t.Errorf("check %s is not listed as passed", c)
				}
			}
			pairs := 0
			for _, g := range base.groups {
				pairs += len(g.pairs)
			}
			if pairs == 0 {
				t.Error("consistency compared no original seen in two places")
			}
			if len(rep.Tables) != len(s.Tables) {
				t.Errorf("report has %d tables, schema %d", len(rep.Tables), len(s.Tables))
			}
			addr := verifyFind(rep, "address")
			if addr == nil || len(addr.Columns) == 0 || addr.Columns[0].Rows < 500 {
				t.Errorf("address: too few values compared: %+v", addr)
			}

			// Break it.
			var dupEmail string
			if err := e.db.QueryRow("SELECT email FROM customer WHERE customer_id = 1").Scan(&dupEmail); err != nil {
				t.Fatal(err)
			}
			dropIx := "DROP INDEX customer_email_ux"
			if ec.name == "mysql" {
				dropIx += " ON customer"
			}
			e.exec(t, dropIx)
			for id, ph := range phones { // originals written back
				if _, err := e.db.Exec("UPDATE address SET phone = "+verifyPH(ec, 1)+" WHERE address_id = "+verifyPH(ec, 2), ph, id); err != nil {
					t.Fatal(err)
				}
			}
			e.exec(t,
				"DELETE FROM film_category WHERE film_id = 1",
				// Both staff share one original password: masked apart now.
				"UPDATE staff SET password = '0123456789abcdef0123456789abcdef01234567' WHERE staff_id = 2",
				"UPDATE address SET postal_code = NULL WHERE address_id = 10 AND postal_code IS NOT NULL",
			)
			if _, err := e.db.Exec("UPDATE customer SET email = "+verifyPH(ec, 1)+" WHERE customer_id = 2", dupEmail); err != nil {
				t.Fatal(err)
			}
			e.session(t, append(ec.noFK, "UPDATE customer SET address_id = 32000 WHERE customer_id = 3")...)

			rep, err = Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("a broken masking passed")
			}
			want := []string{
				"address|phone|unchanged",
				"address|postal_code|null_count",
				"customer|address_id|foreign_keys",
				"customer|email|unique",
				"film_category||row_count",
				"staff|password|consistency",
			}
			if ec.name == "postgres" {
				for i, w := range want {
					want[i] = "public." + w
				}
				sort.Strings(want)
			}
			if got := verifyFailed(rep); !slices.Equal(got, want) {
				t.Errorf("failures:\n  %s\nwant:\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), rep.Summary())
			}
			nonBlank := 0
			for _, ph := range phones {
				if strings.TrimSpace(ph) != "" {
					nonBlank++
				}
			}
			for _, f := range rep.Failures {
				if f.Check == VerifyCheckUnchanged && !strings.HasPrefix(f.Detail, fmt.Sprintf("%d of %d ", nonBlank, nonBlank)) {
					t.Errorf("unchanged detail %q: want all %d non-blank phones", f.Detail, nonBlank)
				}
			}
			t.Logf("refused as expected:\n%s", rep.Summary())
		})
	}
}

func verifyPH(ec verifyEngine, i int) string {
	if ec.name == "postgres" {
		return fmt.Sprintf("$%d", i)
	}
	return "?"
}

func verifyFind(rep *VerifyReport, suffix string) *VerifyTable {
	for i := range rep.Tables {
		if rep.Tables[i].Table == suffix || strings.HasSuffix(rep.Tables[i].Table, "."+suffix) {
			return &rep.Tables[i]
		}
	}
	return nil
}

// verifyNoStats is an engine whose Finish restores what Prepare changed
// but refreshes no statistics.
type verifyNoStats struct{ verifyEng }

func (e verifyNoStats) Finish(ctx context.Context, _ []*schema.Table) error {
	return e.verifyEng.Finish(ctx, nil)
}

// TestVerifyStatistics: statistics taken on the originals survive a
// masking that skips the refresh: Verify refuses with `statistics` (and
// nothing else); the normal run, which refreshes them, passes.
func TestVerifyStatistics(t *testing.T) {
	for _, ec := range verifyEngines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := verifySetup(t, ec, true)
			e.exec(t, "UPDATE customer SET last_name = '"+verifyCanary+"' WHERE customer_id = 9")
			e.analyze(t, "customer", "staff", "address")
			s, plan := e.plan(t, ec.rules)
			base, err := VerifyCapture(ctx, e.eng, plan, verifyKey, VerifyOptions{Schema: s})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mask.Run(ctx, verifyNoStats{e.eng}, plan, verifyKey, mask.Options{Workers: 2}); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("stale statistics passed")
			}
			for _, f := range rep.Failures {
				if f.Check != VerifyCheckStatistics {
					t.Errorf("unexpected failure %s", f)
				}
			}
			t.Logf("refused as expected:\n%s", rep.Summary())

			// Refreshing the statistics (what Finish does) makes it pass.
			var masked []*schema.Table
			for _, j := range plan.Jobs {
				masked = append(masked, j.Job.Table)
			}
			if err := e.eng.Finish(ctx, masked); err != nil {
				t.Fatal(err)
			}
			rep, err = Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("refreshed statistics refused:\n%s", rep.Summary())
			}
		})
	}
}

// TestVerifyCustom: a 200k-row table sampled (MaxRowsPerTable 50,000), a
// keyless table (set compare), a regex column with a value it can't
// change (fail closed). Verify right after capture (identity) refuses
// every column; after masking only the pass-through value is refused.
func TestVerifyCustom(t *testing.T) {
	const n = 200000
	for _, ec := range verifyEngines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := verifySetup(t, ec, false)
			gen := "WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < %d) "
			insertBig := "INSERT INTO big SELECT i, CONCAT('name ', i), CONCAT('user', i, '@example.com'), CONCAT('ref-', i) FROM g"
			if ec.name == "postgres" {
				gen = ""
				insertBig = "INSERT INTO big SELECT i, 'name ' || i, 'user' || i || '@example.com', 'ref-' || i FROM generate_series(1, %d) i"
			} else {
				insertBig = "INSERT INTO big " + gen + "SELECT i, CONCAT('name ', i), CONCAT('user', i, '@example.com'), CONCAT('ref-', i) FROM g"
			}
			e.exec(t,
				"CREATE TABLE big (id INT PRIMARY KEY, name VARCHAR(60) NOT NULL, email VARCHAR(120) UNIQUE, ref VARCHAR(20))",
				"CREATE TABLE nokey (name VARCHAR(60), city VARCHAR(40))",
				"INSERT INTO nokey VALUES ('Alice Smith', 'Paris'), ('Bob Jones', NULL), ('"+verifyCanary+"', 'Lyon'), ('Alice Smith', 'Paris'), ('', 'Nice')",
				"CREATE TABLE notes (id INT PRIMARY KEY, note VARCHAR(40))",
				"INSERT INTO notes VALUES (1, 'call 0123'), (2, 'no digits here "+verifyCanary+"'), (3, NULL), (4, '   ')",
			)
			if ec.name == "mysql" {
				c, err := e.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				// MySQL and MariaDB name the recursion limit differently.
				_, _ = c.ExecContext(ctx, "SET SESSION cte_max_recursion_depth = 1000000")
				_, _ = c.ExecContext(ctx, "SET SESSION max_recursive_iterations = 1000000")
				if _, err := c.ExecContext(ctx, fmt.Sprintf(insertBig, n)); err != nil {
					t.Fatal(err)
				}
				c.Close()
			} else {
				e.exec(t, fmt.Sprintf(insertBig, n))
			}
			rules := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(rules, []byte(`version: 1
tables:
  big:
    columns:
      name: full_name
      email: email
      ref: {transformer: hash, length: 12}
  nokey:
    columns:
      name: full_name
      city: city
  notes:
    columns:
      note: {transformer: regex, pattern: "[0-9]+"}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			s, plan := e.plan(t, rules)
			// 40,000: a quarter of the 200,000 rows (≈ 50,000) is far above it
			// and an eighth (≈ 25,000) far below, whatever the fingerprints.
			opt := VerifyOptions{MaxRowsPerTable: 40000, Schema: s}

			m0 := verifyMemNow()
			base, err := VerifyCapture(ctx, e.eng, plan, verifyKey, opt)
			if err != nil {
				t.Fatal(err)
			}
			m1 := verifyMemNow()

			// Identity: nothing masked yet.
			rep, err := Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"big|email|unchanged", "big|name|unchanged", "big|ref|unchanged", "nokey|city|unchanged", "nokey|name|unchanged", "notes|note|unchanged"}
			if ec.name == "postgres" {
				for i, w := range want {
					want[i] = "public." + w
				}
			}
			if got := verifyFailed(rep); !slices.Equal(got, want) {
				t.Errorf("identity: failures\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
			bigT := verifyFind(rep, "big")
			if bigT == nil || bigT.SampleModulus != 8 || bigT.Rows != n {
				t.Errorf("big: %+v, want sample modulus 8 and %d rows", bigT, n)
			} else if r := bigT.Columns[0].Rows; r < 20000 || r > 50000 {
				t.Errorf("big: %d values compared, want a sample of 1 in 8 (≈ 25,000)", r)
			}

			mr, err := mask.Run(ctx, e.eng, plan, verifyKey, mask.Options{Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			rep, err = Verify(ctx, e.eng, s, plan, base)
			verifyNoLeak(t, rep, err)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s, %d rows (sampled 1/8): capture %v, baseline ≈ %d KB (heap +%d KB); mask %v; verify %v",
				ec.name, n, base.Duration().Round(time.Millisecond), base.Bytes()/1024, (int64(m1)-int64(m0))/1024,
				mr.Duration.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
			want = []string{"notes|note|unchanged"}
			if ec.name == "postgres" {
				want[0] = "public." + want[0]
			}
			if got := verifyFailed(rep); !slices.Equal(got, want) {
				t.Errorf("after masking: failures\n  %s\nwant\n  %s\n%s", strings.Join(got, "\n  "), strings.Join(want, "\n  "), rep.Summary())
			}
			for _, f := range rep.Failures {
				if f.Detail != "1 of 2 compared values equal their original (regex)" {
					t.Errorf("detail %q", f.Detail)
				}
			}
		})
	}
}
