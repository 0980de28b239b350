package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/engines"
)

// TestRunRefusesSQLInSettings: a RESTAGE_PRESERVE predicate that is not in
// preserve's grammar, or a database name from a setting that isn't a
// plain name, stops the run before anything is created (exit 2), naming
// the problem. On PostgreSQL the first payload used to run a shell command
// on the database host.
func TestRunRefusesSQLInSettings(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			for _, tt := range []struct{ setting, want string }{
				{"RESTAGE_PRESERVE=customer: true)) TO PROGRAM 'id > pwned.txt' -- ", `RESTAGE_PRESERVE customer: position 5: unexpected ")"`},
				{"RESTAGE_PRESERVE=customer: customer_id = 1; DROP TABLE customer", `"DROP TABLE customer" is not a table name`},
				{"RESTAGE_PRESERVE=customer: customer_id = (SELECT 1)", `RESTAGE_PRESERVE customer: position 15: unexpected "("`},
				// The control DB is created by the first run: a name that
				// isn't an identifier was created as given.
				{"RESTAGE_CONTROL_DB=ctl`; DROP DATABASE x; -- ", "RESTAGE_CONTROL_DB"},
				{"RESTAGE_ADOPT=old\"; DROP DATABASE x; -- ", "RESTAGE_ADOPT"},
			} {
				res := restage(t, f.env(tt.setting), "run")
				if res.code != 2 || !strings.Contains(res.stderr, tt.want) {
					t.Errorf("%q: exit %d, want 2 with %q\n%s", tt.setting, res.code, tt.want, res.stderr)
				}
			}
			if left := f.databases(t, ""); len(f.databases(t, "restage_"+f.target)) != 0 || containsStr(left, f.control) || containsStr(left, "ctl`; DROP DATABASE x; -- ") {
				t.Errorf("a refused run created databases: %v", left)
			}
		})
	}
}

// TestRunPreservesRows: legitimate predicates copy exactly the rows they
// select from the current staging DB (values with tabs, newlines,
// backslashes and NULLs intact; a literal holding ";" and ":"), a
// predicate naming a column the table lacks is bad input (exit 2, staging
// unchanged, nothing left behind), and every JSON log line names its
// target once.
func TestRunPreservesRows(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			res := restage(t, f.env(), "run")
			if res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			for i, line := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
				if n := strings.Count(line, `"target":`); n != 1 {
					t.Errorf("log line %d carries \"target\" %d times: %s", i+1, n, line)
				}
			}
			odd := "E'QA\\tTab\\\\back\\nline'"
			if ec.name == "mysql" {
				odd = "'QA\\tTab\\\\back\\nline'"
			}
			sdb := f.stagingDB(t)
			for _, q := range []string{
				"UPDATE customer SET first_name = " + odd + ", email = NULL WHERE customer_id = 1",
				"UPDATE customer SET first_name = 'KEEP2' WHERE customer_id = 2",
				"UPDATE customer SET first_name = 'no; such: row' WHERE customer_id = 3",
				"UPDATE customer SET first_name = 'NOT-KEPT' WHERE customer_id = 4",
			} {
				if _, err := sdb.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			sdb.Close()
			before := f.stagingSum(t)

			res = restage(t, f.env("RESTAGE_PRESERVE=customer: customer_id = 1 OR nosuch IS NULL"), "run")
			if res.code != 2 || !strings.Contains(res.stderr, "unknown column nosuch") {
				t.Errorf("preserve with an unknown column: exit %d, want 2 naming it\n%s", res.code, res.stderr)
			}
			if got := f.stagingSum(t); got != before {
				t.Error("staging changed after a run refused for bad input")
			}
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) != 0 {
				t.Errorf("the refused run left %v behind", left)
			}

			res = restage(t, f.env("RESTAGE_PRESERVE=customer: customer_id IN (1, 2) OR (first_name = 'no; such: row' AND active IS NOT NULL); category: category_id < 0"), "run")
			if res.code != 0 {
				t.Fatalf("run with preserved rows: exit %d\n%s", res.code, res.stderr)
			}
			sdb = f.stagingDB(t)
			defer sdb.Close()
			rows, err := sdb.Query("SELECT customer_id, first_name, email FROM customer WHERE customer_id <= 4 ORDER BY customer_id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := map[int][2]*string{}
			for rows.Next() {
				var id int
				var name, email *string
				if err := rows.Scan(&id, &name, &email); err != nil {
					t.Fatal(err)
				}
				got[id] = [2]*string{name, email}
			}
			if v := got[1]; v[0] == nil || *v[0] != "QA\tTab\\back\nline" || v[1] != nil {
				t.Errorf("customer 1 = %v, want its odd name and a NULL email preserved", deref(v))
			}
			if v := got[2]; v[0] == nil || *v[0] != "KEEP2" {
				t.Errorf("customer 2 = %v, want KEEP2 preserved", deref(v))
			}
			if v := got[3]; v[0] == nil || *v[0] != "no; such: row" {
				t.Errorf("customer 3 = %v, want the row the string literal selects preserved", deref(v))
			}
			if v := got[4]; v[0] == nil || *v[0] == "NOT-KEPT" {
				t.Errorf("customer 4 = %v, want it masked anew, not preserved", deref(v))
			}
		})
	}
}

