package postgres_test

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
)

func TestAdminConformance(t *testing.T) {
	var last string // an admin DSN on Into, for DropLogin
	open := func(t *testing.T, dsn string) *sql.DB {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	enginetest.RunAdmin(t, enginetest.AdminHarness{
		Driver: "pgx",
		Open: func(t *testing.T) enginetest.AdminDBs {
			fromDSN, _ := testdb.Postgres(t)
			intoDSN, intoName := testdb.Postgres(t)
			last = intoDSN
			adm, err := postgres.OpenAdmin(context.Background(), intoDSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { adm.Close() })
			return enginetest.AdminDBs{Admin: adm, FromDSN: fromDSN, IntoDSN: intoDSN, IntoName: intoName,
				From: open(t, fromDSN), Into: open(t, intoDSN)}
		},
		UserDSN: func(dsn, user, password string) string {
			if u, err := url.Parse(dsn); err == nil && strings.HasPrefix(u.Scheme, "postgres") {
				u.User = url.UserPassword(user, password)
				return u.String()
			}
			q := func(s string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'" }
			return dsn + " user=" + q(user) + " password=" + q(password)
		},
		DropLogin: func(user string) error {
			c, err := pgx.Connect(context.Background(), last)
			if err != nil {
				return err
			}
			defer c.Close(context.Background())
			role := pgx.Identifier{user}.Sanitize()
			// Its grants in Into and on Into go first.
			for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
				if _, err := c.Exec(context.Background(), q); err != nil {
					return err
				}
			}
			return nil
		},
	})
}
