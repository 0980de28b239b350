package main

import (
	"context"
	"fmt"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
)

// openEngine is the one place an engine is chosen.
func openEngine(ctx context.Context, d dsn.DSN) (mask.Engine, error) {
	switch d.Engine {
	case dsn.MySQL:
		return mysql.Open(ctx, d.Driver)
	case dsn.Postgres:
		return postgres.Open(ctx, d.Driver)
	}
	return nil, fmt.Errorf("unsupported engine %q", d.Engine)
}
