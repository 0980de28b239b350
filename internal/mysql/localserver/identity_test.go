package localserver

import (
	"testing"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/local/localtest"
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
			localtest.RefusedBeforeAnything(t, e.provider(), e.world(), "keep")
		})
	}
}

// Production down: the lock and the sweep still work (`restage sweep`
// must finish a half-done swap), and Restore, which needs the source,
// fails before it records or creates anything.
func TestSourceDownLeavesIdentityToRestore(t *testing.T) {
	e := newMyEnv(t, false, func(c *local.Config) { c.SourceDSN = "restage:restage@tcp(127.0.0.1:1)/nosuch?timeout=2s" })
	localtest.SourceDownLeavesIdentityToRestore(t, e.p, e.world())
}
