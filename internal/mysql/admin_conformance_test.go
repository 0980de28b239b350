package mysql_test

import (
	"context"
	"database/sql"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/testdb"
)

func TestAdminConformance(t *testing.T) { enginetest.RunAdmin(t, adminHarness(testdb.MySQL)) }

// TestAdminConformanceMySQL8 runs the admin suite against a MySQL 8
// server when RESTAGE_TEST_MYSQL8_DSN names one (skipped otherwise).
func TestAdminConformanceMySQL8(t *testing.T) {
	testdb.MySQL8(t) // skips without a server
	enginetest.RunAdmin(t, adminHarness(testdb.MySQL8))
}

func adminHarness(create func(testing.TB) (string, string)) enginetest.AdminHarness {
	var last string // an admin DSN on the server, for DropLogin
	open := func(t *testing.T, dsn string) *sql.DB {
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	return enginetest.AdminHarness{
		Driver: "mysql",
		Open: func(t *testing.T) enginetest.AdminDBs {
			fromDSN, _ := create(t)
			intoDSN, intoName := create(t)
			last = intoDSN
			adm, err := mysql.OpenAdmin(context.Background(), intoDSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { adm.Close() })
			return enginetest.AdminDBs{Admin: adm, FromDSN: fromDSN, IntoDSN: intoDSN, IntoName: intoName,
				From: open(t, fromDSN), Into: open(t, intoDSN)}
		},
		UserDSN: func(dsn, user, password string) string {
			cfg, err := driver.ParseDSN(dsn)
			if err != nil {
				return ""
			}
			cfg.User, cfg.Passwd = user, password
			return cfg.FormatDSN()
		},
		DropLogin: func(user string) error {
			db, err := sql.Open("mysql", last)
			if err != nil {
				return err
			}
			defer db.Close()
			rows, err := db.Query("SELECT Host FROM mysql.user WHERE User = ?", user)
			if err != nil {
				return err
			}
			var hosts []string
			for rows.Next() {
				var h string
				if err := rows.Scan(&h); err != nil {
					return err
				}
				hosts = append(hosts, h)
			}
			rows.Close()
			for _, h := range hosts {
				// The test's own names (no quote in them); an account takes
				// no bind parameter.
				if _, err := db.Exec("DROP USER '" + user + "'@'" + h + "'"); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
