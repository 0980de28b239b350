package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/secure/precis"

	"github.com/restage/restage/internal/engine"
)

var _ engine.Admin = (*Admin)(nil)

// Admin is engine.Admin for a PostgreSQL server, over one admin session.
// Roles are cluster-wide; the grants inside a database (schemas, tables,
// sequences) are made in the session's own database.
type Admin struct {
	c     *pgx.Conn
	owned bool
}

// NewAdmin administers the server c is connected to (a session the caller
// keeps and closes).
func NewAdmin(c *pgx.Conn) *Admin { return &Admin{c: c} }

// OpenAdmin opens an admin session with dsn.
func OpenAdmin(ctx context.Context, dsn string) (*Admin, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("open postgres admin session: invalid dsn")
	}
	c, err := connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres admin session: %w", err)
	}
	return &Admin{c: c, owned: true}, nil
}

// Close closes the session if OpenAdmin opened it.
func (a *Admin) Close() error {
	if a.owned {
		closeConn(a.c)
	}
	return nil
}

func (a *Admin) Quote(name string) string { return Quote(name) }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// System reports PostgreSQL's own roles (pg_*).
func (a *Admin) System(user string) bool { return strings.HasPrefix(user, "pg_") }

func (a *Admin) names(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := a.c.Query(ctx, q, args...)
	if err != nil {
		return nil, scrub(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, scrub(err)
}

func (a *Admin) Logins(ctx context.Context) ([]engine.Login, error) {
	names, err := a.names(ctx, "SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	return logins(names), nil
}

func logins(names []string) []engine.Login {
	out := make([]engine.Login, len(names))
	for i, n := range names {
		out[i] = engine.Login{User: n}
	}
	return out
}

func (a *Admin) Accounts(ctx context.Context, user string) ([]engine.Login, error) {
	var exists bool
	if err := a.c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", user).Scan(&exists); err != nil {
		return nil, fmt.Errorf("look up role %s: %w", user, scrub(err))
	}
	if !exists {
		return nil, nil
	}
	return []engine.Login{{User: user}}, nil
}

func (a *Admin) CreateLogin(ctx context.Context, user, password string) ([]engine.Login, error) {
	verifier, err := ScramVerifier(password)
	if err != nil {
		return nil, fmt.Errorf("create role %s: %w", user, err)
	}
	if _, err := a.c.Exec(ctx, "CREATE ROLE "+a.Quote(user)+" LOGIN PASSWORD "+literal(verifier)); err != nil {
		return nil, fmt.Errorf("create role %s: %w", user, scrub(err))
	}
	return []engine.Login{{User: user}}, nil
}

func (a *Admin) ResetLogin(ctx context.Context, l engine.Login, password string) error {
	verifier, err := ScramVerifier(password)
	if err != nil {
		return fmt.Errorf("reset role %s: %w", l.User, err)
	}
	if _, err := a.c.Exec(ctx, "ALTER ROLE "+a.Quote(l.User)+" LOGIN PASSWORD "+literal(verifier)); err != nil {
		return fmt.Errorf("reset role %s: %w", l.User, scrub(err))
	}
	// Every role membership it inherited: it gets only what Grant gives.
	roles, err := a.names(ctx, `SELECT r.rolname FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE u.rolname = $1 ORDER BY 1`, l.User)
	if err != nil {
		return fmt.Errorf("list role memberships of %s: %w", l.User, err)
	}
	for _, r := range roles {
		if _, err := a.c.Exec(ctx, "REVOKE "+a.Quote(r)+" FROM "+a.Quote(l.User)); err != nil {
			return fmt.Errorf("revoke inherited role %s from %s: %w", r, l.User, scrub(err))
		}
	}
	return nil
}

func (a *Admin) Lock(ctx context.Context, l engine.Login) (string, error) {
	if _, err := a.c.Exec(ctx, "ALTER ROLE "+a.Quote(l.User)+" NOLOGIN"); err != nil {
		return fmt.Sprintf("%s (%v)", l.User, scrub(err)), nil
	}
	var still bool
	if err := a.c.QueryRow(ctx, "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", l.User).Scan(&still); err != nil {
		return "", fmt.Errorf("check %s is locked: %w", l.User, scrub(err))
	}
	if still {
		return l.User + " (still LOGIN after NOLOGIN)", nil
	}
	return "", nil
}

func (a *Admin) EndSessions(ctx context.Context, users []string) (int, error) {
	var ended int
	err := a.c.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND usename = ANY($1)`, users).Scan(&ended)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", scrub(err))
	}
	return ended, nil
}

func (a *Admin) Grant(ctx context.Context, l engine.Login, db string, acc engine.Access) error {
	if acc != engine.Read && acc != engine.Write {
		return fmt.Errorf("grant %q to %s: %w", acc, l.User, engine.ErrAccess)
	}
	var cur string
	if err := a.c.QueryRow(ctx, "SELECT current_database()").Scan(&cur); err != nil {
		return fmt.Errorf("grant on %s: %w", db, scrub(err))
	}
	if cur != db {
		return fmt.Errorf("grant on %s: the admin session is on %s", db, cur)
	}
	role := a.Quote(l.User)
	if _, err := a.c.Exec(ctx, "GRANT CONNECT ON DATABASE "+a.Quote(db)+" TO "+role); err != nil {
		return fmt.Errorf("grant connect on %s to %s: %w", db, l.User, scrub(err))
	}
	schemas, err := a.names(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY nspname`)
	if err != nil {
		return fmt.Errorf("list schemas of %s: %w", db, err)
	}
	for _, s := range schemas {
		sc := a.Quote(s)
		stmts := []string{"GRANT USAGE ON SCHEMA " + sc + " TO " + role}
		if acc == engine.Write {
			stmts = append(stmts,
				"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+sc+" TO "+role,
				"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+sc+" TO "+role)
		} else {
			stmts = append(stmts, "GRANT SELECT ON ALL TABLES IN SCHEMA "+sc+" TO "+role)
		}
		for _, q := range stmts {
			if _, err := a.c.Exec(ctx, q); err != nil {
				return fmt.Errorf("grant %s on schema %s to %s: %w", acc, s, l.User, scrub(err))
			}
		}
	}
	return nil
}

// Forget does nothing: a database's grants are dropped with it.
func (a *Admin) Forget(context.Context, string) error { return nil }

func (a *Admin) Restrict(ctx context.Context, db string) error {
	if _, err := a.c.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+a.Quote(db)+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("revoke connect on %s from public: %w", db, scrub(err))
	}
	return nil
}

// CanRead: a superuser reads everything; otherwise CONNECT on one of dbs,
// its own or through a role it belongs to (or PUBLIC's).
func (a *Admin) CanRead(ctx context.Context, l engine.Login, dbs ...string) (string, error) {
	for _, db := range dbs {
		var super, canConnect bool
		err := a.c.QueryRow(ctx, `SELECT rolsuper, has_database_privilege(oid, $2, 'CONNECT') FROM pg_roles WHERE rolname = $1`,
			l.User, db).Scan(&super, &canConnect)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil // no such login on this server
		}
		if err != nil {
			return "", fmt.Errorf("check login %s: %w", l.User, scrub(err))
		}
		switch {
		case super:
			return "superuser", nil
		case canConnect:
			return "has CONNECT through a role it belongs to", nil
		}
	}
	return "", nil
}

