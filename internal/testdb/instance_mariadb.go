package testdb

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// StartMariaDB starts a private MariaDB server for the test:
// mariadb-install-db into a fresh temporary data directory, then mariadbd
// --no-defaults on a free 127.0.0.1 port with its socket in the data
// directory and grants enforced. As root it runs as the mysql OS user. The
// admin (AdminUser@'%', ALL PRIVILEGES ON *.* WITH GRANT OPTION) is the only
// account besides mariadb.sys: the install's passwordless root accounts are
// dropped. Memory is kept small (32M buffer pool, no performance schema, no
// binary log) so a test can run several. It returns once the admin can log
// in over TCP, at most a minute per attempt, with the server log's tail in
// any failure. At cleanup the server is killed and the directory removed.
// Without the MariaDB server binaries the test skips (fails under CI=true).
func StartMariaDB(t testing.TB) *Instance {
	t.Helper()
	return startMariaDB(t, "")
}

// StartMariaDBIn is StartMariaDB in dir (created if missing, must be
// empty; removed at cleanup). Keep it short: the socket lives below it.
func StartMariaDBIn(t testing.TB, dir string) *Instance {
	t.Helper()
	return startMariaDB(t, dir)
}

// mariadbSmall are server options for both the install and the server.
var mariadbSmall = []string{
	"--innodb-buffer-pool-size=32M",
	"--innodb-log-file-size=16M",
	"--innodb-log-buffer-size=4M",
	"--innodb-use-native-aio=0", // several servers would exhaust fs.aio-max-nr
	"--performance-schema=OFF",
	"--skip-log-bin",
	"--character-set-server=utf8mb4",
	"--collation-server=utf8mb4_general_ci",
}

// mariadbServerOnly are options for mariadbd only.
var mariadbServerOnly = []string{
	"--skip-name-resolve",
	"--key-buffer-size=1M",
	"--aria-pagecache-buffer-size=8M",
	"--max-connections=50",
	"--innodb-flush-log-at-trx-commit=2",
	"--innodb-doublewrite=0",
	"--innodb-read-io-threads=1",
	"--innodb-write-io-threads=1",
	"--table-open-cache=400",
	"--loose-feedback=OFF",
}

