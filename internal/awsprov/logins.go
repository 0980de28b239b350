package awsprov

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/refresh"
)

// rdsAccounts are RDS's own logins. Reserved logins are never locked nor
// their sessions ended: these, every rds_* login and the engine's own
// (engine.Admin.System: MySQL mysql.* and mariadb.sys, PostgreSQL pg_*),
// which the copy needs to run and RDS needs to manage it.
// docs/aws-config.md lists the same.
var rdsAccounts = []string{"rdsadmin", "rdsrepladmin", "rdstopmgr", "rdsproxyadmin"}

func reserved(adm engine.Admin, user string) bool {
	return slices.Contains(rdsAccounts, user) || strings.HasPrefix(user, "rds_") || adm.System(user)
}

// lockInherited locks every login of the copy except the reserved ones
// and those keep says to keep, each checked locked in the catalog; refused
// names the logins that could not be locked, with why.
func lockInherited(ctx context.Context, adm engine.Admin, keep func(user string) bool) (locked []engine.Login, refused []string, err error) {
	logins, err := adm.Logins(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range logins {
		if keep(l.User) || reserved(adm, l.User) {
			continue
		}
		why, err := adm.Lock(ctx, l)
		switch {
		case err != nil:
			return locked, refused, err
		case why != "":
			refused = append(refused, why)
		default:
			locked = append(locked, l)
		}
	}
	return locked, refused, nil
}

// shutOut runs right after the copy accepts the new master login, before
// any other step: every login the copy inherited from production except
// the master and the reserved ones is locked, checked locked in the
// catalog, and every session of those logins — and of the master, other
// than restage's own — is ended. A login that can't be locked fails the
// run, named. The staging users are unlocked again, with their own
// password and grants only, by the users step. Only the AWS provider does
// this: on a shared local server those logins are production's own.
func (p *Provider) shutOut(ctx context.Context, db *refresh.DB, master string) ([]string, error) {
	adm, err := engines.OpenAdmin(ctx, db.Engine, db.AdminDSN)
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	logins, refused, err := lockInherited(ctx, adm, func(user string) bool { return user == master })
	locked := names(logins)
	if err != nil {
		return locked, err
	}
	if len(refused) > 0 {
		return locked, fmt.Errorf("inherited login %s could not be locked: %w", strings.Join(refused, ", "), refresh.ErrSharedLogin)
	}
	// Sessions opened before the lock survive it: end them.
	users := []string{master}
	for _, l := range logins {
		if !slices.Contains(users, l.User) {
			users = append(users, l.User)
		}
	}
	n, err := adm.EndSessions(ctx, users)
	if err != nil {
		return locked, fmt.Errorf("end sessions of inherited logins: %w", err)
	}
	if n > 0 {
		p.log.Info("sessions of inherited logins ended", "step", refresh.StepReady, "db", db.Name, "count", n)
	}
	return locked, nil
}

func names(logins []engine.Login) []string {
	out := make([]string, len(logins))
	for i, l := range logins {
		out[i] = l.String()
	}
	return out
}
