package mysql_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/testdb"
)

func TestConformance(t *testing.T) { enginetest.Run(t, harness(testdb.MySQL)) }

// TestConformanceMySQL8 runs the suite against a MySQL 8 server when
// RESTAGE_TEST_MYSQL8_DSN names one (skipped otherwise).
func TestConformanceMySQL8(t *testing.T) {
	testdb.MySQL8(t) // skips without a server
	enginetest.Run(t, harness(testdb.MySQL8))
}

func harness(create func(testing.TB) (string, string)) enginetest.Harness {
	return enginetest.Harness{
		DateTime: "DATETIME",
		JSON:     "JSON",
		Binary:   "VARBINARY(16)",
		Param:    "?",
		Open: func(t *testing.T) (mask.Engine, *sql.DB) {
			eng, db := openFresh(t, create)
			return eng, db
		},
	}
}

// openFresh opens the engine and a plain connection on a fresh database
// of the server create makes it on.
func openFresh(t *testing.T, create func(testing.TB) (string, string)) (*mysql.Engine, *sql.DB) {
	dsn, _ := create(t)
	eng, err := mysql.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return eng, db
}