// Readers: without PUBLIC CONNECT on db, every login that has CONNECT on
// it. With PUBLIC CONNECT (the default) every login qualifies through
// PUBLIC, so: superusers, and logins that are (or are members of) a role
// that owns the database or an object in it, or was granted a privilege
// on it or in it (pg_shdepend).
func (a *Admin) Readers(ctx context.Context, db string) ([]engine.Login, error) {
	var public bool
	err := a.c.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
		WHERE d.datname = $1 AND a.grantee = 0 AND a.privilege_type = 'CONNECT')`, db).Scan(&public)
	if err != nil {
		return nil, fmt.Errorf("list logins that can read %s: %w", db, scrub(err))
	}
	q := `SELECT rolname FROM pg_roles WHERE rolcanlogin AND has_database_privilege(oid, $1, 'CONNECT') ORDER BY rolname`
	if public {
		q = `WITH d AS (SELECT oid, datdba FROM pg_database WHERE datname = $1),
		involved AS (
			SELECT sd.refobjid AS role FROM pg_shdepend sd, d
			WHERE sd.refclassid = 'pg_authid'::regclass AND sd.deptype IN ('o', 'a')
			  AND (sd.dbid = d.oid OR (sd.dbid = 0 AND sd.classid = 'pg_database'::regclass AND sd.objid = d.oid))
			UNION SELECT datdba FROM d)
		SELECT r.rolname FROM pg_roles r
		WHERE r.rolcanlogin AND (r.rolsuper OR EXISTS (SELECT 1 FROM involved i WHERE pg_has_role(r.oid, i.role, 'MEMBER')))
		ORDER BY r.rolname`
	}
	names, err := a.names(ctx, q, db)
	if err != nil {
		return nil, fmt.Errorf("list logins that can read %s: %w", db, err)
	}
	names = slices.DeleteFunc(names, a.System)
	return logins(names), nil
}

// ReadAs logs in, checks that every table, view and foreign table is
// readable, and reads a row of one table.
func (a *Admin) ReadAs(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return errors.New("read as user: invalid dsn")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := connect(ctx, cfg)
	if err != nil {
		return fmt.Errorf("log in as %s: %w", cfg.User, err)
	}
	defer closeConn(c)
	var unreadable int
	var table string
	err = c.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT has_table_privilege(c.oid, 'SELECT')),
		coalesce(min(format('%I.%I', n.nspname, c.relname)) FILTER (WHERE c.relkind IN ('r', 'p')), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'`).Scan(&unreadable, &table)
	if err != nil {
		return fmt.Errorf("as %s: list tables: %w", cfg.User, redactPassword(scrub(err), cfg.Password))
	}
	if unreadable > 0 {
		return fmt.Errorf("%s can't read %d tables", cfg.User, unreadable)
	}
	if table != "" {
		if _, err := c.Exec(ctx, "SELECT 1 FROM "+table+" LIMIT 1"); err != nil {
			return fmt.Errorf("%s can't read %s: %w", cfg.User, table, redactPassword(scrub(err), cfg.Password))
		}
	}
	return nil
}

