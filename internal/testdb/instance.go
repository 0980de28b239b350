package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Engines an Instance runs.
const (
	EngineMySQL    = "mysql"
	EnginePostgres = "postgres"
)

// Limits for starting a private server.
const (
	instanceStartTimeout = 60 * time.Second // one attempt, until a login works
	instanceStopTimeout  = 30 * time.Second // after the stop signal, before SIGKILL
	instancePortAttempts = 5                // retries when the chosen port was taken meanwhile
	instanceAdminUser    = "restage_admin"
	maxSocketPath        = 100 // sun_path is 108 bytes on Linux, 104 on macOS
)

// Instance is a private database server started for one test: a PostgreSQL
// cluster or a MariaDB server of its own, on its own 127.0.0.1 port and data
// directory, stopped and removed when the test ends. It stands in for a
// restored production snapshot: Load copies a database into it and AddLogin
// gives it the logins the snapshot would have inherited.
type Instance struct {
	Engine        string // EngineMySQL or EnginePostgres
	Host          string // always 127.0.0.1
	Port          int
	AdminUser     string // superuser (postgres) / ALL ... WITH GRANT OPTION (mysql)
	AdminPassword string
	DataDir       string // the server's data directory; gone after cleanup

	root   string // holds DataDir, the log and scratch files; removed on cleanup
	log    string // the server's stdout and stderr
	socket string // unix socket directory (postgres) or file (mysql)
	bin    string // postgres: directory of initdb, postgres, pg_dump, psql
	proc   *serverProc
}

// DSN returns a DSN for database (the default database when empty) as the
// admin user: a go-sql-driver DSN over TCP for mysql, a postgres:// URL with
// sslmode=disable for postgres.
func (i *Instance) DSN(database string) string {
	return i.UserDSN(i.AdminUser, i.AdminPassword, database)
}

// UserDSN is DSN for another login, e.g. one made with AddLogin.
func (i *Instance) UserDSN(user, password, database string) string {
	if i.Engine == EngineMySQL {
		return mysqlTCPDSN(i.Host, i.Port, user, password, database)
	}
	return postgresURL(i.Host, i.Port, user, password, database)
}

// Load copies the database sourceDSN names (a MySQL DSN for a mysql
// instance, a PostgreSQL URL or keyword/value DSN for a postgres one) into
// the instance as a new database called name, with mariadb-dump | mariadb or
// pg_dump | psql. Objects end up owned by (and, in MySQL, defined by) the
// admin user, as after restoring a snapshot whose owner is the master user.
// Passwords reach the tools through MYSQL_PWD / PGPASSWORD only.
func (i *Instance) Load(t testing.TB, sourceDSN, name string) {
	t.Helper()
	if i.Engine == EngineMySQL {
		i.loadMySQL(t, sourceDSN, name)
		return
	}
	i.loadPostgres(t, sourceDSN, name)
}

// AddLogin creates a login the way the production database would have had
// it, so the instance "inherits" it: for mysql CREATE USER user@'%' and
// GRANT ALL ON database.*; for postgres CREATE ROLE ... LOGIN with a SCRAM
// password, CONNECT on database and USAGE/SELECT on its schemas and tables.
// An empty database creates the login without grants.
func (i *Instance) AddLogin(t testing.TB, user, password, database string) {
	t.Helper()
	if i.Engine == EngineMySQL {
		i.addLoginMySQL(t, user, password, database)
		return
	}
	i.addLoginPostgres(t, user, password, database)
}

// logTail returns the end of the server log with the admin password (which
// should never be there) masked.
func (i *Instance) logTail(n int) string {
	b, err := os.ReadFile(i.log)
	if err != nil {
		return fmt.Sprintf("(no server log: %v)", err)
	}
	return i.redact(tail(string(b), n))
}

