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
		e := newMyEnv(t, false, localtest.AcceptShared)
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
}
