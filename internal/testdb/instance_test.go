package testdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// treeMemory sums RSS and PSS (kB) over pid and its descendants, from
// /proc (Linux). PSS shares shared memory out fairly; RSS counts it in
// every process.
func treeMemory(pid int) (rss, pss int) {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		if j := bytes.LastIndexByte(stat, ')'); j >= 0 {
			if f := strings.Fields(string(stat[j+1:])); len(f) > 1 {
				if pp, err := strconv.Atoi(f[1]); err == nil {
					children[pp] = append(children[pp], p)
				}
			}
		}
	}
	field := func(p int, file, key string) int {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), file))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, key+":"); ok {
				n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
				return n
			}
		}
		return 0
	}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		rss += field(p, "status", "VmRSS")
		pss += field(p, "smaps_rollup", "Pss")
		queue = append(queue, children[p]...)
	}
	return rss, pss
}

// checkGone checks what cleanup promises: the data directory is removed
// and nothing listens on the port any more.
func checkGone(t *testing.T, inst *Instance) {
	t.Helper()
	if _, err := os.Stat(inst.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir %s still there after cleanup (stat: %v)", inst.DataDir, err)
	}
	if _, err := os.Stat(inst.root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance dir %s still there after cleanup (stat: %v)", inst.root, err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(inst.Host, strconv.Itoa(inst.Port)), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still accepts connections after cleanup", inst.Port)
	}
}

func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgExec(t *testing.T, c *pgx.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestInstancePostgres(t *testing.T) {
	t.Parallel()
	var inst *Instance
	t.Run("run", func(t *testing.T) {
		start := time.Now()
		inst = StartPostgres(t)
		rss, pss := treeMemory(inst.Pid())
		t.Logf("postgres instance on port %d started in %v; server processes RSS %d MB, PSS %d MB",
			inst.Port, time.Since(start).Round(time.Millisecond), rss/1024, pss/1024)
		if inst.Engine != EnginePostgres || inst.Host != "127.0.0.1" || inst.Port == 0 || inst.AdminPassword == "" {
			t.Fatalf("instance %+v", *inst)
		}
		if fi, err := os.Stat(filepath.Join(inst.DataDir, "PG_VERSION")); err != nil || fi.IsDir() {
			t.Fatalf("no cluster in %s: %v", inst.DataDir, err)
		}

		admin := pgConnect(t, inst.DSN(""))
		var one int
		if err := admin.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
		var super bool
		if err := admin.QueryRow(context.Background(), "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
			t.Errorf("admin is superuser: %v, %v", super, err)
		}
		pgExec(t, admin, "CREATE DATABASE scratch")
		pgConnect(t, inst.DSN("scratch"))

		// Every login needs the password, over TCP.
		if c, err := pgx.Connect(context.Background(), inst.UserDSN(inst.AdminUser, "wrong", "")); err == nil {
			c.Close(context.Background())
			t.Error("admin logged in with a wrong password")
		}

		// A small database on the shared server, copied in as a snapshot.
		srcDSN, _ := Postgres(t)
		src := pgConnect(t, srcDSN)
		pgExec(t, src,
			"CREATE TABLE customer (id int PRIMARY KEY, email text NOT NULL)",
			"INSERT INTO customer VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c''o@example.com')",
			"CREATE VIEW customer_emails AS SELECT email FROM customer",
		)
		loadStart := time.Now()
		inst.Load(t, srcDSN, "snap")
		t.Logf("Load took %v", time.Since(loadStart).Round(time.Millisecond))
		snap := pgConnect(t, inst.DSN("snap"))
		var n int
		var last string
		if err := snap.QueryRow(context.Background(), "SELECT count(*), max(email) FROM customer_emails").Scan(&n, &last); err != nil {
			t.Fatal(err)
		}
		if n != 3 || last != "c'o@example.com" {
			t.Errorf("loaded customer: %d rows, max %q", n, last)
		}

		// An inherited login reads the snapshot and can do no more.
		const user, password = "app_user", `pa'ss\word`
		inst.AddLogin(t, user, password, "snap")
		app := pgConnect(t, inst.UserDSN(user, password, "snap"))
		var who string
		if err := app.QueryRow(context.Background(), "SELECT current_user || ':' || count(*) FROM customer").Scan(&who); err != nil {
			t.Fatal(err)
		}
		if who != "app_user:3" {
			t.Errorf("as the login: %q", who)
		}
		if _, err := app.Exec(context.Background(), "DELETE FROM customer"); err == nil {
			t.Error("the login could delete")
		}
		if c, err := pgx.Connect(context.Background(), inst.UserDSN(user, "wrong", "snap")); err == nil {
			c.Close(context.Background())
			t.Error("the login logged in with a wrong password")
		}
	})
	if inst == nil {
		return
	}
	checkGone(t, inst)
}

func TestInstancePostgresTwoAtOnce(t *testing.T) {
	t.Parallel()
	var a, b *Instance
	t.Run("run", func(t *testing.T) {
		start := time.Now()
		a = StartPostgres(t)
		b = StartPostgres(t)
		t.Logf("two postgres instances started in %v", time.Since(start).Round(time.Millisecond))
		if a.Port == b.Port || a.DataDir == b.DataDir || a.AdminPassword == b.AdminPassword {
			t.Fatalf("instances collide: %d %s, %d %s", a.Port, a.DataDir, b.Port, b.DataDir)
		}
		pgExec(t, pgConnect(t, a.DSN("")), "CREATE DATABASE only_in_a")
		var n int
		if err := pgConnect(t, b.DSN("")).QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = 'only_in_a'").Scan(&n); err != nil || n != 0 {
			t.Errorf("b sees a's database: %d, %v", n, err)
		}
		// One instance's password does not open the other.
		if c, err := pgx.Connect(context.Background(), b.UserDSN(b.AdminUser, a.AdminPassword, "")); err == nil {
			c.Close(context.Background())
			t.Error("a's password logs in to b")
		}
	})
	for _, inst := range []*Instance{a, b} {
		if inst != nil {
			checkGone(t, inst)
		}
	}
}