// redact masks the admin password in s.
func (i *Instance) redact(s string, more ...string) string {
	for _, p := range append(more, i.AdminPassword) {
		if p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// osUser is the account a server runs as: the current user, or engineUser
// when the test runs as root (neither server runs as root).
type osUser struct {
	uid, gid uint32
	switched bool // true when running the server as another user
}

func serverUser(t testing.TB, server, engineUser string) osUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return osUser{uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	}
	if !canSwitchUser {
		Unavailable(t, server, errors.New("running as root needs Linux to switch to the "+engineUser+" user"))
	}
	u, err := user.Lookup(engineUser)
	if err != nil {
		Unavailable(t, server, fmt.Errorf("running as root, and no %s OS user to run the server as: %w", engineUser, err))
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s has uid %q gid %q", engineUser, u.Uid, u.Gid)
	}
	return osUser{uid: uint32(uid), gid: uint32(gid), switched: true}
}

// command builds a command that runs as u, in dir, with a clean environment
// (no PG*/MYSQL* variables, C locale). deathSig, when not zero, is sent to
// the process if the test binary dies before cleanup (Linux only).
func (u osUser) command(name, dir string, deathSig syscall.Signal, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = sysProcAttr(u, deathSig)
	env := []string{"LC_ALL=C", "LANG=C", "HOME=" + dir, "TZ=UTC"}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PG"), strings.HasPrefix(k, "MYSQL"), strings.HasPrefix(k, "MARIADB"),
			strings.HasPrefix(k, "LC_"), k == "LANG", k == "HOME", k == "TZ":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// makeRoot creates the instance directory: a fresh temporary directory
// (short, so socket paths fit), or dir when given (created if missing; must
// be empty), owned by u.
func makeRoot(t testing.TB, prefix, dir string, u osUser) string {
	t.Helper()
	if dir == "" {
		d, err := os.MkdirTemp("", prefix)
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	} else {
		var err error
		if dir, err = filepath.Abs(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if entries, err := os.ReadDir(dir); err != nil {
			t.Fatal(err)
		} else if len(entries) > 0 {
			t.Fatalf("instance directory %s is not empty", dir)
		}
	}
	if u.switched {
		if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
			t.Fatal(err)
		}
		// The server's user must be able to reach the directory.
		for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
			if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o001 == 0 {
				t.Fatalf("instance directory %s is below %s, which other users cannot enter", dir, p)
			}
			if p == filepath.Dir(p) {
				break
			}
		}
	}
	return dir
}

// writeOwned writes a private file readable by u.
func writeOwned(path string, data []byte, u osUser) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	if u.switched {
		return os.Chown(path, int(u.uid), int(u.gid))
	}
	return nil
}

// freePort asks the kernel for a free 127.0.0.1 port. Another process can
// take it before the server binds it; callers retry on "Address already in
// use".
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomPassword is 32 hex digits.
func randomPassword(t testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// serverProc is a running server process.
type serverProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

func startProc(cmd *exec.Cmd) (*serverProc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *serverProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to instanceStopTimeout, then kills the process.
func (p *serverProc) stop(sig os.Signal) error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return nil
	case <-time.After(instanceStopTimeout):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("server pid %d ignored %v for %v and was killed", p.cmd.Process.Pid, sig, instanceStopTimeout)
	case <-time.After(instanceStopTimeout):
		return fmt.Errorf("server pid %d does not die", p.cmd.Process.Pid)
	}
}

// Pid is the server's process id (the postmaster for postgres), for tests
// that look at the process.
func (i *Instance) Pid() int {
	if i.proc == nil {
		return 0
	}
	return i.proc.cmd.Process.Pid
}

// errPortInUse says the server could not bind its port; start again on
// another.
var errPortInUse = errors.New("port in use")

// waitReady polls ready until it succeeds, the process exits or the
// deadline passes. A process that exits complaining about its port gives
// errPortInUse.
func waitReady(p *serverProc, logPath string, logOffset int64, deadline time.Time, ready func() error) error {
	var last error
	for {
		if p.exited() {
			if strings.Contains(readFrom(logPath, logOffset), "Address already in use") {
				return errPortInUse
			}
			return fmt.Errorf("server exited during startup: %v", p.err)
		}
		if last = ready(); last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %v: %v", instanceStartTimeout, last)
		}
		select {
		case <-p.done:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readFrom(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < offset {
		return ""
	}
	return string(b[offset:])
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// runPipe runs src | dst, through filter when not nil, and reports any
// failure with both tools' output.
func runPipe(src *exec.Cmd, filter func(io.Reader, io.Writer) error, dst *exec.Cmd) error {
	out, err := src.StdoutPipe()
	if err != nil {
		return err
	}
	var in io.WriteCloser
	if filter == nil {
		dst.Stdin = out
	} else if in, err = dst.StdinPipe(); err != nil {
		return err
	}
	var srcErr, dstOut strings.Builder
	src.Stderr = &srcErr
	dst.Stdout, dst.Stderr = &dstOut, &dstOut
	if err := dst.Start(); err != nil {
		return err
	}
	if err := src.Start(); err != nil {
		_ = dst.Process.Kill()
		_ = dst.Wait()
		return err
	}
	var errFilter error
	if filter != nil {
		errFilter = filter(out, in)
		if errFilter != nil {
			_ = src.Process.Kill() // it may be blocked writing to us
		}
		_ = in.Close()
	}
	err1 := src.Wait()
	err2 := dst.Wait()
	if err1 != nil || err2 != nil || errFilter != nil {
		msg := fmt.Sprintf("%s: %v\n%s\n%s: %v\n%s",
			filepath.Base(src.Path), err1, tail(srcErr.String(), 1500),
			filepath.Base(dst.Path), err2, tail(dstOut.String(), 1500))
		if errFilter != nil {
			msg = fmt.Sprintf("filter: %v\n%s", errFilter, msg)
		}
		return errors.New(msg)
	}
	return nil
}

// clientEnv is the environment for a client tool, with extra (e.g. the
// password variable) taking precedence.
func clientEnv(extra ...string) []string {
	return append(os.Environ(), extra...)
}
