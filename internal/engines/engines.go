// Package engines is the one registry of restage's engines: it recognises
// a connection string's engine, opens an engine (masking and gate
// queries) or an admin session (engine.Admin) by engine kind, and finds
// its scrubber. Adding an engine adds one Kind to the list in all.
package engines

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	mysqllocal "github.com/restage/restage/internal/mysql/localserver"
	"github.com/restage/restage/internal/postgres"
	pglocal "github.com/restage/restage/internal/postgres/localserver"
	"github.com/restage/restage/internal/refresh"
)

// Kind is one engine as the rest of restage reaches it: each field is a
// function of the engine's package.
type Kind struct {
	// Name is the engine's name (dsn.DSN.Engine, RESTAGE_ENGINE values).
	Name string
	// ParseDSN recognises the engine's connection strings; ok is false
	// when a string is none of them. Errors never hold a password.
	ParseDSN func(s string) (d dsn.DSN, ok bool, err error)
	// DSNForms names the forms ParseDSN takes, for an error.
	DSNForms string
	// Open opens the engine (masking, gate queries) on a driver DSN.
	Open func(ctx context.Context, driverDSN string) (mask.Engine, error)
	// OpenAdmin opens an admin session on a driver DSN.
	OpenAdmin func(ctx context.Context, driverDSN string) (engine.Admin, error)
	// Scrub keeps a server error's code and object names, never a value.
	Scrub func(error) error
	// SameDatabase asks the servers whether two driver DSNs reach the
	// same database.
	SameDatabase func(ctx context.Context, a, b string) (bool, error)
	// DSN is the driver connection string for an endpoint.
	DSN func(engine.Endpoint) (string, error)
	// PrepareTLS readies the driver to verify servers against a CA
	// bundle file; nil when the driver reads the file itself.
	PrepareTLS func(caFile string) error
	// Local opens the engine's server for the local provider (control
	// store, databases, copy, switch, logins on ordinary servers).
	Local func(local.Config) (local.Server, error)
}

// all is every engine, in the order ParseDSN asks them: an engine whose
// forms have a scheme prefix comes before one (MySQL) that also takes a
// bare driver DSN.
var all = []Kind{
	{
		Name: dsn.Postgres, ParseDSN: postgres.ParseDSN, DSNForms: postgres.DSNForms,
		Open: wrapOpen(postgres.Open), OpenAdmin: wrapAdmin(postgres.OpenAdmin),
		Scrub: postgres.Scrub, SameDatabase: postgres.SameDatabase, DSN: postgres.DSN,
		Local: pglocal.New,
	},
	{
		Name: dsn.MySQL, ParseDSN: mysql.ParseDSN, DSNForms: mysql.DSNForms,
		Open: wrapOpen(mysql.Open), OpenAdmin: wrapAdmin(mysql.OpenAdmin),
		Scrub: mysql.Scrub, SameDatabase: mysql.SameDatabase, DSN: mysql.DSN,
		PrepareTLS: mysql.RegisterCA, Local: mysqllocal.New,
	},
}

func wrapOpen[E mask.Engine](open func(context.Context, string) (E, error)) func(context.Context, string) (mask.Engine, error) {
	return func(ctx context.Context, d string) (mask.Engine, error) {
		e, err := open(ctx, d)
		if err != nil {
			return nil, err
		}
		return e, nil
	}
}

func wrapAdmin[A engine.Admin](open func(context.Context, string) (A, error)) func(context.Context, string) (engine.Admin, error) {
	return func(ctx context.Context, d string) (engine.Admin, error) {
		a, err := open(ctx, d)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
}

// Lookup returns the engine named kind.
func Lookup(kind string) (Kind, error) {
	for _, k := range all {
		if k.Name == kind {
			return k, nil
		}
	}
	return Kind{}, fmt.Errorf("unsupported engine %q", kind)
}

// Names lists every engine's name.
func Names() []string {
	n := make([]string, len(all))
	for i, k := range all {
		n[i] = k.Name
	}
	return n
}

// ParseDSN recognises a connection string of any engine and names its
// target as host:port/dbname. Errors never contain the password.
func ParseDSN(s string) (dsn.DSN, error) {
	if s == "" {
		return dsn.DSN{}, errors.New("empty connection string")
	}
	forms := make([]string, len(all))
	for i, k := range all {
		if d, ok, err := k.ParseDSN(s); ok {
			return d, err
		}
		forms[i] = k.DSNForms
	}
	return dsn.DSN{}, errors.New("not a " + strings.Join(forms, ", "))
}

// Open opens the engine for the database a DSN of kind names (the
// driver's form, dsn.DSN.Driver).
func Open(ctx context.Context, kind, driverDSN string) (mask.Engine, error) {
	k, err := Lookup(kind)
	if err != nil {
		return nil, err
	}
	return k.Open(ctx, driverDSN)
}

// OpenAdmin opens an admin session of kind with driverDSN; the caller
// closes it.
func OpenAdmin(ctx context.Context, kind, driverDSN string) (engine.Admin, error) {
	k, err := Lookup(kind)
	if err != nil {
		return nil, err
	}
	return k.OpenAdmin(ctx, driverDSN)
}

// Scrub is the scrubber of kind's engine: a server error keeps its code
// and object names, never a row value.
func Scrub(kind string, err error) error {
	k, lerr := Lookup(kind)
	if lerr != nil {
		return err
	}
	return k.Scrub(err)
}

// ScrubAny applies every engine's scrubber, for an error whose engine the
// caller does not know.
func ScrubAny(err error) error {
	for _, k := range all {
		err = k.Scrub(err)
	}
	return err
}

// SameDatabase reports whether two connection strings (any form ParseDSN
// accepts) reach the same database, as the servers see it: one session
// holds a lock named by a random token and the other finds it (so an
// alias of the host is seen through), then the same database by the
// server's rules. It connects to both; errors never hold a password.
func SameDatabase(ctx context.Context, a, b string) (bool, error) {
	da, err := ParseDSN(a)
	if err != nil {
		return false, err
	}
	db, err := ParseDSN(b)
	if err != nil {
		return false, err
	}
	if da.Engine != db.Engine {
		return false, nil
	}
	k, err := Lookup(da.Engine)
	if err != nil {
		return false, err
	}
	return k.SameDatabase(ctx, da.Driver, db.Driver)
}

// DSN is the driver connection string of kind for e.
func DSN(kind string, e engine.Endpoint) (string, error) {
	k, err := Lookup(kind)
	if err != nil {
		return "", err
	}
	return k.DSN(e)
}

// PrepareTLS readies every engine's driver to verify servers against the
// CA bundle in caFile (MySQL's driver takes TLS configs by name: it is
// registered; PostgreSQL's reads the file itself). An unreadable file, or
// one without a PEM certificate, is an error.
func PrepareTLS(caFile string) error {
	for _, k := range all {
		if k.PrepareTLS == nil {
			continue
		}
		if err := k.PrepareTLS(caFile); err != nil {
			return err
		}
	}
	return nil
}

// NewLocal returns the local provider for the engine cfg's connection
// strings name, after checking cfg (every problem at once).
func NewLocal(cfg local.Config) (refresh.Provider, error) {
	if err := cfg.Validate(ParseDSN); err != nil {
		return nil, err
	}
	d, _ := ParseDSN(cfg.StagingDSN)
	k, err := Lookup(d.Engine)
	if err != nil {
		return nil, err
	}
	srv, err := k.Local(cfg)
	if err != nil {
		return nil, err
	}
	return local.New(cfg, srv), nil
}
