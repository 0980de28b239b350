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
