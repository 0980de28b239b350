package local

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/mask"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// sakilaMasking is the mask + verify pass of an examples/rules file for
// Sakila.
func sakilaMasking(t *testing.T, rulesFile string) *refresh.Masking {
	t.Helper()
	path := "../../examples/rules/" + rulesFile
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := config.ParseRules(path, text)
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return &refresh.Masking{Rules: rules, RulesText: text, Key: key, Workers: 2, BatchSize: 500}
}

func mySakilaMasking(t *testing.T) *refresh.Masking {
	t.Helper()
	return sakilaMasking(t, "sakila-mysql.yaml")
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
	if err := m.Mask(ctx, eng); err != nil {
		t.Fatalf("Mask after the masking copy: %v", err)
	}
	if err := m.VerifyMasked(ctx, eng); err != nil {
		t.Fatalf("VerifyMasked on the masking copy: %v (%s)", err, jsonString(t, m.Verify))
	}
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
	if err := inPlace.Check(ctx, peng); err != nil {
		t.Fatal(err)
	}
	if err := inPlace.Mask(ctx, peng); err != nil {
		t.Fatal(err)
	}
	for tb := range masked {
		if a, b := e.checksum(plain.Name, tb), e.checksum(streamed.Name, tb); a != b {
			t.Errorf("%s: masked in place and masked while copying differ", tb)
		}
	}
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
	before := e.checksum(e.src, "customer")

	m := mySakilaMasking(t)
	db, used, err := e.p.RestoreMasked(context.Background(), "d1", m)
	if !used || db != nil || exitcode.Of(err) != exitcode.Refused {
		t.Fatalf("RestoreMasked: db %v, used %v, err %v (exit %d); want a refusal, exit 4, nothing created", db, used, err, exitcode.Of(err))
	}
	if m.Drift == nil || !strings.Contains(jsonString(t, m.Drift), "mobile_tel") {
		t.Errorf("the drift report does not name customer.mobile_tel")
	}
	if strings.Contains(err.Error(), "080-1234") {
		t.Errorf("the error quotes a value: %v", err)
	}
	if e.exists(DBName(e.target, "d1")) {
		t.Errorf("the refused copy created its database")
	}
	if got := e.checksum(e.src, "customer"); got != before {
		t.Errorf("the source changed")
	}
}

// TestMyStreamUnsupported: rules the dump's stream can't follow leave the
// copy to masking in place, with the reason.
func TestMyStreamUnsupported(t *testing.T) {
	tb := &schema.Table{TableName: schema.TableName{Name: "t"}, Columns: []*schema.Column{
		{Name: "id", Kind: schema.KindInt, DataType: "int(11)"},
		{Name: "s", Kind: schema.KindText, DataType: "varchar(10)"},
		{Name: "f", Kind: schema.KindFloat, DataType: "double"},
		{Name: "y", Kind: schema.KindOther, DataType: "year(4)"},
		{Name: "g", Kind: schema.KindText, DataType: "varchar(10)", Generated: true},
	}}
	job := func(read ...string) *mask.Plan {
		return &mask.Plan{Jobs: []*mask.TablePlan{{Job: mask.TableJob{Table: tb, Key: []string{"id"}, Read: read, Write: read[:1]}}}}
	}
	for _, c := range []struct {
		plan *mask.Plan
		want string
	}{
		{job("s"), ""},
		{job("f"), "double"},
		{job("s", "y"), "year"},
		{job("s", "g"), "generated"},
		{&mask.Plan{Links: []mask.Link{{}}}, "link"},
	} {
		got := myStreamUnsupported(c.plan, []string{"t"})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("myStreamUnsupported = %q, want %q", got, c.want)
		}
	}
}

