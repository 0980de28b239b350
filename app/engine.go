package main

import (
	"context"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/mask"
)

// openEngine opens the engine a DSN names (internal/engines is the one
// registry of engines).
func openEngine(ctx context.Context, d dsn.DSN) (mask.Engine, error) {
	return engines.Open(ctx, d.Engine, d.Driver)
}