func findBinary(names ...string) (string, error) {
	for _, n := range names {
		if filepath.IsAbs(n) {
			if isExecutable(n) {
				return n, nil
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s is installed", strings.Join(names, ", "))
}

func startMariaDB(t testing.TB, dir string) *Instance {
	t.Helper()
	installDB, err := findBinary("mariadb-install-db", "/usr/bin/mariadb-install-db", "mysql_install_db")
	if err != nil {
		Unavailable(t, "mariadb", err)
	}
	server, err := findBinary("/usr/sbin/mariadbd", "mariadbd", "/usr/sbin/mysqld")
	if err != nil {
		Unavailable(t, "mariadb", err)
	}
	u := serverUser(t, "mariadb", "mysql")
	root := makeRoot(t, "restage-my-", dir, u)
	i := &Instance{
		Engine:        EngineMySQL,
		Host:          "127.0.0.1",
		AdminUser:     instanceAdminUser,
		AdminPassword: randomPassword(t),
		DataDir:       filepath.Join(root, "data"),
		root:          root,
		log:           filepath.Join(root, "server.log"),
	}
	i.socket = filepath.Join(i.DataDir, "sock")
	t.Cleanup(func() {
		if i.proc != nil {
			if err := i.proc.stop(syscall.SIGKILL); err != nil {
				t.Errorf("stop mariadb instance: %v", err)
			}
		}
		if err := os.RemoveAll(root); err != nil {
			t.Errorf("remove mariadb instance: %v", err)
		}
	})
	if n := len(i.socket) + len(".lock"); n > maxSocketPath {
		t.Fatalf("mariadb instance directory %s is too long for a unix socket path (%d > %d bytes)", root, n, maxSocketPath)
	}
	tmp := filepath.Join(root, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if u.switched {
		if err := os.Chown(tmp, int(u.uid), int(u.gid)); err != nil {
			t.Fatal(err)
		}
	}

	// The bootstrap server gets the private tmpdir too: mariadbd removes
	// every #sql* file in its tmpdir at startup (mysql_rm_tmp_tables), which
	// on the shared /tmp broke the main test server's temporary tables
	// ("Error on delete of '/tmp/#sql-temptable-…'").
	args := append([]string{"--no-defaults", "--datadir=" + i.DataDir, "--tmpdir=" + tmp,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, mariadbSmall...)
	install := u.command(installDB, root, 0, args...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db %s: %v\n%s", i.DataDir, err, tail(string(out), 3000))
	}

	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		i.Port = port
		err = i.startMariaDBOnce(u, server, tmp)
		if err == nil {
			break
		}
		if errors.Is(err, errPortInUse) && attempt < instancePortAttempts {
			continue
		}
		t.Fatalf("start mariadb instance in %s on port %d: %s\n--- server log (tail) ---\n%s", i.DataDir, port, i.redact(err.Error()), i.logTail(3000))
	}

	if err := i.provisionMariaDB(); err != nil {
		t.Fatalf("set up the admin of the mariadb instance on port %d: %s\n--- server log (tail) ---\n%s", i.Port, i.redact(err.Error()), i.logTail(3000))
	}
	return i
}

// startMariaDBOnce starts mariadbd on i.Port and waits until it answers a
// root login through the socket (provisionMariaDB then logs in for real). The server is our child, so the kernel kills it
// if the test binary dies without cleaning up (it runs as the mysql user
// from the start instead of switching with --user, which would cancel
// that).
func (i *Instance) startMariaDBOnce(u osUser, server, tmp string) error {
	offset := fileSize(i.log)
	logf, err := os.OpenFile(i.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"--no-defaults",
		"--datadir=" + i.DataDir,
		"--port=" + strconv.Itoa(i.Port),
		"--bind-address=127.0.0.1",
		"--socket=" + i.socket,
		"--pid-file=" + filepath.Join(i.DataDir, "mariadbd.pid"),
		"--tmpdir=" + tmp,
	}, mariadbSmall...)
	args = append(args, mariadbServerOnly...)
	cmd := u.command(server, i.DataDir, syscall.SIGKILL, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProc(cmd)
	if err != nil {
		return err
	}
	rootCfg := mysql.NewConfig()
	rootCfg.User, rootCfg.Net, rootCfg.Addr = "root", "unix", i.socket
	rootCfg.Timeout = 2 * time.Second
	err = waitReady(p, i.log, offset, time.Now().Add(instanceStartTimeout), func() error {
		err := mysqlSelect1(rootCfg)
		var denied *mysql.MySQLError
		if errors.As(err, &denied) && denied.Number == 1045 {
			return nil // it answers logins; root is gone after provisioning
		}
		return err
	})
	if err != nil {
		_ = p.stop(syscall.SIGKILL)
		return err
	}
	i.proc = p
	return nil
}

func mysqlSelect1(cfg *mysql.Config) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var one int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// provisionMariaDB creates the admin through the socket as the install's
// passwordless root, drops root (and any anonymous account), and checks
// that the admin can log in over TCP.
func (i *Instance) provisionMariaDB() error {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", i.socket
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := mysqlString(i.AdminUser) + "@'%'"
	for _, s := range []string{
		"CREATE USER " + admin + " IDENTIFIED BY " + mysqlString(i.AdminPassword),
		"GRANT ALL PRIVILEGES ON *.* TO " + admin + " WITH GRANT OPTION",
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	rows, err := db.QueryContext(ctx, "SELECT User, Host FROM mysql.user WHERE User IN ('root', '')")
	if err != nil {
		return err
	}
	var drop []string
	for rows.Next() {
		var user, host string
		if err := rows.Scan(&user, &host); err != nil {
			rows.Close()
			return err
		}
		drop = append(drop, mysqlString(user)+"@"+mysqlString(host))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	if len(drop) > 0 {
		if _, err := db.ExecContext(ctx, "DROP USER "+strings.Join(drop, ", ")); err != nil {
			return err
		}
	}
	adminCfg, err := mysql.ParseDSN(i.DSN(""))
	if err != nil {
		return err
	}
	adminCfg.Timeout = 5 * time.Second
	return mysqlSelect1(adminCfg)
}

func mysqlTCPDSN(host string, port int, user, password, database string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(host, strconv.Itoa(port))
	cfg.DBName = database
	return cfg.FormatDSN()
}

// mysqlString quotes s as a MySQL string literal (backslash escapes on).
func mysqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(s) + "'"
}

// mysqlIdent quotes s as a MySQL identifier.
func mysqlIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// mysqlAdmin opens the admin connection to the instance; the caller closes
// it.
func (i *Instance) mysqlAdmin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", i.DSN(""))
	if err != nil {
		t.Fatalf("open mariadb instance: %s", i.redact(err.Error()))
	}
	return db
}

// mysqlClientArgs are the connection arguments of the mariadb client tools
// for cfg (the password goes through MYSQL_PWD).
func mysqlClientArgs(cfg *mysql.Config) []string {
	args := []string{"--no-defaults"}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	if cfg.Net == "unix" {
		return append(args, "--socket="+cfg.Addr)
	}
	host, port := cfg.Addr, "3306"
	if h, p, err := net.SplitHostPort(cfg.Addr); err == nil {
		host, port = h, p
	}
	return append(args, "--protocol=TCP", "--host="+host, "--port="+port)
}

func (i *Instance) loadMySQL(t testing.TB, sourceDSN, name string) {
	t.Helper()
	src, err := mysql.ParseDSN(sourceDSN)
	if err != nil {
		t.Fatal("parse source dsn (withheld)")
	}
	if src.DBName == "" {
		t.Fatal("Load: the source dsn names no database")
	}
	dumpBin, err := findBinary("mariadb-dump", "mysqldump")
	if err != nil {
		Unavailable(t, "mariadb", err)
	}
	clientBin, err := findBinary("mariadb", "mysql")
	if err != nil {
		Unavailable(t, "mariadb", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// The copy gets the source database's character set and collation.
	charset, collation := "utf8mb4", ""
	if sdb, err := sql.Open("mysql", sourceDSN); err == nil {
		_ = sdb.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", src.DBName).Scan(&charset, &collation)
		sdb.Close()
	}
	create := "CREATE DATABASE " + mysqlIdent(name) + " CHARACTER SET " + charset
	if collation != "" {
		create += " COLLATE " + collation
	}
	admin := i.mysqlAdmin(t)
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, create); err != nil {
		t.Fatalf("create database %s in mariadb instance: %v", name, err)
	}

	dumpArgs := append(mysqlClientArgs(src), "--single-transaction", "--routines", "--triggers", "--events",
		"--hex-blob", "--default-character-set=utf8mb4", src.DBName)
	dump := exec.CommandContext(ctx, dumpBin, dumpArgs...)
	dump.Env = clientEnv("MYSQL_PWD=" + src.Passwd)
	restoreArgs := append(mysqlClientArgs(&mysql.Config{User: i.AdminUser, Net: "tcp", Addr: net.JoinHostPort(i.Host, strconv.Itoa(i.Port))}),
		"--batch", "--default-character-set=utf8mb4", name)
	restore := exec.CommandContext(ctx, clientBin, restoreArgs...)
	restore.Env = clientEnv("MYSQL_PWD=" + i.AdminPassword)
	if err := runPipe(dump, stripDefiners, restore); err != nil {
		t.Fatalf("load %s into mariadb instance as %s: %s", src.DBName, name, i.redact(err.Error(), src.Passwd))
	}
}

// definerClause matches DEFINER=`user`@`host` (or a role's DEFINER=`role`)
// as mariadb-dump writes it for views, triggers, routines and events.
var definerClause = regexp.MustCompile("DEFINER=`(?:[^`]|``)*`(?:@`(?:[^`]|``)*`)?")

// stripDefiners copies a dump, removing DEFINER clauses outside data
// lines, so views, triggers and routines are defined by the restoring admin
// instead of a source account the instance does not have.
func stripDefiners(r io.Reader, w io.Writer) error {
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line (INSERT data): pass it through untouched.
			if _, werr := bw.Write(line); werr != nil {
				return werr
			}
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				if _, werr := bw.Write(line); werr != nil {
					return werr
				}
			}
		} else {
			if !bytes.HasPrefix(line, []byte("INSERT INTO ")) && definerClause.Match(line) {
				line = definerClause.ReplaceAll(line, nil)
			}
			if _, werr := bw.Write(line); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
	}
}

func (i *Instance) addLoginMySQL(t testing.TB, user, password, database string) {
	t.Helper()
	db := i.mysqlAdmin(t)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	account := mysqlString(user) + "@'%'"
	stmts := []string{"CREATE USER " + account + " IDENTIFIED BY " + mysqlString(password)}
	if database != "" {
		stmts = append(stmts, "GRANT ALL PRIVILEGES ON "+mysqlIdent(database)+".* TO "+account)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("add login %s to mariadb instance: %s", user, i.redact(err.Error(), password))
		}
	}
}
