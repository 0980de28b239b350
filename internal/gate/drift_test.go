package gate

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
)

// driftEngine is one server flavour under test.
type driftEngine struct {
	name   string
	rules  string
	create func(t testing.TB) (string, string)
	load   func(t testing.TB, dsn string)
	open   func(ctx context.Context, dsn string) (driftTestEngine, error)
	driver string
	// Column types for the tables tests add.
	varchar, jsonType string
}

type driftTestEngine interface {
	mask.Reader
	Introspect(ctx context.Context) (*schema.Schema, error)
	Close() error
}

var driftEngines = []driftEngine{
	{
		name: "mysql", rules: "../../examples/rules/sakila-mysql.yaml",
		create: testdb.MySQL, load: testdb.LoadSakilaMySQL, driver: "mysql",
		open:    func(ctx context.Context, d string) (driftTestEngine, error) { return mysql.Open(ctx, d) },
		varchar: "VARCHAR", jsonType: "JSON",
	},
	{
		name: "postgres", rules: "../../examples/rules/sakila-postgres.yaml",
		create: testdb.Postgres, load: testdb.LoadSakilaPostgres, driver: "pgx",
		open:    func(ctx context.Context, d string) (driftTestEngine, error) { return postgres.Open(ctx, d) },
		varchar: "VARCHAR", jsonType: "JSONB",
	},
}

// driftSakila is a Sakila copy on one engine.
type driftSakila struct {
	e   driftEngine
	dsn string
	db  *sql.DB
}

func driftLoadSakila(t *testing.T, e driftEngine) *driftSakila {
	t.Helper()
	d, _ := e.create(t)
	e.load(t, d)
	db, err := sql.Open(e.driver, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &driftSakila{e: e, dsn: d, db: db}
}

func (k *driftSakila) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := k.db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// drift runs the gate on the copy with the given rules text.
func (k *driftSakila) drift(t *testing.T, rulesText []byte) *DriftReport {
	t.Helper()
	rules, err := config.ParseRules("rules.yaml", rulesText)
	if err != nil {
		t.Fatalf("parse rules: %v\n%s", err, rulesText)
	}
	ctx := context.Background()
	eng, err := k.e.open(ctx, k.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s, err := eng.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Drift(ctx, eng, s, rules, rulesText, DriftOptions{})
	if err != nil {
		t.Fatalf("Drift: %v", err)
	}
	// Whenever the gate passes, the rules must also fit the schema.
	if rep.OK() {
		if _, err := mask.NewPlan(rules, s); err != nil {
			t.Errorf("drift passed but the plan fails: %v", err)
		}
	}
	return rep
}

func driftRulesText(t *testing.T, e driftEngine) []byte {
	t.Helper()
	b, err := os.ReadFile(e.rules)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func driftFind(rep *DriftReport, table, column string) *DriftFinding {
	for i := range rep.Unclassified {
		if rep.Unclassified[i].Table == table && rep.Unclassified[i].Column == column {
			return &rep.Unclassified[i]
		}
	}
	return nil
}

// driftFix applies the report's patch with PatchApply and, when the patch
// program is installed, checks that it produces the same file.
func driftFix(t *testing.T, rulesText []byte, rep *DriftReport) []byte {
	t.Helper()
	if rep.Patch == "" {
		t.Fatalf("no patch in the report:\n%s", rep.Summary())
	}
	fixed, err := PatchApply(rulesText, rep)
	if err != nil {
		t.Fatalf("PatchApply: %v\n%s", err, rep.Patch)
	}
	if _, err := config.ParseRules("rules.yaml", fixed); err != nil {
		t.Fatalf("patched rules do not parse: %v\n%s", err, fixed)
	}
	driftPatchProgram(t, rulesText, rep.Patch, fixed)
	return fixed
}

// driftPatchProgram applies the diff with `patch -p0` in a scratch
// directory holding rules.yaml and compares with want. Skipped when patch
// isn't installed.
func driftPatchProgram(t *testing.T, rulesText []byte, diff string, want []byte) {
	t.Helper()
	bin, err := exec.LookPath("patch")
	if err != nil {
		t.Log("patch is not installed: the diff is checked with PatchApply only")
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rulesText, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p0", "--batch", "--no-backup-if-mismatch")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(diff)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("patch -p0: %v\n%s\n%s", err, out, diff)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("patch -p0 and PatchApply differ:\npatch:\n%s\nPatchApply:\n%s", got, want)
	}
}

func TestDriftSakilaExamplesPass(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			rep := k.drift(t, driftRulesText(t, e))
			if !rep.OK() {
				t.Fatalf("the example rules do not pass the drift gate:\n%s", rep.Summary())
			}
			if rep.Patch != "" {
				t.Errorf("a passing report has a patch:\n%s", rep.Patch)
			}
			if rep.Covered == 0 || len(rep.Kept) == 0 {
				t.Errorf("covered %d, kept %d: want both > 0", rep.Covered, len(rep.Kept))
			}
			t.Log(rep.Summary())
		})
	}
}

