package awsprov

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

// mysqlCATLS is the go-sql-driver TLS config name for TLSVerify (the
// driver fills in ServerName from the host it dials).
const mysqlCATLS = "restage-rds-ca"

func registerMySQLCA(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("TLS CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("TLS CA file %s: no PEM certificates in it", file)
	}
	return mysql.RegisterTLSConfig(mysqlCATLS, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
}

// connectHost is where restage connects to reach endpoint.
func (p *Provider) connectHost(endpoint string) string {
	if p.cfg.Resolve != nil {
		return p.cfg.Resolve(endpoint)
	}
	return endpoint
}

// dsnFor is a connection string for user on r's DBName, with the
// configured TLS: a go-sql-driver DSN (MySQL family) or a postgres:// URL.
func (p *Provider) dsnFor(r *rds.DB, user, password string) (string, error) {
	host := p.connectHost(r.Endpoint)
	switch r.Engine.Family() {
	case "mysql":
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net = user, password, "tcp"
		c.Addr = net.JoinHostPort(host, strconv.Itoa(int(r.Port)))
		c.DBName = p.cfg.DBName
		switch p.cfg.tlsMode() {
		case TLSOn:
			// Encrypted; RDS's CA is not in the system roots, so the
			// certificate is verified only with a CA bundle (TLSVerify).
			c.TLSConfig = "skip-verify"
		case TLSVerify:
			c.TLSConfig = mysqlCATLS
		}
		return c.FormatDSN(), nil
	case "postgres":
		q := url.Values{}
		switch p.cfg.tlsMode() {
		case TLSOff:
			q.Set("sslmode", "disable")
		case TLSOn:
			q.Set("sslmode", "require")
		case TLSVerify:
			q.Set("sslmode", "verify-full")
			q.Set("sslrootcert", p.cfg.TLSCAFile)
		}
		u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
			Host: net.JoinHostPort(host, strconv.Itoa(int(r.Port))), Path: "/" + p.cfg.DBName, RawQuery: q.Encode()}
		return u.String(), nil
	}
	return "", fmt.Errorf("%s: unsupported engine %q", r.ID, r.Engine)
}

// redact makes an error from the copy's server safe to log: the engine's
// scrubber removes row values (server messages quote them), then every
// given secret is removed from the text.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	err = mysqlengine.Scrub(postgres.Scrub(err))
	s := err.Error()
	changed := false
	for _, p := range secrets {
		if p != "" && strings.Contains(s, p) {
			s = strings.ReplaceAll(s, p, "[redacted]")
			changed = true
		}
	}
	if !changed {
		return err
	}
	return errors.New(s)
}

// ping logs in with dsn and runs q (SELECT 1 by default), scanning one
// integer.
func ping(ctx context.Context, family, dsn, q string) error {
	if q == "" {
		q = "SELECT 1"
	}
	var n int
	switch family {
	case "mysql":
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.QueryRowContext(ctx, q).Scan(&n)
	case "postgres":
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer c.Close(context.WithoutCancel(ctx))
		return c.QueryRow(ctx, q).Scan(&n)
	}
	return fmt.Errorf("unsupported engine family %q", family)
}

// Ready logs in as the master and runs SELECT 1, retrying with bounded
// exponential backoff until ReadyTimeout.
func (p *Provider) Ready(ctx context.Context, db *refresh.DB) error {
	if db.AdminDSN == "" {
		return fmt.Errorf("%s: no admin login (credentials step not run)", db.Name)
	}
	pw := p.password(db.Name)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ReadyTimeout)
	defer cancel()
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 15*time.Second)
		err := ping(actx, db.Engine, db.AdminDSN, "")
		acancel()
		if err == nil {
			p.log.Info("login and SELECT 1 succeeded", "step", refresh.StepReady, "db", db.Name, "attempts", attempt)
			return p.credentialsFirst(ctx, db)
		}
		err = redact(err, pw)
		p.log.Info("not ready yet", "step", refresh.StepReady, "db", db.Name, "attempt", attempt, "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s not ready after %d attempts (at most %s): %w", db.Endpoint, attempt, p.cfg.ReadyTimeout, err)
		case <-t.C:
		}
		wait = min(2*wait, 15*time.Second)
	}
}

