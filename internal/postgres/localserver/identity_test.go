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

func TestPGRefusesSourceUnderAnotherName(t *testing.T) {
	alias := testdb.HostsAlias(t)
	for _, tc := range []struct {
		name string
		mod  func(f *pgFixture, c *local.Config)
	}{
		{"staging", func(f *pgFixture, c *local.Config) { c.StagingDSN = testdb.Respell(t, c.SourceDSN, alias) }},
		{"adopt", func(f *pgFixture, c *local.Config) {
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
	f := pgSetup(t, false, func(c *local.Config) {
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
	if s := f.state(t, local.DBName(f.target, "r1")); s != "" {
		t.Errorf("the copy is recorded %s, want unrecorded", s)
	}
}
