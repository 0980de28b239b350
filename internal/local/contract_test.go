package local

import (
	"testing"

	"github.com/restage/restage/internal/providertest"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// TestProviderContract runs the provider conformance suite on both
// engines' local servers.
func TestProviderContract(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) providertest.Harness {
			f := pgSetup(t, false, acceptShared)
			pgExec(t, f.src, "CREATE TABLE customer (id int PRIMARY KEY, email text)", "INSERT INTO customer VALUES (1, 'a@example.com')")
			return providertest.Harness{
				New:    func(t *testing.T) refresh.Provider { return f.provider(t) },
				Exists: func(t *testing.T, name string) bool { return pgExists(t, name) },
				Foreign: func(t *testing.T) *refresh.DB {
					_, name := testdb.Postgres(t)
					return &refresh.DB{Name: name, Engine: "postgres", Endpoint: name}
				},
			}
		})
	})
	t.Run("mysql", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) providertest.Harness {
			e := newMyEnv(t, false, acceptShared)
			e.exec("CREATE TABLE "+mysqlQuote(e.src)+".customer (id INT PRIMARY KEY, email VARCHAR(50))",
				"INSERT INTO "+mysqlQuote(e.src)+".customer VALUES (1, 'a@example.com')")
			return providertest.Harness{
				New:    func(t *testing.T) refresh.Provider { return e.provider() },
				Exists: func(t *testing.T, name string) bool { return e.exists(name) },
				Foreign: func(t *testing.T) *refresh.DB {
					_, name := testdb.MySQL(t)
					return &refresh.DB{Name: name, Engine: "mysql", Endpoint: name}
				},
			}
		})
	})
}

// acceptShared: the test servers' superusers can read every database, as
// on any shared server; the suite is about the lifecycle, not logins.
func acceptShared(c *Config) { c.AcceptSharedLogins = true }
