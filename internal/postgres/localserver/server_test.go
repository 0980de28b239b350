package localserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
	"github.com/restage/restage/internal/preserve"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// ---- fixture ----

func pgTestAdmin() string {
	if v := os.Getenv(testdb.EnvPostgres); v != "" {
		return v
	}
	return testdb.DefaultPostgres
}

// pgTestDSN points the admin DSN at database db (optionally as another
// login).
func pgTestDSN(t testing.TB, db string, login ...string) string {
	t.Helper()
	u, err := url.Parse(pgTestAdmin())
	if err != nil {
		t.Fatalf("%s must be a URL for these tests", testdb.EnvPostgres)
	}
	u.Path, u.RawPath = "/"+db, ""
	if len(login) == 2 {
		u.User = url.UserPassword(login[0], login[1])
	}
	return u.String()
}

func pgTestConn(t testing.TB, db string, login ...string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgTestDSN(t, db, login...))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	t.Cleanup(func() { pgClose(c) })
	return c
}

func pgExec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	c := pgTestConn(t, db)
	for _, q := range sqls {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("on %s: %s: %v", db, q, err)
		}
	}
	pgClose(c)
}

func pgString(t testing.TB, db, q string, args ...any) string {
	t.Helper()
	c := pgTestConn(t, db)
	defer pgClose(c)
	var s string
	if err := c.QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("on %s: %s: %v", db, q, err)
	}
	return s
}

