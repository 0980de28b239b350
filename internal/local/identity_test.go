package local

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

func TestSameDatabaseAskedOfTheServer(t *testing.T) {
	alias := testdb.HostsAlias(t)
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
				spelled := testdb.Respell(t, src, host)
				a, _ := engines.ParseDSN(src)
				b, _ := engines.ParseDSN(spelled)
				if dsn.SameDatabase(a, b) {
					t.Fatalf("%s: the string comparison already sees it; the test would prove nothing", host)
				}
				same, err := engines.SameDatabase(ctx, src, spelled)
				if err != nil || !same {
					t.Errorf("SameDatabase(source, source via %s) = %v, %v; want true", host, same, err)
				}
			}
			same, err := engines.SameDatabase(ctx, src, testdb.Respell(t, other, alias))
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
	alias := testdb.HostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(e *myEnv, c *Config)
	}{
		{"staging", func(e *myEnv, c *Config) { c.StagingDSN = testdb.Respell(t, e.srcDSN, alias) }},
		{"adopt", func(e *myEnv, c *Config) {
			c.StagingDSN = testdb.Respell(t, c.StagingDSN, alias)
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
	alias := testdb.HostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(f *pgFixture, c *Config)
	}{
		{"staging", func(f *pgFixture, c *Config) { c.StagingDSN = testdb.Respell(t, c.SourceDSN, alias) }},
		{"adopt", func(f *pgFixture, c *Config) {
			c.StagingDSN = testdb.Respell(t, c.StagingDSN, alias)
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