func myOpen(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

func myExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestInstanceMariaDB(t *testing.T) {
	t.Parallel()
	var inst *Instance
	t.Run("run", func(t *testing.T) {
		start := time.Now()
		inst = StartMariaDB(t)
		rss, pss := treeMemory(inst.Pid())
		t.Logf("mariadb instance on port %d started in %v; server RSS %d MB, PSS %d MB",
			inst.Port, time.Since(start).Round(time.Millisecond), rss/1024, pss/1024)
		if inst.Engine != EngineMySQL || inst.Host != "127.0.0.1" || inst.Port == 0 || inst.AdminPassword == "" {
			t.Fatalf("instance %+v", *inst)
		}
		if fi, err := os.Stat(filepath.Join(inst.DataDir, "mysql")); err != nil || !fi.IsDir() {
			t.Fatalf("no system database in %s: %v", inst.DataDir, err)
		}

		admin := myOpen(t, inst.DSN(""))
		var one int
		if err := admin.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 = %d, %v", one, err)
		}
		var grants string
		if err := admin.QueryRow("SHOW GRANTS").Scan(&grants); err != nil || !strings.Contains(grants, "ALL PRIVILEGES ON *.*") || !strings.Contains(grants, "WITH GRANT OPTION") {
			t.Errorf("admin grants %q, %v", grants, err)
		}
		// Only the admin (and the locked mariadb.sys) remain; grants are on.
		var users string
		if err := admin.QueryRow("SELECT GROUP_CONCAT(CONCAT(User, '@', Host) ORDER BY User) FROM mysql.user").Scan(&users); err != nil {
			t.Fatal(err)
		}
		if users != "mariadb.sys@localhost,"+inst.AdminUser+"@%" {
			t.Errorf("accounts: %s", users)
		}
		myExec(t, admin, "CREATE DATABASE scratch")
		myOpen(t, inst.DSN("scratch"))
		if db, err := sql.Open("mysql", inst.UserDSN(inst.AdminUser, "wrong", "")); err == nil {
			if db.Ping() == nil {
				t.Error("admin logged in with a wrong password")
			}
			db.Close()
		}

		// A small database on the shared server (with a view and a trigger
		// defined by the shared server's user), copied in as a snapshot.
		srcDSN, _ := MySQL(t)
		src := myOpen(t, srcDSN)
		myExec(t, src,
			"CREATE TABLE customer (id int PRIMARY KEY, email varchar(100) NOT NULL, touched int NOT NULL DEFAULT 0)",
			"INSERT INTO customer (id, email) VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c''o@example.com')",
			"CREATE VIEW customer_emails AS SELECT email FROM customer",
			"CREATE TRIGGER customer_touch BEFORE UPDATE ON customer FOR EACH ROW SET NEW.touched = OLD.touched + 1",
		)
		loadStart := time.Now()
		inst.Load(t, srcDSN, "snap")
		t.Logf("Load took %v", time.Since(loadStart).Round(time.Millisecond))
		snap := myOpen(t, inst.DSN("snap"))
		var n int
		var last string
		if err := snap.QueryRow("SELECT COUNT(*), MAX(email) FROM customer_emails").Scan(&n, &last); err != nil {
			t.Fatal(err)
		}
		if n != 3 || last != "c'o@example.com" {
			t.Errorf("loaded customer: %d rows, max %q", n, last)
		}
		myExec(t, snap, "UPDATE customer SET email = email WHERE id = 1")
		if err := snap.QueryRow("SELECT touched FROM customer WHERE id = 1").Scan(&n); err != nil || n != 1 {
			t.Errorf("trigger after load: touched = %d, %v", n, err)
		}

		// An inherited login uses the snapshot and nothing else.
		const user, password = "app_user", `pa'ss\word`
		inst.AddLogin(t, user, password, "snap")
		app := myOpen(t, inst.UserDSN(user, password, "snap"))
		var who string
		if err := app.QueryRow("SELECT CONCAT(SUBSTRING_INDEX(CURRENT_USER(), '@', 1), ':', COUNT(*)) FROM customer").Scan(&who); err != nil {
			t.Fatal(err)
		}
		if who != "app_user:3" {
			t.Errorf("as the login: %q", who)
		}
		if _, err := app.Exec("CREATE DATABASE nope"); err == nil {
			t.Error("the login could create a database")
		}
		if db, err := sql.Open("mysql", inst.UserDSN(user, "wrong", "snap")); err == nil {
			if db.Ping() == nil {
				t.Error("the login logged in with a wrong password")
			}
			db.Close()
		}
	})
	if inst == nil {
		return
	}
	checkGone(t, inst)
}