func pgRandom(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

type pgFixture struct {
	target  string
	src     string // source database
	staging string // the staging name
	ctl     string // control database
	cfg     local.Config
	p       *local.Provider
	s       *pgServer // p's server
}

// pgSetup makes a source database, a unique target, staging name and
// control DB, and a provider. With handMade, a database already sits behind
// the staging name. Everything restage creates for the target is dropped
// when the test ends.
func pgSetup(t *testing.T, handMade bool, mod func(*local.Config)) *pgFixture {
	t.Helper()
	srcDSN, src := testdb.Postgres(t)
	f := &pgFixture{src: src, target: "t" + pgRandom(t)}
	f.ctl = "restage_c_" + f.target
	if handMade {
		_, f.staging = testdb.Postgres(t)
	} else {
		f.staging = "restage_s_" + f.target
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, pgTestAdmin())
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer pgClose(c)
		rows, _ := c.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'restage\_' || $1 || '\_%' OR datname IN ($2, $3)`,
			f.target, f.staging, f.ctl)
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, n := range names {
			if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgIdent(n)+" WITH (FORCE)"); err != nil {
				t.Errorf("cleanup: drop %s: %v", n, err)
			}
		}
	})
	f.cfg = local.Config{
		Target:     f.target,
		SourceDSN:  srcDSN,
		StagingDSN: pgTestDSN(t, f.staging),
		ControlDB:  f.ctl,
	}
	if mod != nil {
		mod(&f.cfg)
	}
	f.p = f.provider(t)
	f.s = pg(f.p)
	return f
}

// pg is p's PostgreSQL server (its test hooks and records).
func pg(p *local.Provider) *pgServer { return p.Server().(*pgServer) }

func (f *pgFixture) provider(t *testing.T) *local.Provider {
	t.Helper()
	prov, err := newProvider(f.cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { prov.Close() })
	return prov
}

// world is the fixture as the shared tests (localtest) see it.
func (f *pgFixture) world(t *testing.T) localtest.World {
	return localtest.World{Target: f.target, ControlDB: f.ctl,
		Exists:    func(name string) bool { return pgExists(t, name) },
		Recorded:  func(name string) string { return f.state(t, name) },
		SourceSum: func(table string) string { return pgTableSum(t, f.src, "public."+table) },
	}
}

func (f *pgFixture) state(t *testing.T, name string) string {
	t.Helper()
	c := pgTestConn(t, f.ctl)
	defer pgClose(c)
	rec, err := pgLookup(context.Background(), c, name)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil {
		return ""
	}
	return rec.State
}

func pgExists(t *testing.T, name string) bool {
	t.Helper()
	return pgString(t, "postgres", "SELECT (count(*) > 0)::text FROM pg_database WHERE datname = $1", name) == "true"
}

// restore runs Restore for runID with the source holding marker.
func (f *pgFixture) restore(t *testing.T, runID, marker string) *refresh.DB {
	t.Helper()
	pgExec(t, f.src, "CREATE TABLE IF NOT EXISTS marker (v text)", "TRUNCATE marker",
		"INSERT INTO marker VALUES ("+pgLiteral(marker)+")")
	db, err := f.p.Restore(context.Background(), runID)
	if err != nil {
		t.Fatalf("Restore %s: %v", runID, err)
	}
	return db
}

// switchAfterFaults clears the injected failures and switches db in: the
// faults of a test left nothing that stops a clean switch.
func (f *pgFixture) switchAfterFaults(t *testing.T, db *refresh.DB) {
	t.Helper()
	f.s.testHook = nil
	if _, err := f.p.Switch(context.Background(), db); err != nil {
		t.Fatalf("switch after the faults: %v", err)
	}
	if got := f.marker(t); got != "new" {
		t.Errorf("staging serves %q, want new", got)
	}
}

func (f *pgFixture) marker(t *testing.T) string {
	t.Helper()
	return pgString(t, f.staging, "SELECT v FROM marker")
}

// ---- restore ----

// pgObjects lists a database's schema objects in public.
const pgObjects = `SELECT string_agg(x, ',' ORDER BY x) FROM (
	SELECT c.relkind::text || ':' || c.relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
	UNION ALL SELECT 'trigger:' || tgname || '@' || tgrelid::regclass FROM pg_trigger WHERE NOT tgisinternal
	UNION ALL SELECT 'function:' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
	UNION ALL SELECT 'constraint:' || c.contype::text || ':' || c.conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public') s`

func TestPGRestoreSakila(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	testdb.LoadSakilaPostgres(t, f.cfg.SourceDSN)
	ctx := context.Background()

	db, err := f.p.Restore(ctx, "r1")
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if want := local.DBName(f.target, "r1"); db.Name != want || db.RunID != "r1" {
		t.Fatalf("Restore returned %s run %s, want %s run r1", db.Name, db.RunID, want)
	}
	if got := f.state(t, db.Name); got != "ready" {
		t.Errorf("state = %q, want ready", got)
	}
	if err := f.p.Ready(ctx, db); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	// Unmasked: no login but the admin (and superusers) may connect yet.
	other, otherPW := pgRole(t, "")
	if err := pgCanConnect(t, db.Name, other, otherPW); err == nil || !strings.Contains(err.Error(), "permission denied for database") {
		t.Errorf("another login connecting to the unmasked copy: %v, want permission denied", err)
	}

	srcObjs, copyObjs := pgString(t, f.src, pgObjects), pgString(t, db.Name, pgObjects)
	if srcObjs != copyObjs {
		t.Errorf("schema objects differ\nsource: %s\ncopy:   %s", srcObjs, copyObjs)
	}
	for _, want := range []string{"v:actor_info", "trigger:last_updated@actor", "function:film_in_stock", "constraint:f:", "i:idx_actor_last_name", "S:actor_actor_id_seq"} {
		if !strings.Contains(copyObjs, want) {
			t.Errorf("copy lacks %s", want)
		}
	}
	const counts = `SELECT string_agg(format('%s=%s', c.relname,
		(xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), false, true, '')))[1]::text), ',' ORDER BY c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'`
	if s, c := pgString(t, f.src, counts), pgString(t, db.Name, counts); s != c {
		t.Errorf("row counts differ\nsource: %s\ncopy:   %s", s, c)
	}
	const seq = "SELECT last_value::text FROM actor_actor_id_seq"
	if s, c := pgString(t, f.src, seq), pgString(t, db.Name, seq); s != c {
		t.Errorf("sequence: source %s, copy %s", s, c)
	}
	// The copy's functions run (film_in_stock reads inventory through a routine).
	if got := pgString(t, db.Name, "SELECT count(*)::text FROM film_in_stock(1, 1)"); got == "0" {
		t.Errorf("film_in_stock(1, 1) found nothing in the copy")
	}
}

func TestPGRestoreConsistentUnderWrites(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	pgExec(t, f.src,
		"CREATE TABLE parent (id bigserial PRIMARY KEY, pad text NOT NULL)",
		"CREATE TABLE child (id bigserial PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id), pad text NOT NULL)",
		"INSERT INTO parent (pad) SELECT repeat('x', 300) FROM generate_series(1, 150000)",
		"INSERT INTO child (parent_id, pad) SELECT id, repeat('y', 300) FROM parent")

	// A production writer: parent + child in one transaction, in a loop.
	w := pgTestConn(t, f.src)
	var inserted, during atomic.Int64
	var restoring atomic.Bool
	var maxLatency atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var werr atomic.Pointer[error]
	wg.Go(func() {
		ctx := context.Background()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			err := pgx.BeginFunc(ctx, w, func(tx pgx.Tx) error {
				var id int64
				if err := tx.QueryRow(ctx, "INSERT INTO parent (pad) VALUES ('w') RETURNING id").Scan(&id); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "INSERT INTO child (parent_id, pad) VALUES ($1, 'w')", id)
				return err
			})
			if err != nil {
				werr.Store(&err)
				return
			}
			if d := time.Since(start); int64(d) > maxLatency.Load() {
				maxLatency.Store(int64(d))
			}
			inserted.Add(1)
			if restoring.Load() {
				during.Add(1)
			}
		}
	})
	for inserted.Load() < 10 && werr.Load() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	restoring.Store(true)
	start := time.Now()
	db, err := f.p.Restore(context.Background(), "r1")
	took := time.Since(start)
	restoring.Store(false)
	// Keep writing a little after the copy, then stop.
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if e := werr.Load(); e != nil {
		t.Fatalf("writer: %v", *e)
	}
	t.Logf("restore took %v; writer committed %d transactions during it, max latency %v", took, during.Load(), time.Duration(maxLatency.Load()))
	if during.Load() == 0 {
		t.Errorf("the writer committed nothing while the copy ran: blocked")
	}
	if d := time.Duration(maxLatency.Load()); d > 2*time.Second {
		t.Errorf("writer max latency %v during the copy, want < 2s", d)
	}

	srcParents := pgString(t, f.src, "SELECT count(*)::text FROM parent")
	if want := fmt.Sprint(150000 + inserted.Load()); srcParents != want {
		t.Errorf("source has %s parents, want %s (nothing lost)", srcParents, want)
	}
	var copyParents, copyChildren, orphans, srcN int64
	c := pgTestConn(t, db.Name)
	if err := c.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM parent), (SELECT count(*) FROM child),
		(SELECT count(*) FROM child WHERE NOT EXISTS (SELECT 1 FROM parent p WHERE p.id = child.parent_id))`).Scan(&copyParents, &copyChildren, &orphans); err != nil {
		t.Fatal(err)
	}
	fmt.Sscan(srcParents, &srcN)
	if orphans != 0 {
		t.Errorf("copy has %d children without a parent", orphans)
	}
	if copyParents != copyChildren {
		t.Errorf("copy has %d parents and %d children; every writer transaction adds one of each", copyParents, copyChildren)
	}
	if copyParents < 150000 || copyParents >= srcN {
		t.Errorf("copy has %d parents; want at least the 150000 loaded and fewer than the source's %d (rows after the snapshot stay in the source only)", copyParents, srcN)
	}
	if v := pgString(t, db.Name, "SELECT bool_and(convalidated)::text FROM pg_constraint WHERE contype = 'f'"); v != "true" {
		t.Errorf("copy's foreign keys validated = %s", v)
	}
}

func TestPGRestoreRefusesExistingName(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	name := local.DBName(f.target, "r1")
	pgExec(t, "postgres", "CREATE DATABASE "+pgIdent(name))
	pgExec(t, name, "CREATE TABLE keep (id int)")
	db, err := f.p.Restore(context.Background(), "r1")
	if err == nil {
		t.Fatalf("Restore over an unrecorded database: no error")
	}
	if db != nil {
		// A DB handed back would be discarded by the pipeline.
		t.Errorf("Restore returned %v for a database it did not create", db)
	}
	if err := f.p.Discard(context.Background(), f.s.DBFor(name, "r1")); !errors.Is(err, refresh.ErrNotOurs) {
		t.Errorf("Discard of an unrecorded database: %v, want ErrNotOurs", err)
	}
	if got := pgString(t, name, "SELECT count(*)::text FROM keep"); got != "0" {
		t.Errorf("unrecorded database changed")
	}
}

// ---- lock ----

func TestPGLock(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	ctx := context.Background()
	release, err := f.p.Lock(ctx, "r1")
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	other := f.provider(t)
	if _, err := other.Lock(ctx, "r2"); !errors.Is(err, refresh.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	} else if !strings.Contains(err.Error(), "r1") {
		t.Errorf("second Lock's error does not name the holder: %v", err)
	}
	// Another target is independent.
	g := pgSetup(t, false, func(c *local.Config) { c.ControlDB = f.ctl })
	relG, err := g.p.Lock(ctx, "r1")
	if err != nil {
		t.Fatalf("Lock of another target: %v", err)
	}
	relG()

	release()
	release() // idempotent
	rel2, err := other.Lock(ctx, "r2")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}

	// A dead process: its session ends, the server frees the lock.
	admin := pgTestConn(t, "postgres")
	tag, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1",
		pgAppName("restage lock "+f.target+" r2"))
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the lock holder: %v (%d sessions)", err, tag.RowsAffected())
	}
	rel3, err := f.p.Lock(ctx, "r3")
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	rel3()
	rel2() // its session is gone already: still fine
}

// ---- switch, retire ----

func TestPGSwitchFirstRun(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	ctx := context.Background()
	db := f.restore(t, "r1", "one")
	// A session of restage's own left open on the new DB does not stop it.
	pgTestConn(t, db.Name)
	prev, err := f.p.Switch(ctx, db)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if prev != nil {
		t.Errorf("previous = %+v, want nil on the first run", prev)
	}
	if got := f.marker(t); got != "one" {
		t.Errorf("staging serves %q, want one", got)
	}
	if got := f.state(t, db.Name); got != "live" {
		t.Errorf("state = %q, want live", got)
	}
	// Second run: the previous one is r1's, found by its restage name.
	db2 := f.restore(t, "r2", "two")
	prev, err = f.p.Switch(ctx, db2)
	if err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if prev == nil || prev.Name != db.Name || prev.RunID != "r1" {
		t.Fatalf("previous = %+v, want %s run r1", prev, db.Name)
	}
	if got := f.marker(t); got != "two" {
		t.Errorf("staging serves %q, want two", got)
	}
	if got := pgString(t, prev.Name, "SELECT v FROM marker"); got != "one" {
		t.Errorf("previous DB holds %q, want one", got)
	}
	if err := f.p.Retire(ctx, prev); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	if pgExists(t, prev.Name) {
		t.Errorf("%s still exists after Retire", prev.Name)
	}
	if got := f.state(t, prev.Name); got != "retired" {
		t.Errorf("state = %q, want retired", got)
	}
}

func TestPGSwitchHandMadeAndRetire(t *testing.T) {
	t.Parallel()
	for _, adopt := range []bool{false, true} {
		t.Run(fmt.Sprintf("adopt=%v", adopt), func(t *testing.T) {
			t.Parallel()
			f := pgSetup(t, true, nil)
			if adopt {
				f.cfg.Adopt = f.staging
				f.p = f.provider(t)
				f.s = pg(f.p)
			}
			ctx := context.Background()
			pgExec(t, f.staging, "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('hand-made')")
			// A staging app session: switch ends it.
			app := pgTestConn(t, f.staging)

			db := f.restore(t, "r1", "new")
			prev, err := f.p.Switch(ctx, db)
			if err != nil {
				t.Fatalf("Switch: %v", err)
			}
			if want := "restage_" + f.target + "_previous_r1"; prev == nil || prev.Name != want || prev.RunID != "" {
				t.Fatalf("previous = %+v, want %s with no run id", prev, want)
			}
			if got := f.marker(t); got != "new" {
				t.Errorf("staging serves %q, want new", got)
			}
			if err := app.Ping(ctx); err == nil {
				t.Errorf("the staging session survived the switch")
			}
			if got := pgString(t, prev.Name, "SELECT v FROM marker"); got != "hand-made" {
				t.Errorf("previous holds %q", got)
			}
			err = f.p.Retire(ctx, prev)
			if !adopt {
				if !errors.Is(err, refresh.ErrNotOurs) {
					t.Fatalf("Retire of a hand-made DB: %v, want ErrNotOurs", err)
				}
				if !pgExists(t, prev.Name) {
					t.Fatalf("Retire dropped a hand-made DB")
				}
				// Sweep leaves it alone too.
				if got, err := f.p.Sweep(ctx); err != nil || len(got) != 0 {
					t.Errorf("Sweep = %v, %v; want nothing", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Retire of the adopted DB: %v", err)
			}
			if pgExists(t, prev.Name) {
				t.Errorf("adopted DB still exists after Retire")
			}
		})
	}
}

func TestPGSwitchFailureRollsBack(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, true, nil)
	ctx := context.Background()
	pgExec(t, f.staging, "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('old')")
	db := f.restore(t, "r1", "new")
	for _, step := range []string{"blocked", "renamed-old", "renamed-new", "recorded"} {
		f.s.testHook = localtest.FailAt(step, errors.New("injected failure"))
		prev, err := f.p.Switch(ctx, db)
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("Switch failing at %s: %v, %v", step, prev, err)
		}
		if got := f.marker(t); got != "old" {
			t.Errorf("after a failure at %s staging serves %q, want old", step, got)
		}
		if got := pgString(t, "postgres", "SELECT string_agg(datname || '=' || datallowconn, ',' ORDER BY datname) FROM pg_database WHERE datname IN ($1, $2)", f.staging, db.Name); got != fmt.Sprintf("%s=true,%s=true", db.Name, f.staging) && got != fmt.Sprintf("%s=true,%s=true", f.staging, db.Name) {
			t.Errorf("after a failure at %s: %s", step, got)
		}
		if got := f.state(t, db.Name); got != "ready" {
			t.Errorf("after a failure at %s the new DB is %q, want ready", step, got)
		}
	}
	f.switchAfterFaults(t, db)
}

func TestPGRetireRefuses(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	ctx := context.Background()
	_, other := testdb.Postgres(t)
	for name, db := range map[string]*refresh.DB{
		"unrecorded": f.s.DBFor(other, ""),
		"source":     f.s.DBFor(f.src, ""),
		"staging":    f.s.DBFor(f.staging, ""),
	} {
		if err := f.p.Retire(ctx, db); !errors.Is(err, refresh.ErrNotOurs) {
			t.Errorf("Retire %s: %v, want ErrNotOurs", name, err)
		}
	}
	if !pgExists(t, other) || !pgExists(t, f.src) {
		t.Errorf("Retire dropped a database it refused")
	}
	// Adopting the source is refused before anything runs.
	g := f.cfg
	g.Adopt = f.src
	g.StagingDSN = pgTestDSN(t, f.staging)
	if _, err := newProvider(g); err == nil {
		t.Errorf("New with the source adopted: no error")
	}
}

func TestPGKeepLast(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, func(c *local.Config) { c.KeepLast = 1 })
	ctx := context.Background()
	var dbs []*refresh.DB
	for i := 1; i <= 3; i++ {
		db := f.restore(t, fmt.Sprintf("r%d", i), fmt.Sprint(i))
		prev, err := f.p.Switch(ctx, db)
		if err != nil {
			t.Fatalf("Switch r%d: %v", i, err)
		}
		if err := f.p.Retire(ctx, prev); err != nil {
			t.Fatalf("Retire after r%d: %v", i, err)
		}
		dbs = append(dbs, db)
	}
	// r3 live, r2 kept, r1 dropped.
	if pgExists(t, dbs[0].Name) || f.state(t, dbs[0].Name) != "retired" {
		t.Errorf("%s: exists=%v state=%s; want dropped and retired", dbs[0].Name, pgExists(t, dbs[0].Name), f.state(t, dbs[0].Name))
	}
	if !pgExists(t, dbs[1].Name) || f.state(t, dbs[1].Name) != "previous" {
		t.Errorf("%s: want kept as previous", dbs[1].Name)
	}
	if got := f.marker(t); got != "3" {
		t.Errorf("staging serves %q, want 3", got)
	}
}

// ---- sweep, discard ----

func TestPGSweep(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	ctx := context.Background()
	live := f.restore(t, "r1", "live")
	if _, err := f.p.Switch(ctx, live); err != nil {
		t.Fatal(err)
	}
	// A run killed mid-restore: recorded "creating", database half made.
	killed := f.restore(t, "r2", "killed")
	pgExec(t, f.ctl, "UPDATE restage_databases SET state = 'creating' WHERE name = "+pgLiteral(killed.Name))
	// A run that failed after its restore and never discarded.
	failed := f.restore(t, "r3", "failed")
	// Recorded, but the database never got created.
	pgExec(t, f.ctl, "INSERT INTO restage_databases (name, target, run_id, state) VALUES ("+pgLiteral(local.DBName(f.target, "r4"))+", "+pgLiteral(f.target)+", 'r4', 'creating')")
	// Not recorded: someone else's, even with restage's naming.
	stray := local.DBName(f.target, "stray")
	pgExec(t, "postgres", "CREATE DATABASE "+pgIdent(stray))

	got, err := f.p.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	slices.Sort(got)
	if want := []string{killed.Name, failed.Name}; !slices.Equal(got, want) {
		t.Errorf("Sweep = %v, want %v", got, want)
	}
	for _, n := range []string{killed.Name, failed.Name, local.DBName(f.target, "r4")} {
		if pgExists(t, n) || f.state(t, n) != "discarded" {
			t.Errorf("%s: exists=%v state=%s; want dropped and discarded", n, pgExists(t, n), f.state(t, n))
		}
	}
	if !pgExists(t, stray) {
		t.Errorf("Sweep dropped an unrecorded database")
	}
	if got := f.marker(t); got != "live" {
		t.Errorf("staging serves %q after Sweep", got)
	}
	if got, err := f.p.Sweep(ctx); err != nil || len(got) != 0 {
		t.Errorf("second Sweep = %v, %v; want nothing", got, err)
	}
}

func TestPGDiscard(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	ctx := context.Background()
	db := f.restore(t, "r1", "x")
	// Discard ends sessions on the DB it drops (its own).
	c := pgTestConn(t, db.Name)
	_ = c
	for i := range 2 {
		if err := f.p.Discard(ctx, db); err != nil {
			t.Fatalf("Discard #%d: %v", i+1, err)
		}
	}
	if pgExists(t, db.Name) || f.state(t, db.Name) != "discarded" {
		t.Errorf("after Discard: exists=%v state=%s", pgExists(t, db.Name), f.state(t, db.Name))
	}
	// Never created: nothing to do.
	if err := f.p.Discard(ctx, f.s.DBFor(local.DBName(f.target, "r9"), "r9")); err != nil {
		t.Errorf("Discard of a DB never created: %v", err)
	}
	// The live DB is not discarded.
	live := f.restore(t, "r2", "y")
	if _, err := f.p.Switch(ctx, live); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Discard(ctx, live); err == nil {
		t.Errorf("Discard of the live DB: no error")
	}
	if got := f.marker(t); got != "y" {
		t.Errorf("staging serves %q", got)
	}
}

func TestPGControlDBCreated(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	if pgExists(t, f.ctl) {
		t.Fatalf("control DB exists before the first call")
	}
	rel, err := f.p.Lock(context.Background(), "r1")
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	rel()
	if got := pgString(t, f.ctl, "SELECT to_regclass('restage_databases')::text"); got != "restage_databases" {
		t.Errorf("control table: %q", got)
	}
	if note, err := f.p.Credentials(context.Background(), nil); err != nil || !strings.HasPrefix(note, "no-op") {
		t.Errorf("Credentials = %q, %v", note, err)
	}
}

// ---- users ----

// pgRole creates a login role for the test and drops it at the end.
func pgRole(t *testing.T, attrs string) (name, password string) {
	t.Helper()
	name, password = "restage_u_"+pgRandom(t), "pw-"+pgRandom(t)
	pgExec(t, "postgres", "CREATE ROLE "+pgIdent(name)+" LOGIN PASSWORD "+pgLiteral(password)+" "+attrs)
	pgDropRoleLater(t, name)
	return name, password
}

// pgDropRoleLater drops role name after the test's databases are gone
// (registered first, so it runs last... among cleanups registered later).
func pgDropRoleLater(t *testing.T, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, pgTestAdmin())
		if err != nil {
			return
		}
		defer pgClose(c)
		if _, err := c.Exec(ctx, "DROP OWNED BY "+pgIdent(name)); err != nil {
			t.Logf("drop owned by %s: %v", name, err)
		}
		if _, err := c.Exec(ctx, "DROP ROLE IF EXISTS "+pgIdent(name)); err != nil {
			t.Logf("drop role %s: %v", name, err)
		}
	})
}

func pgCanConnect(t *testing.T, db, user, password string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgTestDSN(t, db, user, password))
	if err != nil {
		return err
	}
	defer pgClose(c)
	var n int
	return c.QueryRow(ctx, "SELECT count(*) FROM marker").Scan(&n)
}

func TestPGUsers(t *testing.T) {
	t.Parallel()
	// Roles are dropped after the databases (cleanups run last-in first-out).
	reader, writer := "restage_r_"+pgRandom(t), "restage_w_"+pgRandom(t)
	readerPW, writerPW := "r€ad-"+pgRandom(t), "write-'"+pgRandom(t)
	pgDropRoleLater(t, reader)
	pgDropRoleLater(t, writer)
	prod, prodPW := pgRole(t, "")
	super, _ := pgRole(t, "SUPERUSER")

	f := pgSetup(t, false, nil)
	ctx := context.Background()
	// Production's login may connect to the source only.
	pgExec(t, f.src, "REVOKE CONNECT ON DATABASE "+pgIdent(f.src)+" FROM PUBLIC",
		"GRANT CONNECT ON DATABASE "+pgIdent(f.src)+" TO "+pgIdent(prod))
	db := f.restore(t, "r1", "x")
	pgExec(t, db.Name, "CREATE SCHEMA app", "CREATE TABLE app.t (id serial PRIMARY KEY, v text)")
	users := []refresh.StagingUser{
		{Name: reader, Password: readerPW, Privileges: "read"},
		{Name: writer, Password: writerPW, Privileges: "write"},
	}

	// Detected production logins: prod (CONNECT on the source) and every
	// superuser; never restage's own login.
	detected, err := f.s.detectProductionLogins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(detected, prod) || !slices.Contains(detected, super) || slices.Contains(detected, f.s.stgConn.User) {
		t.Errorf("detected %v: want %s and %s, not %s", detected, prod, super, f.s.stgConn.User)
	}
	// Superusers can't be shut out: refused.
	err = f.p.Users(ctx, db, users)
	if !errors.Is(err, refresh.ErrSharedLogin) || !strings.Contains(err.Error(), super) {
		t.Fatalf("Users with detected superusers: %v, want ErrSharedLogin naming %s", err, super)
	}
	for _, pw := range []string{readerPW, writerPW} {
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("error holds a password")
		}
	}

	// Explicitly named: the non-superuser production login is shut out.
	f.cfg.ProductionLogins = []string{prod}
	p := f.provider(t)
	if err := p.Users(ctx, db, users); err != nil {
		t.Fatalf("Users: %v", err)
	}
	if err := pgCanConnect(t, db.Name, reader, readerPW); err != nil {
		t.Errorf("reader can't read: %v", err)
	}
	rc := pgTestConn(t, db.Name, reader, readerPW)
	if _, err := rc.Exec(ctx, "INSERT INTO app.t (v) VALUES ('r')"); err == nil || !strings.Contains(err.Error(), "permission denied for table") {
		t.Errorf("reader inserting: %v, want permission denied", err)
	}
	wc := pgTestConn(t, db.Name, writer, writerPW)
	if _, err := wc.Exec(ctx, "INSERT INTO app.t (v) VALUES ('w')"); err != nil {
		t.Errorf("writer can't insert: %v", err)
	}
	if err := pgCanConnect(t, db.Name, prod, prodPW); err == nil || !strings.Contains(err.Error(), "permission denied for database") {
		t.Errorf("production login connecting to the new DB: %v, want permission denied", err)
	}
	if err := pgCanConnect(t, f.src, prod, prodPW); err != nil && !strings.Contains(err.Error(), "marker") {
		t.Errorf("production login can't reach its source any more: %v", err)
	}
	// Running again leaves existing roles alone and still works.
	if err := p.Users(ctx, db, users); err != nil {
		t.Fatalf("Users again: %v", err)
	}

	// A superuser named as production: refused unless accepted.
	f.cfg.ProductionLogins = []string{prod, super}
	if err := f.provider(t).Users(ctx, db, users); !errors.Is(err, refresh.ErrSharedLogin) {
		t.Errorf("Users with a superuser production login: %v, want ErrSharedLogin", err)
	}
	// A production login that is a member of a staging role inherits CONNECT.
	member, _ := pgRole(t, "IN ROLE "+pgIdent(reader))
	f.cfg.ProductionLogins = []string{member}
	if err := f.provider(t).Users(ctx, db, users); !errors.Is(err, refresh.ErrSharedLogin) || !strings.Contains(err.Error(), member) {
		t.Errorf("Users with a production login inside a staging role: %v, want ErrSharedLogin", err)
	}
	f.cfg.ProductionLogins = []string{prod, super}
	f.cfg.AcceptSharedLogins = true
	if err := f.provider(t).Users(ctx, db, users); err != nil {
		t.Errorf("Users with shared logins accepted: %v", err)
	}
}

func TestPGDetectWithPublicConnect(t *testing.T) {
	t.Parallel()
	owner, _ := pgRole(t, "")
	granted, _ := pgRole(t, "")
	bystander, _ := pgRole(t, "")
	group := "restage_g_" + pgRandom(t)
	pgExec(t, "postgres", "CREATE ROLE "+pgIdent(group)+" NOLOGIN")
	pgDropRoleLater(t, group)
	member, _ := pgRole(t, "IN ROLE "+pgIdent(group))
	f := pgSetup(t, false, nil)
	pgExec(t, f.src,
		"CREATE TABLE owned (id int)", "ALTER TABLE owned OWNER TO "+pgIdent(owner),
		"CREATE TABLE shared (id int)", "GRANT SELECT ON shared TO "+pgIdent(granted),
		"GRANT SELECT ON shared TO "+pgIdent(group))
	got, err := f.s.detectProductionLogins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{owner, granted, member} {
		if !slices.Contains(got, want) {
			t.Errorf("detected %v: missing %s", got, want)
		}
	}
	if slices.Contains(got, bystander) {
		t.Errorf("detected %v: includes %s, which has nothing in the source", got, bystander)
	}
}

// ---- preserve ----

func TestPGPreserve(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, true, nil)
	ctx := context.Background()
	schema := []string{
		"CREATE TABLE account (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text UNIQUE, role text, upper_email text GENERATED ALWAYS AS (upper(email)) STORED)",
		"CREATE TABLE session (id int PRIMARY KEY, account_id int NOT NULL REFERENCES account (id))",
		"CREATE TABLE flag (name text PRIMARY KEY)",
	}
	pgExec(t, f.staging, append(schema,
		"INSERT INTO account (email, role) VALUES ('qa1@corp', 'qa'), ('qa2@corp', 'qa'), ('someone@x', 'user')",
		"INSERT INTO flag VALUES ('beta')")...)
	// No staging DB behind the name would copy nothing; here the new DB
	// comes from the source with masked rows.
	pgExec(t, f.src, append(schema,
		"INSERT INTO account (email, role) VALUES ('m1@example.invalid', 'user'), ('m2@example.invalid', 'user'), ('m3@example.invalid', 'user'), ('m4@example.invalid', 'user')",
		"INSERT INTO session VALUES (1, 1), (2, 2)")...)
	db := f.restore(t, "r1", "x")

	rows, err := f.p.Preserve(ctx, db, []refresh.PreserveSpec{
		{Table: "account", Where: preserve.MustParse("role = 'qa'")},
		{Table: "public.flag"},
		{Table: "missing_in_staging"},
	})
	if err != nil {
		t.Fatalf("Preserve: %v", err)
	}
	if rows != 3 {
		t.Errorf("Preserve copied %d rows, want 3", rows)
	}
	got := pgString(t, db.Name, "SELECT string_agg(id || ':' || email || ':' || upper_email, ',' ORDER BY id) FROM account")
	if want := "1:qa1@corp:QA1@CORP,2:qa2@corp:QA2@CORP,3:m3@example.invalid:M3@EXAMPLE.INVALID,4:m4@example.invalid:M4@EXAMPLE.INVALID"; got != want {
		t.Errorf("accounts = %s\nwant       %s", got, want)
	}
	if got := pgString(t, db.Name, "SELECT string_agg(name, ',') FROM flag"); got != "beta" {
		t.Errorf("flags = %s", got)
	}
	if got := pgString(t, db.Name, "SELECT count(*)::text FROM session"); got != "2" {
		t.Errorf("sessions referencing preserved accounts: %s, want 2 kept", got)
	}
	// A table missing in the new DB (but in staging) is an error.
	pgExec(t, f.staging, "CREATE TABLE nowhere (id int)")
	if _, err = f.p.Preserve(ctx, db, []refresh.PreserveSpec{{Table: "nowhere"}}); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("Preserve of a table the new DB lacks: %v", err)
	}
}

func TestPGPreserveNoStaging(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	db := f.restore(t, "r1", "x")
	rows, err := f.p.Preserve(context.Background(), db, []refresh.PreserveSpec{{Table: "marker"}})
	if err != nil || rows != 0 {
		t.Errorf("Preserve without a staging DB = %d, %v; want 0, nil", rows, err)
	}
}

func TestPGPreserveErrorsHoldNoValues(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, true, nil)
	pgExec(t, f.staging, "CREATE TABLE t (id int PRIMARY KEY, secret text)", "INSERT INTO t VALUES (1, 'topsecret-value')")
	pgExec(t, f.src, "CREATE TABLE t (id int PRIMARY KEY, secret int)")
	db := f.restore(t, "r1", "x")
	_, err := f.p.Preserve(context.Background(), db, []refresh.PreserveSpec{{Table: "t"}})
	if err == nil {
		t.Fatal("Preserve of text into an int column: no error")
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error holds a row value: %v", err)
	}
}

// ---- units ----

func TestPGLockKeyStable(t *testing.T) {
	// FNV-1a 64 of "restage:orders". Changing the function would let an old
	// and a new binary run the same target at once.
	if got := uint64(pgLockKey("orders")); got != 0xd962849d17a07105 {
		t.Errorf("pgLockKey(orders) = %#x, want 0xd962849d17a07105", got)
	}
}

func TestPGRestoreFailureReportsPsql(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	// A source whose data breaks its own foreign key (written in replica
	// mode): psql fails when the dump adds the constraint after the data.
	pgExec(t, f.src,
		"CREATE TABLE parent (id int PRIMARY KEY)",
		"CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id))",
		"SET session_replication_role = replica; INSERT INTO child VALUES (1, 424242)")
	db, err := f.p.Restore(context.Background(), "r1")
	if err == nil {
		t.Fatal("Restore of an inconsistent source: no error")
	}
	t.Logf("error: %v", err)
	if !strings.Contains(err.Error(), "psql") || !strings.Contains(err.Error(), "violates foreign key constraint") || strings.Contains(err.Error(), "424242") {
		t.Errorf("error = %v; want psql's message without the row value", err)
	}
	if db == nil || f.state(t, db.Name) != "creating" {
		t.Fatalf("Restore returned %v; want the recorded DB for Discard", db)
	}
	if err := f.p.Discard(context.Background(), db); err != nil || pgExists(t, db.Name) {
		t.Errorf("Discard after a failed restore: %v", err)
	}
}

// newProvider is the local provider over this engine's server.
func newProvider(cfg local.Config) (*local.Provider, error) { return localtest.NewProvider(cfg, New) }

// TestPGSwitchRefusesAnotherRunsDB: the provider swaps in only the DB the
// control records give to this run, ready.
func TestPGSwitchRefusesAnotherRunsDB(t *testing.T) {
	t.Parallel()
	f := pgSetup(t, false, nil)
	localtest.SwitchRefusesAnotherRunsDB(t, f.p, f.restore(t, "r1", "x"), f.staging, f.world(t))
}
