package awsprov

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// TestAWSPreserve: rows QA changed on the current staging DB survive the
// next run — read as the first staging user, written as the new DB's
// admin: a changed row replaces the fresh copy's, a new row is added.
func TestAWSPreserve(t *testing.T) {
	for _, ec := range []engineCase{engineCases[1], engineCases[2]} { // aurora-postgresql, mysql
		t.Run(string(ec.engine), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ec, loadSource(t, ec.family()))
			defer e.checkHooks(t)
			defer e.checkProductionUntouched(t)

			// Nothing to preserve from before the first run.
			e.preserve = []refresh.PreserveSpec{{Table: "customer", Where: preserve.MustParse("customer_id = 1")}, {Table: "category", Where: preserve.MustParse("category_id >= 200")}, {Table: "no_such_table"}}
			rep, err := e.run(t, nil)
			if err != nil {
				t.Fatalf("first run: %v", err)
			}
			first := rep.New.Name
			exec(t, e.instance(first), "UPDATE customer SET first_name = 'QA_KEEP' WHERE customer_id = 1",
				"UPDATE customer SET first_name = 'QA_DROP' WHERE customer_id = 2",
				"INSERT INTO category (category_id, name) VALUES (200, 'QA')")

			rep, err = e.run(t, nil)
			if err != nil {
				t.Fatalf("second run: %v\n%+v", err, rep.Steps)
			}
			second := rep.New.Name
			if e.cname() != endpointOf(second) {
				t.Fatalf("record = %q, want %q", e.cname(), endpointOf(second))
			}
			// Copied before verification: the verify step reports them, and
			// the gate expected exactly the one added row.
			var note string
			for _, s := range rep.Steps {
				if s.Step == refresh.StepVerify {
					note = s.Note
				}
			}
			if !strings.Contains(note, "2 preserved rows copied before verification (1 added)") {
				t.Errorf("verify step note %q, want 2 preserved rows, 1 added", note)
			}
			if rep.Verify == nil || !rep.Verify.OK() {
				t.Errorf("verification: %+v", rep.Verify)
			}
			inst := e.instance(second)
			if got := query(t, inst, "SELECT first_name FROM customer WHERE customer_id = 1"); got != "QA_KEEP" {
				t.Errorf("customer 1 = %q, want the preserved QA_KEEP", got)
			}
			if got := query(t, inst, "SELECT first_name FROM customer WHERE customer_id = 2"); got == "QA_DROP" {
				t.Errorf("customer 2 was preserved though no spec names it")
			}
			if got := query(t, inst, "SELECT name FROM category WHERE category_id = 200"); got != "QA" {
				t.Errorf("category 200 = %q, want the preserved QA", got)
			}
			if got := query(t, inst, "SELECT COUNT(*) FROM customer"); got != "599" {
				t.Errorf("%s customers, want 599", got)
			}
			e.checkServed(t, second)

			// A preserved row holding a production value goes through the
			// never-equal check: the run refuses and staging stays.
			exec(t, inst, "UPDATE customer SET email = 'MARY.SMITH@sakilacustomer.org' WHERE customer_id = 1")
			rep, err = e.run(t, nil)
			if refresh.ExitCode(err) != exitcode.Refused || rep.Verify == nil || rep.Verify.OK() {
				t.Fatalf("third run: %v (exit %d); want the verification gate to refuse", err, refresh.ExitCode(err))
			}
			if e.cname() != endpointOf(second) {
				t.Errorf("record = %q, want %q still", e.cname(), endpointOf(second))
			}
		})
	}
}

func open(t *testing.T, inst *testdb.Instance) *sql.DB {
	t.Helper()
	driver := "mysql"
	if inst.Engine == testdb.EnginePostgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, inst.DSN(dbName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec(t *testing.T, inst *testdb.Instance, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := open(t, inst)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func query(t *testing.T, inst *testdb.Instance, q string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s string
	if err := open(t, inst).QueryRowContext(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}