func TestInstanceMariaDBTwoAtOnce(t *testing.T) {
	t.Parallel()
	var a, b *Instance
	t.Run("run", func(t *testing.T) {
		start := time.Now()
		a = StartMariaDB(t)
		b = StartMariaDB(t)
		t.Logf("two mariadb instances started in %v", time.Since(start).Round(time.Millisecond))
		if a.Port == b.Port || a.DataDir == b.DataDir || a.AdminPassword == b.AdminPassword {
			t.Fatalf("instances collide: %d %s, %d %s", a.Port, a.DataDir, b.Port, b.DataDir)
		}
		myExec(t, myOpen(t, a.DSN("")), "CREATE DATABASE only_in_a")
		var n int
		if err := myOpen(t, b.DSN("")).QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'only_in_a'").Scan(&n); err != nil || n != 0 {
			t.Errorf("b sees a's database: %d, %v", n, err)
		}
	})
	for _, inst := range []*Instance{a, b} {
		if inst != nil {
			checkGone(t, inst)
		}
	}
}

// TestInstanceLoadSakila copies the full Sakila sample from the shared
// servers into private instances, as the AWS end-to-end tests do.
func TestInstanceLoadSakila(t *testing.T) {
	if testing.Short() {
		t.Skip("loads Sakila twice; skipped with -short")
	}
	t.Parallel()
	want := map[string]int{"actor": 200, "film": 1000, "rental": 16044, "payment": 16049}
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		srcDSN, _ := MySQL(t)
		LoadSakilaMySQL(t, srcDSN)
		inst := StartMariaDB(t)
		start := time.Now()
		inst.Load(t, srcDSN, "sakila_snapshot")
		rss, pss := treeMemory(inst.Pid())
		t.Logf("Load of Sakila took %v; server RSS %d MB, PSS %d MB", time.Since(start).Round(time.Millisecond), rss/1024, pss/1024)
		db := myOpen(t, inst.DSN("sakila_snapshot"))
		for table, n := range want {
			var got int
			if err := db.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&got); err != nil || got != n {
				t.Errorf("%s: %d rows, want %d (%v)", table, got, n, err)
			}
		}
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM actor_info").Scan(&n); err != nil || n != 200 {
			t.Errorf("actor_info view: %d rows, %v", n, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		srcDSN, _ := Postgres(t)
		LoadSakilaPostgres(t, srcDSN)
		inst := StartPostgres(t)
		start := time.Now()
		inst.Load(t, srcDSN, "sakila_snapshot")
		rss, pss := treeMemory(inst.Pid())
		t.Logf("Load of Sakila took %v; server processes RSS %d MB, PSS %d MB", time.Since(start).Round(time.Millisecond), rss/1024, pss/1024)
		c := pgConnect(t, inst.DSN("sakila_snapshot"))
		for table, n := range want {
			var got int
			if err := c.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&got); err != nil || got != n {
				t.Errorf("%s: %d rows, want %d (%v)", table, got, n, err)
			}
		}
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM actor_info").Scan(&n); err != nil || n != 200 {
			t.Errorf("actor_info view: %d rows, %v", n, err)
		}
	})
}

