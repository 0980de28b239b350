package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
)

// open gives the test an engine on a fresh database and runs the setup
// statements in it.
func open(t *testing.T, setup ...string) (*Engine, string) {
	t.Helper()
	dsn, name := testdb.MySQL(t)
	e, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	exec(t, e, setup...)
	return e, name
}

func exec(t *testing.T, e *Engine, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := e.db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// dump returns every row of a query as strings ("NULL" for NULL), for
// byte-exact comparisons.
func dump(t *testing.T, db *sql.DB, query string) [][]string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, b := range raw {
			if b == nil {
				row[i] = "NULL"
			} else {
				row[i] = "'" + string(b) + "'"
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func introspect(t *testing.T, e *Engine) *schema.Schema {
	t.Helper()
	s, err := e.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenHidesPassword(t *testing.T) {
	testdb.MySQL(t) // skips when there is no server
	const canary = "pw-canary-7f3a"
	for _, dsn := range []string{
		"restage:" + canary + "@tcp(127.0.0.1:3306)/mysql",
		"restage:" + canary + "@tcp(127.0.0.1:1)/mysql?timeout=1s",
		"restage:" + canary + "@tcp(127.0.0.1:3306)/mysql?badparam",
	} {
		_, err := Open(context.Background(), dsn)
		if err == nil {
			t.Fatalf("Open with a wrong password succeeded")
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("Open error contains the password: %v", err)
		}
	}
}

func TestIntrospect(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE parent (a INT NOT NULL, b VARCHAR(10) NOT NULL, PRIMARY KEY (a, b))`,
		`CREATE TABLE kinds (
			id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
			c5 CHAR(5) CHARACTER SET latin1 COLLATE latin1_swedish_ci,
			vc VARCHAR(45) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
			txt TEXT CHARACTER SET utf8mb4,
			flag TINYINT(1), i8 TINYINT, i16 SMALLINT UNSIGNED, i24 MEDIUMINT, i32 INT, i64 BIGINT,
			dcm DECIMAL(10,2), f FLOAT, d DOUBLE, dt DATE, dtm DATETIME(3),
			ts TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
			tm TIME(2), j JSON, bin BINARY(4), vb VARBINARY(16), bl BLOB,
			en ENUM('a','b'), st SET('x','y'), bt BIT(3), yr YEAR, g GEOMETRY,
			gv VARCHAR(50) AS (UPPER(vc)) VIRTUAL, gs INT AS (i32 + 1) STORED,
			email VARCHAR(100) UNIQUE,
			pa INT, pb VARCHAR(10),
			UNIQUE KEY uq_pair (i16, i24),
			KEY plain (i32),
			CONSTRAINT fk_parent FOREIGN KEY (pa, pb) REFERENCES parent (a, b) ON DELETE CASCADE
		)`,
		`CREATE TRIGGER kinds_bu BEFORE UPDATE ON kinds FOR EACH ROW SET NEW.i8 = 1`,
		`CREATE TRIGGER kinds_bi BEFORE INSERT ON kinds FOR EACH ROW SET NEW.i8 = 2`,
		`CREATE TABLE parts (id INT NOT NULL PRIMARY KEY, v VARCHAR(10))
			PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (100), PARTITION p1 VALUES LESS THAN MAXVALUE)`,
		`CREATE VIEW v_kinds AS SELECT id FROM kinds`,
	)
	s := introspect(t, e)
	var names []string
	for _, tb := range s.Tables {
		names = append(names, tb.Name)
	}
	if want := []string{"kinds", "parent", "parts"}; !slices.Equal(names, want) {
		t.Fatalf("tables = %v, want %v (views skipped)", names, want)
	}
	if s.DefaultSchema != "" {
		t.Errorf("DefaultSchema = %q, want empty", s.DefaultSchema)
	}
	k := s.Table("kinds")
	type want struct {
		kind                schema.Kind
		maxLen, prec, scale int
		bits                int
		unsigned, null      bool
		gen, onUpd, ident   bool
		ci, pad             bool
		charset, coll       string
	}
	cases := map[string]want{
		"id":    {kind: schema.KindInt, bits: 64, unsigned: true, ident: true},
		"c5":    {kind: schema.KindText, maxLen: 5, null: true, ci: true, pad: true, charset: "latin1", coll: "latin1_swedish_ci"},
		"vc":    {kind: schema.KindText, maxLen: 45, charset: "utf8mb4", coll: "utf8mb4_nopad_bin"},
		"txt":   {kind: schema.KindText, maxLen: 16383, null: true, ci: true, pad: true, charset: "utf8mb4"},
		"flag":  {kind: schema.KindInt, bits: 8, null: true},
		"i8":    {kind: schema.KindInt, bits: 8, null: true},
		"i16":   {kind: schema.KindInt, bits: 16, unsigned: true, null: true},
		"i24":   {kind: schema.KindInt, bits: 24, null: true},
		"i32":   {kind: schema.KindInt, bits: 32, null: true},
		"i64":   {kind: schema.KindInt, bits: 64, null: true},
		"dcm":   {kind: schema.KindDecimal, prec: 10, scale: 2, null: true},
		"f":     {kind: schema.KindFloat, null: true},
		"d":     {kind: schema.KindFloat, null: true},
		"dt":    {kind: schema.KindDate, null: true},
		"dtm":   {kind: schema.KindDateTime, scale: 3, null: true},
		"ts":    {kind: schema.KindDateTime, scale: 6, onUpd: true},
		"tm":    {kind: schema.KindTime, scale: 2, null: true},
		"j":     {kind: schema.KindJSON, maxLen: 1<<30 - 1, null: true, charset: "utf8mb4", coll: "utf8mb4_bin", pad: true},
		"bin":   {kind: schema.KindBinary, maxLen: 4, null: true},
		"vb":    {kind: schema.KindBinary, maxLen: 16, null: true},
		"bl":    {kind: schema.KindBinary, maxLen: 65535, null: true},
		"en":    {kind: schema.KindOther, maxLen: 1, null: true, ci: true, pad: true, charset: "utf8mb4"},
		"st":    {kind: schema.KindOther, maxLen: 3, null: true, ci: true, pad: true, charset: "utf8mb4"},
		"bt":    {kind: schema.KindOther, null: true},
		"yr":    {kind: schema.KindOther, null: true},
		"g":     {kind: schema.KindOther, null: true},
		"gv":    {kind: schema.KindText, maxLen: 50, null: true, gen: true, ci: true, pad: true, charset: "utf8mb4"},
		"gs":    {kind: schema.KindInt, bits: 32, null: true, gen: true},
		"email": {kind: schema.KindText, maxLen: 100, null: true, ci: true, pad: true, charset: "utf8mb4"},
	}
	if len(k.Columns) != len(cases)+2 {
		t.Errorf("kinds has %d columns, want %d", len(k.Columns), len(cases)+2)
	}
	if k.Columns[0].Name != "id" || k.Columns[len(k.Columns)-1].Name != "pb" {
		t.Errorf("columns not in ordinal order: first %s, last %s", k.Columns[0].Name, k.Columns[len(k.Columns)-1].Name)
	}
	for name, w := range cases {
		c := k.Column(name)
		if c == nil {
			t.Errorf("column %s missing", name)
			continue
		}
		got := want{c.Kind, c.MaxLength, c.Precision, c.Scale, c.IntBits, c.Unsigned, c.Nullable,
			c.Generated, c.OnUpdate, c.Identity, c.CaseInsensitive, c.PadSpace, c.Charset, c.Collation}
		if w.coll == "" {
			got.coll = "" // the server's default collation: not pinned here
		}
		if got != w {
			t.Errorf("column %s (%s):\n got %+v\nwant %+v", name, c.DataType, got, w)
		}
	}
	if got := k.Column("vc").DataType; got != "varchar(45)" {
		t.Errorf("vc DataType = %q, want varchar(45)", got)
	}
	if !slices.Equal(k.PrimaryKey, []string{"id"}) {
		t.Errorf("kinds primary key = %v", k.PrimaryKey)
	}
	wantUniq := []schema.Index{{Name: "email", Columns: []string{"email"}}, {Name: "uq_pair", Columns: []string{"i16", "i24"}}}
	if !reflect.DeepEqual(k.Uniques, wantUniq) {
		t.Errorf("kinds uniques = %+v, want %+v", k.Uniques, wantUniq)
	}
	wantFK := []schema.ForeignKey{{Name: "fk_parent", Columns: []string{"pa", "pb"},
		RefTable: schema.TableName{Name: "parent"}, RefColumns: []string{"a", "b"}, OnDelete: "CASCADE"}}
	if !reflect.DeepEqual(k.ForeignKeys, wantFK) {
		t.Errorf("kinds foreign keys = %+v, want %+v", k.ForeignKeys, wantFK)
	}
	if !slices.Equal(k.Triggers, []string{"kinds_bi", "kinds_bu"}) {
		t.Errorf("kinds triggers = %v", k.Triggers)
	}
	if p := s.Table("parent"); !slices.Equal(p.PrimaryKey, []string{"a", "b"}) {
		t.Errorf("parent primary key = %v, want [a b]", p.PrimaryKey)
	}
	if refs := s.ReferencedBy(schema.TableName{Name: "parent"}); len(refs) != 1 || refs[0].Name != "kinds" {
		t.Errorf("parent referenced by %v", refs)
	}
	parts := s.Table("parts")
	if !slices.Equal(parts.Partitions, []string{"p0", "p1"}) || parts.Partitioned || parts.Parent != nil {
		t.Errorf("parts: partitions %v, partitioned %v, parent %v", parts.Partitions, parts.Partitioned, parts.Parent)
	}
}

func TestTruncate(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE grand (id INT PRIMARY KEY, v VARCHAR(10))`,
		`CREATE TABLE par (id INT PRIMARY KEY, g INT, FOREIGN KEY (g) REFERENCES grand (id) ON DELETE CASCADE)`,
		`CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES par (id) ON DELETE CASCADE)`,
		`CREATE TABLE selfref (id INT PRIMARY KEY, up INT, FOREIGN KEY (up) REFERENCES selfref (id) ON DELETE SET NULL)`,
		`CREATE TABLE other (id INT PRIMARY KEY, v VARCHAR(10))`,
		`CREATE TABLE log (n INT)`,
		`CREATE TRIGGER par_ad AFTER DELETE ON par FOR EACH ROW INSERT INTO log VALUES (OLD.id)`,
		`INSERT INTO grand VALUES (1, 'a'), (2, 'b')`,
		`INSERT INTO par VALUES (10, 1), (20, 2)`,
		`INSERT INTO child VALUES (100, 10), (200, 20)`,
		`INSERT INTO selfref VALUES (1, NULL), (2, 1)`,
		`INSERT INTO other VALUES (1, 'x')`,
	)
	s := introspect(t, e)
	before := map[string][][]string{}
	for _, tb := range []string{"grand", "other", "log"} {
		before[tb] = dump(t, e.db, "SELECT * FROM "+tb+" ORDER BY 1")
	}
	set := []*schema.Table{s.Table("par"), s.Table("child"), s.Table("selfref")}
	if err := e.Truncate(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	for _, tb := range []string{"par", "child", "selfref"} {
		if got := dump(t, e.db, "SELECT * FROM "+tb); len(got) != 0 {
			t.Errorf("%s still has %d rows", tb, len(got))
		}
	}
	for tb, rows := range before {
		if got := dump(t, e.db, "SELECT * FROM "+tb+" ORDER BY 1"); !reflect.DeepEqual(got, rows) {
			t.Errorf("%s changed: %v, want %v", tb, got, rows)
		}
	}
	// No pooled connection was left with foreign key checks off.
	conns := make([]*sql.Conn, 4)
	for i := range conns {
		c, err := e.db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
		var on int
		if err := c.QueryRowContext(context.Background(), "SELECT @@foreign_key_checks").Scan(&on); err != nil {
			t.Fatal(err)
		}
		if on != 1 {
			t.Errorf("a pooled connection has foreign_key_checks=%d", on)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestChunksCoverEveryRowOnce(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE single (id BIGINT UNSIGNED PRIMARY KEY, v VARCHAR(10))`,
		`CREATE TABLE comp (a INT NOT NULL, b VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL, v INT, PRIMARY KEY (a, b))`,
		`CREATE TABLE deck (d DECIMAL(20,4) NOT NULL, n INT NOT NULL, UNIQUE KEY (d))`,
	)
	// Keys above 2^53: a string compared as a double would merge them.
	var vals []string
	for i := 0; i < 1003; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'v')", uint64(1<<62)+uint64(i)))
	}
	exec(t, e, "INSERT INTO single VALUES "+strings.Join(vals, ","))
	vals = vals[:0]
	for i := 0; i < 101; i++ {
		vals = append(vals, fmt.Sprintf("(%d, '%c%d', %d)", i%7, 'a'+rune(i%3), i, i))
	}
	exec(t, e, "INSERT INTO comp VALUES "+strings.Join(vals, ","))
	vals = vals[:0]
	for i := 0; i < 50; i++ {
		vals = append(vals, fmt.Sprintf("(1234567890123.%04d, %d)", i, i))
	}
	exec(t, e, "INSERT INTO deck VALUES "+strings.Join(vals, ","))
	s := introspect(t, e)

	for _, tc := range []struct {
		table string
		key   []string
		size  int
		total int
	}{
		{"single", []string{"id"}, 100, 1003},
		{"single", []string{"id"}, 1003, 1003},
		{"single", []string{"id"}, 5000, 1003},
		{"comp", []string{"a", "b"}, 7, 101},
		{"comp", []string{"a", "b"}, 1, 101},
		{"deck", []string{"d"}, 3, 50},
	} {
		tb := s.Table(tc.table)
		job := &mask.TableJob{Table: tb, Key: tc.key}
		ranges, err := e.Chunks(context.Background(), job, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if want := tc.total/tc.size + 1; len(ranges) != want {
			t.Errorf("%s size %d: %d ranges, want %d", tc.table, tc.size, len(ranges), want)
		}
		seen := map[string]int{}
		for _, r := range ranges {
			pred, args := rangePredicate("t.", tb, tc.key, r)
			rows := dumpArgs(t, e.db, "SELECT CONCAT_WS('|', "+quoteList("t.", tc.key)+") FROM "+quote(tc.table)+" t WHERE "+pred, args...)
			if len(rows) > tc.size {
				t.Errorf("%s: a range holds %d rows, more than %d", tc.table, len(rows), tc.size)
			}
			for _, k := range rows {
				seen[k]++
			}
		}
		if len(seen) != tc.total {
			t.Errorf("%s size %d: ranges cover %d rows, want %d", tc.table, tc.size, len(seen), tc.total)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s: row %s in %d ranges", tc.table, k, n)
			}
		}
	}

	// A table without a key is one range.
	ranges, err := e.Chunks(context.Background(), &mask.TableJob{Table: s.Table("single")}, 10)
	if err != nil || len(ranges) != 1 || ranges[0].Lo != nil || ranges[0].Hi != nil {
		t.Errorf("no-key chunks = %v, %v; want one open range", ranges, err)
	}
}

func dumpArgs(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	return testdb.Strings(t, db, q, args...)
}

// upper is a RowFunc that upper-cases the first len(out) read values,
// keeping NULL as NULL (as every transformer must).
func upper(in, out []mask.Value) error {
	for i := range out {
		out[i] = mask.Value{S: strings.ToUpper(in[i].S), Null: in[i].Null}
	}
	return nil
}

// maskAll runs a job over every chunk with one worker.
func maskAll(t *testing.T, e *Engine, job *mask.TableJob, size int, fn mask.RowFunc) int64 {
	t.Helper()
	_, rows := enginetest.MaskAll(t, e, job, size, 1, fn)
	return rows
}

func TestMaskRange(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE people (
			id INT NOT NULL, region CHAR(2) NOT NULL,
			name VARCHAR(40) CHARACTER SET latin1,
			email VARCHAR(60) UNIQUE,
			note TEXT,
			raw VARBINARY(8),
			age INT,
			born DATE,
			upd TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
			upd2 DATETIME(3) DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP(3),
			shout VARCHAR(40) AS (UPPER(name)) STORED,
			PRIMARY KEY (region, id))`,
		`CREATE TABLE audit (msg VARCHAR(100))`,
		`CREATE TRIGGER people_bu BEFORE UPDATE ON people FOR EACH ROW SET NEW.age = 99`,
		`CREATE TRIGGER people_au AFTER UPDATE ON people FOR EACH ROW INSERT INTO audit VALUES (CONCAT('upd ', NEW.id))`,
		`CREATE TRIGGER people_au2 AFTER UPDATE ON people FOR EACH ROW FOLLOWS people_au INSERT INTO audit VALUES ('second')`,
		`INSERT INTO people (id, region, name, email, note, raw, age, born, upd, upd2) VALUES
			(1, 'jp', 'josé', 'a@x.org', NULL, 0x00ff27225c, 30, '1990-01-02', '2001-02-03 04:05:06', '2001-02-03 04:05:06.789'),
			(2, 'jp', '', 'b@x.org', '', NULL, NULL, NULL, '2001-02-03 04:05:06', NULL),
			(3, 'us', NULL, NULL, 'it''s \\ "q"', X'', 41, '1980-12-31', '2001-02-03 04:05:06', NULL),
			(4, 'us', 'émile', 'c@x.org', 'n', 0x41, 52, '1970-01-01', '2001-02-03 04:05:06', NULL),
			(5, 'de', 'Zoë', 'd@x.org', 'abc', 0x7a, 1, '2000-02-29', '2001-02-03 04:05:06', NULL)`,
	)
	s := introspect(t, e)
	tb := s.Table("people")
	var trigBefore [][]string
	for _, n := range []string{"people_bu", "people_au", "people_au2"} {
		trigBefore = append(trigBefore, dump(t, e.db, "SHOW CREATE TRIGGER "+n)[0][:5])
	}
	kept := "SELECT region, id, raw, age, born, upd, upd2 FROM people ORDER BY region, id"
	before := dump(t, e.db, kept)

	ctx := context.Background()
	firing, err := e.Prepare(ctx, []*schema.Table{tb})
	if err != nil || len(firing) != 0 {
		t.Fatalf("Prepare = %v, %v", firing, err)
	}
	job := &mask.TableJob{Table: tb, Key: []string{"region", "id"},
		Read: []string{"name", "email", "note", "age"}, Write: []string{"name", "email", "note"}, Pin: []string{"upd", "upd2"}}
	var calls int
	fn := func(in, out []mask.Value) error {
		calls++
		if len(in) != 4 || len(out) != 3 {
			return fmt.Errorf("in %d, out %d", len(in), len(out))
		}
		return upper(in, out)
	}
	if n := maskAll(t, e, job, 2, fn); n != 5 || calls != 5 {
		t.Errorf("masked %d rows in %d calls, want 5", n, calls)
	}
	if err := e.Finish(ctx, []*schema.Table{tb}); err != nil {
		t.Fatal(err)
	}

	if got := dump(t, e.db, kept); !reflect.DeepEqual(got, before) {
		t.Errorf("unmasked columns changed:\n got %v\nwant %v", got, before)
	}
	got := dump(t, e.db, "SELECT name, email, note, shout FROM people ORDER BY region, id")
	want := [][]string{
		{"'ZOË'", "'D@X.ORG'", "'ABC'", "'ZOË'"},
		{"'JOSÉ'", "'A@X.ORG'", "NULL", "'JOSÉ'"},
		{"''", "'B@X.ORG'", "''", "''"},
		{"NULL", "NULL", `'IT'S \ "Q"'`, "NULL"},
		{"'ÉMILE'", "'C@X.ORG'", "'N'", "'ÉMILE'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("masked columns:\n got %v\nwant %v", got, want)
	}
	if got := dump(t, e.db, "SELECT * FROM audit"); len(got) != 0 {
		t.Errorf("triggers fired during masking: audit %v", got)
	}
	var trigAfter [][]string
	for _, n := range []string{"people_bu", "people_au", "people_au2"} {
		trigAfter = append(trigAfter, dump(t, e.db, "SHOW CREATE TRIGGER "+n)[0][:5])
	}
	if !reflect.DeepEqual(trigAfter, trigBefore) {
		t.Errorf("triggers after Finish:\n got %v\nwant %v", trigAfter, trigBefore)
	}
	order := dump(t, e.db, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY ACTION_TIMING, ACTION_ORDER")
	if fmt.Sprint(order) != "[['people_au'] ['people_au2'] ['people_bu']]" {
		t.Errorf("trigger order after Finish: %v", order)
	}
	// The triggers work again.
	exec(t, e, "UPDATE people SET name = 'x' WHERE id = 1")
	if got := dump(t, e.db, "SELECT msg FROM audit"); len(got) != 2 {
		t.Errorf("recreated triggers: audit %v", got)
	}
}

func TestMaskRangeBinaryAndKeyTypes(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE blobs (k VARBINARY(8) NOT NULL PRIMARY KEY, b BLOB, c CHAR(4) CHARACTER SET latin1)`,
		`INSERT INTO blobs VALUES (0x00, 0x0001ff, 'ab'), (0xff, 0x5c27, 'é'), (0x41, NULL, NULL), (0x4100, X'', '')`,
	)
	tb := introspect(t, e).Table("blobs")
	job := &mask.TableJob{Table: tb, Key: []string{"k"}, Read: []string{"b", "c"}, Write: []string{"b", "c"}}
	rev := func(in, out []mask.Value) error {
		for i := range out {
			r := []byte(in[i].S)
			slices.Reverse(r)
			out[i] = mask.Value{S: string(r), Null: in[i].Null}
		}
		out[1].S = strings.ToUpper(in[1].S)
		return nil
	}
	if n := maskAll(t, e, job, 1, rev); n != 4 {
		t.Errorf("masked %d rows, want 4", n)
	}
	got := dump(t, e.db, "SELECT HEX(k), HEX(b), c FROM blobs ORDER BY k")
	want := [][]string{{"'00'", "'FF0100'", "'AB'"}, {"'41'", "NULL", "NULL"}, {"'4100'", "''", "''"}, {"'FF'", "'275C'", "'É'"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestMaskNoKey(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE nk (
			name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
			city VARCHAR(20) CHARACTER SET latin1,
			n INT,
			upd TIMESTAMP NOT NULL DEFAULT '2001-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP)`,
		`INSERT INTO nk (name, city, n) VALUES
			('a', 'x', 1), ('A', 'x', 1), ('a ', 'x', 1), ('a', 'x', 1), ('a', 'x', 2),
			(NULL, 'y', NULL), (NULL, 'y', NULL), ('b', NULL, 2), ('é', 'ü', 3), ('', '', 0)`,
	)
	tb := introspect(t, e).Table("nk")
	job := &mask.TableJob{Table: tb, Read: []string{"name", "city", "n"}, Write: []string{"name", "city"}, Pin: []string{"upd"}}
	var calls int
	fn := func(in, out []mask.Value) error {
		calls++
		for i := range out {
			out[i] = mask.Value{Null: in[i].Null}
			if !in[i].Null {
				out[i].S = fmt.Sprintf("m[%s|%s]", in[i].S, in[2].S)
			}
		}
		return nil
	}
	if n := maskAll(t, e, job, 3, fn); n != 10 {
		t.Errorf("read %d rows, want 10", n)
	}
	if calls != 8 {
		t.Errorf("RowFunc called %d times, want 8 (once per distinct tuple)", calls)
	}
	got := dump(t, e.db, "SELECT name, city, n, upd FROM nk ORDER BY BINARY name, n, BINARY city")
	want := [][]string{
		{"NULL", "'m[y|]'", "NULL", "'2001-01-01 00:00:00'"},
		{"NULL", "'m[y|]'", "NULL", "'2001-01-01 00:00:00'"},
		{"'m[A|1]'", "'m[x|1]'", "'1'", "'2001-01-01 00:00:00'"},
		{"'m[a |1]'", "'m[x|1]'", "'1'", "'2001-01-01 00:00:00'"},
		{"'m[a|1]'", "'m[x|1]'", "'1'", "'2001-01-01 00:00:00'"},
		{"'m[a|1]'", "'m[x|1]'", "'1'", "'2001-01-01 00:00:00'"},
		{"'m[a|2]'", "'m[x|2]'", "'2'", "'2001-01-01 00:00:00'"},
		{"'m[b|2]'", "NULL", "'2'", "'2001-01-01 00:00:00'"},
		{"'m[é|3]'", "'m[ü|3]'", "'3'", "'2001-01-01 00:00:00'"},
		{"'m[|0]'", "'m[|0]'", "'0'", "'2001-01-01 00:00:00'"},
	}
	// ORDER BY BINARY name puts '' before 'A'; compare as sets.
	sortRows := func(r [][]string) {
		slices.SortFunc(r, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
	}
	sortRows(got)
	sortRows(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("no-key masking:\n got %v\nwant %v", got, want)
	}
}

func TestStatisticsHoldNoOriginals(t *testing.T) {
	e, name := open(t,
		`CREATE TABLE st (id INT PRIMARY KEY, secret VARCHAR(40), other INT, KEY (secret))`,
	)
	if !e.MariaDB() {
		t.Skip("MariaDB engine-independent statistics")
	}
	var vals []string
	for i := 0; i < 300; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'ORIGcanary%04d', %d)", i, i, i))
	}
	exec(t, e, "INSERT INTO st VALUES "+strings.Join(vals, ","), "ANALYZE TABLE st PERSISTENT FOR ALL")
	statsQ := fmt.Sprintf("SELECT CONCAT_WS('|', min_value, max_value, HEX(histogram), histogram) FROM mysql.column_stats WHERE db_name = '%s' AND table_name = 'st' AND column_name = 'secret'", name)
	stats := strings.Join(dumpArgs(t, e.db, statsQ), "")
	if !strings.Contains(stats, "ORIGcanary") {
		t.Fatalf("setup: column_stats don't hold the original values: %q", stats)
	}
	tb := introspect(t, e).Table("st")
	job := &mask.TableJob{Table: tb, Key: []string{"id"}, Read: []string{"secret"}, Write: []string{"secret"}}
	maskAll(t, e, job, 100, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "fake-" + fmt.Sprint(len(in[0].S))}
		return nil
	})
	if err := e.Finish(context.Background(), []*schema.Table{tb}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(dumpArgs(t, e.db, fmt.Sprintf(`SELECT CONCAT_WS('|', column_name, min_value, max_value, HEX(histogram), histogram)
		FROM mysql.column_stats WHERE db_name = '%s' AND table_name = 'st'`, name)), "\n")
	if strings.Contains(all, "ORIGcanary") || strings.Contains(all, fmt.Sprintf("%X", "ORIGcanary")) {
		t.Errorf("column_stats still hold original values:\n%s", all)
	}
	if !strings.Contains(all, "fake-") {
		t.Errorf("column_stats were not refreshed:\n%s", all)
	}
}

func TestScrub(t *testing.T) {
	const canary = "pii-canary-x' for key 'y"
	cases := []struct {
		err  error
		want string
	}{
		{&mysql.MySQLError{Number: 1062, SQLState: [5]byte{'2', '3', '0', '0', '0'}, Message: "Duplicate entry '" + canary + "' for key 'email'"},
			"mysql error 1062 (23000): duplicate entry for key email"},
		{&mysql.MySQLError{Number: 1366, SQLState: [5]byte{'2', '2', '0', '0', '7'}, Message: "Incorrect integer value: '" + canary + "' for column `db`.`t`.`n` at row 1"},
			"mysql error 1366 (22007): Incorrect integer value: '…' for column `db`.`t`.`n` at row 1"},
		{&mysql.MySQLError{Number: 1406, SQLState: [5]byte{'2', '2', '0', '0', '1'}, Message: "Data too long for column 'name' at row 3"},
			"mysql error 1406 (22001): Data too long for column 'name' at row 3"},
		{fmt.Errorf("exec: %w", &mysql.MySQLError{Number: 9999, Message: "Weird '" + canary}), "mysql error 9999: Weird '…'y"},
	}
	for _, c := range cases {
		got := scrub(c.err)
		if strings.Contains(got.Error(), "pii-canary") {
			t.Errorf("scrub(%q) leaks the value: %q", c.err, got)
		}
		if got.Error() != c.want {
			t.Errorf("scrub(%q) = %q, want %q", c.err, got, c.want)
		}
		var se *ServerError
		if !errors.As(got, &se) {
			t.Errorf("scrub(%q) is not a *ServerError", c.err)
		}
	}
	plain := errors.New("connection refused")
	if got := scrub(plain); got != plain {
		t.Errorf("scrub changed a non-server error: %v", got)
	}
}

func TestMaskRangeErrorHidesValues(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE u (id INT PRIMARY KEY, email VARCHAR(40) UNIQUE, n INT)`,
		`INSERT INTO u VALUES (1, 'orig-canary-1', 1), (2, 'orig-canary-2', 2)`,
	)
	tb := introspect(t, e).Table("u")
	ctx := context.Background()
	w, err := e.Worker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dup := &mask.TableJob{Table: tb, Key: []string{"id"}, Read: []string{"email"}, Write: []string{"email"}}
	_, err = w.MaskRange(ctx, dup, mask.Range{}, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "new-canary"}
		return nil
	})
	if err == nil || strings.Contains(err.Error(), "canary") || !strings.Contains(err.Error(), "1062") {
		t.Errorf("duplicate error = %v; want a 1062 error without values", err)
	}
	bad := &mask.TableJob{Table: tb, Key: []string{"id"}, Read: []string{"n"}, Write: []string{"n"}}
	_, err = w.MaskRange(ctx, bad, mask.Range{}, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "new-canary"}
		return nil
	})
	if err == nil || strings.Contains(err.Error(), "canary") {
		t.Errorf("bad value error = %v; want an error without values", err)
	}
	// Nothing was written: each range is one transaction.
	if got := dump(t, e.db, "SELECT email, n FROM u ORDER BY id"); fmt.Sprint(got) != "[['orig-canary-1' '1'] ['orig-canary-2' '2']]" {
		t.Errorf("after failed ranges: %v", got)
	}
	if !strings.HasPrefix(err.Error(), "mask u range: ") {
		t.Errorf("error = %q, want it to name the table", err)
	}
}

func TestSakilaFilmTriggers(t *testing.T) {
	dsn, _ := testdb.MySQL(t)
	testdb.LoadSakilaMySQL(t, dsn)
	e, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := introspect(t, e)
	film := s.Table("film")
	if len(film.Triggers) != 3 {
		t.Fatalf("film triggers = %v", film.Triggers)
	}
	textBefore := dump(t, e.db, "SELECT * FROM film_text ORDER BY film_id")
	ctx := context.Background()
	if _, err := e.Prepare(ctx, []*schema.Table{film}); err != nil {
		t.Fatal(err)
	}
	job := &mask.TableJob{Table: film, Key: film.PrimaryKey, Read: []string{"title"}, Write: []string{"title"}, Pin: []string{"last_update"}}
	if n := maskAll(t, e, job, 128, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: strings.ToLower(in[0].S)}
		return nil
	}); n != 1000 {
		t.Errorf("masked %d films, want 1000", n)
	}
	if err := e.Finish(ctx, []*schema.Table{film}); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, e.db, "SELECT * FROM film_text ORDER BY film_id"); !reflect.DeepEqual(got, textBefore) {
		t.Error("film_text changed: the upd_film trigger fired during masking")
	}
	if got := introspect(t, e).Table("film").Triggers; !reflect.DeepEqual(got, film.Triggers) {
		t.Errorf("film triggers after Finish = %v, want %v", got, film.Triggers)
	}
	if got := dump(t, e.db, "SELECT COUNT(*) FROM film WHERE BINARY title <> LOWER(title)"); got[0][0] != "'0'" {
		t.Errorf("%s titles not masked", got[0][0])
	}
}

func TestFinishAfterFailureRestoresTriggers(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))`,
		`CREATE TABLE b (id INT PRIMARY KEY, v VARCHAR(10))`,
		`CREATE TRIGGER a_bu BEFORE UPDATE ON a FOR EACH ROW SET NEW.v = 'é'`,
		`CREATE TRIGGER b_bu BEFORE UPDATE ON b FOR EACH ROW SET NEW.v = 'x'`,
	)
	s := introspect(t, e)
	ctx := context.Background()
	if _, err := e.Prepare(ctx, []*schema.Table{s.Table("a")}); err != nil {
		t.Fatal(err)
	}
	if got := introspect(t, e); len(got.Table("a").Triggers) != 0 || len(got.Table("b").Triggers) != 1 {
		t.Fatalf("after Prepare: a %v, b %v; want a's dropped, b's kept", got.Table("a").Triggers, got.Table("b").Triggers)
	}
	if err := e.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := introspect(t, e).Table("a").Triggers; !slices.Equal(got, []string{"a_bu"}) {
		t.Errorf("after Finish(nil): a triggers %v", got)
	}
	exec(t, e, "INSERT INTO a VALUES (1, 'q')", "UPDATE a SET v = 'r'")
	if got := dump(t, e.db, "SELECT v FROM a"); got[0][0] != "'é'" {
		t.Errorf("recreated trigger set v = %s, want 'é'", got[0][0])
	}
	// Nothing is left to restore: a second Finish is a no-op.
	if err := e.Finish(ctx, nil); err != nil {
		t.Error(err)
	}
}
