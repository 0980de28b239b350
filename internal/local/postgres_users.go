package local

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/secure/precis"

	"github.com/restage/restage/internal/refresh"
)

// Users gives the staging users access to db and keeps production's logins
// out, with per-database privileges only (logins are server-wide and
// production still uses them):
//
//   - a missing staging user is created (CREATE ROLE … LOGIN PASSWORD with a
//     SCRAM-SHA-256 verifier computed here, so the password is in no SQL
//     text or server log); an existing role is never altered;
//   - REVOKE CONNECT, TEMPORARY ON DATABASE db FROM PUBLIC; GRANT CONNECT
//     to each staging user; in db, USAGE on every non-system schema and
//     SELECT (read) or SELECT, INSERT, UPDATE, DELETE plus USAGE, SELECT on
//     sequences (write) on everything in them;
//   - every production login that is a superuser or still has CONNECT on db
//     (through membership of the admin or a staging role, or being a staging
//     user) is a shared login: ErrSharedLogin unless AcceptSharedLogins;
//   - each staging user logs in to db and reads a table.
func (p *pgProvider) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	log := p.log.With("step", "users", "db", db.Name)
	for _, u := range users {
		if u.Name == "" {
			return errors.New("users: a staging user has no name")
		}
		if u.Privileges != "read" && u.Privileges != "write" {
			return fmt.Errorf("users: user %s: privileges %q: want read or write", u.Name, u.Privileges)
		}
	}
	c, err := p.control(ctx)
	if err != nil {
		return fmt.Errorf("users %s: %w", db.Name, err)
	}
	defer pgClose(c)

	for _, u := range users {
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", u.Name).Scan(&exists); err != nil {
			return fmt.Errorf("users %s: look up role %s: %w", db.Name, u.Name, pgScrub(err))
		}
		if exists {
			log.Info("staging user exists; left as it is", "user", u.Name)
			continue
		}
		if u.Password == "" {
			return fmt.Errorf("users %s: role %s does not exist and has no password to create it with", db.Name, u.Name)
		}
		verifier, err := pgScramVerifier(u.Password)
		if err != nil {
			return fmt.Errorf("users %s: role %s: %w", db.Name, u.Name, err)
		}
		if _, err := c.Exec(ctx, "CREATE ROLE "+pgIdent(u.Name)+" LOGIN PASSWORD "+pgLiteral(verifier)); err != nil {
			return fmt.Errorf("users %s: create role %s: %w", db.Name, u.Name, pgScrub(err))
		}
		log.Info("created staging user", "user", u.Name)
	}

	dbIdent := pgIdent(db.Name)
	if _, err := c.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE "+dbIdent+" FROM PUBLIC"); err != nil {
		return fmt.Errorf("users %s: revoke connect from public: %w", db.Name, pgScrub(err))
	}
	for _, u := range users {
		if _, err := c.Exec(ctx, "GRANT CONNECT ON DATABASE "+dbIdent+" TO "+pgIdent(u.Name)); err != nil {
			return fmt.Errorf("users %s: grant connect to %s: %w", db.Name, u.Name, pgScrub(err))
		}
	}
	if err := p.grantInDB(ctx, db, users); err != nil {
		return err
	}

	if err := p.shutOut(ctx, c, db, users); err != nil {
		return err
	}

	for _, u := range users {
		if err := p.tryLogin(ctx, db, u); err != nil {
			return err
		}
		log.Info("staging user can log in and read", "user", u.Name, "privileges", u.Privileges)
	}
	return nil
}

// grantInDB grants the staging users their privileges inside db.
func (p *pgProvider) grantInDB(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	n, err := p.connect(ctx, db.Name)
	if err != nil {
		return fmt.Errorf("users %s: connect: %w", db.Name, err)
	}
	defer pgClose(n)
	rows, err := n.Query(ctx, `SELECT nspname FROM pg_namespace
		WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' ORDER BY nspname`)
	if err != nil {
		return fmt.Errorf("users %s: list schemas: %w", db.Name, pgScrub(err))
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("users %s: list schemas: %w", db.Name, pgScrub(err))
	}
	for _, u := range users {
		role := pgIdent(u.Name)
		for _, s := range schemas {
			sc := pgIdent(s)
			stmts := []string{"GRANT USAGE ON SCHEMA " + sc + " TO " + role}
			if u.Privileges == "write" {
				stmts = append(stmts,
					"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+sc+" TO "+role,
					"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+sc+" TO "+role)
			} else {
				stmts = append(stmts, "GRANT SELECT ON ALL TABLES IN SCHEMA "+sc+" TO "+role)
			}
			for _, q := range stmts {
				if _, err := n.Exec(ctx, q); err != nil {
					return fmt.Errorf("users %s: grant %s on schema %s: %w", db.Name, u.Name, s, pgScrub(err))
				}
			}
		}
	}
	return nil
}

// shutOut checks that no production login can connect to db.
func (p *pgProvider) shutOut(ctx context.Context, c *pgx.Conn, db *refresh.DB, users []refresh.StagingUser) error {
	prod := p.cfg.ProductionLogins
	if len(prod) == 0 {
		var err error
		if prod, err = p.detectProductionLogins(ctx); err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
	}
	var shared []string
	for _, login := range prod {
		var super, canConnect bool
		err := c.QueryRow(ctx, `SELECT rolsuper, has_database_privilege(oid, $2, 'CONNECT') FROM pg_roles WHERE rolname = $1`,
			login, db.Name).Scan(&super, &canConnect)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // no such login on the staging server: nothing to shut out
		}
		if err != nil {
			return fmt.Errorf("users %s: check production login %s: %w", db.Name, login, pgScrub(err))
		}
		switch {
		case super:
			shared = append(shared, fmt.Sprintf("%q (superuser)", login))
		case slices.ContainsFunc(users, func(u refresh.StagingUser) bool { return u.Name == login }):
			shared = append(shared, fmt.Sprintf("%q (also a staging user)", login))
		case canConnect:
			shared = append(shared, fmt.Sprintf("%q (has CONNECT through a role it belongs to)", login))
		}
	}
	if len(shared) == 0 {
		return nil
	}
	list := strings.Join(shared, ", ")
	if p.cfg.AcceptSharedLogins {
		p.log.Warn("production logins can read staging; accepted by configuration", "step", "users", "db", db.Name, "logins", list)
		return nil
	}
	return fmt.Errorf("users %s: production login %s: %w (set the production logins explicitly, or accept shared logins)", db.Name, list, refresh.ErrSharedLogin)
}

