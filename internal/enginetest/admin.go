package enginetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/preserve"
)

// AdminHarness adapts the admin conformance test to one engine.
type AdminHarness struct {
	// Open creates two fresh databases on one server; all it returns is
	// closed and dropped at cleanup.
	Open func(t *testing.T) AdminDBs
	// Driver is the database/sql driver name for the DSNs.
	Driver string
	// UserDSN is dsn with user and password instead of the admin's.
	UserDSN func(dsn, user, password string) string
	// DropLogin drops a login the test created; called at cleanup.
	DropLogin func(user string) error
}

// AdminDBs are two fresh databases on one server, From and Into.
type AdminDBs struct {
	Admin    engine.Admin // its session is on Into
	FromDSN  string       // the admin login on From
	IntoDSN  string       // the admin login on Into
	IntoName string       // Into's database name
	From     *sql.DB
	Into     *sql.DB
}

// RunAdmin runs the admin conformance test: the engine.Admin contract
// against a real server.
func RunAdmin(t *testing.T, h AdminHarness) {
	t.Run("CopyRows", func(t *testing.T) { testCopyRows(t, h) })
	t.Run("Logins", func(t *testing.T) { testLogins(t, h) })
}

func adminCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testCopyRows(t *testing.T, h AdminHarness) {
	ctx := adminCtx(t)
	d := h.Open(t)
	adm, fromDSN, intoDSN, from, into := d.Admin, d.FromDSN, d.IntoDSN, d.From, d.Into
	ddl := "CREATE TABLE acct (id INT PRIMARY KEY, name VARCHAR(40), role VARCHAR(10))"
	exec(t, from, ddl, "CREATE TABLE only_here (id INT PRIMARY KEY)",
		"INSERT INTO acct VALUES (1, 'qa-keep', 'qa'), (2, 'user-a', 'user'), (5, 'qa-new', 'qa')")
	exec(t, into, ddl, "INSERT INTO acct VALUES (1, 'masked-1', 'user'), (2, 'masked-2', 'user'), (3, 'masked-3', 'user')")
	n, err := adm.CopyRows(ctx, slog.New(slog.DiscardHandler), fromDSN, intoDSN, []engine.RowSpec{
		{Table: "acct", Where: preserve.MustParse("role = 'qa'")},
		{Table: "missing_in_source"},
	})
	if err != nil {
		t.Fatalf("CopyRows: %v", err)
	}
	if n != 2 {
		t.Errorf("CopyRows wrote %d rows, want 2", n)
	}
	const want = "SELECT COUNT(*) FROM acct WHERE (id = 1 AND name = 'qa-keep') OR (id = 2 AND name = 'masked-2') OR (id = 3 AND name = 'masked-3') OR (id = 5 AND name = 'qa-new')"
	if got, all := count(t, into, want), count(t, into, "SELECT COUNT(*) FROM acct"); got != 4 || all != 4 {
		t.Errorf("after CopyRows %d of %d rows are as wanted, want 4 of 4: qa-keep, masked-2, masked-3, qa-new", got, all)
	}
	// A table the target lacks is an error naming it, and nothing of the
	// transaction stays.
	_, err = adm.CopyRows(ctx, slog.New(slog.DiscardHandler), fromDSN, intoDSN, []engine.RowSpec{{Table: "acct"}, {Table: "only_here"}})
	if err == nil || !strings.Contains(err.Error(), "only_here") {
		t.Errorf("CopyRows of a table the target lacks: %v, want an error naming only_here", err)
	}
	if got := count(t, into, "SELECT COUNT(*) FROM acct WHERE id = 2 AND name = 'masked-2'"); got != 1 {
		t.Errorf("after a failed CopyRows row 2 changed, want it untouched")
	}
}

