package test

import (
	"strings"
	"testing"
)

// TestRunRefusesSQLInSettings: a RESTAGE_PRESERVE predicate that is not in
// preserve's grammar, or a database name from a setting that isn't a
// plain name, stops the run before anything is created (exit 2), naming
// the problem. On PostgreSQL the first payload used to run a shell command
// on the database host.
func TestRunRefusesSQLInSettings(t *testing.T) {
	for _, ec := range engines {
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
	for _, ec := range engines {
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
