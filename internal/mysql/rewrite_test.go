package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
)

// rewriteSetup: a keyless event log (as jpshop's events) and a keyed
// narrow table with one indexed e-mail column, an AUTO_INCREMENT counter
// above its largest id, a generated column, comments, an ON UPDATE column
// and a trigger.
var rewriteSetup = []string{
	`CREATE TABLE events (user_email VARCHAR(255), event_type VARCHAR(40) NOT NULL, ip VARCHAR(45), detail JSON,
		occurred_at DATETIME(3) NOT NULL, amount DECIMAL(12,2)) COMMENT='event log' ROW_FORMAT=DYNAMIC`,
	`CREATE TABLE members (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(120) NOT NULL,
		name VARCHAR(60) DEFAULT 'x' COMMENT 'display name',
		upd TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
		domain VARCHAR(120) AS (SUBSTRING_INDEX(email, '@', -1)) VIRTUAL,
		UNIQUE KEY uq_email (email), KEY k_name (name), KEY k_domain (domain)
	) AUTO_INCREMENT=50000 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='members'`,
	`CREATE VIEW member_domains AS SELECT id, domain FROM members`,
	`CREATE TRIGGER members_bu BEFORE UPDATE ON members FOR EACH ROW SET NEW.name = CONCAT(NEW.name, '')`,
	`INSERT INTO events
		SELECT IF(n % 7 = 0, NULL, CONCAT('user', n % 500, '@example.jp')), ELT(1 + n % 4, 'view', 'cart', 'buy', ''),
		       IF(n % 11 = 0, NULL, CONCAT('10.0.', n % 256, '.', n % 100)),
		       IF(n % 5 = 0, NULL, JSON_OBJECT('email', CONCAT('user', n % 500, '@example.jp'), 'n', n)),
		       TIMESTAMPADD(SECOND, n, '2024-01-01 00:00:00.123'), IF(n % 3 = 0, NULL, n / 4)
		FROM (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * d.n AS n FROM
		      (SELECT 0 n UNION SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4 UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9) a,
		      (SELECT 0 n UNION SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4 UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9) b,
		      (SELECT 0 n UNION SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4 UNION SELECT 5 UNION SELECT 6 UNION SELECT 7 UNION SELECT 8 UNION SELECT 9) c,
		      (SELECT 0 n UNION SELECT 1 UNION SELECT 2) d) s`,
	`INSERT INTO members (id, email, name, upd) SELECT 3 * n + 1, CONCAT('m', n, '@example.org'), IF(n % 4 = 0, NULL, CONCAT('name ', n)),
		TIMESTAMPADD(MINUTE, n, '2023-05-01 00:00:00') FROM (SELECT seq AS n FROM seq_0_to_1999) s`,
}

const rewriteRules = `version: 1
tables:
  events:
    strategy: %[1]s
    columns:
      user_email: email
      ip: ip
      detail:
        transformer: json
        paths:
          $.email: email
  members:
    strategy: %[1]s
    columns:
      email: {transformer: email, seed: [id]}
`

