package testdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// StartPostgres starts a private PostgreSQL cluster for the test: initdb in
// a fresh temporary directory (the superuser AdminUser with a SCRAM
// password; every connection needs a password), then the postgres server on
// a free 127.0.0.1 port, its unix socket inside the data directory. As root
// it runs as the postgres OS user. It returns once the admin can log in and
// SELECT 1, at most a minute per attempt; the server log's tail is in any
// failure. At cleanup the server is stopped the way pg_ctl stop -m
// immediate does (SIGQUIT) and the directory removed. Without the
// PostgreSQL server binaries the test skips (fails under CI=true).
func StartPostgres(t testing.TB) *Instance {
	t.Helper()
	return startPostgres(t, "")
}

// StartPostgresIn is StartPostgres in dir (created if missing, must be
// empty; removed at cleanup). Keep it short: the socket lives below it.
func StartPostgresIn(t testing.TB, dir string) *Instance {
	t.Helper()
	return startPostgres(t, dir)
}

// postgresBinDir finds the newest directory holding initdb and postgres:
// /usr/lib/postgresql/<v>/bin (Debian), /usr/pgsql-<v>/bin (RPM), then the
// PATH.
func postgresBinDir() (string, error) {
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	version := func(dir string) int {
		base := filepath.Base(filepath.Dir(dir))
		base = strings.TrimPrefix(base, "pgsql-")
		major, _, _ := strings.Cut(base, ".")
		n, _ := strconv.Atoi(major)
		return n
	}
	sort.SliceStable(dirs, func(a, b int) bool { return version(dirs[a]) > version(dirs[b]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin or the PATH")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// postgresTool is a client tool from the server's bin directory, else the
// PATH.
func (i *Instance) postgresTool(t testing.TB, name string) string {
	t.Helper()
	if p := filepath.Join(i.bin, name); isExecutable(p) {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "postgres", fmt.Errorf("%s not installed: %w", name, err))
	}
	return p
}

func startPostgres(t testing.TB, dir string) *Instance {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		Unavailable(t, "postgres", err)
	}
	u := serverUser(t, "postgres", "postgres")
	root := makeRoot(t, "restage-pg-", dir, u)
	i := &Instance{
		Engine:        EnginePostgres,
		Host:          "127.0.0.1",
		AdminUser:     instanceAdminUser,
		AdminPassword: randomPassword(t),
		DataDir:       filepath.Join(root, "data"),
		root:          root,
		log:           filepath.Join(root, "server.log"),
		bin:           bin,
	}
	i.socket = i.DataDir
	t.Cleanup(func() {
		if i.proc != nil {
			if err := i.proc.stop(syscall.SIGQUIT); err != nil { // pg_ctl stop -m immediate
				t.Errorf("stop postgres instance: %v", err)
			}
		}
		if err := os.RemoveAll(root); err != nil {
			t.Errorf("remove postgres instance: %v", err)
		}
	})
	if n := len(i.socket) + len("/.s.PGSQL.65535.lock"); n > maxSocketPath {
		t.Fatalf("postgres instance directory %s is too long for a unix socket path (%d > %d bytes)", root, n, maxSocketPath)
	}

	// initdb: the admin is the bootstrap superuser; its password comes from
	// a file that exists only while initdb runs.
	pwfile := filepath.Join(root, "pwfile")
	if err := writeOwned(pwfile, []byte(i.AdminPassword+"\n"), u); err != nil {
		t.Fatal(err)
	}
	initdb := u.command(filepath.Join(bin, "initdb"), root, 0,
		"-D", i.DataDir, "-U", i.AdminUser, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
	out, err := initdb.CombinedOutput()
	_ = os.Remove(pwfile)
	if err != nil {
		t.Fatalf("initdb %s: %v\n%s", i.DataDir, err, i.redact(tail(string(out), 2000)))
	}

	// Small and fast: tests may run several clusters; durability is moot.
	conf := fmt.Sprintf(`
# restage testdb instance
listen_addresses = '127.0.0.1'
unix_socket_directories = '%s'
max_connections = 50
shared_buffers = 16MB
huge_pages = off
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = minimal
max_wal_senders = 0
logging_collector = off
timezone = 'UTC'
`, strings.ReplaceAll(i.socket, "'", "''"))
	f, err := os.OpenFile(filepath.Join(i.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err != nil {
		t.Fatal(err)
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		i.Port = port
		err = i.startPostgresOnce(u)
		if err == nil {
			return i
		}
		if errors.Is(err, errPortInUse) && attempt < instancePortAttempts {
			continue
		}
		t.Fatalf("start postgres instance in %s on port %d: %v\n--- server log (tail) ---\n%s", i.DataDir, port, i.redact(err.Error()), i.logTail(3000))
	}
}

// startPostgresOnce starts the server on i.Port and waits for an admin
// login. The server runs in the foreground as our child, so the kernel
// stops it (SIGQUIT) if the test binary dies without cleaning up.
func (i *Instance) startPostgresOnce(u osUser) error {
	offset := fileSize(i.log)
	logf, err := os.OpenFile(i.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := u.command(filepath.Join(i.bin, "postgres"), i.DataDir, syscall.SIGQUIT,
		"-D", i.DataDir, "-p", strconv.Itoa(i.Port))
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProc(cmd)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(instanceStartTimeout)
	err = waitReady(p, i.log, offset, deadline, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, i.DSN("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		var one int
		return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
	if err != nil {
		_ = p.stop(syscall.SIGQUIT)
		return err
	}
	i.proc = p
	return nil
}

func postgresURL(host string, port int, user, password, database string) string {
	if database == "" {
		database = "postgres"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(host, strconv.Itoa(port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	if password == "" {
		u.User = url.User(user)
	}
	return u.String()
}

// postgresAdmin connects to database as the admin; the caller closes it.
func (i *Instance) postgresAdmin(t testing.TB, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, i.DSN(database))
	if err != nil {
		t.Fatalf("connect to postgres instance (port %d) database %q: %s", i.Port, database, i.redact(err.Error()))
	}
	return conn
}

func (i *Instance) loadPostgres(t testing.TB, sourceDSN, name string) {
	t.Helper()
	admin := i.postgresAdmin(t, "postgres")
	defer admin.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s in postgres instance: %v", name, err)
	}
	source, sourcePassword := splitPassword(sourceDSN)
	dump := exec.CommandContext(ctx, i.postgresTool(t, "pg_dump"),
		"--no-owner", "--no-privileges", "--no-publications", "--no-subscriptions", "-d", source)
	if sourcePassword != "" {
		dump.Env = clientEnv("PGPASSWORD=" + sourcePassword)
	}
	restore := exec.CommandContext(ctx, i.postgresTool(t, "psql"),
		"-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", postgresURL(i.Host, i.Port, i.AdminUser, "", name))
	restore.Env = clientEnv("PGPASSWORD="+i.AdminPassword, "PGOPTIONS=--client-min-messages=warning")
	if err := runPipe(dump, nil, restore); err != nil {
		t.Fatalf("load %s into postgres instance as %s: %s", source, name, i.redact(err.Error(), sourcePassword))
	}
}

func (i *Instance) addLoginPostgres(t testing.TB, user, password, database string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	role := pgx.Identifier{user}.Sanitize()
	admin := i.postgresAdmin(t, "postgres")
	defer admin.Close(context.Background())
	stmts := []string{"CREATE ROLE " + role + " LOGIN PASSWORD " + pgLiteral(password)}
	if database != "" {
		stmts = append(stmts, "GRANT CONNECT ON DATABASE "+pgx.Identifier{database}.Sanitize()+" TO "+role)
	}
	for _, s := range stmts {
		if _, err := admin.Exec(ctx, s); err != nil {
			t.Fatalf("add login %s to postgres instance: %s", user, i.redact(err.Error(), password))
		}
	}
	if database == "" {
		return
	}
	db := i.postgresAdmin(t, database)
	defer db.Close(context.Background())
	rows, err := db.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%' ORDER BY 1`)
	if err != nil {
		t.Fatalf("list schemas of %s: %v", database, err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list schemas of %s: %v", database, err)
	}
	for _, s := range schemas {
		schema := pgx.Identifier{s}.Sanitize()
		for _, stmt := range []string{
			"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
			"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
		} {
			if _, err := db.Exec(ctx, stmt); err != nil {
				t.Fatalf("add login %s: %s: %v", user, stmt, err)
			}
		}
	}
}

// pgLiteral quotes s as a string literal (standard_conforming_strings on).
func pgLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
