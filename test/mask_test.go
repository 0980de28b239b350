// Package test holds end-to-end tests: the restage binary against real
// MariaDB/MySQL and PostgreSQL servers loaded with the Sakila sample.
package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/transform"
)

const testKey = "end-to-end-test-key-0123456789abcdefghij"

var binary string

func TestMain(m *testing.M) {
	rssWrapMain()
	dir, err := os.MkdirTemp("", "restage-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "restage")
	out, err := exec.Command("go", "build", "-o", binary, "../app").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build restage: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engineCase is one engine under test.
type engineCase struct {
	name   string
	rules  string
	create func(t testing.TB) (string, string)
	load   func(t testing.TB, dsn string)
	open   func(ctx context.Context, dsn string) (mask.Engine, error)
	driver string
	// text renders a column as text in a SELECT list.
	text func(col string) string
}

var engineCases = []engineCase{
	{
		name: "mysql", rules: "../examples/rules/sakila-mysql.yaml",
		create: testdb.MySQL, load: testdb.LoadSakilaMySQL, driver: "mysql",
		open: func(ctx context.Context, d string) (mask.Engine, error) { return mysql.Open(ctx, d) },
		text: func(c string) string { return "`" + c + "`" },
	},
	{
		name: "postgres", rules: "../examples/rules/sakila-postgres.yaml",
		create: testdb.Postgres, load: testdb.LoadSakilaPostgres, driver: "pgx",
		open: func(ctx context.Context, d string) (mask.Engine, error) { return postgres.Open(ctx, d) },
		text: func(c string) string { return `"` + c + `"::text` },
	},
}

type result struct {
	code   int
	stdout string
	stderr string
}

func restage(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func openDB(t *testing.T, driver, d string) *sql.DB {
	t.Helper()
	if driver == "mysql" {
		p, err := engines.ParseDSN(d)
		if err != nil {
			t.Fatal(err)
		}
		d = p.Driver
	}
	db, err := sql.Open(driver, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func introspect(t *testing.T, ec engineCase, d string) *schema.Schema {
	t.Helper()
	eng, err := ec.open(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, err := eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func qualified(ec engineCase, tb *schema.Table) string {
	if ec.name == "mysql" {
		return "`" + tb.Name + "`"
	}
	return `"` + tb.Schema + `"."` + tb.Name + `"`
}

// dump reads a whole table as text, keyed by its primary key (or the whole
// row when there is none).
func dump(t *testing.T, ec engineCase, db *sql.DB, tb *schema.Table) map[string][]sql.NullString {
	t.Helper()
	var cols []string
	for _, c := range tb.Columns {
		cols = append(cols, ec.text(c.Name))
	}
	from := qualified(ec, tb)
	if ec.name == "postgres" {
		from = "ONLY " + from
	}
	rows, err := db.Query("SELECT " + strings.Join(cols, ", ") + " FROM " + from)
	if err != nil {
		t.Fatalf("dump %s: %v", tb.TableName, err)
	}
	defer rows.Close()
	pk := map[int]bool{}
	for _, k := range tb.PrimaryKey {
		for i, c := range tb.Columns {
			if c.Name == k {
				pk[i] = true
			}
		}
	}
	out := map[string][]sql.NullString{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var key []string
		for i, v := range vals {
			if pk[i] || len(pk) == 0 {
				key = append(key, v.String)
			}
		}
		k := strings.Join(key, "\x00")
		for out[k] != nil {
			k += "+" // duplicate rows of a keyless table
		}
		out[k] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checksum hashes every table's content.
func checksum(t *testing.T, ec engineCase, db *sql.DB, s *schema.Schema) string {
	t.Helper()
	h := sha256.New()
	for _, tb := range s.Tables {
		d := dump(t, ec, db, tb)
		fmt.Fprintf(h, "%s:%d\n", tb.TableName, len(d))
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%v\n", k, d[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func equalUnder(c *schema.Column, a, b string) bool {
	if c.PadSpace {
		a, b = strings.TrimRight(a, " "), strings.TrimRight(b, " ")
	}
	if c.CaseInsensitive {
		return strings.EqualFold(a, b)
	}
	return a == b
}

func TestSakilaMasked(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			d, name := ec.create(t)
			ec.load(t, d)
			db := openDB(t, ec.driver, d)
			refreshStats(t, ec, db)
			s := introspect(t, ec, d)
			before := map[string]map[string][]sql.NullString{}
			for _, tb := range s.Tables {
				before[tb.TableName.String()] = dump(t, ec, db, tb)
			}
			rules, err := config.LoadRules(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			p, err := engines.ParseDSN(d)
			if err != nil {
				t.Fatal(err)
			}
			res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", d, "--rules", ec.rules, "--confirm", p.Target(), "--workers", "2", "--batch-size", "200")
			if res.code != 0 {
				t.Fatalf("restage mask exit %d\nstderr:\n%s", res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, "rows/s") {
				t.Errorf("summary missing from stderr:\n%s", res.stderr)
			}
			plan, err := mask.NewPlan(rules, s)
			if err != nil {
				t.Fatal(err)
			}
			truncated := map[string]bool{}
			for _, tb := range plan.Truncate {
				truncated[tb.TableName.String()] = true
			}
			masked := map[string]map[string]string{} // table → column → transformer
			for _, j := range plan.Jobs {
				m := map[string]string{}
				for i, c := range j.Job.Write {
					m[c] = j.Rules[i].Name
				}
				masked[j.Job.Table.TableName.String()] = m
			}
			if len(masked) == 0 {
				t.Fatal("the rules mask nothing")
			}
			var maskedValues int
			for _, tb := range s.Tables {
				tn := tb.TableName.String()
				b, a := before[tn], dump(t, ec, db, tb)
				if truncated[tn] {
					if len(a) != 0 {
						t.Errorf("%s: %d rows after truncate, want 0", tn, len(a))
					}
					continue
				}
				if len(a) != len(b) {
					t.Errorf("%s: %d rows after, want %d", tn, len(a), len(b))
					continue
				}
				for k, brow := range b {
					arow, ok := a[k]
					if !ok {
						t.Fatalf("%s: a row vanished", tn)
					}
					for i, c := range tb.Columns {
						tr, isMasked := masked[tn][c.Name]
						switch {
						case !isMasked:
							if arow[i] != brow[i] {
								t.Fatalf("%s.%s: column without a rule changed", tn, c.Name)
							}
						case tr == "nullify":
							if arow[i].Valid {
								t.Fatalf("%s.%s: nullify left a value", tn, c.Name)
							}
						case tr == "fixed":
						default:
							if arow[i].Valid != brow[i].Valid {
								t.Fatalf("%s.%s: NULL position changed", tn, c.Name)
							}
							blank := c.Kind == schema.KindText && strings.TrimSpace(brow[i].String) == ""
							if blank && arow[i] != brow[i] {
								t.Fatalf("%s.%s: a blank value was not kept blank", tn, c.Name)
							}
							if brow[i].Valid && !blank && equalUnder(c, arow[i].String, brow[i].String) {
								t.Fatalf("%s.%s: a masked value equals its original", tn, c.Name)
							}
							if brow[i].Valid && !blank {
								maskedValues++
							}
						}
					}
				}
			}
			if maskedValues < 1000 {
				t.Errorf("only %d values masked; Sakila has thousands of personal values", maskedValues)
			}
			checkConstraints(t, ec, db, s)
			after := map[string]map[string][]sql.NullString{}
			for _, tb := range s.Tables {
				after[tb.TableName.String()] = dump(t, ec, db, tb)
			}
			checkStats(t, ec, db, name, s, masked, before, after)
		})
	}
}

// refreshStats makes the server keep statistics on the original data, so
// the test can show masking replaces them.
func refreshStats(t *testing.T, ec engineCase, db *sql.DB) {
	t.Helper()
	if ec.name == "postgres" {
		if _, err := db.Exec("ANALYZE"); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, tb := range []string{"customer", "staff", "address"} {
		rows, err := db.Query("ANALYZE TABLE `" + tb + "` PERSISTENT FOR ALL")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

func checkConstraints(t *testing.T, ec engineCase, db *sql.DB, s *schema.Schema) {
	t.Helper()
	for _, tb := range s.Tables {
		for _, fk := range tb.ForeignKeys {
			ref := s.Lookup(fk.RefTable)
			if ref == nil {
				continue
			}
			var on, notNull []string
			for i, c := range fk.Columns {
				on = append(on, fmt.Sprintf("c.%s = p.%s", quoteID(ec, c), quoteID(ec, fk.RefColumns[i])))
				notNull = append(notNull, "c."+quoteID(ec, c)+" IS NOT NULL")
			}
			q := fmt.Sprintf("SELECT COUNT(*) FROM %s c LEFT JOIN %s p ON %s WHERE %s AND p.%s IS NULL",
				qualified(ec, tb), qualified(ec, ref), strings.Join(on, " AND "), strings.Join(notNull, " AND "), quoteID(ec, fk.RefColumns[0]))
			var n int
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n != 0 {
				t.Errorf("%s: %d orphans on foreign key %s", tb.TableName, n, fk.Name)
			}
		}
		for _, ix := range tb.Uniques {
			var cols []string
			for _, c := range ix.Columns {
				cols = append(cols, quoteID(ec, c))
			}
			q := fmt.Sprintf("SELECT COUNT(*) FROM (SELECT %s FROM %s GROUP BY %s HAVING COUNT(*) > 1) d", strings.Join(cols, ", "), qualified(ec, tb), strings.Join(cols, ", "))
			var n int
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n != 0 {
				t.Errorf("%s: unique index %s violated %d times", tb.TableName, ix.Name, n)
			}
		}
	}
}

func quoteID(ec engineCase, c string) string {
	if ec.name == "mysql" {
		return "`" + c + "`"
	}
	return `"` + c + `"`
}

// checkStats asserts that no statistic of a masked column still holds one
// of its original values: every value the statistics hold is one of the
// column's current (masked) values. (A fake may by chance equal another
// row's original — a five-digit postal code, say — which leaks nothing.)
func checkStats(t *testing.T, ec engineCase, db *sql.DB, dbName string, s *schema.Schema, masked map[string]map[string]string, before, after map[string]map[string][]sql.NullString) {
	t.Helper()
	checked := 0
	for tn, cols := range masked {
		tb := s.Table(tn)
		for col := range cols {
			idx := -1
			for i, c := range tb.Columns {
				if c.Name == col {
					idx = i
				}
			}
			current := map[string]bool{}
			for _, row := range after[tn] {
				if row[idx].Valid {
					current[row[idx].String] = true
				}
			}
			originals := map[string]bool{}
			for _, row := range before[tn] {
				if row[idx].Valid && len(row[idx].String) >= 3 && !current[row[idx].String] {
					originals[row[idx].String] = true
				}
			}
			var stats []string
			if ec.name == "postgres" {
				rows, err := db.Query(`SELECT v FROM pg_stats s, unnest(coalesce(s.most_common_vals::text::text[], '{}') || coalesce(s.histogram_bounds::text::text[], '{}')) v
					WHERE s.schemaname = $1 AND s.tablename = $2 AND s.attname = $3`, tb.Schema, tb.Name, col)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var v string
					if err := rows.Scan(&v); err != nil {
						t.Fatal(err)
					}
					stats = append(stats, v)
				}
				rows.Close()
			} else {
				var minV, maxV, hist sql.NullString
				err := db.QueryRow("SELECT min_value, max_value, CAST(histogram AS CHAR) FROM mysql.column_stats WHERE db_name = ? AND table_name = ? AND column_name = ?", dbName, tb.Name, col).Scan(&minV, &maxV, &hist)
				if errors.Is(err, sql.ErrNoRows) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				stats = []string{minV.String, maxV.String}
				for o := range originals {
					if len(o) >= 6 && strings.Contains(hist.String, o) {
						t.Errorf("%s.%s: histogram still holds an original value", tn, col)
					}
				}
			}
			for _, v := range stats {
				checked++
				if !current[v] {
					t.Errorf("%s.%s: statistics hold a value that is not in the masked column", tn, col)
				}
			}
		}
	}
	if checked == 0 {
		t.Errorf("no statistics found for masked columns: the check proved nothing")
	}
}

// TestSameEmailBothEngines: the same original masked on MySQL and on
// PostgreSQL with the same key gives the same string.
func TestSameEmailBothEngines(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte("version: 1\ntables:\n  users:\n    columns:\n      email: email\n      name: {transformer: full_name, locale: ja}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []map[string][2]string
	for _, ec := range engineCases {
		d, _ := ec.create(t)
		db := openDB(t, ec.driver, d)
		for _, q := range []string{
			"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, name VARCHAR(60))",
			"INSERT INTO users VALUES (1, 'hanako.yamada@example.co.jp', '山田 花子'), (2, 'Taro@Example.com', NULL), (3, 'x@y.example', 'X')",
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := engines.ParseDSN(d)
		res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", d, "--rules", rules, "--confirm", p.Target())
		if res.code != 0 {
			t.Fatalf("%s: exit %d: %s", ec.name, res.code, res.stderr)
		}
		rows, err := db.Query("SELECT id, email, COALESCE(name, '<null>') FROM users ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][2]string{}
		for rows.Next() {
			var id, e, n string
			if err := rows.Scan(&id, &e, &n); err != nil {
				t.Fatal(err)
			}
			m[id] = [2]string{e, n}
		}
		rows.Close()
		got = append(got, m)
	}
	if len(got[0]) != 3 {
		t.Fatalf("mysql rows = %d, want 3", len(got[0]))
	}
	for id, v := range got[0] {
		if got[1][id] != v {
			t.Errorf("row %s: mysql %q, postgres %q — want the same fake", id, v, got[1][id])
		}
		if strings.Contains(v[0], "example.co.jp") || strings.EqualFold(v[0], "taro@example.com") {
			t.Errorf("row %s: email not masked", id)
		}
	}
	if got[0]["2"][1] != "<null>" {
		t.Errorf("NULL name became %q", got[0]["2"][1])
	}
}

// TestMaskRefusesBadInput: bad rules, bad key, wrong confirmation, the
// production source, unknown columns → exit 2, an unreachable server →
// exit 1; the database is untouched every time and no secret is printed.
func TestMaskRefusesBadInput(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			d, _ := ec.create(t)
			db := openDB(t, ec.driver, d)
			for _, q := range []string{
				"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL, note VARCHAR(20) NOT NULL)",
				"INSERT INTO users VALUES (1, 'canary.person@real.example', 'n')",
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			s := introspect(t, ec, d)
			sum := checksum(t, ec, db, s)
			p, _ := engines.ParseDSN(d)
			dir := t.TempDir()
			write := func(name, body string) string {
				f := filepath.Join(dir, name)
				if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				return f
			}
			good := write("good.yaml", "version: 1\ntables:\n  users:\n    columns:\n      email: email\n")
			unknownTr := write("unknown.yaml", "version: 1\ntables:\n  users:\n    columns:\n      email: emial\n")
			badCols := write("cols.yaml", "version: 1\ntables:\n  users:\n    columns:\n      mail: email\n      note: nullify\n  nosuch:\n    columns:\n      x: email\n")
			key := "RESTAGE_MASK_KEY=" + testKey
			unreachable := "postgres://restage:restage@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"
			if ec.name == "mysql" {
				unreachable = "restage:restage@tcp(127.0.0.1:1)/x?timeout=2s"
			}
			tests := []struct {
				name string
				env  []string
				args []string
				code int
				want []string
			}{
				{"unknown transformer", []string{key}, []string{"--rules", unknownTr, "--confirm", p.Target()}, 2, []string{"unknown.yaml:5", "unknown transformer"}},
				{"rules do not fit schema", []string{key}, []string{"--rules", badCols, "--confirm", p.Target()}, 2, []string{"users.mail", "nosuch", "users.note", "not null"}},
				{"no key", []string{"RESTAGE_MASK_KEY="}, []string{"--rules", good, "--confirm", p.Target()}, 2, []string{"RESTAGE_MASK_KEY"}},
				{"short key", []string{"RESTAGE_MASK_KEY=short-secret-key"}, []string{"--rules", good, "--confirm", p.Target()}, 2, []string{"too short"}},
				{"no confirmation", []string{key}, []string{"--rules", good}, 2, []string{"--confirm " + p.Target()}},
				{"wrong confirmation", []string{key}, []string{"--rules", good, "--confirm", "other:1/db"}, 2, []string{"does not match"}},
				{"production source", []string{key, "RESTAGE_SOURCE_DSN=" + d}, []string{"--rules", good, "--confirm", p.Target()}, 2, []string{"production source"}},
			}
			for _, tt := range tests {
				res := restage(t, tt.env, append([]string{"mask", "--dsn", d}, tt.args...)...)
				if res.code != tt.code {
					t.Errorf("%s: exit %d, want %d\n%s", tt.name, res.code, tt.code, res.stderr)
				}
				for _, w := range tt.want {
					if !strings.Contains(res.stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", tt.name, w, res.stderr)
					}
				}
				for _, secret := range []string{testKey, "short-secret-key", "canary.person", ":restage@"} {
					if strings.Contains(res.stderr+res.stdout, secret) {
						t.Errorf("%s: output leaks %q", tt.name, secret)
					}
				}
				if got := checksum(t, ec, db, s); got != sum {
					t.Fatalf("%s: the database changed", tt.name)
				}
			}
			up, _ := engines.ParseDSN(unreachable)
			res := restage(t, []string{key}, "mask", "--dsn", unreachable, "--rules", good, "--confirm", up.Target())
			if res.code != 1 || !strings.Contains(res.stderr, "connect to 127.0.0.1:1/x") {
				t.Errorf("unreachable server: exit %d, want 1 with a clear message:\n%s", res.code, res.stderr)
			}
			if strings.Contains(res.stderr, ":restage@") {
				t.Errorf("unreachable server: output leaks the password")
			}
		})
	}
}

var _ = transform.MinKeyLen