func maskWith(t *testing.T, e *Engine, rules string) *mask.Report {
	t.Helper()
	p := enginetest.Plan(t, e, rules)
	rep, err := mask.Run(context.Background(), e, p, enginetest.Key, mask.Options{Workers: 2, BatchSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// tableState is what must come out the same from both strategies.
type tableState struct {
	create  map[string]string
	rows    map[string][][]string
	trigger string
	grants  [][]string
	view    [][]string
}

func stateOf(t *testing.T, e *Engine, user string) tableState {
	t.Helper()
	st := tableState{create: map[string]string{}, rows: map[string][][]string{}}
	for _, tbl := range []string{"events", "members"} {
		var s string
		if err := e.db.QueryRow("SHOW CREATE TABLE "+tbl).Scan(new(string), &s); err != nil {
			t.Fatal(err)
		}
		st.create[tbl] = s
	}
	st.rows["events"] = dump(t, e.db, "SELECT * FROM events ORDER BY occurred_at, event_type")
	st.rows["members"] = dump(t, e.db, "SELECT * FROM members ORDER BY id")
	st.view = dump(t, e.db, "SELECT COUNT(*) FROM member_domains")
	st.view = append(st.view, dump(t, e.db, "SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()")...)
	if err := e.db.QueryRow("SHOW CREATE TRIGGER members_bu").Scan(new(string), new(string), &st.trigger, new(string), new(string), new(string), new(string)); err != nil {
		t.Fatal(err)
	}
	st.grants = dump(t, e.db, `SELECT Table_name, '' AS c, Table_priv FROM mysql.tables_priv WHERE Db = DATABASE() AND User = '`+user+`'
		UNION ALL SELECT Table_name, Column_name, Column_priv FROM mysql.columns_priv WHERE Db = DATABASE() AND User = '`+user+`' ORDER BY 1, 2`)
	return st
}

// TestRewriteSameAsUpdate: a keyless table and a keyed narrow table
// masked by a rewrite come out exactly as masked in place — same SHOW
// CREATE TABLE (AUTO_INCREMENT, comments, generated column, indexes in
// their order), same rows, the trigger and the table and column grants
// still there — and the report says the rewrite ran.
func TestRewriteSameAsUpdate(t *testing.T) {
	got := map[string]tableState{}
	for _, strategy := range []string{"update", "rewrite"} {
		e, name := open(t, rewriteSetup...)
		sum := sha256.Sum256([]byte(name))
		user := "rw_" + hex.EncodeToString(sum[:6])
		exec(t, e, "CREATE USER '"+user+"'@'localhost'",
			"GRANT SELECT, INSERT ON "+quote(name)+".members TO '"+user+"'@'localhost'",
			"GRANT SELECT (event_type, ip) ON "+quote(name)+".events TO '"+user+"'@'localhost'")
		t.Cleanup(func() { e.db.Exec("DROP USER '" + user + "'@'localhost'") })
		before := stateOf(t, e, user)
		if len(before.grants) != 4 {
			t.Fatalf("setup: %d grant rows, want 4", len(before.grants))
		}
		rep := maskWith(t, e, fmt.Sprintf(rewriteRules, strategy))
		for _, ts := range rep.Tables {
			if ts.Strategy != strategy {
				t.Fatalf("%s: %s was masked with %s (%s)", strategy, ts.Table, ts.Strategy, ts.StrategyWhy)
			}
		}
		after := stateOf(t, e, user)
		if !reflect.DeepEqual(before.create, after.create) {
			t.Errorf("%s: SHOW CREATE TABLE changed:\n%v\n%v", strategy, before.create, after.create)
		}
		if !reflect.DeepEqual(before.view, after.view) {
			t.Errorf("%s: the view changed: %v → %v", strategy, before.view, after.view)
		}
		if before.trigger != after.trigger || !reflect.DeepEqual(before.grants, after.grants) {
			t.Errorf("%s: trigger or grants changed: %q %v → %q %v", strategy, before.trigger, before.grants, after.trigger, after.grants)
		}
		if reflect.DeepEqual(before.rows, after.rows) {
			t.Errorf("%s: nothing was masked", strategy)
		}
		var ai string
		if err := e.db.QueryRow("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'members'").Scan(&ai); err != nil || ai != "50000" {
			t.Errorf("%s: AUTO_INCREMENT %s (%v), want 50000", strategy, ai, err)
		}
		got[strategy] = after
	}
	u, r := got["update"], got["rewrite"]
	if !reflect.DeepEqual(u.create, r.create) {
		t.Errorf("SHOW CREATE TABLE differs:\nupdate:  %v\nrewrite: %v", u.create, r.create)
	}
	for tbl := range u.rows {
		if !reflect.DeepEqual(u.rows[tbl], r.rows[tbl]) {
			t.Errorf("%s: the rows differ between update and rewrite", tbl)
		}
	}
	if u.trigger != r.trigger {
		t.Errorf("trigger differs: %q vs %q", u.trigger, r.trigger)
	}
}

// TestRewriteFactsBlockers: what a rewrite can't keep identical keeps the
// table on the update path, with the reason, and so does another
// session connected to the database.
func TestRewriteFactsBlockers(t *testing.T) {
	dsn, _ := testdb.MySQL(t)
	e, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	exec(t, e,
		`CREATE TABLE parent (id INT PRIMARY KEY, email VARCHAR(80))`,
		`CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, email VARCHAR(80), FOREIGN KEY (parent_id) REFERENCES parent (id))`,
		`CREATE TABLE self (id INT PRIMARY KEY, boss INT, email VARCHAR(80), FOREIGN KEY (boss) REFERENCES self (id))`,
		`CREATE TABLE parted (id INT PRIMARY KEY, email VARCHAR(80)) PARTITION BY HASH (id) PARTITIONS 2`,
		`CREATE TABLE floaty (id INT PRIMARY KEY, email VARCHAR(80), score FLOAT)`,
		`CREATE TABLE sjis (id INT PRIMARY KEY, email VARCHAR(80), kana VARCHAR(20) CHARACTER SET sjis)`,
		`CREATE TABLE aria (id INT PRIMARY KEY, email VARCHAR(80)) ENGINE=Aria`,
		`CREATE TABLE versioned (id INT PRIMARY KEY, email VARCHAR(80)) WITH SYSTEM VERSIONING`,
		`CREATE TABLE plain (email VARCHAR(80))`,
		`INSERT INTO plain VALUES ('a@example.org'), ('b@example.org'), (NULL), ('c@example.org')`,
	)
	want := map[string]string{
		"parent":    "foreign key child_ibfk_1 of ",
		"child":     "",
		"self":      "foreign key self_ibfk_1 of ",
		"parted":    "partitioned",
		"floaty":    "column score has type float",
		"sjis":      "column kana has character set sjis",
		"aria":      "storage engine Aria",
		"versioned": "system-versioned",
		"plain":     "",
	}
	s, err := e.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var jobs []*mask.TableJob
	var names []string
	for name := range want {
		tbl := s.Table(name)
		if tbl == nil {
			// Introspection leaves system-versioned tables out; the
			// engine refuses them all the same.
			tbl = &schema.Table{TableName: schema.TableName{Name: name}}
		}
		jobs = append(jobs, &mask.TableJob{Table: tbl, Read: []string{"email"}, Write: []string{"email"}})
		names = append(names, name)
	}
	facts, err := e.RewriteFacts(context.Background(), jobs)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range facts {
		w := want[names[i]]
		if (w == "") != (f.Blocker == "") || !strings.Contains(f.Blocker, w) {
			t.Errorf("%s: blocker %q, want one containing %q", names[i], f.Blocker, w)
		}
		if f.OtherSessions != 0 {
			t.Errorf("%s: %d other sessions, want 0 (restage's own don't count)", names[i], f.OtherSessions)
		}
		if names[i] == "plain" && (f.Changed != 0.75 || f.Rows < 4) {
			t.Errorf("plain: changed %v of %d rows, want 0.75 of 4", f.Changed, f.Rows)
		}
	}

	// Another client on the database: the planner keeps the table on the
	// update path even when the rules ask for a rewrite.
	other, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Ping(); err != nil {
		t.Fatal(err)
	}
	r, err := config.ParseRules("rules.yaml", []byte("version: 1\ntables:\n  plain:\n    strategy: rewrite\n    columns:\n      email: email\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mask.NewPlan(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := mask.ChooseStrategies(context.Background(), e, p); err != nil {
		t.Fatal(err)
	}
	if j := p.Jobs[0]; j.Strategy != config.StrategyUpdate || !strings.Contains(j.StrategyWhy, "1 other session") {
		t.Errorf("with another session: %s (%s), want update because of it", j.Strategy, j.StrategyWhy)
	}
	other.Close()
	if err := mask.ChooseStrategies(context.Background(), e, p); err != nil {
		t.Fatal(err)
	}
	if j := p.Jobs[0]; j.Strategy != config.StrategyRewrite {
		t.Errorf("alone: %s (%s), want rewrite", j.Strategy, j.StrategyWhy)
	}
}

func TestForeignKeyLines(t *testing.T) {
	create := "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `p` (`p`),\n" +
		"  CONSTRAINT `c_ibfk_1` FOREIGN KEY (`p`) REFERENCES `par``ent` (`id`) ON DELETE CASCADE,\n" +
		"  CONSTRAINT `we``ird` FOREIGN KEY (`p`) REFERENCES `x` (`id`)\n) ENGINE=InnoDB"
	fks := ownForeignKeys(create)
	if len(fks) != 2 || fks[0].name != "c_ibfk_1" || fks[1].name != "we`ird" ||
		fks[0].def != "CONSTRAINT `c_ibfk_1` FOREIGN KEY (`p`) REFERENCES `par``ent` (`id`) ON DELETE CASCADE" {
		t.Errorf("ownForeignKeys: %q", fks)
	}
	want := "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  KEY `p` (`p`)\n) ENGINE=InnoDB"
	if got := withoutForeignKeys(create); got != want {
		t.Errorf("withoutForeignKeys:\n%s", got)
	}
	if m := autoIncrement.FindStringSubmatch(") ENGINE=InnoDB AUTO_INCREMENT=50000 DEFAULT CHARSET=utf8mb4 COMMENT='AUTO_INCREMENT=7'"); m == nil || m[1] != "50000" {
		t.Errorf("autoIncrement: %q", m)
	}
}

// BenchmarkRewrite compares the two strategies through mask.Run on a
// generated 100,000-row keyless event log (e-mail, IP and JSON masked)
// and a narrow keyed table with one uniquely indexed e-mail column, and
// reports rows/s. Run: go test ./internal/mysql -run '^$' -bench Rewrite -benchtime 3x
func BenchmarkRewrite(b *testing.B) {
	const n = 100000
	dsn, _ := testdb.MySQL(b)
	e, err := Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, s := range []string{
		`CREATE TABLE events (user_email VARCHAR(255), event_type VARCHAR(40) NOT NULL, ip VARCHAR(45), detail JSON, occurred_at DATETIME NOT NULL)`,
		`INSERT INTO events SELECT CONCAT('user', seq % 20000, '@example.jp'), ELT(1 + seq % 3, 'view', 'cart', 'buy'),
			CONCAT('10.', seq % 200, '.', seq % 250, '.', seq % 97), JSON_OBJECT('email', CONCAT('user', seq % 20000, '@example.jp'), 'n', seq),
			TIMESTAMPADD(SECOND, seq, '2024-01-01') FROM seq_1_to_` + fmt.Sprint(n),
		`CREATE TABLE narrow (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL, UNIQUE KEY (email))`,
		`INSERT INTO narrow SELECT seq, CONCAT('member', seq, '@example.org') FROM seq_1_to_` + fmt.Sprint(n),
	} {
		if _, err := e.db.Exec(s); err != nil {
			b.Fatal(err)
		}
	}
	rules := map[string]string{
		"keyless": "version: 1\ntables:\n  events:\n    strategy: %s\n    columns:\n      user_email: email\n      ip: ip\n      detail: {transformer: json, paths: {$.email: email}}\n",
		"narrow":  "version: 1\ntables:\n  narrow:\n    strategy: %s\n    columns:\n      email: {transformer: email, seed: [id]}\n",
	}
	for _, table := range []string{"keyless", "narrow"} {
		for _, strategy := range []string{"update", "rewrite"} {
			b.Run(table+"/"+strategy, func(b *testing.B) {
				r, err := config.ParseRules("rules.yaml", []byte(fmt.Sprintf(rules[table], strategy)))
				if err != nil {
					b.Fatal(err)
				}
				s, err := e.Introspect(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				var rows int64
				for b.Loop() {
					p, err := mask.NewPlan(r, s)
					if err != nil {
						b.Fatal(err)
					}
					rep, err := mask.Run(context.Background(), e, p, enginetest.Key, mask.Options{Workers: 2, BatchSize: 10000})
					if err != nil {
						b.Fatal(err)
					}
					if rep.Tables[0].Strategy != strategy {
						b.Fatalf("ran %s (%s)", rep.Tables[0].Strategy, rep.Tables[0].StrategyWhy)
					}
					rows += rep.Rows
				}
				b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}

// TestRewriteFailureLeavesOriginal: a rewrite that fails while loading
// (here the row function) leaves the original table as it was, rows and
// definition, and no table of its own behind; the error names no value.
func TestRewriteFailureLeavesOriginal(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE team (id INT PRIMARY KEY)`,
		`CREATE TABLE people (id INT PRIMARY KEY, team_id INT, email VARCHAR(80), FOREIGN KEY (team_id) REFERENCES team (id), KEY (email))`,
		`INSERT INTO team VALUES (1)`,
		`INSERT INTO people SELECT seq, 1, CONCAT('secret', seq, '@example.org') FROM seq_1_to_3000`,
	)
	var before string
	if err := e.db.QueryRow("SHOW CREATE TABLE people").Scan(new(string), &before); err != nil {
		t.Fatal(err)
	}
	rows := dump(t, e.db, "SELECT * FROM people ORDER BY id")
	s := introspect(t, e)
	job := &mask.TableJob{Table: s.Table("people"), Key: []string{"id"}, Read: []string{"email"}, Write: []string{"email"}}
	w, err := e.Worker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	calls := 0
	fn := func(in, out []mask.Value) error {
		if calls++; calls == 2500 {
			return fmt.Errorf("row function failed")
		}
		out[0] = mask.Value{S: "x" + in[0].S}
		return nil
	}
	_, err = w.(mask.TableRewriter).RewriteTable(context.Background(), job, []mask.RowFunc{fn})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want a failure naming no value", err)
	}
	var after string
	if err := e.db.QueryRow("SHOW CREATE TABLE people").Scan(new(string), &after); err != nil {
		t.Fatal(err)
	}
	if after != before || !reflect.DeepEqual(rows, dump(t, e.db, "SELECT * FROM people ORDER BY id")) {
		t.Errorf("the original changed:\n%s\n%s", before, after)
	}
	var left int
	if err := e.db.QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'restage%'").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d tables of the rewrite left behind (%v)", left, err)
	}
}

// TestRewriteKeepsZeroDatesAndZeroIDs: values the in-place path never
// rewrites (a zero date under NO_ZERO_DATE, a 0 in an AUTO_INCREMENT
// column) come back unchanged from a rewrite.
func TestRewriteKeepsZeroDatesAndZeroIDs(t *testing.T) {
	e, _ := open(t,
		`SET SESSION sql_mode = ''`,
		`CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, d DATETIME, email VARCHAR(80))`,
	)
	conn, err := e.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'`,
		`INSERT INTO t VALUES (0, '0000-00-00 00:00:00', 'a@example.org'), (5, '2024-00-10 00:00:00', 'b@example.org'), (6, '2024-01-01 10:00:00', NULL)`} {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	w, err := e.Worker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// As on MySQL 8 by default.
	if _, err := w.(*worker).conn.ExecContext(context.Background(), "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE'"); err != nil {
		t.Fatal(err)
	}
	s := introspect(t, e)
	job := &mask.TableJob{Table: s.Table("t"), Key: []string{"id"}, Read: []string{"email"}, Write: []string{"email"}}
	fn := func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "x" + in[0].S, Null: in[0].Null}
		return nil
	}
	if _, err := w.(mask.TableRewriter).RewriteTable(context.Background(), job, []mask.RowFunc{fn}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"'0'", "'0000-00-00 00:00:00'", "'xa@example.org'"}, {"'5'", "'2024-00-10 00:00:00'", "'xb@example.org'"}, {"'6'", "'2024-01-01 10:00:00'", "NULL"}}
	if got := dump(t, e.db, "SELECT * FROM t ORDER BY id"); !reflect.DeepEqual(got, want) {
		t.Errorf("rows: %v, want %v", got, want)
	}
}

// TestRewriteKeepsEmptyStrings: a batch that starts with a NULL and an
// empty string keeps both as they were (the batch's first value is where
// a shared buffer is still empty).
func TestRewriteKeepsEmptyStrings(t *testing.T) {
	e, _ := open(t,
		`CREATE TABLE t (email VARCHAR(80), tag VARCHAR(10) NOT NULL, note VARCHAR(10))`,
		`INSERT INTO t VALUES (NULL, '', ''), (NULL, '', NULL), ('a@example.org', 'b', '')`,
	)
	w, err := e.Worker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := introspect(t, e)
	job := &mask.TableJob{Table: s.Table("t"), Read: []string{"email"}, Write: []string{"email"}}
	fn := func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "x" + in[0].S, Null: in[0].Null}
		return nil
	}
	if _, err := w.(mask.TableRewriter).RewriteTable(context.Background(), job, []mask.RowFunc{fn}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"NULL", "''", "NULL"}, {"NULL", "''", "''"}, {"'xa@example.org'", "'b'", "''"}}
	if got := dump(t, e.db, "SELECT * FROM t ORDER BY email, note"); !reflect.DeepEqual(got, want) {
		t.Errorf("rows: %v, want %v", got, want)
	}
}