func TestMyDeferIndexes(t *testing.T) {
	create := "CREATE TABLE `p` (\n" +
		"  `id` int(11) NOT NULL,\n" +
		"  `email` varchar(80) NOT NULL,\n" +
		"  `name` varchar(40) DEFAULT NULL,\n" +
		"  `shop` int(11) NOT NULL,\n" +
		"  PRIMARY KEY (`id`),\n" +
		"  UNIQUE KEY `u_email` (`email`),\n" +
		"  KEY `k_shop` (`shop`),\n" +
		"  KEY `k_name` (`name`(10),`shop`)\n" +
		") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
	tb := &schema.Table{TableName: schema.TableName{Name: "p"}, PrimaryKey: []string{"id"}}
	masked := map[string]bool{"email": true, "name": true}
	stmt, alter, names := myDeferIndexes([]byte(create), tb, masked, nil)
	// Every index from the first masked one on, so each comes back in its
	// place (k_shop covers no masked column but follows u_email).
	wantStmt := "CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  `email` varchar(80) NOT NULL,\n  `name` varchar(40) DEFAULT NULL,\n" +
		"  `shop` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n"
	wantAlter := "ALTER TABLE `p` ADD UNIQUE KEY `u_email` (`email`), ADD KEY `k_shop` (`shop`), ADD KEY `k_name` (`name`(10),`shop`);\n"
	if string(stmt) != wantStmt || string(alter) != wantAlter || !reflect.DeepEqual(names, []string{"u_email", "k_shop", "k_name"}) {
		t.Errorf("deferred:\n%s%s%q", stmt, alter, names)
	}
	for name, c := range map[string]struct {
		create     string
		tb         *schema.Table
		referenced [][]string
	}{
		"no masked column indexed": {strings.Replace(strings.Replace(create, "(`email`)", "(`id`,`shop`)", 1), "(`name`(10),`shop`)", "(`shop`,`id`)", 1), tb, nil},
		"foreign key of the table": {create, &schema.Table{TableName: tb.TableName, PrimaryKey: tb.PrimaryKey, ForeignKeys: []schema.ForeignKey{{Columns: []string{"shop"}}}}, nil},
		"referenced by another":    {create, tb, [][]string{{"email"}}},
		"no primary key":           {create, &schema.Table{TableName: tb.TableName}, nil},
		"fulltext after":           {strings.Replace(create, "  KEY `k_shop` (`shop`),\n", "  FULLTEXT KEY `f` (`name`),\n", 1), tb, nil},
		"unknown line":             {strings.Replace(create, "  KEY `k_shop` (`shop`),\n", "  PERIOD FOR p (a, b),\n", 1), tb, nil},
	} {
		stmt, alter, _ := myDeferIndexes([]byte(c.create), c.tb, masked, c.referenced)
		if string(stmt) != c.create || alter != nil {
			t.Errorf("%s: deferred %s", name, alter)
		}
	}
}

// myTestPlan plans rules for a table p (id, name, note, bin) and a
// table gone (truncated).
func myTestPlan(t *testing.T) (*mask.Plan, transform.Key) {
	t.Helper()
	p := &schema.Table{TableName: schema.TableName{Name: "p"}, PrimaryKey: []string{"id"}, Columns: []*schema.Column{
		{Name: "id", Kind: schema.KindInt, DataType: "int(11)", IntBits: 32},
		{Name: "name", Kind: schema.KindText, DataType: "varchar(40)", MaxLength: 40, Charset: "utf8mb4", Nullable: true},
		{Name: "note", Kind: schema.KindText, DataType: "varchar(40)", MaxLength: 40, Charset: "utf8mb4", Nullable: true},
		{Name: "bin", Kind: schema.KindBinary, DataType: "varbinary(8)", MaxLength: 8, Nullable: true},
	}}
	gone := &schema.Table{TableName: schema.TableName{Name: "gone"}, Columns: []*schema.Column{{Name: "x", Kind: schema.KindInt, DataType: "int(11)"}}}
	rules, err := config.ParseRules("t.yaml", []byte("version: 1\ntruncate: [gone]\ntables:\n  p:\n    columns:\n      name: {transformer: fixed, value: \"N'\\\\n\"}\n      bin: nullify\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := mask.NewPlan(rules, &schema.Schema{Tables: []*schema.Table{p, gone}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return plan, key
}

type myFailWriter struct{ after int }

func (w *myFailWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, fmt.Errorf("disk full")
	}
	return len(p), nil
}

// TestMyTransformDump: many statements masked by parallel workers come
// out in dump order, masked columns replaced, every other byte as it was,
// truncated tables' rows dropped and counted; a failing load stops the
// transform with its error.
func TestMyTransformDump(t *testing.T) {
	plan, key := myTestPlan(t)
	var in, want strings.Builder
	in.WriteString("CREATE TABLE `p` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n")
	want.WriteString(in.String())
	for i := range 300 {
		in.WriteString(fmt.Sprintf("INSERT INTO `p` (`id`, `name`, `note`, `bin`) VALUES (%d,'a\\'b',  'keep \\'me\\'',0xFF00),\n(%d,NULL,NULL,NULL);\n", 2*i, 2*i+1))
		want.WriteString(fmt.Sprintf("INSERT INTO `p` (`id`, `name`, `note`, `bin`) VALUES (%d,'N\\'\\\\n',  'keep \\'me\\'',NULL),\n(%d,NULL,NULL,NULL);\n", 2*i, 2*i+1))
		in.WriteString("INSERT INTO `gone` (`x`) VALUES (1),(2);\n")
		in.WriteString("INSERT INTO `other` VALUES ('src.t', 0x00);\n")
		want.WriteString("INSERT INTO `other` VALUES ('src.t', 0x00);\n")
		in.WriteString("/*!50001 CREATE VIEW `v` AS select `src`.`t`.`a` from `src`.`t` */;\n")
		want.WriteString("/*!50001 CREATE VIEW `v` AS select `dst`.`t`.`a` from `dst`.`t` */;\n")
	}
	sp := newMyStreamPlan(plan, nil, key, nil)
	var out strings.Builder
	res, err := myTransformDump(context.Background(), &out, strings.NewReader(in.String()), mysqlSchemaRewriter("src", "dst"), sp, 4)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("transformed dump differs:\n got %.600q\nwant %.600q", out.String(), want.String())
	}
	if res.counts["p"] != 600 || res.counts["gone"] != 600 || res.counts["other"] != 300 || res.masked["p"].Rows != 600 {
		t.Errorf("counts %v, masked %+v", res.counts, res.masked)
	}
	_, err = myTransformDump(context.Background(), &myFailWriter{after: 1 << 10}, strings.NewReader(in.String()), mysqlSchemaRewriter("src", "dst"), sp, 2)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("a failing load gave %v", err)
	}
	// A statement whose rows don't fit its column list stops the copy,
	// naming the table, never a value.
	bad := "INSERT INTO `p` (`id`, `name`, `note`, `bin`) VALUES (1,'secret-value',NULL);\n"
	_, err = myTransformDump(context.Background(), io.Discard, strings.NewReader(bad), mysqlSchemaRewriter("src", "dst"), sp, 2)
	if err == nil || !strings.Contains(err.Error(), "mask p") || strings.Contains(err.Error(), "secret") {
		t.Errorf("a short row gave %v", err)
	}
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
	if e.exists(DBName(e.target, "f1")) {
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
		t.Fatalf("VerifyMasked: %v (%s)", err, jsonString(t, m.Verify))
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
	if reason := myStreamUnsupported(m.Plan, []string{"orders", "customer"}); !strings.Contains(reason, "before customer") {
		t.Errorf("owner after its follower: reason %q", reason)
	}
}

