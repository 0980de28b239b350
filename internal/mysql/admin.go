package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/engine"
)

var _ engine.Admin = (*Admin)(nil)

// Admin is engine.Admin for a MySQL or MariaDB server, over an admin
// session pool. Accounts are server-wide: Grant and CanRead name the
// database.
type Admin struct {
	db     *sql.DB
	flavor Flavor
	owned  bool
}

// NewAdmin administers the server db reaches (a pool the caller keeps and
// closes), reading its flavor from VERSION().
func NewAdmin(ctx context.Context, db *sql.DB) (*Admin, error) {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return nil, fmt.Errorf("read the server version: %w", Scrub(err))
	}
	return &Admin{db: db, flavor: FlavorOf(v)}, nil
}

// OpenAdmin opens one admin session with dsn (go-sql-driver format). One
// session only: EndSessions spares the caller's own session and no other
// of restage's.
func OpenAdmin(ctx context.Context, dsn string) (*Admin, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, errors.New("open mysql admin session: invalid dsn")
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, errors.New("open mysql admin session: invalid dsn")
	}
	db.SetMaxOpenConns(1)
	a, err := NewAdmin(ctx, db)
	if err != nil {
		db.Close()
		return nil, redact(err, cfg.Passwd)
	}
	a.owned = true
	return a, nil
}

// Close closes the session pool if OpenAdmin opened it.
func (a *Admin) Close() error {
	if a.owned {
		return a.db.Close()
	}
	return nil
}

// Flavor is the server's flavor.
func (a *Admin) Flavor() Flavor { return a.flavor }

func (a *Admin) Quote(name string) string { return Quote(name) }

