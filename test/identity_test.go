package test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restage/restage/internal/dsn"
)

// Issue 9, points 1, 2 and 6 through the binary: identity by server (an
// /etc/hosts alias of the test servers' host), ownership before any
// destructive act, and a lost control DB that loses nothing.

// hostsAlias adds "127.0.0.1 <random name>" to /etc/hosts for the test and
// removes it at the end. Skips when /etc/hosts can't be written.
func hostsAlias(t *testing.T) string {
	t.Helper()
	name := "restage-alias-" + randomHex(t, 4)
	line := "127.0.0.1 " + name
	editHosts(t, func(s string) string {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s + line + "\n"
	})
	t.Cleanup(func() {
		editHosts(t, func(s string) string {
			var keep []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if strings.TrimSpace(l) != line {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "")
		})
	})
	// Go caches /etc/hosts for a few seconds.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := net.LookupHost(name); err == nil {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("alias %s not resolvable", name)
		}
	}
}

// editHosts rewrites /etc/hosts in place (it may be a bind mount) under a
// lock every test process on the machine shares.
func editHosts(t *testing.T, edit func(string) string) {
	t.Helper()
	lf, err := os.OpenFile(filepath.Join(os.TempDir(), "restage-etc-hosts.lock"), os.O_CREATE|os.O_RDWR, 0o666)
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

// respell replaces the host 127.0.0.1 of a DSN.
func respell(t *testing.T, d, host string) string {
	t.Helper()
	if !strings.Contains(d, "127.0.0.1") {
		t.Fatal("test DSN does not use 127.0.0.1")
	}
	return strings.Replace(d, "127.0.0.1", host, 1)
}

// otherStaging swaps the database of the fixture's staging DSN.
func otherStaging(t *testing.T, f *fixture, name string) string {
	t.Helper()
	d, err := dsn.Parse(f.stagingDSN)
	if err != nil {
		t.Fatal(err)
	}
	if f.ec.name == "mysql" {
		return strings.Replace(f.stagingDSN, "/"+d.Database, "/"+name, 1)
	}
	return strings.Replace(f.stagingDSN, "/"+d.Database+"?", "/"+name+"?", 1)
}

func TestRunRefusesSourceUnderAnotherName(t *testing.T) {
	alias := hostsAlias(t)
	for _, ec := range engines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			before := f.sourceSum(t)
			res := restage(t, f.env("RESTAGE_STAGING_DSN="+respell(t, f.sourceDSN, alias), "RESTAGE_ACCEPT_SHARED_LOGINS=true"), "run")
			if res.code != 2 || !strings.Contains(res.stdout+res.stderr, "production source") {
				t.Errorf("run with the source behind an alias: exit %d, want 2 naming the production source\n%s%s", res.code, res.stdout, res.stderr)
			}
			if got := f.sourceSum(t); got != before {
				t.Error("the production source changed")
			}
			if left := append(f.databases(t, "restage_"+f.target+"_"), f.databases(t, f.control)...); len(left) > 0 {
				t.Errorf("a refused run created %v", left)
			}
		})
	}
}

func TestMaskRefusesSourceUnderAnotherName(t *testing.T) {
	alias := hostsAlias(t)
	for _, ec := range engines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			before := f.sourceSum(t)
			spelled := respell(t, f.sourceDSN, alias)
			d, err := dsn.Parse(spelled)
			if err != nil {
				t.Fatal(err)
			}
			res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey, "RESTAGE_SOURCE_DSN=" + f.sourceDSN},
				"mask", "--dsn", spelled, "--confirm", d.Target(), "--rules", ec.rules)
			if res.code != 2 || !strings.Contains(res.stderr, "production source") {
				t.Errorf("mask of the source through an alias: exit %d, want 2 naming the production source\n%s", res.code, res.stderr)
			}
			if got := f.sourceSum(t); got != before {
				t.Error("the production source was masked")
			}
		})
	}
}

// After a successful run, the staging DSN is pointed at a hand-made
// database: restage must refuse before creating anything (exit 2, saying
// how to adopt), and the hand-made table must survive. Adopted, it is
// replaced and its content retired.
func TestRunRefusesHandMadeStaging(t *testing.T) {
	for _, ec := range engines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			if res := restage(t, f.env(), "run"); res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			hDSN, hName := ec.create(t)
			h := openDB(t, ec.driver, hDSN)
			for _, q := range []string{"CREATE TABLE handmade (id INT PRIMARY KEY)", "INSERT INTO handmade VALUES (1)"} {
				if _, err := h.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			h.Close()
			// Only this target's names: other tests share the server.
			before := append(f.databases(t, "restage_"+f.target+"_"), f.databases(t, f.control)...)
			res := restage(t, f.env("RESTAGE_STAGING_DSN="+otherStaging(t, f, hName)), "run")
			if res.code != 2 || !strings.Contains(res.stdout+res.stderr, "RESTAGE_ADOPT="+hName) {
				t.Errorf("run on a hand-made staging DB: exit %d, want 2 saying RESTAGE_ADOPT=%s\n%s%s", res.code, hName, res.stdout, res.stderr)
			}
			h = openDB(t, ec.driver, hDSN)
			var n int
			if err := h.QueryRow("SELECT COUNT(*) FROM handmade").Scan(&n); err != nil || n != 1 {
				t.Errorf("hand-made table: %d rows, err %v; want its 1 row where it was", n, err)
			}
			h.Close()
			if after := append(f.databases(t, "restage_"+f.target+"_"), f.databases(t, f.control)...); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("a refused run changed restage's databases:\nbefore %v\nafter  %v", before, after)
			}

			res = restage(t, f.env("RESTAGE_STAGING_DSN="+otherStaging(t, f, hName), "RESTAGE_ADOPT="+hName), "run")
			if res.code != 0 {
				t.Fatalf("adopted run: exit %d\n%s", res.code, res.stderr)
			}
			h = openDB(t, ec.driver, hDSN)
			if err := h.QueryRow("SELECT COUNT(*) FROM customer").Scan(&n); err != nil || n != 599 {
				t.Errorf("adopted staging serves %d customers (err %v), want 599", n, err)
			}
		})
	}
}

// The control DB is dropped between two runs: the second run still finds
// the first run's copy by its name and marker, and retires it.
func TestRunControlDBLost(t *testing.T) {
	for _, ec := range engines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			if res := restage(t, f.env(), "run"); res.code != 0 {
				t.Fatalf("first run: exit %d\n%s", res.code, res.stderr)
			}
			f.dropDB(f.control)
			if res := restage(t, f.env(), "run"); res.code != 0 {
				t.Fatalf("run after losing the control DB: exit %d\n%s", res.code, res.stderr)
			}
			if left := f.databases(t, "restage_"+f.target+"_"); len(left) > 0 {
				t.Errorf("after the second run, %v are left; want every earlier copy retired", left)
			}
			db := f.stagingDB(t)
			if n, m := maskedEmails(t, db); n != 599 || m != n {
				t.Errorf("staging serves %d customers, %d masked; want 599 all masked", n, m)
			}
		})
	}
}
