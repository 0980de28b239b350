package awsprov

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

// connectHost is where restage connects to reach endpoint.
func (p *Provider) connectHost(endpoint string) string {
	if p.cfg.Resolve != nil {
		return p.cfg.Resolve(endpoint)
	}
	return endpoint
}

// dsnFor is a connection string for user on r's DBName, with the
// configured TLS, in r's engine's driver form (engines.DSN).
func (p *Provider) dsnFor(r *rds.DB, user, password string) (string, error) {
	d, err := engines.DSN(r.Engine.Family(), engine.Endpoint{
		Host: p.connectHost(r.Endpoint), Port: int(r.Port), User: user, Password: password,
		Database: p.cfg.DBName, TLS: p.cfg.tlsMode(), CAFile: p.cfg.TLSCAFile,
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", r.ID, err)
	}
	return d, nil
}

// redact makes an error from the copy's server safe to log: the engines'
// scrubbers remove row values (server messages quote them), then every
// given secret is removed from the text.
func redact(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	err = engines.ScrubAny(err)
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

// ping logs in with dsn (an admin session of engine kind family opens
// with a query) and logs out.
func ping(ctx context.Context, family, dsn string) error {
	a, err := engines.OpenAdmin(ctx, family, dsn)
	if err != nil {
		return err
	}
	return a.Close()
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
		err := ping(actx, db.Engine, db.AdminDSN)
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
	adm, err := engines.OpenAdmin(ctx, db.Engine, db.AdminDSN)
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, redact(err, secrets...))
	}
	defer adm.Close()
	locked, err := p.users(ctx, adm, db, master, users)
	if err != nil {
		return fmt.Errorf("users on %s: %w", db.Name, redact(err, secrets...))
	}
	p.log.Info("inherited logins locked", "step", refresh.StepUsers, "db", db.Name, "count", len(locked), "logins", strings.Join(locked, ","))
	for _, u := range users {
		d, err := p.dsnFor(r, u.Name, u.Password)
		if err != nil {
			return err
		}
		if err := adm.ReadAs(ctx, d); err != nil {
			return fmt.Errorf("users on %s: log in as %s and read: %w", db.Name, u.Name, redact(err, secrets...))
		}
		p.log.Info("staging user can log in and read", "step", refresh.StepUsers, "db", db.Name, "user", u.Name)
	}
	return nil
}

// users gives each staging user its password back, unlocked, with the
// grants of its privileges on DBName and none of what it inherited, then
// locks every other inherited login (see Users).
func (p *Provider) users(ctx context.Context, adm engine.Admin, db *refresh.DB, master string, users []refresh.StagingUser) ([]string, error) {
	staging := map[string]bool{}
	for _, u := range users {
		staging[u.Name] = true
		logins, err := adm.Accounts(ctx, u.Name)
		if err != nil {
			return nil, err
		}
		if len(logins) == 0 {
			if logins, err = adm.CreateLogin(ctx, u.Name, u.Password); err != nil {
				return nil, err
			}
		}
		for _, l := range logins {
			if err := adm.ResetLogin(ctx, l, u.Password); err != nil {
				return nil, fmt.Errorf("staging user %s: %w", l, err)
			}
			if err := adm.Grant(ctx, l, p.cfg.DBName, engine.Access(u.Privileges)); err != nil {
				return nil, fmt.Errorf("staging user %s: %w", l, err)
			}
		}
	}
	logins, refused, err := lockInherited(ctx, adm, func(user string) bool { return user == master || staging[user] })
	locked := names(logins)
	if err != nil {
		return nil, err
	}
	if len(refused) > 0 {
		if !p.cfg.AcceptSharedLogins {
			return locked, fmt.Errorf("inherited login %s: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
		}
		p.log.Warn("inherited logins could not be locked (accepted)", "step", refresh.StepUsers, "db", db.Name, "logins", strings.Join(refused, ", "))
	}
	return locked, nil
}
