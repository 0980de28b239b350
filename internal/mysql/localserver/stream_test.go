package localserver

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"

	"github.com/restage/restage/internal/config"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/transform"
)

func mySakilaMasking(t *testing.T) *refresh.Masking {
	t.Helper()
	return localtest.SakilaMasking(t, "sakila-mysql.yaml")
}

// checksum is CHECKSUM TABLE of schema.table.
func (e *myEnv) checksum(schema, table string) string {
	e.t.Helper()
	var name string
	var sum sql.NullInt64
	if err := e.admin.QueryRow("CHECKSUM TABLE "+mysqlQuote(schema)+"."+mysqlQuote(table)).Scan(&name, &sum); err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprint(sum.Int64, sum.Valid)
}

// schemaDump is SHOW CREATE of every table, view, trigger, routine and
// event of schema, its own name removed.
func (e *myEnv) schemaDump(schema string) []string {
	e.t.Helper()
	objs, err := mysqlCapture(context.Background(), e.admin, schema)
	if err != nil {
		e.t.Fatal(err)
	}
	tables, err := mysqlTables(context.Background(), e.admin, schema)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tb := range tables {
		o := mysqlObject{Kind: "TABLE", Name: tb}
		if err := e.admin.QueryRow("SHOW CREATE TABLE "+mysqlQuote(schema)+"."+mysqlQuote(tb)).Scan(&o.Name, &o.Create); err != nil {
			e.t.Fatal(err)
		}
		objs = append(objs, o)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Kind+" "+o.Name+" "+o.Create)
	}
	return mySchemaless(out, schema)
}