// literal quotes a string for the places MySQL takes no bind parameter
// (account names in MySQL 8, IDENTIFIED BY).
func literal(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

func account(l engine.Login) string { return literal(l.User) + "@" + literal(l.Host) }

// GrantDB quotes a database name for GRANT … ON db.*, where _ and % are
// wildcards: escaped, a grant covers exactly this database.
func GrantDB(name string) string {
	return quote(grantPattern(name))
}

// grantPattern is name as mysql.db's Db column keeps it: _ and % escaped.
func grantPattern(name string) string {
	return strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(name)
}

// UnescapeGrantDB turns SHOW GRANTS' `my\_db` back into my_db.
func UnescapeGrantDB(s string) string {
	if strings.HasPrefix(s, "`") && strings.HasSuffix(s, "`") && len(s) >= 2 {
		s = strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return strings.NewReplacer(`\_`, "_", `\%`, "%", `\\`, `\`).Replace(s)
}

// System reports the servers' own accounts: every mysql.* account
// (mysql.sys, mysql.session, mysql.infoschema) and mariadb.sys.
func (a *Admin) System(user string) bool {
	return user == "mariadb.sys" || strings.HasPrefix(user, "mysql.")
}

// queryStrings reads one text column.
func queryStrings(ctx context.Context, q queryer, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, Scrub(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, Scrub(err)
		}
		out = append(out, s)
	}
	return out, Scrub(rows.Err())
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (a *Admin) Logins(ctx context.Context) ([]engine.Login, error) {
	rows, err := a.db.QueryContext(ctx, a.flavor.loginsSQL())
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", Scrub(err))
	}
	defer rows.Close()
	var out []engine.Login
	for rows.Next() {
		var l engine.Login
		var role, locked string
		if err := rows.Scan(&l.User, &l.Host, &role, &locked); err != nil {
			return nil, fmt.Errorf("list accounts: %w", Scrub(err))
		}
		if strings.EqualFold(role, "Y") || strings.EqualFold(locked, "Y") {
			continue
		}
		out = append(out, l)
	}
	return out, Scrub(rows.Err())
}

func (a *Admin) Accounts(ctx context.Context, user string) ([]engine.Login, error) {
	hosts, err := queryStrings(ctx, a.db, "SELECT Host FROM mysql.user WHERE User = ? AND Host <> '' ORDER BY Host", user)
	if err != nil {
		return nil, fmt.Errorf("look up account %s: %w", user, err)
	}
	out := make([]engine.Login, len(hosts))
	for i, h := range hosts {
		out[i] = engine.Login{User: user, Host: h}
	}
	return out, nil
}

func (a *Admin) CreateLogin(ctx context.Context, user, password string) ([]engine.Login, error) {
	logins := []engine.Login{{User: user, Host: "%"}}
	// An anonymous ''@'localhost' account would win over 'u'@'%' for
	// local logins.
	var anon int
	if err := a.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM mysql.user WHERE User = '' AND Host = 'localhost'").Scan(&anon); err != nil {
		return nil, fmt.Errorf("look up anonymous accounts: %w", Scrub(err))
	}
	if anon > 0 {
		logins = append(logins, engine.Login{User: user, Host: "localhost"})
	}
	for _, l := range logins {
		if _, err := a.db.ExecContext(ctx, "CREATE USER "+account(l)+" IDENTIFIED BY "+literal(password)); err != nil {
			return nil, fmt.Errorf("create account %s: %w", l, redact(Scrub(err), password))
		}
	}
	return logins, nil
}

func (a *Admin) ResetLogin(ctx context.Context, l engine.Login, password string) error {
	if err := a.revokeRoles(ctx, l); err != nil {
		return err
	}
	acct := account(l)
	for _, s := range []string{
		"ALTER USER " + acct + " IDENTIFIED BY " + literal(password) + " ACCOUNT UNLOCK",
		"REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + acct,
	} {
		if _, err := a.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("reset account %s: %w", l, redact(Scrub(err), password))
		}
	}
	return nil
}

// revokeRoles takes every role granted to l away and clears its default
// role (the flavors keep both differently: flavor.go).
func (a *Admin) revokeRoles(ctx context.Context, l engine.Login) error {
	roles, err := queryStrings(ctx, a.db, a.flavor.rolesOfSQL(), l.User, l.Host)
	if err != nil {
		return fmt.Errorf("list roles of %s: %w", l, err)
	}
	for _, r := range roles {
		if !strings.Contains(r, "@") {
			r = quote(r)
		}
		if _, err := a.db.ExecContext(ctx, "REVOKE "+r+" FROM "+account(l)); err != nil {
			return fmt.Errorf("revoke inherited role from %s: %w", l, Scrub(err))
		}
	}
	if len(roles) > 0 {
		if _, err := a.db.ExecContext(ctx, a.flavor.clearDefaultRoleSQL(account(l))); err != nil {
			return fmt.Errorf("clear default role of %s: %w", l, Scrub(err))
		}
	}
	return nil
}

func (a *Admin) Lock(ctx context.Context, l engine.Login) (string, error) {
	if _, err := a.db.ExecContext(ctx, "ALTER USER "+account(l)+" ACCOUNT LOCK"); err != nil {
		return fmt.Sprintf("%s (%v)", l, Scrub(err)), nil
	}
	var create string
	if err := a.db.QueryRowContext(ctx, "SHOW CREATE USER "+account(l)).Scan(&create); err != nil {
		return "", fmt.Errorf("check %s is locked: %w", l, Scrub(err))
	}
	if !strings.Contains(strings.ToUpper(create), "ACCOUNT LOCK") {
		return l.String() + " (still unlocked after ACCOUNT LOCK)", nil
	}
	return "", nil
}

func (a *Admin) EndSessions(ctx context.Context, users []string) (int, error) {
	rows, err := a.db.QueryContext(ctx, "SELECT ID, USER FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", Scrub(err))
	}
	type session struct {
		id   int64
		user string
	}
	var kill []session
	for rows.Next() {
		var s session
		var user sql.NullString
		if err := rows.Scan(&s.id, &user); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list sessions: %w", Scrub(err))
		}
		if s.user = user.String; slices.Contains(users, s.user) {
			kill = append(kill, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list sessions: %w", Scrub(err))
	}
	if len(kill) == 0 {
		return 0, nil
	}
	kf, err := a.killer(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range kill {
		if err := kf(ctx, s.id); err != nil && !strings.Contains(err.Error(), "Unknown thread id") {
			return 0, fmt.Errorf("end session %d of %s: %w", s.id, s.user, Scrub(err))
		}
	}
	return len(kill), nil
}

// killer returns the one way to end a session on this server: RDS MySQL
// and Aurora refuse KILL of another user's session to the master and
// offer CALL mysql.rds_kill(id) instead; elsewhere KILL works.
func (a *Admin) killer(ctx context.Context) (func(ctx context.Context, id int64) error, error) {
	var n int
	err := a.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME = 'rds_kill'").Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("look for mysql.rds_kill: %w", Scrub(err))
	}
	if n > 0 {
		return func(ctx context.Context, id int64) error {
			_, err := a.db.ExecContext(ctx, "CALL mysql.rds_kill(?)", id)
			return err
		}, nil
	}
	return func(ctx context.Context, id int64) error {
		_, err := a.db.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
		return err
	}, nil
}

var privileges = map[engine.Access]string{engine.Read: "SELECT", engine.Write: "SELECT, INSERT, UPDATE, DELETE"}

func (a *Admin) Grant(ctx context.Context, l engine.Login, db string, acc engine.Access) error {
	privs, ok := privileges[acc]
	if !ok {
		return fmt.Errorf("grant %q to %s: %w", acc, l, engine.ErrAccess)
	}
	if _, err := a.db.ExecContext(ctx, "GRANT "+privs+" ON "+GrantDB(db)+".* TO "+account(l)); err != nil {
		return fmt.Errorf("grant %s on %s to %s: %w", acc, db, l, Scrub(err))
	}
	return nil
}

func (a *Admin) Forget(ctx context.Context, db string) error {
	rows, err := a.db.QueryContext(ctx, "SELECT User, Host FROM mysql.db WHERE Db = ?", grantPattern(db))
	if err != nil {
		return fmt.Errorf("list grants on %s: %w", db, Scrub(err))
	}
	var logins []engine.Login
	for rows.Next() {
		var l engine.Login
		if err := rows.Scan(&l.User, &l.Host); err == nil {
			logins = append(logins, l)
		}
	}
	rows.Close()
	var errs []error
	for _, l := range logins {
		if _, err := a.db.ExecContext(ctx, "REVOKE ALL PRIVILEGES ON "+GrantDB(db)+".* FROM "+account(l)); err != nil {
			errs = append(errs, fmt.Errorf("revoke grants on %s from %s: %w", db, l, Scrub(err)))
		}
	}
	return errors.Join(errs...)
}

// Restrict does nothing: a MySQL login has no access to a database
// without a grant of its own (or a global one, which CanRead reports).
func (a *Admin) Restrict(context.Context, string) error { return nil }

func (a *Admin) CanRead(ctx context.Context, l engine.Login, dbs ...string) (string, error) {
	var global sql.NullString
	err := a.db.QueryRowContext(ctx, "SELECT Select_priv FROM mysql.user WHERE User = ? AND Host = ?", l.User, l.Host).Scan(&global)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // no such account on this server
	}
	if err != nil {
		return "", fmt.Errorf("check login %s: %w", l, Scrub(err))
	}
	if global.String == "Y" {
		return "global SELECT", nil
	}
	if len(dbs) == 0 {
		return "", nil
	}
	like := strings.TrimSuffix(strings.Repeat("? LIKE Db OR ", len(dbs)), " OR ")
	in := strings.TrimSuffix(strings.Repeat("?, ", len(dbs)), ", ")
	args := []any{l.User, l.Host}
	for _, d := range dbs {
		args = append(args, d)
	}
	args = append(args, l.User, l.Host)
	for _, d := range dbs {
		args = append(args, d)
	}
	var n int
	err = a.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM mysql.db WHERE User = ? AND Host = ? AND (`+like+`))
		+ (SELECT COUNT(*) FROM mysql.tables_priv WHERE User = ? AND Host = ? AND Db IN (`+in+`))`, args...).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("check login %s: %w", l, Scrub(err))
	}
	if n > 0 {
		return "grants on the database", nil
	}
	return "", nil
}

func (a *Admin) Readers(ctx context.Context, db string) ([]engine.Login, error) {
	rows, err := a.db.QueryContext(ctx, `SELECT User, Host FROM mysql.db WHERE ? LIKE Db
		UNION SELECT User, Host FROM mysql.tables_priv WHERE Db = ?
		UNION SELECT User, Host FROM mysql.user WHERE Select_priv = 'Y'
		ORDER BY 1, 2`, db, db)
	if err != nil {
		return nil, fmt.Errorf("list logins that can read %s: %w", db, Scrub(err))
	}
	defer rows.Close()
	var out []engine.Login
	for rows.Next() {
		var l engine.Login
		if err := rows.Scan(&l.User, &l.Host); err != nil {
			return nil, Scrub(err)
		}
		if l.User == "" || l.Host == "" || a.System(l.User) {
			continue
		}
		out = append(out, l)
	}
	return out, Scrub(rows.Err())
}

func (a *Admin) ReadAs(ctx context.Context, dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil || cfg.DBName == "" {
		return errors.New("read as user: invalid dsn")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The admin lists the tables: a user without privileges would see
	// none and read nothing.
	tables, err := queryStrings(ctx, a.db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME LIMIT 1", cfg.DBName)
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", cfg.DBName, err)
	}
	q := "SELECT 1"
	if len(tables) > 0 {
		q = "SELECT COUNT(*) FROM (SELECT 1 FROM " + quote(tables[0]) + " LIMIT 1) t"
	}
	h, err := sql.Open("mysql", dsn)
	if err != nil {
		return errors.New("read as user: invalid dsn")
	}
	defer h.Close()
	var n int
	if err := h.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("log in as %s to %s and read: %w", cfg.User, cfg.DBName, redact(Scrub(err), cfg.Passwd))
	}
	return nil
}

// grantRE reads the privileges and database of a database-level SHOW
// GRANTS line.
var grantRE = regexp.MustCompile("^GRANT (.+) ON (`(?:[^`]|``)+`|\\S+)\\.\\* TO ")

// CopyGrants gives l the database-level privileges on to that it has on
// from, and returns how many grants it copied. (MySQL only: it is how a
// staging user without a password keeps the access an operator gave it.)
func (a *Admin) CopyGrants(ctx context.Context, l engine.Login, from, to string) (int, error) {
	grants, err := queryStrings(ctx, a.db, "SHOW GRANTS FOR "+account(l))
	if err != nil {
		return 0, fmt.Errorf("show grants for %s: %w", l, err)
	}
	n := 0
	for _, g := range grants {
		m := grantRE.FindStringSubmatch(g)
		if m == nil || UnescapeGrantDB(m[2]) != from {
			continue
		}
		if _, err := a.db.ExecContext(ctx, "GRANT "+m[1]+" ON "+GrantDB(to)+".* TO "+account(l)); err != nil {
			return n, fmt.Errorf("copy grant to %s: %w", l, Scrub(err))
		}
		n++
	}
	return n, nil
}