// driftRemoveLine removes the first line containing all the parts.
func driftRemoveLine(t *testing.T, text []byte, parts ...string) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(text), "\n")
	for i, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return []byte(strings.Join(append(lines[:i:i], lines[i+1:]...), ""))
		}
	}
	t.Fatalf("no line with %q", parts)
	return nil
}

func TestDriftMissingRuleRefusedAndPatched(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			rules := driftRemoveLine(t, driftRulesText(t, e), "email:", "customer_id")
			rep := k.drift(t, rules)
			if rep.OK() {
				t.Fatalf("gate passed without a rule for customer.email:\n%s", rep.Summary())
			}
			f := driftFind(rep, "customer", "email")
			if f == nil || len(rep.Unclassified) != 1 {
				t.Fatalf("want exactly customer.email unclassified, got %+v", rep.Unclassified)
			}
			// customer is about people: the e-mail follows the row's key,
			// like the name rules, so that the row stays one person.
			if want := "{transformer: email, seed: [customer_id]}"; f.Suggest != want {
				t.Errorf("suggest = %q, want %s", f.Suggest, want)
			}
			if !strings.Contains(strings.Join(f.Reasons, " "), "email addresses") {
				t.Errorf("reasons %q: want the sampled values named", f.Reasons)
			}
			if !strings.Contains(rep.Summary(), "customer.email") {
				t.Errorf("summary does not name customer.email:\n%s", rep.Summary())
			}
			fixed := driftFix(t, rules, rep)
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s\n%s", rep2.Summary(), fixed)
			}
		})
	}
}

func TestDriftNewColumnRefusedAndPatched(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			k.exec(t,
				"ALTER TABLE customer ADD COLUMN mobile_tel "+e.varchar+"(20) NULL",
				"UPDATE customer SET mobile_tel = '090-1234-5678' WHERE customer_id % 3 = 0",
				"UPDATE customer SET mobile_tel = '03-3123-4567' WHERE customer_id % 3 = 1",
			)
			rules := driftRulesText(t, e)
			rep := k.drift(t, rules)
			f := driftFind(rep, "customer", "mobile_tel")
			if rep.OK() || f == nil || len(rep.Unclassified) != 1 {
				t.Fatalf("want customer.mobile_tel refused, got:\n%s", rep.Summary())
			}
			if want := "{transformer: phone, locale: ja}"; f.Suggest != want {
				t.Errorf("suggest = %q, want %q", f.Suggest, want)
			}
			reasons := strings.Join(f.Reasons, "; ")
			if !strings.Contains(reasons, `name looks like "mobile"`) || !strings.Contains(reasons, "phone numbers") {
				t.Errorf("reasons = %q: want the name and the values", reasons)
			}
			t.Logf("%s\n%s", rep.Summary(), rep.Patch)
			fixed := driftFix(t, rules, rep)
			if !strings.Contains(string(fixed), "      mobile_tel: {transformer: phone, locale: ja}  # ") {
				t.Errorf("the rule is not in the customer block:\n%s", fixed)
			}
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
			}
		})
	}
}

func TestDriftStaleRule(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			k.exec(t, "ALTER TABLE address DROP COLUMN address2")
			rules := driftRulesText(t, e)
			line := 0
			for i, l := range strings.Split(string(rules), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "address2:") {
					line = i + 1
				}
			}
			rep := k.drift(t, rules)
			want := []DriftStale{{Table: "address", Column: "address2", Line: line}}
			if fmt.Sprint(rep.Stale) != fmt.Sprint(want) || rep.OK() {
				t.Fatalf("stale = %+v, want %+v", rep.Stale, want)
			}
			if !strings.Contains(rep.Summary(), fmt.Sprintf("rules.yaml:%d: column address.address2 does not exist", line)) {
				t.Errorf("summary does not point at the stale rule:\n%s", rep.Summary())
			}
		})
	}
}

