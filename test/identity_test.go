package test

import (
	"strings"
	"testing"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/testdb"
)

// Issue 9, points 1, 2 and 6 through the binary: identity by server (an
// /etc/hosts alias of the test servers' host), ownership before any
// destructive act, and a lost control DB that loses nothing.

// otherStaging swaps the database of the fixture's staging DSN.
func otherStaging(t *testing.T, f *fixture, name string) string {
	t.Helper()
	d, err := engines.ParseDSN(f.stagingDSN)
	if err != nil {
		t.Fatal(err)
	}
	if f.ec.name == "mysql" {
		return strings.Replace(f.stagingDSN, "/"+d.Database, "/"+name, 1)
	}
	return strings.Replace(f.stagingDSN, "/"+d.Database+"?", "/"+name+"?", 1)
}

func TestRunRefusesSourceUnderAnotherName(t *testing.T) {
	alias := testdb.HostsAlias(t)
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			before := f.sourceSum(t)
			res := restage(t, f.env("RESTAGE_STAGING_DSN="+testdb.Respell(t, f.sourceDSN, alias), "RESTAGE_ACCEPT_SHARED_LOGINS=true"), "run")
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
	alias := testdb.HostsAlias(t)
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			before := f.sourceSum(t)
			spelled := testdb.Respell(t, f.sourceDSN, alias)
			d, err := engines.ParseDSN(spelled)
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
	for _, ec := range engineCases {
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
	for _, ec := range engineCases {
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
