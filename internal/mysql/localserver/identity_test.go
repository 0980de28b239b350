package localserver

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// The staging DSN names the source's database through an alias of its
// server: the run stops before the lock with ErrBadInput, and nothing
// (not even the control DB) is created. So does adopting the source.
func TestMySQLRefusesSourceUnderAnotherName(t *testing.T) {
	alias := testdb.HostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(e *myEnv, c *local.Config)
	}{
		{"staging", func(e *myEnv, c *local.Config) { c.StagingDSN = testdb.Respell(t, e.srcDSN, alias) }},
		{"adopt", func(e *myEnv, c *local.Config) {
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

// Production down: the lock and the sweep still work (`restage sweep`
// must finish a half-done swap), and Restore, which needs the source,
// fails before it records or creates anything.
func TestSourceDownLeavesIdentityToRestore(t *testing.T) {
	ctx := context.Background()
	e := newMyEnv(t, false, func(c *local.Config) { c.SourceDSN = "restage:restage@tcp(127.0.0.1:1)/nosuch?timeout=2s" })
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
	if s := e.state(local.DBName(e.target, "r1")); s != "unrecorded" {
		t.Errorf("the copy is %s, want unrecorded", s)
	}
}
