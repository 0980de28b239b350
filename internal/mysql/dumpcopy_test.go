package mysql

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

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
		got := StreamUnsupported(c.plan, []string{"t"})
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("StreamUnsupported = %q, want %q", got, c.want)
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
	sp := NewStreamPlan(plan, nil, key, nil)
	var out strings.Builder
	res, err := TransformDump(context.Background(), &out, strings.NewReader(in.String()), SchemaRewriter("src", "dst"), sp, 4)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("transformed dump differs:\n got %.600q\nwant %.600q", out.String(), want.String())
	}
	if res.Counts["p"] != 600 || res.Counts["gone"] != 600 || res.Counts["other"] != 300 || res.Masked["p"].Rows != 600 {
		t.Errorf("counts %v, masked %+v", res.Counts, res.Masked)
	}
	_, err = TransformDump(context.Background(), &myFailWriter{after: 1 << 10}, strings.NewReader(in.String()), SchemaRewriter("src", "dst"), sp, 2)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("a failing load gave %v", err)
	}
	// A statement whose rows don't fit its column list stops the copy,
	// naming the table, never a value.
	bad := "INSERT INTO `p` (`id`, `name`, `note`, `bin`) VALUES (1,'secret-value',NULL);\n"
	_, err = TransformDump(context.Background(), io.Discard, strings.NewReader(bad), SchemaRewriter("src", "dst"), sp, 2)
	if err == nil || !strings.Contains(err.Error(), "mask p") || strings.Contains(err.Error(), "secret") {
		t.Errorf("a short row gave %v", err)
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
		if reason := StreamUnsupported(plan, []string{"customer", "orders"}); reason != "" {
			t.Fatalf("unsupported: %s", reason)
		}
		var out strings.Builder
		if _, err := TransformDump(context.Background(), &out, strings.NewReader(in.String()), func(b []byte) []byte { return b }, NewStreamPlan(plan, sc, key, nil), workers); err != nil {
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
func TestMySQLRewriteDump(t *testing.T) {
	long := "INSERT INTO `t` VALUES ('src.x `src`.y', '" + strings.Repeat("z", 600<<10) + "');\n"
	in := "CREATE TABLE `t` (a int);\n" + long +
		"/*!50001 CREATE VIEW `v` AS select `src`.`t`.`a` from `src`.`t` */;\n" +
		"DELIMITER ;;\n" +
		"INSERT INTO `src`.`t` VALUES (1);\n" + // a routine body line
		"CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW INSERT INTO src.log VALUES (1), (mysrc.f(1)) ;;\n" +
		"/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `e1` ON SCHEDULE EVERY 1 HOUR STARTS '2026-11-25 15:56:23' ON COMPLETION NOT PRESERVE ENABLE DO INSERT INTO src.x VALUES (1) ;;\n" +
		"DELIMITER ;\n" + long
	want := "CREATE TABLE `t` (a int);\n" + long +
		"/*!50001 CREATE VIEW `v` AS select `dst`.`t`.`a` from `dst`.`t` */;\n" +
		"DELIMITER ;;\n" +
		"INSERT INTO `dst`.`t` VALUES (1);\n" +
		"CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW INSERT INTO `dst`.log VALUES (1), (mysrc.f(1)) ;;\n" +
		"/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `e1` ON SCHEDULE EVERY 1 HOUR STARTS '2026-11-25 15:56:23' ON COMPLETION NOT PRESERVE DISABLE DO INSERT INTO `dst`.x VALUES (1) ;;\n" +
		"DELIMITER ;\n" + long
	var out bytes.Buffer
	if err := RewriteDump(&out, strings.NewReader(in), "src", "dst"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != want {
		t.Errorf("rewrite differs:\n got %.300q\nwant %.300q", got, want)
	}
}
