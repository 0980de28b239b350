package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, enginetest.Harness{
		DateTime: "TIMESTAMP",
		JSON:     "JSONB",
		Binary:   "BYTEA",
		Schema:   "public",
		Param:    "$1",
		Open: func(t *testing.T) (mask.Engine, *sql.DB) {
			eng, db := openFresh(t)
			return eng, db
		},
	})
}

// openFresh opens the engine and a plain connection on a fresh database.
func openFresh(t *testing.T) (*postgres.Engine, *sql.DB) {
	dsn, _ := testdb.Postgres(t)
	eng, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return eng, db
}