func testLogins(t *testing.T, h AdminHarness) {
	ctx := adminCtx(t)
	d := h.Open(t)
	adm, intoDSN, into := d.Admin, d.IntoDSN, d.Into
	exec(t, into, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	intoName := d.IntoName
	buf := make([]byte, 4)
	rand.Read(buf)
	user := "rs_adm_" + hex.EncodeToString(buf)
	pw := `pw'\"` + hex.EncodeToString(buf)
	t.Cleanup(func() {
		if err := h.DropLogin(user); err != nil {
			t.Errorf("drop login %s: %v", user, err)
		}
	})
	noPassword := func(what string, err error) {
		t.Helper()
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the error holds the password", what)
		}
	}

	logins, err := adm.CreateLogin(ctx, user, pw)
	noPassword("CreateLogin", err)
	if err != nil || len(logins) == 0 {
		t.Fatalf("CreateLogin = %v, %v", logins, err)
	}
	if got, err := adm.Accounts(ctx, user); err != nil || len(got) != len(logins) {
		t.Errorf("Accounts = %v, %v; want %v", got, err, logins)
	}
	if got, err := adm.Accounts(ctx, user+"_none"); err != nil || len(got) != 0 {
		t.Errorf("Accounts of no such user = %v, %v; want none", got, err)
	}
	if err := adm.Restrict(ctx, intoName); err != nil {
		t.Fatalf("Restrict: %v", err)
	}
	l := logins[0]
	if why, err := adm.CanRead(ctx, l, intoName); err != nil || why != "" {
		t.Errorf("CanRead of a login without grants = %q, %v; want \"\"", why, err)
	}
	err = adm.ReadAs(ctx, h.UserDSN(intoDSN, user, pw))
	noPassword("ReadAs", err)
	if err == nil {
		t.Errorf("ReadAs before Grant: nil, want an error")
	}
	if err := adm.Grant(ctx, l, intoName, engine.Access("owner")); !errors.Is(err, engine.ErrAccess) {
		t.Errorf("Grant of an unknown access: %v, want ErrAccess", err)
	}
	for _, l := range logins {
		if err := adm.Grant(ctx, l, intoName, engine.Read); err != nil {
			t.Fatalf("Grant: %v", err)
		}
	}
	if why, err := adm.CanRead(ctx, l, intoName); err != nil || why == "" {
		t.Errorf("CanRead after Grant = %q, %v; want a reason", why, err)
	}
	if err := adm.ReadAs(ctx, h.UserDSN(intoDSN, user, pw)); err != nil {
		t.Errorf("ReadAs after Grant: %v", err)
	}
	if readers, err := adm.Readers(ctx, intoName); err != nil || !slices.ContainsFunc(readers, func(r engine.Login) bool { return r.User == user }) {
		t.Errorf("Readers = %v, %v; want %s among them", readers, err, user)
	}

	// A session opened now survives Lock; EndSessions ends it.
	sess, err := sql.Open(h.Driver, h.UserDSN(intoDSN, user, pw))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	conn, err := sess.Conn(ctx)
	if err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
	defer conn.Close()
	for _, l := range logins {
		if why, err := adm.Lock(ctx, l); err != nil || why != "" {
			t.Fatalf("Lock(%s) = %q, %v", l, why, err)
		}
	}
	if err := adm.ReadAs(ctx, h.UserDSN(intoDSN, user, pw)); err == nil {
		t.Errorf("ReadAs of a locked login: nil, want an error")
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatalf("session opened before the lock: %v (the test's premise)", err)
	}
	if n, err := adm.EndSessions(ctx, []string{user}); err != nil || n < 1 {
		t.Errorf("EndSessions = %d, %v; want at least 1", n, err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1"); err == nil {
		t.Errorf("session of %s still works after EndSessions", user)
	}

	// ResetLogin: a new password, unlocked; access comes from Grant.
	pw2 := pw + "-2"
	for _, l := range logins {
		if err := adm.ResetLogin(ctx, l, pw2); err != nil {
			noPassword("ResetLogin", err)
			t.Fatalf("ResetLogin: %v", err)
		}
		if err := adm.Grant(ctx, l, intoName, engine.Read); err != nil {
			t.Fatalf("Grant after ResetLogin: %v", err)
		}
	}
	if err := adm.ReadAs(ctx, h.UserDSN(intoDSN, user, pw2)); err != nil {
		t.Errorf("ReadAs with the new password: %v", err)
	}
	err = adm.ReadAs(ctx, h.UserDSN(intoDSN, user, pw))
	noPassword("ReadAs with the old password", err)
	if err == nil {
		t.Errorf("ReadAs with the old password: nil, want an error")
	}
	if adm.System(user) {
		t.Errorf("System(%s) = true", user)
	}
}
