package localserver

import (
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
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
			localtest.RefusedBeforeAnything(t, f.provider(t), f.world(t), "keep")
		})
	}
}

// Production down: the lock and the sweep still work (`restage sweep`
// must finish a half-done swap), and Restore, which needs the source,
// fails before it records or creates anything.
func TestSourceDownLeavesIdentityToRestore(t *testing.T) {
	f := pgSetup(t, false, func(c *local.Config) {
		c.SourceDSN = "postgres://restage:restage@127.0.0.1:1/nosuch?sslmode=disable&connect_timeout=2"
	})
	localtest.SourceDownLeavesIdentityToRestore(t, f.p, f.world(t))
}
