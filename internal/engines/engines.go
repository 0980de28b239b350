// Package engines is the one registry of restage's engines: it opens an
// engine (masking and gate queries) or an admin session (engine.Admin) by
// engine kind. Adding an engine adds one case to each function here.
package engines

import (
	"context"
	"fmt"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
)

// Open opens the engine for the database a DSN of kind names (the
// driver's form, dsn.DSN.Driver).
func Open(ctx context.Context, kind, driverDSN string) (mask.Engine, error) {
	switch kind {
	case dsn.MySQL:
		return mysql.Open(ctx, driverDSN)
	case dsn.Postgres:
		return postgres.Open(ctx, driverDSN)
	}
	return nil, fmt.Errorf("unsupported engine %q", kind)
}

// OpenAdmin opens an admin session of kind with driverDSN; the caller
// closes it.
func OpenAdmin(ctx context.Context, kind, driverDSN string) (engine.Admin, error) {
	switch kind {
	case dsn.MySQL:
		return mysql.OpenAdmin(ctx, driverDSN)
	case dsn.Postgres:
		return postgres.OpenAdmin(ctx, driverDSN)
	}
	return nil, fmt.Errorf("unsupported engine %q", kind)
}

// Scrub is the scrubber of kind's engine: a server error keeps its code
// and object names, never a row value.
func Scrub(kind string, err error) error {
	switch kind {
	case dsn.MySQL:
		return mysql.Scrub(err)
	case dsn.Postgres:
		return postgres.Scrub(err)
	}
	return err
}

// ScrubAny applies every engine's scrubber, for an error whose engine the
// caller does not know.
func ScrubAny(err error) error { return mysql.Scrub(postgres.Scrub(err)) }

// SameDatabase reports whether two connection strings (any form
// internal/dsn accepts) reach the same database, as the servers see it:
// one session holds a lock named by a random token and the other finds
// it (so an alias of the host is seen through), then the same database by
// the server's rules. It connects to both; errors never hold a password.
func SameDatabase(ctx context.Context, a, b string) (bool, error) {
	da, err := dsn.Parse(a)
	if err != nil {
		return false, err
	}
	db, err := dsn.Parse(b)
	if err != nil {
		return false, err
	}
	if da.Engine != db.Engine {
		return false, nil
	}
	switch da.Engine {
	case dsn.MySQL:
		return mysql.SameDatabase(ctx, da.Driver, db.Driver)
	case dsn.Postgres:
		return postgres.SameDatabase(ctx, da.Driver, db.Driver)
	}
	return false, fmt.Errorf("unsupported engine %q", da.Engine)
}

// DSN is the driver connection string of kind for e.
func DSN(kind string, e engine.Endpoint) (string, error) {
	switch kind {
	case dsn.MySQL:
		return mysql.DSN(e)
	case dsn.Postgres:
		return postgres.DSN(e)
	}
	return "", fmt.Errorf("unsupported engine %q", kind)
}

// PrepareTLS readies every engine's driver to verify servers against the
// CA bundle in caFile (MySQL's driver takes TLS configs by name: it is
// registered; PostgreSQL's reads the file itself). An unreadable file, or
// one without a PEM certificate, is an error.
func PrepareTLS(caFile string) error {
	return mysql.RegisterCA(caFile)
}