// CopyRows implements engine.Admin: per spec, COPY (SELECT … WHERE …) TO
// STDOUT in a read-only repeatable-read transaction on the source streams
// into COPY … FROM STDIN of a temporary table in the target, then INSERT …
// ON CONFLICT (primary key) DO UPDATE. The sessions are opened here; the
// admin session is not used.
func (a *Admin) CopyRows(ctx context.Context, log *slog.Logger, fromDSN, intoDSN string, specs []engine.RowSpec) (int64, error) {
	fcfg, err := pgx.ParseConfig(fromDSN)
	if err != nil {
		return 0, errors.New("copy rows: invalid dsn")
	}
	icfg, err := pgx.ParseConfig(intoDSN)
	if err != nil {
		return 0, errors.New("copy rows: invalid dsn")
	}
	src, err := connect(ctx, fcfg)
	if err != nil {
		return 0, fmt.Errorf("connect to the current staging DB: %w", err)
	}
	defer closeConn(src)
	dst, err := connect(ctx, icfg)
	if err != nil {
		return 0, fmt.Errorf("connect to the new DB: %w", err)
	}
	defer closeConn(dst)
	var total int64
	err = pgx.BeginTxFunc(ctx, src, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(stx pgx.Tx) error {
		return pgx.BeginFunc(ctx, dst, func(ntx pgx.Tx) error {
			for i, spec := range specs {
				n, err := copyTable(ctx, stx, ntx, i, spec)
				if err != nil {
					return fmt.Errorf("%s: %w", spec.Table, err)
				}
				if n < 0 {
					log.Info("table missing in the current staging DB: nothing preserved", "table", spec.Table)
					continue
				}
				log.Info("preserved rows", "table", spec.Table, "rows", n)
				total += n
			}
			return nil
		})
	})
	if err != nil {
		return 0, redactPassword(redactPassword(scrub(err), fcfg.Password), icfg.Password)
	}
	return total, nil
}

// ScramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677, 4096 iterations, the format of pg_authid), so
// that CREATE/ALTER ROLE … PASSWORD never carries the password itself.
// Non-ASCII passwords are normalised like the clients do (SASLprep via
// PRECIS OpaqueString, raw bytes when that fails).
func ScramVerifier(password string) (string, error) {
	if !utf8.ValidString(password) {
		return "", errors.New("password is not valid UTF-8")
	}
	norm := password
	for _, r := range password {
		if r >= 0x80 {
			if s, err := precis.OpaqueString.String(password); err == nil {
				norm = s
			}
			break
		}
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const iterations = 4096
	salted, err := pbkdf2.Key(sha256.New, norm, salt, iterations, 32)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(server)), nil
}
