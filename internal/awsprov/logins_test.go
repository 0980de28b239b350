package awsprov

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
)

// TestAWSCredentialsFirst (real private servers): from the ready step on,
// no login the copy inherited works — production's application login is
// refused, its session opened before the lock is ended, and the staging
// user's production password is refused too — and after the run the
// staging user has none of the role memberships it had in production.
func TestAWSCredentialsFirst(t *testing.T) {
	srcs := loadSources(t)
	for _, ec := range []engineCase{engineCases[0], engineCases[1]} {
		t.Run(string(ec.engine), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ec, srcs[ec.family()])
			defer e.checkHooks(t)
			driver := "mysql"
			if ec.family() == "postgres" {
				driver = "pgx"
			}
			type held struct {
				inst *testdb.Instance
				conn *sql.Conn
			}
			var h held
			orig := e.rf.OnAvailable
			e.rf.OnAvailable = func(id string) (string, int32) {
				host, port := orig(id)
				inst := e.instance(id)
				// Production also has the staging login, with its own
				// password and a role membership.
				inst.AddLogin(t, stagingUser, "prod-staging-pw", dbName)
				admin, err := sql.Open(driver, inst.DSN(dbName))
				if err != nil {
					t.Fatal(err)
				}
				defer admin.Close()
				stmts := []string{"CREATE ROLE prod_role", "GRANT prod_role TO " + stagingUser}
				for _, s := range stmts {
					if _, err := admin.Exec(s); err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
				// A production session open before the lock.
				db, err := sql.Open(driver, inst.UserDSN(prodLogin, prodPass, dbName))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				conn, err := db.Conn(context.Background())
				if err != nil {
					t.Fatalf("production session: %v", err)
				}
				if _, err := conn.ExecContext(context.Background(), "SELECT 1"); err != nil {
					t.Fatalf("production session: %v", err)
				}
				h = held{inst: inst, conn: conn}
				return host, port
			}
			var checked []string
			hook := func(ctx context.Context, step string) error {
				if h.inst == nil || step == refresh.StepCredentials || step == refresh.StepReady {
					return nil
				}
				// From the step after ready on.
				checked = append(checked, step)
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				for _, l := range [][2]string{{prodLogin, prodPass}, {stagingUser, "prod-staging-pw"}} {
					db, err := sql.Open(driver, h.inst.UserDSN(l[0], l[1], dbName))
					if err != nil {
						t.Fatal(err)
					}
					if err := db.PingContext(cctx); err == nil {
						t.Errorf("at %s: inherited login %s can log in", step, l[0])
					}
					db.Close()
				}
				if _, err := h.conn.ExecContext(cctx, "SELECT 1"); err == nil {
					t.Errorf("at %s: production session opened before the lock still works", step)
				}
				return nil
			}
			rep, err := e.run(t, hook)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if strings.Join(checked, ",") != "mask,verify,users,swap" {
				t.Errorf("checked at %v", checked)
			}
			e.checkServed(t, rep.New.Name)
			// No inherited role membership.
			inst := e.instance(rep.New.Name)
			admin, err := sql.Open(driver, inst.DSN(dbName))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			q := "SELECT COUNT(*) FROM mysql.roles_mapping WHERE User = ?"
			if driver == "pgx" {
				q = "SELECT COUNT(*) FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1"
			}
			var n int
			if err := admin.QueryRow(q, stagingUser).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("staging user %s keeps %d inherited role membership(s)", stagingUser, n)
			}
		})
	}
}

// TestShutOutRefusalNamed (a private PostgreSQL server): with a master
// that is not a superuser — as on RDS, where it is a member of
// rds_superuser — an inherited superuser login can't be locked: the
// ready step fails, naming that login, and never reports it locked.
func TestShutOutRefusalNamed(t *testing.T) {
	inst := testdb.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := sql.Open("pgx", inst.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, q := range []string{
		"CREATE ROLE rds_master LOGIN CREATEROLE PASSWORD 'master-pw-0123'",
		"CREATE ROLE prod_super LOGIN SUPERUSER PASSWORD 'prod-super-pw'",
		"CREATE ROLE prod_app LOGIN PASSWORD 'prod-app-pw'",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	p := &Provider{cfg: Config{DBName: "postgres", TLS: TLSOff}, log: slog.New(slog.DiscardHandler), passwords: map[string]string{}}
	db := &refresh.DB{Name: "restage-shop-1", Engine: "postgres", AdminDSN: inst.UserDSN("rds_master", "master-pw-0123", "postgres")}
	locked, err := p.shutOut(ctx, db, "rds_master")
	if !errors.Is(err, refresh.ErrSharedLogin) || !strings.Contains(err.Error(), "prod_super") {
		t.Fatalf("shut out: %v; want ErrSharedLogin naming prod_super", err)
	}
	if strings.Contains(err.Error(), "master-pw-0123") {
		t.Error("password in the error")
	}
	for _, l := range locked {
		if l == "prod_super" {
			t.Error("prod_super reported locked")
		}
	}
	var canLogin bool
	if err := admin.QueryRowContext(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'prod_super'").Scan(&canLogin); err != nil || !canLogin {
		t.Errorf("prod_super: can login %t, %v (the test's premise)", canLogin, err)
	}
}