func deref(v [2]*string) []string {
	var out []string
	for _, p := range v {
		if p == nil {
			out = append(out, "<NULL>")
		} else {
			out = append(out, *p)
		}
	}
	return out
}

// TestSweepValidatesNames: restage sweep holds the names from settings to
// the same rules as run (exit 2 before connecting anywhere).
func TestSweepValidatesNames(t *testing.T) {
	res := restage(t, []string{"RESTAGE_TARGET=shop", "RESTAGE_SOURCE_DSN=mysql://u:p@127.0.0.1:1/prod", "RESTAGE_STAGING_DSN=mysql://u:p@127.0.0.1:1/stg",
		"RESTAGE_CONTROL_DB=ctl`; DROP DATABASE prod; -- ", "RESTAGE_KEEP_LAST=many"}, "sweep")
	if res.code != 2 || !strings.Contains(res.stderr, "RESTAGE_CONTROL_DB") || !strings.Contains(res.stderr, `RESTAGE_KEEP_LAST="many"`) {
		t.Errorf("sweep with a bad control DB name and keep-last: exit %d, want 2 naming both\n%s", res.code, res.stderr)
	}
}

// TestMaskBlamesFlag: a bad --workers is blamed on the flag, not on
// RESTAGE_WORKERS (which the user didn't set), and every unparsable
// variable is listed at once.
func TestMaskBlamesFlag(t *testing.T) {
	res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--workers", "1000", "--dsn", "mysql://u:p@127.0.0.1:1/x", "--rules", "../examples/rules/sakila-mysql.yaml", "--confirm", "127.0.0.1:1/x")
	if res.code != 2 || !strings.Contains(res.stderr, "--workers must be between 1 and 64, got 1000") || strings.Contains(res.stderr, "RESTAGE_WORKERS") {
		t.Errorf("mask --workers 1000: exit %d, want 2 blaming --workers\n%s", res.code, res.stderr)
	}
	res = restage(t, []string{"RESTAGE_MASK_KEY=" + testKey, "RESTAGE_WORKERS=many", "RESTAGE_BATCH_SIZE=big"}, "mask", "--dsn", "mysql://u:p@127.0.0.1:1/x", "--rules", "../examples/rules/sakila-mysql.yaml", "--confirm", "127.0.0.1:1/x")
	if res.code != 2 || !strings.Contains(res.stderr, `RESTAGE_WORKERS="many"`) || !strings.Contains(res.stderr, `RESTAGE_BATCH_SIZE="big"`) {
		t.Errorf("two unparsable variables: exit %d, want 2 naming both\n%s", res.code, res.stderr)
	}
}