func TestDriftJSONPaths(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			k.exec(t, "CREATE TABLE member_event (id INT NOT NULL PRIMARY KEY, payload "+e.jsonType+" NOT NULL)")
			for i := 1; i <= 30; i++ {
				doc := fmt.Sprintf(`{"kind": "signup", "contact": {"email": "person%d@mail.example.com", "tel": "080-%04d-1234"}, "items": [{"sku": "A%d", "qty": %d}]}`, i, i, i, i)
				k.exec(t, fmt.Sprintf("INSERT INTO member_event VALUES (%d, '%s')", i, doc))
			}
			rules := driftRulesText(t, e)
			rep := k.drift(t, rules)
			if rep.OK() {
				t.Fatal("gate passed with emails in a JSON column")
			}
			for _, p := range []string{"payload $.contact.email", "payload $.contact.tel"} {
				f := driftFind(rep, "member_event", p)
				if f == nil {
					t.Fatalf("no finding for %s:\n%s", p, rep.Summary())
				}
				want := `{transformer: json, paths: {"$.contact.email": email, "$.contact.tel": {transformer: phone, locale: ja}}}`
				if f.Suggest != want {
					t.Errorf("suggest = %s, want %s", f.Suggest, want)
				}
			}
			if len(rep.Unclassified) != 2 {
				t.Errorf("want 2 findings, got:\n%s", rep.Summary())
			}
			fixed := driftFix(t, rules, rep)
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
			}
		})
	}
}

func TestDriftNeverShowsValues(t *testing.T) {
	const canary = "canary.leak@example.com"
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			k.exec(t,
				"ALTER TABLE store ADD COLUMN contact "+e.varchar+"(60) NULL",   // flagged: all emails
				"ALTER TABLE customer ADD COLUMN remark "+e.varchar+"(60) NULL", // unflagged: 1 of 200 sampled
				"ALTER TABLE store ADD COLUMN manager_memo "+e.jsonType+" NULL", // flagged JSON path
				"UPDATE store SET contact = '"+canary+"'",
				"UPDATE customer SET remark = CASE WHEN customer_id = 1 THEN '"+canary+"' ELSE 'fine' END",
				`UPDATE store SET manager_memo = '{"owner": {"mail": "`+canary+`"}, "note": "`+canary+`"}'`,
			)
			for _, n := range []int{0, 1} {
				rules := driftRulesText(t, e)
				if n == 1 {
					rules = driftRemoveLine(t, rules, "email:", "customer_id")
				}
				rep := k.drift(t, rules)
				if driftFind(rep, "store", "contact") == nil || driftFind(rep, "store", "manager_memo $.owner.mail") == nil {
					t.Fatalf("store.contact / manager_memo not flagged:\n%s", rep.Summary())
				}
				if driftFind(rep, "customer", "remark") != nil {
					t.Errorf("customer.remark flagged on one value:\n%s", rep.Summary())
				}
				js, err := json.Marshal(rep)
				if err != nil {
					t.Fatal(err)
				}
				for what, s := range map[string]string{"summary": rep.Summary(), "patch": rep.Patch, "json": string(js)} {
					if strings.Contains(s, canary) || strings.Contains(s, "canary") {
						t.Errorf("the %s holds a sampled value:\n%s", what, s)
					}
				}
				fixed := driftFix(t, rules, rep)
				if rep2 := k.drift(t, fixed); !rep2.OK() {
					t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
				}
			}
		})
	}
}

// Partitions / inheritance children are judged through their parent
// (PostgreSQL), and truncated tables not at all (MySQL film_text).
func TestDriftParentsAndTruncation(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := driftLoadSakila(t, e)
			rules := driftRulesText(t, e)
			if e.name == "mysql" {
				k.exec(t,
					"ALTER TABLE film_text ADD COLUMN email VARCHAR(60) NULL",
					"UPDATE film_text SET email = CONCAT('f', film_id, '@example.com')",
				)
				if rep := k.drift(t, rules); !rep.OK() {
					t.Fatalf("a column of a truncated table was flagged:\n%s", rep.Summary())
				}
				return
			}
			// payment's rows live in its children (INHERITS); the new
			// column is reported once, on the parent, from the children's
			// values.
			k.exec(t,
				"ALTER TABLE payment ADD COLUMN payer_contact VARCHAR(60) NULL",
				"UPDATE payment SET payer_contact = 'p' || payment_id || '@example.com'",
			)
			rep := k.drift(t, rules)
			f := driftFind(rep, "payment", "payer_contact")
			if f == nil || len(rep.Unclassified) != 1 || f.Suggest != "email" {
				t.Fatalf("want payment.payer_contact only, suggest email:\n%s", rep.Summary())
			}
			fixed := driftFix(t, rules, rep)
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
			}
		})
	}
}