func TestStripDefiners(t *testing.T) {
	in := "/*!50013 DEFINER=`restage`@`%` SQL SECURITY DEFINER */\n" +
		"CREATE DEFINER=`a``b`@`localhost` PROCEDURE p()\n" +
		"INSERT INTO t VALUES ('DEFINER=`x`@`y`');\n" +
		"/*!50017 DEFINER=`role1`*/ /*!50003 TRIGGER x */"
	var out bytes.Buffer
	if err := stripDefiners(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := "/*!50013  SQL SECURITY DEFINER */\n" +
		"CREATE  PROCEDURE p()\n" +
		"INSERT INTO t VALUES ('DEFINER=`x`@`y`');\n" +
		"/*!50017 */ /*!50003 TRIGGER x */"
	if out.String() != want {
		t.Errorf("stripDefiners =\n%s\nwant\n%s", out.String(), want)
	}
	// A line longer than the buffer passes through whole.
	long := "INSERT INTO t VALUES ('" + strings.Repeat("x", 3<<20) + "');\nDEFINER=`u`@`h`\n"
	out.Reset()
	if err := stripDefiners(strings.NewReader(long), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != long[:len(long)-len("DEFINER=`u`@`h`\n")]+"\n" {
		t.Errorf("long line: got %d bytes, want %d", out.Len(), len(long)-len("DEFINER=`u`@`h`"))
	}
}

// TestInstancePortClash restarts a stopped instance on a port someone else
// holds: the attempt reports errPortInUse (so Start* retries), and the next
// one on a free port works.
func TestInstancePortClash(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{EnginePostgres, EngineMySQL} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			var inst *Instance
			var restart func() error
			var stop os.Signal
			if engine == EnginePostgres {
				inst = StartPostgres(t)
				u := serverUser(t, "postgres", "postgres")
				restart = func() error { return inst.startPostgresOnce(u) }
				stop = syscall.SIGQUIT
			} else {
				inst = StartMariaDB(t)
				u := serverUser(t, "mariadb", "mysql")
				server := inst.proc.cmd.Path
				restart = func() error { return inst.startMariaDBOnce(u, server, filepath.Join(inst.root, "tmp")) }
				stop = syscall.SIGKILL
			}
			if err := inst.proc.stop(stop); err != nil {
				t.Fatal(err)
			}
			inst.proc = nil
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			inst.Port = l.Addr().(*net.TCPAddr).Port
			start := time.Now()
			if err := restart(); !errors.Is(err, errPortInUse) {
				t.Fatalf("start on a taken port: %v, want errPortInUse\n%s", err, inst.logTail(1000))
			}
			t.Logf("the clash showed after %v", time.Since(start).Round(time.Millisecond))
			if inst.Port, err = freePort(); err != nil {
				t.Fatal(err)
			}
			if err := restart(); err != nil {
				t.Fatalf("restart on a free port: %v\n%s", err, inst.logTail(1000))
			}
			if engine == EnginePostgres {
				pgConnect(t, inst.DSN(""))
			} else {
				myOpen(t, inst.DSN(""))
			}
		})
	}
}