// credentialsFirst shuts production's logins out of the copy the moment
// it accepts the new master login (see shutOut).
func (p *Provider) credentialsFirst(ctx context.Context, db *refresh.DB) error {
	master := p.view(db).MasterUsername
	if master == "" {
		return fmt.Errorf("%s: master user name unknown (credentials step not run)", db.Name)
	}
	locked, err := p.shutOut(ctx, db, master)
	if err != nil {
		return fmt.Errorf("shut inherited logins out of %s: %w", db.Name, redact(err, p.password(db.Name)))
	}
	p.log.Info("inherited logins locked, their sessions ended", "step", refresh.StepReady, "db", db.Name, "count", len(locked), "logins", strings.Join(locked, ","))
	return nil
}

func (p *Provider) password(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.passwords[name]
}

// Users creates (or re-passwords) each staging user with read or write
// access to DBName, locks every inherited login except the master, the
// staging users and the engine's/RDS's system accounts, checks in the
// catalog that they are locked, then logs in as each staging user and
// reads a table. This server is restage's own copy, so altering accounts
// is fine.
func (p *Provider) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	r, err := p.fresh(ctx, db)
	if err != nil {
		return err
	}
	master := r.MasterUsername
	secrets := []string{p.password(db.Name)}
	for _, u := range users {
		secrets = append(secrets, u.Password)
		switch {
		case u.Password == "":
			return fmt.Errorf("users on %s: staging user %s has no password: the AWS provider creates its users and needs one", db.Name, u.Name)
		case u.Name == master:
			return fmt.Errorf("users on %s: staging user %s is the master login", db.Name, u.Name)
		case u.Privileges != "read" && u.Privileges != "write":
			return fmt.Errorf("users on %s: staging user %s: privileges %q: want read or write", db.Name, u.Name, u.Privileges)
		}
	}
	var locked []string
	switch db.Engine {
	case "mysql":
		locked, err = p.mysqlUsers(ctx, db, master, users)
	case "postgres":
		locked, err = p.postgresUsers(ctx, db, master, users)
	default:
		err = fmt.Errorf("unsupported engine family %q", db.Engine)
	}
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, redact(err, secrets...))
	}
	p.log.Info("inherited logins locked", "step", refresh.StepUsers, "db", db.Name, "count", len(locked), "logins", strings.Join(locked, ","))
	for _, u := range users {
		d, err := p.dsnFor(r, u.Name, u.Password)
		if err != nil {
			return err
		}
		if err := p.readAs(ctx, db, d); err != nil {
			return fmt.Errorf("users on %s: log in as %s and read: %w", db.Name, u.Name, redact(err, secrets...))
		}
		p.log.Info("staging user can log in and read", "step", refresh.StepUsers, "db", db.Name, "user", u.Name)
	}
	return nil
}

// readAs logs in with dsn and reads one row of the first table of DBName.
func (p *Provider) readAs(ctx context.Context, db *refresh.DB, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := "SELECT 1"
	switch db.Engine {
	case "mysql":
		adb, err := sql.Open("mysql", db.AdminDSN)
		if err != nil {
			return err
		}
		defer adb.Close()
		var t string
		err = adb.QueryRowContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name LIMIT 1", p.cfg.DBName).Scan(&t)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("list tables: %w", err)
		}
		if t != "" {
			q = "SELECT COUNT(*) FROM (SELECT 1 FROM " + myIdent(t) + " LIMIT 1) t"
		}
	case "postgres":
		c, err := pgx.Connect(ctx, db.AdminDSN)
		if err != nil {
			return err
		}
		var s, t string
		err = c.QueryRow(ctx, `SELECT table_schema, table_name FROM information_schema.tables
			WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
			ORDER BY 1, 2 LIMIT 1`).Scan(&s, &t)
		c.Close(context.WithoutCancel(ctx))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("list tables: %w", err)
		}
		if t != "" {
			q = "SELECT COUNT(*)::int FROM (SELECT 1 FROM " + pgx.Identifier{s, t}.Sanitize() + " LIMIT 1) t"
		}
	}
	return ping(ctx, db.Engine, dsn, q)
}