// TestSameProblemSameExit: a rule for a column the database doesn't have
// exits 2 (bad input) from check, mask and run alike, and nothing is
// created or changed; check lists a rule that doesn't fit its column even
// when the drift gate also objects.
func TestSameProblemSameExit(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			text, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			write := func(name, body string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			stale := write("stale.yaml", string(text)+"  category:\n    columns:\n      no_such_column: {keep: \"gone\"}\n")
			srcBefore := f.sourceSum(t)
			pd, _ := engines.ParseDSN(f.sourceDSN)
			for name, res := range map[string]result{
				"check": restage(t, nil, "check", "--dsn", f.sourceDSN, "--rules", stale),
				"run":   restage(t, f.env("RESTAGE_RULES="+stale), "run"),
				"mask":  restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", f.sourceDSN, "--rules", stale, "--confirm", pd.Target()),
			} {
				if res.code != 2 || !strings.Contains(res.stdout+res.stderr, "no_such_column") {
					t.Errorf("%s with a rule for a missing column: exit %d, want 2 naming it\n%s%s", name, res.code, res.stdout, res.stderr)
				}
			}
			if got := f.sourceSum(t); got != srcBefore {
				t.Error("the database changed")
			}
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) != 0 {
				t.Errorf("the refused run left %v behind", left)
			}

			// customer.email unclassified (drift gate) and a rule that
			// can't fill a NOT NULL column: check shows both, exit 2.
			both := strings.Replace(string(text), "      email: {transformer: email, seed: [customer_id]}", "", 1)
			if both == string(text) {
				t.Fatal("no customer email rule in the example rules")
			}
			res := restage(t, nil, "check", "--dsn", f.sourceDSN, "--rules", write("both.yaml", both+"  category:\n    columns:\n      name: nullify\n"))
			out := res.stdout + res.stderr
			if res.code != 2 || !strings.Contains(out, "customer.email") || !strings.Contains(out, "category.name") {
				t.Errorf("check with an unclassified column and a rule that doesn't fit: exit %d, want 2 showing both\n%s", res.code, out)
			}
		})
	}
}

// TestRulesFileBounded: a 10 MB "rules file" (the wrong file, a generated
// dump) used to take 320-390 MB; it is refused at once (exit 2) naming the
// limit, and a file at the limit parses in bounded memory.
func TestRulesFileBounded(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("version: 1\ntables:\n")
	for i := 0; b.Len() < config.MaxRulesBytes-200; i++ {
		fmt.Fprintf(&b, "  t%d:\n    columns:\n      email: email\n      note: nullify\n", i)
	}
	atLimit := filepath.Join(dir, "limit.yaml")
	if err := os.WriteFile(atLimit, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for b.Len() < 10<<20 {
		b.WriteString("  # padding padding padding padding padding padding padding padding\n")
	}
	huge := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(huge, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(rules string) (result, int64) {
		t.Helper()
		cmd := measured(binary, "check", "--dsn", "mysql://u:p@127.0.0.1:1/x", "--rules", rules)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}, peakRSSMB(cmd)
	}
	res, mb := run(huge)
	if res.code != 2 || !strings.Contains(res.stderr, "rules file is 10.0 MiB; restage reads at most 2 MiB") {
		t.Errorf("10 MB rules file: exit %d, want 2 naming the limit\n%s", res.code, res.stderr)
	}
	if mb > 64 {
		t.Errorf("10 MB rules file: %d MB resident, want it refused without reading it whole (< 64 MB)", mb)
	}
	// At the limit the file is parsed (then the server is unreachable).
	res, mb = run(atLimit)
	if res.code != 1 || !strings.Contains(res.stderr, "connect to 127.0.0.1:1/x") {
		t.Errorf("rules file at the limit: exit %d, want it parsed, then 1 for the unreachable server\n%s", res.code, res.stderr)
	}
	if mb > 160 {
		t.Errorf("rules file at the limit: %d MB resident, want < 160 MB", mb)
	}
}