// detectProductionLogins lists production's logins from the source's
// catalog (read only). Without PUBLIC CONNECT on the source database: every
// login that has CONNECT on it. With PUBLIC CONNECT (the default) every
// login qualifies through PUBLIC, so: superusers, and logins that are (or
// are members of) a role that owns the database or an object in it, or was
// granted a privilege on it or in it (pg_shdepend). restage's own logins
// (the staging admin and the source login) are left out.
func (p *pgProvider) detectProductionLogins(ctx context.Context) ([]string, error) {
	s, err := p.connectSource(ctx)
	if err != nil {
		return nil, fmt.Errorf("detect production logins: connect to source %s: %w", p.src.Target(), err)
	}
	defer pgClose(s)
	var public bool
	err = s.QueryRow(ctx, `SELECT EXISTS (
		SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
		WHERE d.datname = current_database() AND a.grantee = 0 AND a.privilege_type = 'CONNECT')`).Scan(&public)
	if err != nil {
		return nil, fmt.Errorf("detect production logins: %w", pgScrub(err))
	}
	q := `SELECT rolname FROM pg_roles WHERE rolcanlogin AND has_database_privilege(oid, current_database(), 'CONNECT') ORDER BY rolname`
	if public {
		q = `WITH d AS (SELECT oid, datdba FROM pg_database WHERE datname = current_database()),
		involved AS (
			SELECT sd.refobjid AS role FROM pg_shdepend sd, d
			WHERE sd.refclassid = 'pg_authid'::regclass AND sd.deptype IN ('o', 'a')
			  AND (sd.dbid = d.oid OR (sd.dbid = 0 AND sd.classid = 'pg_database'::regclass AND sd.objid = d.oid))
			UNION SELECT datdba FROM d)
		SELECT r.rolname FROM pg_roles r
		WHERE r.rolcanlogin AND (r.rolsuper OR EXISTS (SELECT 1 FROM involved i WHERE pg_has_role(r.oid, i.role, 'MEMBER')))
		ORDER BY r.rolname`
	}
	rows, err := s.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("detect production logins: %w", pgScrub(err))
	}
	logins, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("detect production logins: %w", pgScrub(err))
	}
	own := []string{p.stgConn.User, p.srcConn.User}
	logins = slices.DeleteFunc(logins, func(l string) bool { return slices.Contains(own, l) })
	p.log.Info("detected production logins", "step", "users", "logins", strings.Join(logins, ","), "public_connect", public)
	return logins, nil
}

// tryLogin logs in to db as u and reads a table.
func (p *pgProvider) tryLogin(ctx context.Context, db *refresh.DB, u refresh.StagingUser) error {
	cfg := p.stgConn.Copy()
	cfg.Database, cfg.User, cfg.Password = db.Name, u.Name, u.Password
	c, err := pgConnect(ctx, cfg)
	if err != nil {
		return fmt.Errorf("users %s: log in as %s: %w", db.Name, u.Name, err)
	}
	defer pgClose(c)
	var unreadable int
	var table string
	err = c.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT has_table_privilege(c.oid, 'SELECT')),
		coalesce(min(format('%I.%I', n.nspname, c.relname)) FILTER (WHERE c.relkind IN ('r', 'p')), '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'`).Scan(&unreadable, &table)
	if err != nil {
		return fmt.Errorf("users %s: as %s: list tables: %w", db.Name, u.Name, pgScrub(err))
	}
	if unreadable > 0 {
		return fmt.Errorf("users %s: %s can't read %d tables", db.Name, u.Name, unreadable)
	}
	if table != "" {
		if _, err := c.Exec(ctx, "SELECT 1 FROM "+table+" LIMIT 1"); err != nil {
			return fmt.Errorf("users %s: %s can't read %s: %w", db.Name, u.Name, table, pgScrub(err))
		}
	}
	return nil
}

// pgScramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password (RFC 5802/7677, 4096 iterations, the format of pg_authid).
// Non-ASCII passwords are normalised like the clients do (SASLprep via
// PRECIS OpaqueString, raw bytes when that fails).
func pgScramVerifier(password string) (string, error) {
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