// TestMySQLRestoreMaskedSakila: the masking copy of Sakila has the schema
// of a plain copy (SHOW CREATE of every object), every unmasked table
// identical to a plain copy's (CHECKSUM TABLE), the truncated table
// empty, every masked column changed, and every masked table identical to
// the plain copy masked in place by restage mask's code (the same
// transformers ran on the same text); the gates pass on it.
func TestMySQLRestoreMaskedSakila(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, true)
	ctx := context.Background()

	m := mySakilaMasking(t)
	streamed, used, err := e.p.RestoreMasked(ctx, "s1", m)
	if err != nil || !used {
		t.Fatalf("RestoreMasked: used %v, %v", used, err)
	}
	if got := e.state(streamed.Name); got != "ready" {
		t.Errorf("state = %q, want ready", got)
	}
	plain := e.restore("p1")

	if a, b := e.schemaDump(plain.Name), e.schemaDump(streamed.Name); !reflect.DeepEqual(a, b) {
		t.Errorf("schema of the masking copy differs from a plain copy's:\nplain:\n%s\nmasking copy:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if len(e.schemaDump(plain.Name)) < 25 {
		t.Errorf("the schema dump holds too few objects to compare")
	}

	masked := map[string][]string{}
	for _, tp := range m.Plan.Jobs {
		masked[tp.Job.Table.TableName.Name] = tp.Job.Write
	}
	empty := map[string]bool{}
	for _, tb := range m.Plan.Truncate {
		empty[tb.TableName.Name] = true
	}
	if len(masked) < 3 || len(empty) == 0 {
		t.Fatalf("plan masks %d tables and truncates %d; the test wants Sakila's rules", len(masked), len(empty))
	}
	tables, err := mysqlTables(ctx, e.admin, e.src)
	if err != nil {
		t.Fatal(err)
	}
	unmasked := 0
	for _, tb := range tables {
		switch {
		case masked[tb] != nil:
		case empty[tb]:
			if n := e.count("SELECT COUNT(*) FROM " + mysqlQuote(streamed.Name) + "." + mysqlQuote(tb)); n != 0 {
				t.Errorf("%s: truncated by the rules, but the masking copy holds %d rows", tb, n)
			}
		default:
			unmasked++
			if a, b := e.checksum(plain.Name, tb), e.checksum(streamed.Name, tb); a != b {
				t.Errorf("%s: unmasked, but the masking copy's rows differ from a plain copy's", tb)
			}
		}
	}
	if unmasked < 10 {
		t.Errorf("only %d unmasked tables compared", unmasked)
	}
	for tb, cols := range masked {
		for _, c := range cols {
			nonBlank := e.count(fmt.Sprintf("SELECT COUNT(NULLIF(TRIM(%s), '')) FROM %s.%s", mysqlQuote(c), mysqlQuote(e.src), mysqlQuote(tb)))
			if nonBlank == 0 {
				continue
			}
			same := e.count(fmt.Sprintf("SELECT COUNT(*) FROM %s.%s a JOIN %s.%s b USING (%s) WHERE a.%s <=> b.%s AND TRIM(a.%s) <> ''",
				mysqlQuote(e.src), mysqlQuote(tb), mysqlQuote(streamed.Name), mysqlQuote(tb), mysqlQuote(tb+"_id"), mysqlQuote(c), mysqlQuote(c), mysqlQuote(c)))
			if same > 0 {
				t.Errorf("%s.%s: %d masked values equal production's", tb, c, same)
			}
		}
	}

	// The gates on the masking copy: the post-mask step and verification.
	eng, err := mysqlengine.Open(ctx, streamed.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	localtest.GatesPass(t, m, eng)
	if m.Report.Rows == 0 || !strings.Contains(m.Note(), "while copying") {
		t.Errorf("report: %d masked rows, note %q", m.Report.Rows, m.Note())
	}
	// customer.idx_last_name covers a masked column: built after the rows
	// (the schema comparison above shows it back in its place).
	if !slices.Contains(m.Report.DeferredIndexes, "customer.idx_last_name") {
		t.Errorf("deferred indexes = %q, want customer.idx_last_name among them", m.Report.DeferredIndexes)
	}

	// The plain copy masked in place: every masked table equals the
	// masking copy's.
	inPlace := mySakilaMasking(t)
	peng, err := mysqlengine.Open(ctx, plain.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer peng.Close()
	localtest.MaskedInPlaceEqual(t, inPlace, peng, masked, e.checksum, plain.Name, streamed.Name)
}

// TestMySQLRestoreMaskedDriftRefusesFirst: a personal column without a
// rule on the source refuses the masking copy (exit 4) before anything is
// created, the drift report names it, and the source is unchanged.
func TestMySQLRestoreMaskedDriftRefusesFirst(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, true)
	e.execIn(e.src,
		"ALTER TABLE customer ADD COLUMN mobile_tel VARCHAR(20)",
		"UPDATE customer SET mobile_tel = CONCAT('080-1234-', LPAD(customer_id, 4, '0'))")
	localtest.DriftRefusesFirst(t, e.p, mySakilaMasking(t), e.world())
}

// TestMySQLRestoreMaskedFallsBack: rules the stream can't follow (here a
// rule reading a DOUBLE column) leave the copy to Restore and masking in
// place: nothing is created.
func TestMySQLRestoreMaskedFallsBack(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	e.execIn(e.src, "CREATE TABLE m (id INT PRIMARY KEY, score DOUBLE)", "INSERT INTO m VALUES (1, 1.5e30)")
	text := []byte("version: 1\ntables:\n  m:\n    columns:\n      score: {transformer: noise, percent: 10}\n")
	rules, err := config.ParseRules("m.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
	m := &refresh.Masking{Rules: rules, RulesText: text, Key: key}
	db, used, err := e.p.RestoreMasked(context.Background(), "f1", m)
	if used || db != nil || err != nil {
		t.Fatalf("RestoreMasked: db %v, used %v, %v; want the plain path", db, used, err)
	}
	if e.exists(local.DBName(e.target, "f1")) {
		t.Errorf("the fallback created its database")
	}
}

// TestMySQLRestoreMaskedOwnerFirst: orders copies its customer's person
// (seeded by customer_id), so customer is masked first and its row-level
// redraws are followed: the masking copy equals the plain copy masked in
// place, and the gates pass. With the owner printed after the table that
// follows it, the copy falls back to masking in place.
func TestMySQLRestoreMaskedOwnerFirst(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	names := []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Susan"}
	var cust, ord []string
	for i := 1; i <= 3000; i++ {
		n := names[i%len(names)]
		cust = append(cust, fmt.Sprintf("(%d, '%s', 'c%d@example.org')", i, n, i))
		// The order's own originals never collide with the fakes: only
		// the customer's row-level redraws can change its person.
		ord = append(ord, fmt.Sprintf("(%d, %d, 'Shipper%d', 'o%d@example.org')", i, i, i, i))
	}
	e.execIn(e.src,
		"CREATE TABLE customer (id INT PRIMARY KEY, first_name VARCHAR(40) NOT NULL, email VARCHAR(80) NOT NULL, UNIQUE KEY (email))",
		"CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, ship_first VARCHAR(40), ship_email VARCHAR(80), FOREIGN KEY (customer_id) REFERENCES customer (id))",
		"INSERT INTO customer VALUES "+strings.Join(cust, ", "),
		"INSERT INTO orders VALUES "+strings.Join(ord, ", "))
	text := []byte(`version: 1
tables:
  customer:
    columns:
      first_name: {transformer: first_name, seed: [id]}
      email: {transformer: email, seed: [id]}
  orders:
    columns:
      ship_first: {transformer: first_name, seed: [customer_id]}
      ship_email: {transformer: email, seed: [customer_id]}
`)
	masking := func() *refresh.Masking {
		rules, err := config.ParseRules("o.yaml", text)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
		return &refresh.Masking{Rules: rules, RulesText: text, Key: key, Workers: 2}
	}
	ctx := context.Background()
	m := masking()
	streamed, used, err := e.p.RestoreMasked(ctx, "o1", m)
	if err != nil || !used {
		t.Fatalf("RestoreMasked: used %v, %v", used, err)
	}
	owner := false
	for _, tp := range m.Plan.Jobs {
		owner = owner || tp.Owner && tp.Job.Table.Name == "customer"
	}
	if !owner {
		t.Fatal("customer is no owner table in the plan; the test wants one")
	}
	eng, err := mysqlengine.Open(ctx, streamed.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := m.Mask(ctx, eng); err != nil {
		t.Fatal(err)
	}
	if err := m.VerifyMasked(ctx, eng); err != nil {
		t.Fatalf("VerifyMasked: %v (%s)", err, localtest.JSONString(t, m.Verify))
	}
	if n := e.count("SELECT COUNT(*) FROM " + mysqlQuote(streamed.Name) + ".orders o JOIN " + mysqlQuote(streamed.Name) +
		".customer c ON c.id = o.customer_id WHERE o.ship_first <> c.first_name"); n != 0 {
		t.Errorf("%d orders lost their customer's fake person", n)
	}
	plain := e.restore("p1")
	peng, err := mysqlengine.Open(ctx, plain.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer peng.Close()
	inPlace := masking()
	if err := inPlace.Check(ctx, peng); err != nil {
		t.Fatal(err)
	}
	if err := inPlace.Mask(ctx, peng); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"customer", "orders"} {
		if a, b := e.checksum(plain.Name, tb), e.checksum(streamed.Name, tb); a != b {
			t.Errorf("%s: masked in place and masked while copying differ", tb)
		}
	}

	// The owner printed last: the dump can't give it first.
	if reason := mysqlengine.StreamUnsupported(m.Plan, []string{"orders", "customer"}); !strings.Contains(reason, "before customer") {
		t.Errorf("owner after its follower: reason %q", reason)
	}
}
