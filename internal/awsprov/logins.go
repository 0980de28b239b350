package awsprov

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/refresh"
)

// Reserved logins are never locked nor their sessions ended: the engine's
// and RDS's own accounts, which the copy needs to run and RDS needs to
// manage it. docs/aws-config.md lists the same.
//
//   - MySQL / MariaDB: rdsadmin, rdsrepladmin, every rds_* account,
//     every mysql.* account (mysql.sys, mysql.session, mysql.infoschema)
//     and mariadb.sys.
//   - PostgreSQL: rdsadmin, rdsrepladmin, rdstopmgr, rdsproxyadmin, every
//     rds_* and pg_* role.
func reservedMySQL(user string) bool {
	return user == "rdsadmin" || user == "rdsrepladmin" || user == "mariadb.sys" ||
		strings.HasPrefix(user, "rds_") || strings.HasPrefix(user, "mysql.")
}

func reservedPostgres(role string) bool {
	return slices.Contains(pgSystem, role) || strings.HasPrefix(role, "rds_") || strings.HasPrefix(role, "pg_")
}

// shutOut runs right after the copy accepts the new master login, before
// any other step: every login the copy inherited from production except
// the master and the reserved ones is locked (MySQL ACCOUNT LOCK,
// PostgreSQL NOLOGIN), checked locked in the catalog, and every session
// of those logins — and of the master, other than restage's own — is
// ended. A login that can't be locked fails the run, named. The staging
// users are unlocked again, with their own password and grants only, by
// the users step. Only the AWS provider does this: on a shared local
// server those logins are production's own.
func (p *Provider) shutOut(ctx context.Context, db *refresh.DB, master string) ([]string, error) {
	switch db.Engine {
	case "mysql":
		return p.shutOutMySQL(ctx, db, master)
	case "postgres":
		return p.shutOutPostgres(ctx, db, master)
	}
	return nil, fmt.Errorf("unsupported engine family %q", db.Engine)
}

