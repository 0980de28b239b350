package localserver

import (
	"testing"

	"github.com/restage/restage/internal/local/localtest"

	"github.com/restage/restage/internal/providertest"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// TestProviderContract runs the provider conformance suite on both
// engines' local servers.
func TestProviderContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Harness {
		f := pgSetup(t, false, localtest.AcceptShared)
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
}