// TestMyTransformDumpOwnerFirst: the statements of a table that follows
// an owner table's row-level redraws wait for the owner's: with four
// workers the output equals the one-worker output, statement by
// statement in dump order.
func TestMyTransformDumpOwnerFirst(t *testing.T) {
	text := func(name string) *schema.Column {
		return &schema.Column{Name: name, Kind: schema.KindText, DataType: "varchar(80)", MaxLength: 80, Charset: "utf8mb4", Nullable: true, CaseInsensitive: true, PadSpace: true}
	}
	id := func(name string) *schema.Column {
		return &schema.Column{Name: name, Kind: schema.KindInt, DataType: "int(11)", IntBits: 32}
	}
	c := &schema.Table{TableName: schema.TableName{Name: "customer"}, PrimaryKey: []string{"id"}, Columns: []*schema.Column{id("id"), text("first_name"), text("last_name")}}
	o := &schema.Table{TableName: schema.TableName{Name: "orders"}, PrimaryKey: []string{"id"}, Columns: []*schema.Column{id("id"), id("customer_id"), text("ship_first")},
		ForeignKeys: []schema.ForeignKey{{Columns: []string{"customer_id"}, RefTable: c.TableName, RefColumns: []string{"id"}}}}
	rules, err := config.ParseRules("o.yaml", []byte("version: 1\ntables:\n  customer:\n    columns:\n      first_name: {transformer: first_name, seed: [id]}\n      last_name: {transformer: last_name, seed: [id]}\n  orders:\n    columns:\n      ship_first: {transformer: first_name, seed: [customer_id]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := &schema.Schema{Tables: []*schema.Table{c, o}}
	key, _ := transform.NewKey([]byte("stream-copy-test-key-0123456789abcdef"))
	names := []string{"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Susan"}
	last := []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark"}
	var in strings.Builder
	in.WriteString("CREATE TABLE `customer` (\n  `id` int(11) NOT NULL\n);\n")
	for s := range 40 {
		var rows []string
		for i := s * 500; i < (s+1)*500; i++ {
			rows = append(rows, fmt.Sprintf("(%d,'%s','%s')", i, names[i%10], last[i/10%10]))
		}
		in.WriteString("INSERT INTO `customer` (`id`, `first_name`, `last_name`) VALUES " + strings.Join(rows, ",\n") + ";\n")
	}
	in.WriteString("CREATE TABLE `orders` (\n  `id` int(11) NOT NULL\n);\n")
	for s := range 40 {
		var rows []string
		for i := s * 500; i < (s+1)*500; i++ {
			rows = append(rows, fmt.Sprintf("(%d,%d,'Shipper%d')", i, 19999-i, i))
		}
		in.WriteString("INSERT INTO `orders` (`id`, `customer_id`, `ship_first`) VALUES " + strings.Join(rows, ",\n") + ";\n")
	}
	run := func(workers int) string {
		plan, err := mask.NewPlan(rules, sc)
		if err != nil {
			t.Fatal(err)
		}
		if reason := myStreamUnsupported(plan, []string{"customer", "orders"}); reason != "" {
			t.Fatalf("unsupported: %s", reason)
		}
		var out strings.Builder
		if _, err := myTransformDump(context.Background(), &out, strings.NewReader(in.String()), func(b []byte) []byte { return b }, newMyStreamPlan(plan, sc, key, nil), workers); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	want := run(1)
	for range 3 {
		if got := run(4); got != want {
			t.Fatalf("four workers wrote other rows than one")
		}
	}
}