func (p *Provider) shutOutMySQL(ctx context.Context, db *refresh.DB, master string) ([]string, error) {
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
	var locked, refused []string
	users := map[string]bool{master: true}
	for _, a := range accounts {
		if a.user == master || reservedMySQL(a.user) {
			continue
		}
		users[a.user] = true
		name, why, err := myLockAccount(ctx, h, a)
		switch {
		case err != nil:
			return locked, err
		case why != "":
			refused = append(refused, why)
		default:
			locked = append(locked, name)
		}
	}
	if len(refused) > 0 {
		return locked, fmt.Errorf("inherited login %s could not be locked: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
	}
	// Sessions opened before the lock survive it: end them.
	rows, err := h.QueryContext(ctx, "SELECT ID, USER FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()")
	if err != nil {
		return locked, fmt.Errorf("list sessions: %w", err)
	}
	type sess struct {
		id   int64
		user string
	}
	var kill []sess
	for rows.Next() {
		var s sess
		var user sql.NullString
		if err := rows.Scan(&s.id, &user); err != nil {
			rows.Close()
			return locked, fmt.Errorf("list sessions: %w", err)
		}
		if s.user = user.String; users[s.user] {
			kill = append(kill, s)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return locked, fmt.Errorf("list sessions: %w", err)
	}
	if len(kill) > 0 {
		kf, err := mysqlKiller(ctx, h)
		if err != nil {
			return locked, err
		}
		for _, s := range kill {
			if err := kf(ctx, s.id); err != nil && !strings.Contains(err.Error(), "Unknown thread id") {
				return locked, fmt.Errorf("end session %d of %s: %w", s.id, s.user, err)
			}
		}
		p.log.Info("sessions of inherited logins ended", "step", refresh.StepReady, "db", db.Name, "count", len(kill))
	}
	return locked, nil
}

// mysqlKiller returns the one way to end a session on this server: RDS
// MySQL and Aurora refuse KILL of another user's session to the master and
// offer CALL mysql.rds_kill(id) instead; elsewhere (the private test
// servers) KILL works.
func mysqlKiller(ctx context.Context, h *sql.DB) (func(ctx context.Context, id int64) error, error) {
	var n int
	err := h.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME = 'rds_kill'").Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("look for mysql.rds_kill: %w", err)
	}
	if n > 0 {
		return func(ctx context.Context, id int64) error {
			_, err := h.ExecContext(ctx, "CALL mysql.rds_kill(?)", id)
			return err
		}, nil
	}
	return func(ctx context.Context, id int64) error {
		_, err := h.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
		return err
	}, nil
}

func (p *Provider) shutOutPostgres(ctx context.Context, db *refresh.DB, master string) ([]string, error) {
	c, err := pgx.Connect(ctx, db.AdminDSN)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rows, err := c.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1")
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	logins, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	var locked, refused []string
	for _, l := range logins {
		if l == master || reservedPostgres(l) {
			continue
		}
		if _, err := c.Exec(ctx, "ALTER ROLE "+pgx.Identifier{l}.Sanitize()+" NOLOGIN"); err != nil {
			refused = append(refused, fmt.Sprintf("%s (%v)", l, err))
			continue
		}
		locked = append(locked, l)
	}
	if len(locked) > 0 {
		rows, err := c.Query(ctx, "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname = ANY($1) ORDER BY 1", locked)
		if err != nil {
			return locked, fmt.Errorf("check logins are locked: %w", err)
		}
		still, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return locked, fmt.Errorf("check logins are locked: %w", err)
		}
		for _, s := range still {
			refused = append(refused, s+" (still LOGIN after NOLOGIN)")
		}
	}
	if len(refused) > 0 {
		return locked, fmt.Errorf("inherited login %s could not be locked: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
	}
	// Sessions opened before NOLOGIN survive it: end them.
	var ended int
	err = c.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND usename = ANY($1)`,
		append(slices.Clone(locked), master)).Scan(&ended)
	if err != nil {
		return locked, fmt.Errorf("end sessions of inherited logins: %w", err)
	}
	if ended > 0 {
		p.log.Info("sessions of inherited logins ended", "step", refresh.StepReady, "db", db.Name, "count", ended)
	}
	return locked, nil
}

// revokeInheritedRolesPostgres takes from an existing staging role every
// role membership it inherited from production: it gets only the grants
// the users step gives it.
func revokeInheritedRolesPostgres(ctx context.Context, c *pgx.Conn, user string) error {
	rows, err := c.Query(ctx, `SELECT r.rolname FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
		WHERE u.rolname = $1 ORDER BY 1`, user)
	if err != nil {
		return fmt.Errorf("list role memberships of %s: %w", user, err)
	}
	roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list role memberships of %s: %w", user, err)
	}
	for _, r := range roles {
		if _, err := c.Exec(ctx, "REVOKE "+pgx.Identifier{r}.Sanitize()+" FROM "+pgx.Identifier{user}.Sanitize()); err != nil {
			return fmt.Errorf("revoke inherited role %s from %s: %w", r, user, err)
		}
	}
	return nil
}

// revokeInheritedRolesMySQL takes every role granted to account away
// (MariaDB mysql.roles_mapping, MySQL 8 mysql.role_edges) and clears its
// default role.
func revokeInheritedRolesMySQL(ctx context.Context, h *sql.DB, user, host string) error {
	var roles []string
	// The default role is cleared differently: MariaDB SET DEFAULT ROLE
	// NONE FOR, MySQL 8 ALTER USER … DEFAULT ROLE NONE.
	clearDefault := "SET DEFAULT ROLE NONE FOR " + myAcct(user, host)
	for i, q := range []string{
		"SELECT Role FROM mysql.roles_mapping WHERE User = ? AND Host = ?",                                               // MariaDB
		"SELECT CONCAT(QUOTE(FROM_USER), '@', QUOTE(FROM_HOST)) FROM mysql.role_edges WHERE TO_USER = ? AND TO_HOST = ?", // MySQL 8
	} {
		rows, err := h.QueryContext(ctx, q, user, host)
		if err != nil {
			continue
		}
		if i == 1 {
			clearDefault = "ALTER USER " + myAcct(user, host) + " DEFAULT ROLE NONE"
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				rows.Close()
				return fmt.Errorf("list roles of %s@%s: %w", user, host, err)
			}
			if !strings.Contains(r, "@") {
				r = myIdent(r)
			}
			roles = append(roles, r)
		}
		rows.Close()
		break
	}
	for _, r := range roles {
		if _, err := h.ExecContext(ctx, "REVOKE "+r+" FROM "+myAcct(user, host)); err != nil {
			return fmt.Errorf("revoke inherited role from %s@%s: %w", user, host, err)
		}
	}
	if len(roles) > 0 {
		if _, err := h.ExecContext(ctx, clearDefault); err != nil {
			return fmt.Errorf("clear default role of %s@%s: %w", user, host, err)
		}
	}
	return nil
}
