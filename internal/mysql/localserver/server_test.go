package localserver

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// myEnv is one test's world on the MySQL test server: a source database,
// a staging name, a control DB and a target of its own.
type myEnv struct {
	t        *testing.T
	adminCfg *mysql.Config
	admin    *sql.DB
	src      string
	srcDSN   string
	staging  string
	target   string
	cfg      local.Config
	p        *local.Provider
	s        *mysqlServer // p's server
}

func myRand(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func newMyEnv(t *testing.T, sakila bool, opts ...func(*local.Config)) *myEnv {
	t.Helper()
	srcDSN, src := testdb.MySQL(t)
	if sakila {
		testdb.LoadSakilaMySQL(t, srcDSN)
	}
	base := os.Getenv(testdb.EnvMySQL)
	if base == "" {
		base = testdb.DefaultMySQL
	}
	adminCfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal(err)
	}
	adminCfg.DBName = ""
	adminCfg.MultiStatements = false
	adminCfg.InterpolateParams = true
	admin, err := sql.Open("mysql", adminCfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	r := myRand(t)
	e := &myEnv{t: t, adminCfg: adminCfg, admin: admin, src: src, srcDSN: srcDSN,
		staging: "rs_stg_" + r, target: "t" + r}
	stg := adminCfg.Clone()
	stg.DBName = e.staging
	e.cfg = local.Config{Target: e.target, SourceDSN: srcDSN, StagingDSN: stg.FormatDSN(), ControlDB: "rs_ctl_" + r}
	for _, o := range opts {
		o(&e.cfg)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		names, _ := mysqlStrings(ctx, admin, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?) OR SCHEMA_NAME LIKE ?`,
			e.staging, e.cfg.ControlDB, "restage\\_"+e.target+"\\_%")
		for _, n := range names {
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(n)); err != nil {
				t.Errorf("cleanup: drop %s: %v", n, err)
			}
		}
		admin.Close()
	})
	e.p = e.provider()
	e.s = my(e.p)
	return e
}

func (e *myEnv) provider() *local.Provider {
	e.t.Helper()
	pr, err := newProvider(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	p := pr
	e.t.Cleanup(func() { p.Close() })
	return p
}

// my is p's MySQL server (its test hooks and records).
func my(p *local.Provider) *mysqlServer { return p.Server().(*mysqlServer) }

func (e *myEnv) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.admin.Exec(s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

// execIn runs statements with db as the current database.
func (e *myEnv) execIn(db string, stmts ...string) {
	e.t.Helper()
	conn, err := e.admin.Conn(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	defer mysqlDiscardConn(conn)
	if _, err := conn.ExecContext(context.Background(), "USE "+mysqlQuote(db)); err != nil {
		e.t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(context.Background(), s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

func (e *myEnv) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.admin.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (e *myEnv) strings(q string, args ...any) []string {
	e.t.Helper()
	out, err := mysqlStrings(context.Background(), e.admin, q, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return out
}

func (e *myEnv) state(name string) string {
	e.t.Helper()
	r, ok, err := e.s.lookup(context.Background(), e.admin, name)
	if err != nil {
		e.t.Fatal(err)
	}
	if !ok {
		return "unrecorded"
	}
	return r.State
}

// handMade fills the source with a small schema ("new"), puts a hand-made
// staging DB ("old") behind the staging name and restores run r1's copy.
func (e *myEnv) handMade() *refresh.DB {
	e.t.Helper()
	e.smallSchema(e.src, "new")
	e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
	e.smallSchema(e.staging, "old")
	return e.restore("r1")
}

// world is the fixture as the shared tests (localtest) see it.
func (e *myEnv) world() localtest.World {
	return localtest.World{Target: e.target, ControlDB: e.cfg.ControlDB, Exists: e.exists,
		Recorded: func(name string) string {
			if s := e.state(name); s != "unrecorded" {
				return s
			}
			return ""
		},
		SourceSum: func(table string) string { return e.checksum(e.src, table) },
	}
}

func (e *myEnv) exists(name string) bool {
	e.t.Helper()
	return e.count("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name) > 0
}

func (e *myEnv) restore(runID string) *refresh.DB {
	e.t.Helper()
	db, err := e.p.Restore(context.Background(), runID)
	if err != nil {
		e.t.Fatalf("restore %s: %v", runID, err)
	}
	return db
}

// mySnapshot describes a schema completely enough to tell whether it
// changed: every table's rows (checksum) and every object's definition.
func (e *myEnv) snapshot(schema string) []string {
	e.t.Helper()
	var out []string
	tables, err := mysqlTables(context.Background(), e.admin, schema)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, tb := range tables {
		var name string
		var sum sql.NullInt64
		if err := e.admin.QueryRow("CHECKSUM TABLE "+mysqlQuote(schema)+"."+mysqlQuote(tb)).Scan(&name, &sum); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("table %s %d", tb, sum.Int64))
	}
	objs, err := mysqlCapture(context.Background(), e.admin, schema)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range objs {
		out = append(out, o.Kind+" "+o.Name+" "+o.Create)
	}
	return out
}

// mySmallSchema fills a database with two related tables and one object
// of each kind, each naming its own schema the way hand-written SQL does.
func (e *myEnv) smallSchema(db, tag string) {
	q := mysqlQuote(db)
	e.execIn(db,
		"CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)",
		"CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, note VARCHAR(40), CONSTRAINT child_parent FOREIGN KEY (parent_id) REFERENCES parent (id))",
		"CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(40))",
		"INSERT INTO parent VALUES (1, '"+tag+"-a'), (2, '"+tag+"-b')",
		"INSERT INTO child VALUES (1, 1, 'x'), (2, 2, 'y')",
		"CREATE VIEW v_names AS SELECT p.name, c.note FROM "+q+".parent p JOIN "+q+".child c ON c.parent_id = p.id",
		"CREATE VIEW v_count AS SELECT COUNT(*) AS n FROM v_names",
		"CREATE TRIGGER child_ai AFTER INSERT ON child FOR EACH ROW INSERT INTO "+q+".log (msg) VALUES (CONCAT('child ', NEW.id))",
		"CREATE PROCEDURE add_parent(IN i INT) BEGIN INSERT INTO "+q+".parent VALUES (i, CONCAT('p', i)); END",
		"CREATE FUNCTION parent_count() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM "+q+".parent)",
	)
}

// TestMySQLRestore copies Sakila plus objects that name the source schema,
// while a writer keeps inserting parent and child rows into the source.
func TestMySQLRestore(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, true)
	q := mysqlQuote(e.src)
	// aa_parent is dumped first and zz_child last: without one snapshot
	// the copy would hold children whose parents it missed.
	e.execIn(e.src,
		"CREATE TABLE aa_parent (id INT AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB",
		"CREATE TABLE zz_child (id INT AUTO_INCREMENT PRIMARY KEY, parent_id INT NOT NULL, FOREIGN KEY (parent_id) REFERENCES aa_parent (id)) ENGINE=InnoDB",
		"CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(40))",
		"CREATE TRIGGER actor_audit AFTER UPDATE ON actor FOR EACH ROW INSERT INTO "+q+".audit (what) VALUES ('actor')",
		"CREATE PROCEDURE actor_total(OUT n INT) BEGIN SELECT COUNT(*) INTO n FROM "+q+".actor; END",
		"CREATE VIEW qual_view AS SELECT a.actor_id FROM "+q+".actor a",
	)

	// The writer: parent + child in one transaction, as fast as it can.
	writer, err := sql.Open("mysql", e.srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	var (
		stop     atomic.Bool
		inserted atomic.Int64
		maxLat   atomic.Int64
		wg       sync.WaitGroup
		werr     atomic.Pointer[error]
	)
	insert := func() error {
		start := time.Now()
		tx, err := writer.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		res, err := tx.Exec("INSERT INTO aa_parent (v) VALUES (1)")
		if err != nil {
			return err
		}
		id, _ := res.LastInsertId()
		if _, err := tx.Exec("INSERT INTO zz_child (parent_id) VALUES (?)", id); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if d := time.Since(start).Milliseconds(); d > maxLat.Load() {
			maxLat.Store(d)
		}
		inserted.Add(1)
		return nil
	}
	wg.Go(func() {
		for !stop.Load() {
			if err := insert(); err != nil {
				werr.Store(&err)
				return
			}
		}
	})
	for inserted.Load() < 20 && werr.Load() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	before := inserted.Load()
	db := e.restore("r1")
	during := inserted.Load() - before
	stop.Store(true)
	wg.Wait()
	if err := werr.Load(); err != nil {
		t.Fatalf("writer: %v", *err)
	}
	if during == 0 {
		t.Errorf("the writer completed no insert while the copy ran")
	}
	if ms := maxLat.Load(); ms > 2000 {
		t.Errorf("slowest writer transaction took %d ms during the copy: blocked", ms)
	}
	t.Logf("writer: %d inserts during the copy, slowest %d ms", during, maxLat.Load())

	if db.Name != local.DBName(e.target, "r1") || db.RunID != "r1" || db.Engine != "mysql" {
		t.Errorf("db = %+v", db)
	}
	if got := e.state(db.Name); got != myStateReady {
		t.Errorf("state %s, want ready", got)
	}
	// Nothing written after the snapshot is lost from the source.
	if n := e.count("SELECT COUNT(*) FROM "+q+".zz_child") + 0; int64(n) != inserted.Load() {
		t.Errorf("source has %d children, writer inserted %d", n, inserted.Load())
	}
	nq := mysqlQuote(db.Name)
	// One snapshot: every copied child has its parent.
	if n := e.count("SELECT COUNT(*) FROM " + nq + ".zz_child c LEFT JOIN " + nq + ".aa_parent p ON p.id = c.parent_id WHERE p.id IS NULL"); n != 0 {
		t.Errorf("%d copied children have no parent: the copy is not one snapshot", n)
	}
	if p, c := e.count("SELECT COUNT(*) FROM "+nq+".aa_parent"), e.count("SELECT COUNT(*) FROM "+nq+".zz_child"); p != c {
		t.Errorf("copy has %d parents and %d children, want equal", p, c)
	}
	for _, table := range []string{"actor", "customer", "film", "film_text", "rental", "payment", "inventory"} {
		if a, b := e.count("SELECT COUNT(*) FROM "+q+"."+table), e.count("SELECT COUNT(*) FROM "+nq+"."+table); a != b {
			t.Errorf("%s: source %d rows, copy %d", table, a, b)
		}
	}
	for _, c := range []struct{ what, query string }{
		{"views", "SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?"},
		{"triggers", "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?"},
		{"routines", "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?"},
		{"foreign keys", "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?"},
		{"indexes", "SELECT COUNT(DISTINCT TABLE_NAME, INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?"},
	} {
		a, b := e.count(c.query, e.src), e.count(c.query, db.Name)
		if a == 0 || a != b {
			t.Errorf("%s: source %d, copy %d", c.what, a, b)
		}
	}
	// No definition in the copy reads the source.
	defs := e.strings(`SELECT VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
		UNION ALL SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`, db.Name, db.Name, db.Name)
	for _, d := range defs {
		if strings.Contains(d, e.src) {
			t.Errorf("a definition in the copy names the source: %.200s", d)
		}
	}
	// The copied view works, and the copied trigger writes to the copy.
	if n := e.count("SELECT COUNT(*) FROM " + nq + ".actor_info"); n != 200 {
		t.Errorf("actor_info in the copy has %d rows", n)
	}
	e.exec("UPDATE " + nq + ".actor SET first_name = 'X' WHERE actor_id = 1")
	if a, b := e.count("SELECT COUNT(*) FROM "+q+".audit"), e.count("SELECT COUNT(*) FROM "+nq+".audit"); a != 0 || b != 1 {
		t.Errorf("trigger in the copy wrote %d rows to the source's audit and %d to the copy's", a, b)
	}
	if err := e.p.Ready(context.Background(), db); err != nil {
		t.Errorf("ready: %v", err)
	}
	if note, err := e.p.Credentials(context.Background(), db); err != nil || !strings.HasPrefix(note, "no-op") {
		t.Errorf("credentials = %q, %v", note, err)
	}
}

func TestMySQLRestoreBadRunID(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	if _, err := e.p.Restore(context.Background(), "Bad-ID"); err == nil {
		t.Error("restore accepted run id Bad-ID")
	}
}

func TestMySQLLock(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	release, err := e.p.Lock(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	other := e.provider()
	if _, err := other.Lock(ctx, "r2"); !errors.Is(err, refresh.ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	// A dead process: its session is killed; the server frees the lock.
	var holder int64
	if err := e.admin.QueryRow("SELECT IS_USED_LOCK(?)", "restage:"+e.target).Scan(&holder); err != nil {
		t.Fatal(err)
	}
	e.exec(fmt.Sprintf("KILL CONNECTION %d", holder))
	// KILL returns before the killed session has ended and let go of its
	// locks (the server reaps it asynchronously): wait for that, as the
	// next run after a crash would find it done.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var still sql.NullInt64
		if err := e.admin.QueryRow("SELECT IS_USED_LOCK(?)", "restage:"+e.target).Scan(&still); err != nil {
			t.Fatal(err)
		}
		if !still.Valid || still.Int64 != holder {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed session %d still holds the lock", holder)
		}
	}
	release2, err := other.Lock(ctx, "r2")
	if err != nil {
		t.Fatalf("lock after the holder died: %v", err)
	}
	release() // the dead session's release must not fail or free r2's lock
	release()
	if _, err := e.p.Lock(ctx, "r3"); !errors.Is(err, refresh.ErrLocked) {
		t.Fatalf("lock while r2 holds it: %v, want ErrLocked", err)
	}
	release2()
	release2()
	release3, err := e.p.Lock(ctx, "r3")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release3()
}

// TestMySQLSwitchRetire: a first run creates the staging DB; a second run
// moves the first run's tables to its holding DB, which Retire drops.
func TestMySQLSwitchRetire(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, true)
	ctx := context.Background()
	db1 := e.restore("r1")
	prev, err := e.p.Switch(ctx, db1)
	if err != nil {
		t.Fatalf("first switch: %v", err)
	}
	if prev != nil {
		t.Errorf("first switch: previous = %+v, want nil", prev)
	}
	sq := mysqlQuote(e.staging)
	if n := e.count("SELECT COUNT(*) FROM " + sq + ".actor_info"); n != 200 {
		t.Errorf("staging actor_info has %d rows", n)
	}
	if e.exists(db1.Name) {
		t.Errorf("%s still exists after the switch", db1.Name)
	}
	if got := e.state(db1.Name); got != myStateLive {
		t.Errorf("r1 state %s, want live", got)
	}

	// Production changes; run 2 brings the change.
	e.exec("UPDATE " + mysqlQuote(e.src) + ".actor SET first_name = 'RUN2' WHERE actor_id = 1")
	db2 := e.restore("r2")
	wantStaging := e.snapshot(db2.Name)
	prev, err = e.p.Switch(ctx, db2)
	if err != nil {
		t.Fatalf("second switch: %v", err)
	}
	if prev == nil || prev.Name != db1.Name || prev.RunID != "r1" {
		t.Fatalf("second switch: previous = %+v, want %s run r1", prev, db1.Name)
	}
	var name string
	if err := e.admin.QueryRow("SELECT first_name FROM " + sq + ".actor WHERE actor_id = 1").Scan(&name); err != nil || name != "RUN2" {
		t.Errorf("staging serves first_name %q (%v), want RUN2", name, err)
	}
	got := e.snapshot(e.staging)
	if !slices.Equal(mySchemaless(got, e.staging), mySchemaless(wantStaging, db2.Name)) {
		t.Errorf("staging differs from what run 2 restored:\n got %.500q\nwant %.500q", got, wantStaging)
	}
	// The previous DB is complete: its views and triggers work there.
	pq := mysqlQuote(prev.Name)
	if n := e.count("SELECT COUNT(*) FROM " + pq + ".actor_info"); n != 200 {
		t.Errorf("previous actor_info has %d rows", n)
	}
	if n := e.count("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", prev.Name); n == 0 {
		t.Errorf("previous DB has no triggers")
	}
	if e.state(db1.Name) != myStatePrevious || e.state(db2.Name) != myStateLive {
		t.Errorf("states r1 %s r2 %s, want previous, live", e.state(db1.Name), e.state(db2.Name))
	}
	if err := e.p.Retire(ctx, prev); err != nil {
		t.Fatalf("retire: %v", err)
	}
	if e.exists(prev.Name) || e.state(prev.Name) != myStateRetired {
		t.Errorf("after retire: exists %v, state %s", e.exists(prev.Name), e.state(prev.Name))
	}
	// Never the source, never the live staging name.
	for _, name := range []string{e.src, e.staging, "some_db"} {
		if err := e.p.Retire(ctx, &refresh.DB{Name: name}); !errors.Is(err, refresh.ErrNotOurs) {
			t.Errorf("retire %s: %v, want ErrNotOurs", name, err)
		}
	}
	if !e.exists(e.src) {
		t.Fatal("the source is gone")
	}
}

// mySchemaless removes a schema's name from snapshot lines so that
// snapshots of two schemas compare.
func mySchemaless(lines []string, schema string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ReplaceAll(l, mysqlQuote(schema)+".", "")
	}
	return out
}

// TestMySQLSwitchRollback makes each step of the switch fail in turn: the
// hand-made staging DB serves unchanged, the new DB stays intact, and a
// switch without the failure then succeeds.
func TestMySQLSwitchRollback(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	db := e.handMade()
	oldStaging := e.snapshot(e.staging)
	newDB := e.snapshot(db.Name)

	steps := []string{"create-staging", "capture", "create-holding", "drop-new-objects", "drop-staging-objects",
		"rename", "record", "create-new-objects", "create-previous-objects", "drop-new-database"}
	for _, step := range steps {
		e.s.failAt = localtest.FailAt(step, errors.New("injected failure"))
		_, err := e.p.Switch(ctx, db)
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("fail at %s: switch returned %v", step, err)
		}
		if got := e.snapshot(e.staging); !slices.Equal(got, oldStaging) {
			t.Fatalf("fail at %s: staging changed:\n got %q\nwant %q", step, got, oldStaging)
		}
		if got := e.snapshot(db.Name); !slices.Equal(got, newDB) {
			t.Fatalf("fail at %s: new DB changed:\n got %q\nwant %q", step, got, newDB)
		}
		hold := local.DBName(e.target, "previous_r1")
		if e.exists(hold) || e.state(hold) != "unrecorded" {
			t.Fatalf("fail at %s: holding DB left behind", step)
		}
		if got := e.state(db.Name); got != myStateReady {
			t.Fatalf("fail at %s: new DB state %s", step, got)
		}
	}
	e.s.failAt = nil
	prev, err := e.p.Switch(ctx, db)
	if err != nil {
		t.Fatalf("switch: %v", err)
	}
	if prev == nil || prev.Name != local.DBName(e.target, "previous_r1") || prev.RunID != "" {
		t.Fatalf("previous = %+v, want the hand-made DB's holding DB without a run id", prev)
	}
	if got := e.snapshot(e.staging); !slices.Equal(mySchemaless(got, e.staging), mySchemaless(newDB, db.Name)) {
		t.Errorf("staging after the switch:\n got %q\nwant %q", got, newDB)
	}
	if got := e.snapshot(prev.Name); !slices.Equal(mySchemaless(got, prev.Name), mySchemaless(oldStaging, e.staging)) {
		t.Errorf("previous DB:\n got %q\nwant %q", got, oldStaging)
	}
	// The hand-made data is not restage's: not retired, not swept...
	if err := e.p.Retire(ctx, prev); !errors.Is(err, refresh.ErrNotOurs) {
		t.Errorf("retire hand-made: %v, want ErrNotOurs", err)
	}
	if swept, err := e.p.Sweep(ctx); err != nil || len(swept) != 0 {
		t.Errorf("sweep = %v, %v; want nothing", swept, err)
	}
	if !e.exists(prev.Name) {
		t.Fatal("hand-made previous DB dropped")
	}
	// ...unless adopted.
	e.cfg.Adopt = e.staging
	adopter := e.provider()
	if err := adopter.Retire(ctx, prev); err != nil {
		t.Errorf("retire adopted: %v", err)
	}
	if e.exists(prev.Name) {
		t.Error("adopted previous DB not dropped")
	}
}

// TestMySQLSweepDiscard: a killed run's recorded DB is swept, a DB
// restage never recorded is left alone, Discard is idempotent.
func TestMySQLSweepDiscard(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	e.smallSchema(e.src, "src")
	ready := e.restore("r1")
	// A run killed while creating: recorded, half made.
	killed := local.DBName(e.target, "r2")
	if err := e.s.record(ctx, e.admin, local.ControlRecord{Name: killed, Target: e.target, RunID: "r2", State: myStateCreating}); err != nil {
		t.Fatal(err)
	}
	e.exec("CREATE DATABASE " + mysqlQuote(killed))
	stranger := local.DBName(e.target, "handmade")
	e.exec("CREATE DATABASE " + mysqlQuote(stranger))

	swept, err := e.p.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(swept)
	if want := []string{ready.Name, killed}; !slices.Equal(swept, want) {
		t.Errorf("swept %v, want %v", swept, want)
	}
	if e.exists(ready.Name) || e.exists(killed) || !e.exists(stranger) {
		t.Errorf("after sweep: %s %v, %s %v, unrecorded %s %v", ready.Name, e.exists(ready.Name), killed, e.exists(killed), stranger, e.exists(stranger))
	}
	if e.state(killed) != myStateDiscarded {
		t.Errorf("killed run state %s", e.state(killed))
	}

	db := e.restore("r3")
	for range 2 {
		if err := e.p.Discard(ctx, db); err != nil {
			t.Fatalf("discard: %v", err)
		}
	}
	if e.exists(db.Name) || e.state(db.Name) != myStateDiscarded {
		t.Errorf("after discard: exists %v, state %s", e.exists(db.Name), e.state(db.Name))
	}
	if err := e.p.Discard(ctx, &refresh.DB{Name: stranger}); !errors.Is(err, refresh.ErrNotOurs) {
		t.Errorf("discard unrecorded: %v, want ErrNotOurs", err)
	}
	// Never created (the run failed before recording it): nothing to do.
	if err := e.p.Discard(ctx, e.s.DBFor(local.DBName(e.target, "r9"), "r9")); err != nil {
		t.Errorf("discard of a DB never created: %v", err)
	}
	// Another run's DB is not this run's to discard.
	other := e.restore("r4")
	if err := e.p.Discard(ctx, e.s.DBFor(other.Name, "r5")); !errors.Is(err, refresh.ErrNotOurs) || !e.exists(other.Name) {
		t.Errorf("discard of another run's DB: %v (exists %v), want ErrNotOurs and kept", err, e.exists(other.Name))
	}
}

// TestMySQLKeepLast keeps the newest previous DB and drops older ones.
func TestMySQLKeepLast(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false, func(c *local.Config) { c.KeepLast = 1 })
	ctx := context.Background()
	e.smallSchema(e.src, "src")
	var prevs []*refresh.DB
	for i := 1; i <= 3; i++ {
		db := e.restore(fmt.Sprintf("r%d", i))
		prev, err := e.p.Switch(ctx, db)
		if err != nil {
			t.Fatalf("switch %d: %v", i, err)
		}
		if prev != nil {
			prevs = append(prevs, prev)
			if err := e.p.Retire(ctx, prev); err != nil {
				t.Fatalf("retire %s: %v", prev.Name, err)
			}
		}
	}
	if len(prevs) != 2 {
		t.Fatalf("previous DBs %v", prevs)
	}
	if e.exists(prevs[0].Name) || !e.exists(prevs[1].Name) {
		t.Errorf("keep-last 1: %s exists %v (want false), %s exists %v (want true)", prevs[0].Name, e.exists(prevs[0].Name), prevs[1].Name, e.exists(prevs[1].Name))
	}
}

// myUser creates an account for the test and drops it afterwards.
func (e *myEnv) user(prefix string, grants ...string) (name, password string) {
	e.t.Helper()
	name, password = prefix+myRand(e.t), "pw-"+myRand(e.t)
	e.dropUserAtEnd(name)
	e.exec(fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", name, password))
	for _, g := range grants {
		e.exec(fmt.Sprintf(g, "'"+name+"'@'%'"))
	}
	return name, password
}

func (e *myEnv) dropUserAtEnd(name string) {
	e.t.Cleanup(func() {
		hosts, _ := mysqlStrings(context.Background(), e.admin, "SELECT Host FROM mysql.user WHERE User = ?", name)
		for _, h := range hosts {
			if _, err := e.admin.Exec("DROP USER ?@?", name, h); err != nil {
				e.t.Errorf("drop user %s@%s: %v", name, h, err)
			}
		}
	})
}

// loginRead logs in as user to db and reads a table; nil when it can.
func (e *myEnv) loginRead(user, password, db, table string) error {
	c := e.adminCfg.Clone()
	c.User, c.Passwd, c.DBName = user, password, db
	h, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return err
	}
	defer h.Close()
	var n int
	return h.QueryRow("SELECT COUNT(*) FROM " + mysqlQuote(table)).Scan(&n)
}

func TestMySQLUsers(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	e.smallSchema(e.src, "src")
	prod, prodPW := e.user("rs_p_", "GRANT SELECT ON "+mysqlengine.GrantDB(e.src)+".* TO %s")
	global, _ := e.user("rs_g_", "GRANT SELECT ON *.* TO %s")

	// Detection finds the schema-level production login.
	accts, err := e.s.productionAccounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(accts, engine.Login{User: prod, Host: "%"}) || !slices.Contains(accts, engine.Login{User: global, Host: "%"}) {
		t.Errorf("detected production logins %v lack %s or %s", accts, prod, global)
	}
	for _, a := range accts {
		if a.User == e.adminCfg.User {
			t.Errorf("detected the admin login %s", a)
		}
	}

	db := e.restore("r1")
	reader := refresh.StagingUser{Name: "rs_r_" + myRand(t), Password: "pw-" + myRand(t), Privileges: "read"}
	e.dropUserAtEnd(reader.Name)

	// A global-grant production login can't be shut out.
	e.cfg.ProductionLogins = []string{prod, global}
	p := e.provider()
	err = p.Users(ctx, db, []refresh.StagingUser{reader})
	if !errors.Is(err, refresh.ErrSharedLogin) || !strings.Contains(err.Error(), global) {
		t.Fatalf("users with a global production login: %v, want ErrSharedLogin naming %s", err, global)
	}
	if strings.Contains(err.Error(), reader.Password) {
		t.Fatal("error contains a password")
	}
	e.cfg.AcceptSharedLogins = true
	p = e.provider()
	if err := p.Users(ctx, db, []refresh.StagingUser{reader}); err != nil {
		t.Fatalf("users, shared logins accepted: %v", err)
	}
	e.cfg.AcceptSharedLogins = false
	e.cfg.ProductionLogins = []string{prod}
	p = e.provider()
	if err := p.Users(ctx, db, []refresh.StagingUser{reader}); err != nil {
		t.Fatalf("users: %v", err)
	}
	if err := e.loginRead(reader.Name, reader.Password, db.Name, "parent"); err != nil {
		t.Errorf("staging user can't read the new DB: %v", err)
	}
	if _, err := p.Switch(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := e.loginRead(reader.Name, reader.Password, e.staging, "parent"); err != nil {
		t.Errorf("staging user can't read staging after the switch: %v", err)
	}
	if err := e.loginRead(reader.Name, reader.Password, e.src, "parent"); err == nil {
		t.Errorf("staging user can read the source")
	}
	if err := e.loginRead(prod, prodPW, e.staging, "parent"); err == nil {
		t.Errorf("production login %s can read staging", prod)
	}
	if n := e.count("SELECT COUNT(*) FROM mysql.db WHERE Db = ?", strings.ReplaceAll(db.Name, "_", `\_`)); n != 0 {
		t.Errorf("%d grants left on the dropped new DB's name", n)
	}

	// Run 2: the reader exists now (its password is checked, not changed);
	// a copied user keeps its staging grants without a password.
	copied, copiedPW := e.user("rs_c_", "GRANT SELECT, INSERT ON "+mysqlengine.GrantDB(e.staging)+".* TO %s")
	db2 := e.restore("r2")
	if err := p.Users(ctx, db2, []refresh.StagingUser{reader, {Name: copied}}); err != nil {
		t.Fatalf("users, run 2: %v", err)
	}
	if err := e.loginRead(copied, copiedPW, db2.Name, "parent"); err != nil {
		t.Errorf("copied user can't read the new DB: %v", err)
	}
	wrong := reader
	wrong.Password = "not-it"
	if err := p.Users(ctx, db2, []refresh.StagingUser{wrong}); err == nil || strings.Contains(err.Error(), "not-it") {
		t.Errorf("users with a wrong password for an existing account: %v", err)
	}
}

func TestMySQLPreserve(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	ctx := context.Background()
	e.smallSchema(e.src, "src")
	db1 := e.restore("r1")
	// No staging DB yet: nothing to copy.
	if n, err := e.p.Preserve(ctx, db1, []refresh.PreserveSpec{{Table: "parent"}}); err != nil || n != 0 {
		t.Fatalf("preserve without staging = %d, %v", n, err)
	}
	if _, err := e.p.Switch(ctx, db1); err != nil {
		t.Fatal(err)
	}
	sq := mysqlQuote(e.staging)
	e.exec("UPDATE "+sq+".parent SET name = 'qa-account' WHERE id = 1",
		"INSERT INTO "+sq+".parent VALUES (3, 'feature-flag'), (4, 'not-kept')")
	db2 := e.restore("r2")
	n, err := e.p.Preserve(ctx, db2, []refresh.PreserveSpec{
		{Table: "parent", Where: preserve.MustParse("id IN (1, 3)")},
		{Table: "missing_here"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("preserved %d rows, want 2", n)
	}
	got := e.strings("SELECT CONCAT(id, '=', name) FROM " + mysqlQuote(db2.Name) + ".parent ORDER BY id")
	if want := []string{"1=qa-account", "2=src-b", "3=feature-flag"}; !slices.Equal(got, want) {
		t.Errorf("new DB parent rows %v, want %v", got, want)
	}
}

// newProvider is the local provider over this engine's server.
func newProvider(cfg local.Config) (*local.Provider, error) { return localtest.NewProvider(cfg, New) }

// TestMySQLSwitchRefusesAnotherRunsDB: the provider swaps in only the DB
// the control records give to this run, ready.
func TestMySQLSwitchRefusesAnotherRunsDB(t *testing.T) {
	t.Parallel()
	e := newMyEnv(t, false)
	e.smallSchema(e.src, "src")
	localtest.SwitchRefusesAnotherRunsDB(t, e.p, e.restore("r1"), e.staging, e.world())
}
