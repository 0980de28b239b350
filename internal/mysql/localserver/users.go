package localserver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/restage/restage/internal/engine"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

// adminOps is the MySQL engine's admin contract on the staging server.
func (p *mysqlServer) adminOps(ctx context.Context) (*mysqlengine.Admin, error) {
	a, err := mysqlengine.NewAdmin(ctx, p.admin)
	if err != nil {
		return nil, mysqlRedact(err, p.stg.Passwd)
	}
	return a, nil
}

// dsnAs is the staging DSN for user on database name.
func (p *mysqlServer) dsnAs(user, password, name string) string {
	cfg := p.stg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = user, password, name
	return cfg.FormatDSN()
}

// Users keeps production's logins out, then gives each staging user
// access to db. Accounts are server-wide and production may use them, so
// nothing here alters, locks or drops an existing account: a missing
// staging user is created, and access is granted per database — on the
// stable staging name (database grants go by name and survive the
// switch's RENAME TABLE) and on db itself, so each user's login can be
// checked against the new data before the switch.
func (p *mysqlServer) Users(ctx context.Context, db *refresh.DB, users []refresh.StagingUser) error {
	prod, err := p.productionAccounts(ctx)
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, err)
	}
	adm, err := p.adminOps(ctx)
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, err)
	}
	var shared []string
	for _, a := range prod {
		why, err := adm.CanRead(ctx, a, p.stagingName, db.Name)
		if err != nil {
			return fmt.Errorf("users on %s: %w", db.Name, err)
		}
		if why != "" {
			shared = append(shared, a.String()+" ("+why+")")
		}
	}
	if len(shared) > 0 {
		if !p.cfg.AcceptSharedLogins {
			return fmt.Errorf("users on %s: production login %s: %w", db.Name, strings.Join(shared, ", "), refresh.ErrSharedLogin)
		}
		p.log.Warn("production logins can read staging (accepted)", "step", "users", "target", p.cfg.Target, "logins", strings.Join(shared, ", "))
	}
	for _, u := range users {
		for _, a := range prod {
			if a.User == u.Name {
				return fmt.Errorf("users on %s: staging user %s is also a production login", db.Name, u.Name)
			}
		}
		if err := p.user(ctx, adm, db, u); err != nil {
			return fmt.Errorf("users on %s: staging user %s: %w", db.Name, u.Name, err)
		}
	}
	return nil
}

func (p *mysqlServer) user(ctx context.Context, adm *mysqlengine.Admin, db *refresh.DB, u refresh.StagingUser) error {
	logins, err := adm.Accounts(ctx, u.Name)
	if err != nil {
		return err
	}
	if u.Password == "" {
		// The old system's way: the account exists; copy its grants on
		// the staging DB to the new DB. Without a password there is no
		// login to check.
		if len(logins) == 0 {
			return errors.New("no password given and no account to copy grants from")
		}
		n := 0
		for _, l := range logins {
			k, err := adm.CopyGrants(ctx, l, p.stagingName, db.Name)
			if err != nil {
				return err
			}
			n += k
		}
		if n == 0 {
			return fmt.Errorf("no grants on %s to copy", p.stagingName)
		}
		p.log.Info("grants copied from the staging DB; login not checked (no password)", "step", "users", "target", p.cfg.Target, "user", u.Name, "grants", n)
		return nil
	}
	acc := engine.Access(u.Privileges)
	if acc != engine.Read && acc != engine.Write {
		return fmt.Errorf("privileges %q: %w", u.Privileges, engine.ErrAccess)
	}
	if len(logins) == 0 {
		if logins, err = adm.CreateLogin(ctx, u.Name, u.Password); err != nil {
			return err
		}
		var hosts []string
		for _, l := range logins {
			hosts = append(hosts, l.Host)
		}
		p.log.Info("account created", "step", "users", "target", p.cfg.Target, "user", u.Name, "hosts", strings.Join(hosts, ","))
	}
	for _, l := range logins {
		// Database grants go by name: the stable staging name's survive
		// the switch's RENAME TABLE; the new DB's let the login be
		// checked against the new data before the switch.
		for _, name := range []string{p.stagingName, db.Name} {
			if err := adm.Grant(ctx, l, name, acc); err != nil {
				return err
			}
		}
	}
	if err := adm.ReadAs(ctx, p.dsnAs(u.Name, u.Password, db.Name)); err != nil {
		return fmt.Errorf("on %s: %w", db.Endpoint, err)
	}
	return nil
}

// productionAccounts returns the accounts to keep out: those named by
// ProductionLogins ("user" = every host, or "user@host"), or else every
// account with access to the source database on the source server —
// database or table grants on it, or global SELECT — except restage's own
// admin logins and the servers' system accounts.
func (p *mysqlServer) productionAccounts(ctx context.Context) ([]engine.Login, error) {
	var out []engine.Login
	if len(p.cfg.ProductionLogins) > 0 {
		adm, err := p.adminOps(ctx)
		if err != nil {
			return nil, err
		}
		for _, l := range p.cfg.ProductionLogins {
			if user, host, ok := strings.Cut(l, "@"); ok {
				out = append(out, engine.Login{User: user, Host: host})
				continue
			}
			logins, err := adm.Accounts(ctx, l)
			if err != nil {
				return nil, fmt.Errorf("look up production login %s: %w", l, err)
			}
			out = append(out, logins...)
		}
		return out, nil
	}
	src, err := mysqlOpen(p.src)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	adm, err := mysqlengine.NewAdmin(ctx, src)
	if err == nil {
		out, err = adm.Readers(ctx, p.sourceName)
	}
	if err != nil {
		return nil, fmt.Errorf("detect production logins on the source server (or set the production logins): %w", mysqlRedact(err, p.src.Passwd))
	}
	return slices.DeleteFunc(out, func(l engine.Login) bool { return l.User == p.stg.User || l.User == p.src.User }), nil
}

// Preserve copies rows from the current staging DB into db in one
// transaction: for each table, the new DB's rows with the same primary key
// go first, then the staging rows (matching Where) are inserted. Tables
// without a primary key only get the insert. No staging DB, or a table
// missing there, copies nothing.
func (p *mysqlServer) Preserve(ctx context.Context, db *refresh.DB, specs []refresh.PreserveSpec) (int64, error) {
	if len(specs) == 0 {
		return 0, nil
	}
	exists, err := p.schemaExists(ctx, p.admin, p.stagingName)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, err)
	}
	if !exists {
		p.log.Info("preserve: no current staging DB", "step", "preserve", "target", p.cfg.Target)
		return 0, nil
	}
	adm, err := p.adminOps(ctx)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, err)
	}
	log := p.log.With("step", "preserve", "target", p.cfg.Target)
	n, err := adm.CopyRows(ctx, log, p.dsnAs(p.stg.User, p.stg.Passwd, p.stagingName), p.dsnAs(p.stg.User, p.stg.Passwd, db.Name), specs)
	if err != nil {
		return 0, fmt.Errorf("preserve into %s: %w", db.Name, err)
	}
	return n, nil
}
