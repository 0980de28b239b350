package local

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/refresh"
)

// hostsAlias adds "127.0.0.1 <random name>" to /etc/hosts for the test and
// removes it at the end: a second spelling of the test servers' host that
// no string comparison can recognise. Skips when /etc/hosts can't be
// written (not root).
func hostsAlias(t *testing.T) string {
	t.Helper()
	name := "restage-alias-" + myRand(t)
	editHosts(t, func(s string) string {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s + "127.0.0.1 " + name + "\n"
	})
	// Go's resolver caches /etc/hosts for a few seconds: wait until it
	// sees the new name.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := net.LookupHost(name); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alias %s not resolvable", name)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Cleanup(func() {
		editHosts(t, func(s string) string {
			var keep []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if strings.TrimSpace(l) != "127.0.0.1 "+name {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "")
		})
	})
	return name
}

// editHosts rewrites /etc/hosts in place (it may be a bind mount) under a
// lock shared by every test process on the machine.
func editHosts(t *testing.T, edit func(string) string) {
	t.Helper()
	lf, err := os.OpenFile(os.TempDir()+"/restage-etc-hosts.lock", os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Skipf("hosts lock: %v", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Skipf("hosts lock: %v", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skipf("read /etc/hosts: %v", err)
	}
	if err := os.WriteFile("/etc/hosts", []byte(edit(string(b))), 0o644); err != nil {
		t.Skipf("write /etc/hosts: %v", err)
	}
}

// respell replaces the host 127.0.0.1 in a DSN.
func respell(t *testing.T, d, host string) string {
	t.Helper()
	if !strings.Contains(d, "127.0.0.1") {
		t.Fatalf("test DSN does not use 127.0.0.1")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return strings.Replace(d, "127.0.0.1", host, 1)
}

func TestSameDatabaseAskedOfTheServer(t *testing.T) {
	alias := hostsAlias(t)
	cases := []struct {
		engine string
		make   func(t *testing.T) (src, other string)
	}{
		{"mysql", func(t *testing.T) (string, string) {
			e := newMyEnv(t, false)
			e.exec("CREATE DATABASE " + mysqlQuote(e.staging))
			return e.srcDSN, e.cfg.StagingDSN
		}},
		{"postgres", func(t *testing.T) (string, string) {
			f := pgSetup(t, true, nil)
			return f.cfg.SourceDSN, f.cfg.StagingDSN
		}},
	}
	for _, c := range cases {
		t.Run(c.engine, func(t *testing.T) {
			src, other := c.make(t)
			ctx := context.Background()
			for _, host := range []string{alias, "::ffff:127.0.0.1", "0.0.0.0"} {
				spelled := respell(t, src, host)
				a, _ := dsn.Parse(src)
				b, _ := dsn.Parse(spelled)
				if dsn.SameDatabase(a, b) {
					t.Fatalf("%s: the string comparison already sees it; the test would prove nothing", host)
				}
				same, err := SameDatabase(ctx, src, spelled)
				if err != nil || !same {
					t.Errorf("SameDatabase(source, source via %s) = %v, %v; want true", host, same, err)
				}
			}
			same, err := SameDatabase(ctx, src, respell(t, other, alias))
			if err != nil || same {
				t.Errorf("SameDatabase(source, another database via %s) = %v, %v; want false", alias, same, err)
			}
		})
	}
}

// The staging DSN names the source's database through an alias of its
// server: the run stops before the lock with ErrBadInput, and nothing
// (not even the control DB) is created. So does adopting the source.
func TestMySQLRefusesSourceUnderAnotherName(t *testing.T) {
	alias := hostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(e *myEnv, c *Config)
	}{
		{"staging", func(e *myEnv, c *Config) { c.StagingDSN = respell(t, e.srcDSN, alias) }},
		{"adopt", func(e *myEnv, c *Config) {
			c.StagingDSN = respell(t, c.StagingDSN, alias)
			c.SourceDSN = e.srcDSN
			c.Adopt = e.src
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newMyEnv(t, false)
			e.exec("CREATE TABLE "+mysqlQuote(e.src)+".keep (id INT PRIMARY KEY)", "INSERT INTO "+mysqlQuote(e.src)+".keep VALUES (1)")
			tc.mod(e, &e.cfg)
			p := e.provider()
			rel, err := p.Lock(context.Background(), "r1")
			if err == nil {
				rel()
				t.Fatal("Lock succeeded with the source behind the staging configuration")
			}
			if !errors.Is(err, refresh.ErrBadInput) || !strings.Contains(err.Error(), "production source") {
				t.Errorf("Lock: %v; want ErrBadInput naming the production source", err)
			}
			if e.exists(e.cfg.ControlDB) {
				t.Error("the control DB was created by a refused run")
			}
			if n := e.count("SELECT COUNT(*) FROM " + mysqlQuote(e.src) + ".keep"); n != 1 {
				t.Errorf("source rows = %d, want 1", n)
			}
		})
	}
}

func TestPGRefusesSourceUnderAnotherName(t *testing.T) {
	alias := hostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(f *pgFixture, c *Config)
	}{
		{"staging", func(f *pgFixture, c *Config) { c.StagingDSN = respell(t, c.SourceDSN, alias) }},
		{"adopt", func(f *pgFixture, c *Config) {
			c.StagingDSN = respell(t, c.StagingDSN, alias)
			c.Adopt = f.src
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := pgSetup(t, false, nil)
			pgExec(t, f.src, "CREATE TABLE keep (id int PRIMARY KEY)", "INSERT INTO keep VALUES (1)")
			tc.mod(f, &f.cfg)
			p := f.provider(t)
			rel, err := p.Lock(context.Background(), "r1")
			if err == nil {
				rel()
				t.Fatal("Lock succeeded with the source behind the staging configuration")
			}
			if !errors.Is(err, refresh.ErrBadInput) || !strings.Contains(err.Error(), "production source") {
				t.Errorf("Lock: %v; want ErrBadInput naming the production source", err)
			}
			if pgExists(t, f.ctl) {
				t.Error("the control DB was created by a refused run")
			}
			if got := pgString(t, f.src, "SELECT count(*)::text FROM keep"); got != "1" {
				t.Errorf("source rows = %s, want 1", got)
			}
		})
	}
}

// Production down: the lock and the sweep still work (`restage sweep`
// must finish a half-done swap), and Restore, which needs the source,
// fails before it records or creates anything.
func TestSourceDownLeavesIdentityToRestore(t *testing.T) {
	ctx := context.Background()
	t.Run("mysql", func(t *testing.T) {
		e := newMyEnv(t, false, func(c *Config) { c.SourceDSN = "restage:restage@tcp(127.0.0.1:1)/nosuch?timeout=2s" })
		rel, err := e.p.Lock(ctx, "r1")
		if err != nil {
			t.Fatalf("Lock with the source down: %v", err)
		}
		defer rel()
		if _, err := e.p.Sweep(ctx); err != nil {
			t.Fatalf("Sweep with the source down: %v", err)
		}
		if _, err := e.p.Restore(ctx, "r1"); err == nil || !strings.Contains(err.Error(), "source") {
			t.Fatalf("Restore with the source down: %v, want a source error", err)
		}
		if s := e.state(DBName(e.target, "r1")); s != "unrecorded" {
			t.Errorf("the copy is %s, want unrecorded", s)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		f := pgSetup(t, false, func(c *Config) {
			c.SourceDSN = "postgres://restage:restage@127.0.0.1:1/nosuch?sslmode=disable&connect_timeout=2"
		})
		rel, err := f.p.Lock(ctx, "r1")
		if err != nil {
			t.Fatalf("Lock with the source down: %v", err)
		}
		defer rel()
		if _, err := f.p.Sweep(ctx); err != nil {
			t.Fatalf("Sweep with the source down: %v", err)
		}
		if _, err := f.p.Restore(ctx, "r1"); err == nil || !strings.Contains(err.Error(), "source") {
			t.Fatalf("Restore with the source down: %v, want a source error", err)
		}
		if s := f.state(t, DBName(f.target, "r1")); s != "" {
			t.Errorf("the copy is recorded %s, want unrecorded", s)
		}
	})
}