// ---- MySQL / MariaDB ----

var mysqlPrivileges = map[string]string{"read": "SELECT", "write": "SELECT, INSERT, UPDATE, DELETE"}

func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
func myString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}
func myAcct(user, host string) string {
	return myString(user) + "@" + myString(host)
}

type myAccount struct{ user, host string }

// myLockAccount locks one account and reads the lock back: why says, with
// the account's name, that it could not be locked; err that the check
// itself failed.
func myLockAccount(ctx context.Context, h *sql.DB, a myAccount) (name, why string, err error) {
	name = a.user + "@" + a.host
	if _, err := h.ExecContext(ctx, "ALTER USER "+myAcct(a.user, a.host)+" ACCOUNT LOCK"); err != nil {
		return name, fmt.Sprintf("%s (%v)", name, redact(err)), nil
	}
	var create string
	if err := h.QueryRowContext(ctx, "SHOW CREATE USER "+myAcct(a.user, a.host)).Scan(&create); err != nil {
		return name, "", fmt.Errorf("check %s is locked: %w", name, redact(err))
	}
	if !strings.Contains(strings.ToUpper(create), "ACCOUNT LOCK") {
		return name, name + " (still unlocked after ACCOUNT LOCK)", nil
	}
	return name, "", nil
}

func (p *Provider) mysqlUsers(ctx context.Context, db *refresh.DB, master string, users []refresh.StagingUser) ([]string, error) {
	h, err := sql.Open("mysql", db.AdminDSN)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	h.SetMaxOpenConns(1)
	accounts, err := mysqlAccounts(ctx, h)
	if err != nil {
		return nil, err
	}
	staging := map[string]bool{}
	for _, u := range users {
		staging[u.Name] = true
		var hosts []string
		for _, a := range accounts {
			if a.user == u.Name {
				hosts = append(hosts, a.host)
			}
		}
		if len(hosts) == 0 {
			hosts = []string{"%"}
			if _, err := h.ExecContext(ctx, "CREATE USER "+myAcct(u.Name, "%")+" IDENTIFIED BY "+myString(u.Password)); err != nil {
				return nil, fmt.Errorf("create user %s: %w", u.Name, err)
			}
		}
		for _, host := range hosts {
			acct := myAcct(u.Name, host)
			if err := revokeInheritedRolesMySQL(ctx, h, u.Name, host); err != nil {
				return nil, err
			}
			stmts := []string{
				"ALTER USER " + acct + " IDENTIFIED BY " + myString(u.Password) + " ACCOUNT UNLOCK",
				"REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + acct,
				"GRANT " + mysqlPrivileges[u.Privileges] + " ON " + myIdent(p.cfg.DBName) + ".* TO " + acct,
			}
			for _, s := range stmts {
				if _, err := h.ExecContext(ctx, s); err != nil {
					return nil, fmt.Errorf("staging user %s@%s: %w", u.Name, host, err)
				}
			}
		}
	}
	var locked, refused []string
	for _, a := range accounts {
		if a.user == master || staging[a.user] || reservedMySQL(a.user) {
			continue
		}
		name, why, err := myLockAccount(ctx, h, a)
		switch {
		case err != nil:
			return nil, err
		case why != "":
			refused = append(refused, why)
		default:
			locked = append(locked, name)
		}
	}
	if len(refused) > 0 {
		if !p.cfg.AcceptSharedLogins {
			return locked, fmt.Errorf("inherited login %s: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
		}
		p.log.Warn("inherited logins could not be locked (accepted)", "step", refresh.StepUsers, "db", db.Name, "logins", strings.Join(refused, ", "))
	}
	return locked, nil
}

// mysqlAccounts lists login accounts: MariaDB roles and accounts that are
// locked already (MySQL 8 roles, its locked system accounts) are left out.
func mysqlAccounts(ctx context.Context, h *sql.DB) ([]myAccount, error) {
	var rows *sql.Rows
	var err error
	for _, q := range []string{
		"SELECT User, Host, is_role, 'N' FROM mysql.user",        // MariaDB
		"SELECT User, Host, 'N', account_locked FROM mysql.user", // MySQL 8
		"SELECT User, Host, 'N', 'N' FROM mysql.user",
	} {
		if rows, err = h.QueryContext(ctx, q); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []myAccount
	for rows.Next() {
		var a myAccount
		var role, locked string
		if err := rows.Scan(&a.user, &a.host, &role, &locked); err != nil {
			return nil, err
		}
		if strings.EqualFold(role, "Y") || strings.EqualFold(locked, "Y") {
			continue
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ---- PostgreSQL ----

// pgSystem are RDS's own login roles; never locked (pg_* too).
var pgSystem = []string{"rdsadmin", "rdsrepladmin", "rdstopmgr", "rdsproxyadmin"}

func pgLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

var pgPrivileges = map[string]string{"read": "SELECT", "write": "SELECT, INSERT, UPDATE, DELETE"}

func (p *Provider) postgresUsers(ctx context.Context, db *refresh.DB, master string, users []refresh.StagingUser) ([]string, error) {
	c, err := pgx.Connect(ctx, db.AdminDSN)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	staging := map[string]bool{}
	rows, err := c.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}
	for _, u := range users {
		staging[u.Name] = true
		role := pgx.Identifier{u.Name}.Sanitize()
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", u.Name).Scan(&exists); err != nil {
			return nil, fmt.Errorf("look up role %s: %w", u.Name, err)
		}
		verb := "CREATE"
		if exists {
			verb = "ALTER"
		}
		stmts := []string{
			verb + " ROLE " + role + " LOGIN PASSWORD " + pgLiteral(u.Password),
			"GRANT CONNECT ON DATABASE " + pgx.Identifier{p.cfg.DBName}.Sanitize() + " TO " + role,
		}
		for _, s := range schemas {
			sch := pgx.Identifier{s}.Sanitize()
			stmts = append(stmts,
				"GRANT USAGE ON SCHEMA "+sch+" TO "+role,
				"GRANT "+pgPrivileges[u.Privileges]+" ON ALL TABLES IN SCHEMA "+sch+" TO "+role)
			if u.Privileges == "write" {
				stmts = append(stmts, "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+sch+" TO "+role)
			}
		}
		for _, s := range stmts {
			if _, err := c.Exec(ctx, s); err != nil {
				return nil, fmt.Errorf("staging user %s: %w", u.Name, err)
			}
		}
		if err := revokeInheritedRolesPostgres(ctx, c, u.Name); err != nil {
			return nil, err
		}
	}
	rows, err = c.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	logins, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	var locked, refused []string
	for _, l := range logins {
		if l == master || staging[l] || reservedPostgres(l) {
			continue
		}
		if _, err := c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{l}.Sanitize()+" NOLOGIN"); err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", l, err))
			continue
		}
		locked = append(locked, l)
	}
	if len(locked) > 0 {
		var still []string
		rows, err := c.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname = ANY($1) ORDER BY 1", locked)
		if err != nil {
			return nil, fmt.Errorf("check logins are locked: %w", err)
		}
		if still, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return nil, fmt.Errorf("check logins are locked: %w", err)
		}
		for _, s := range still {
			refused = append(refused, s+" (still LOGIN after NOLOGIN)")
		}
	}
	if len(refused) > 0 {
		if !p.cfg.AcceptSharedLogins {
			return locked, fmt.Errorf("inherited login %s: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
		}
		p.log.Warn("inherited logins could not be locked (accepted)", "step", refresh.StepUsers, "db", db.Name, "logins", strings.Join(refused, ", "))
	}
	return locked, nil
}
