package localserver

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/postgres"
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
func (p *pgServer) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	log := p.log.With("step", "users", "db", db.Name)
	for _, u := range users {
		if u.Name == "" {
			return errors.New("users: a staging user has no name")
		}
		if u.Privileges != "read" && u.Privileges != "write" {
			return fmt.Errorf("users: user %s: privileges %q: want read or write", u.Name, u.Privileges)
		}
	}
	// The grants inside db are made from a session on db.
	c, err := p.connect(ctx, db.Name)
	if err != nil {
		return fmt.Errorf("users %s: connect: %w", db.Name, err)
	}
	defer pgClose(c)
	adm := postgres.NewAdmin(c)

	for _, u := range users {
		logins, err := adm.Accounts(ctx, u.Name)
		if err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
		if len(logins) > 0 {
			log.Info("staging user exists; left as it is", "user", u.Name)
			continue
		}
		if u.Password == "" {
			return fmt.Errorf("users %s: role %s does not exist and has no password to create it with", db.Name, u.Name)
		}
		if _, err := adm.CreateLogin(ctx, u.Name, u.Password); err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
		log.Info("created staging user", "user", u.Name)
	}

	if err := adm.Restrict(ctx, db.Name); err != nil {
		return fmt.Errorf("users %s: %w", db.Name, err)
	}
	for _, u := range users {
		if err := adm.Grant(ctx, engine.Login{User: u.Name}, db.Name, engine.Access(u.Privileges)); err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
	}

	if err := p.shutOut(ctx, adm, db, users); err != nil {
		return err
	}

	for _, u := range users {
		if err := adm.ReadAs(ctx, p.dsnAs(u.Name, u.Password, db.Name)); err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
		log.Info("staging user can log in and read", "user", u.Name, "privileges", u.Privileges)
	}
	return nil
}

// dsnAs is the staging DSN for user on database name.
func (p *pgServer) dsnAs(user, password, name string) string {
	u, err := url.Parse(p.adminDSN(name))
	if err != nil {
		return ""
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// shutOut checks that no production login can connect to db.
func (p *pgServer) shutOut(ctx context.Context, adm *postgres.Admin, db *refresh.DB, users []refresh.StagingUser) error {
	prod := p.cfg.ProductionLogins
	if len(prod) == 0 {
		var err error
		if prod, err = p.detectProductionLogins(ctx); err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
	}
	var shared []string
	for _, login := range prod {
		why, err := adm.CanRead(ctx, engine.Login{User: login}, db.Name)
		if err != nil {
			return fmt.Errorf("users %s: %w", db.Name, err)
		}
		switch {
		case why == "superuser":
			shared = append(shared, fmt.Sprintf("%q (superuser)", login))
		case slices.ContainsFunc(users, func(u refresh.StagingUser) bool { return u.Name == login }):
			shared = append(shared, fmt.Sprintf("%q (also a staging user)", login))
		case why != "":
			shared = append(shared, fmt.Sprintf("%q (%s)", login, why))
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
// catalog (read only): the engine's Readers of the source database.
// restage's own logins (the staging admin and the source login) are left
// out.
func (p *pgServer) detectProductionLogins(ctx context.Context) ([]string, error) {
	s, err := p.connectSource(ctx)
	if err != nil {
		return nil, fmt.Errorf("detect production logins: connect to source %s: %w", p.src.Target(), err)
	}
	defer pgClose(s)
	readers, err := postgres.NewAdmin(s).Readers(ctx, p.srcConn.Database)
	if err != nil {
		return nil, fmt.Errorf("detect production logins: %w", err)
	}
	own := []string{p.stgConn.User, p.srcConn.User}
	var logins []string
	for _, l := range readers {
		if !slices.Contains(own, l.User) {
			logins = append(logins, l.User)
		}
	}
	p.log.Info("detected production logins", "step", "users", "logins", strings.Join(logins, ","))
	return logins, nil
}
