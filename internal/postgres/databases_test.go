package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
)

// TestRenameDatabase: the steps of the local provider's switch on one
// database — block connections, end the sessions, rename in a
// transaction (rolled back, then committed), allow connections again.
func TestRenameDatabase(t *testing.T) {
	ctx := context.Background()
	dsn, name := testdb.Postgres(t)
	other, _ := testdb.Postgres(t) // the admin session lives elsewhere
	admin, err := pgx.Connect(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	user, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close(ctx)

	oid, allow, err := postgres.DatabaseState(ctx, admin, name)
	if err != nil || oid == 0 || !allow {
		t.Fatalf("state of %s = %d, %t, %v", name, oid, allow, err)
	}
	if got, _, err := postgres.DatabaseState(ctx, admin, name+"_none"); err != nil || got != 0 {
		t.Errorf("state of a missing database: oid %d, %v; want 0", got, err)
	}
	if err := postgres.AllowConnections(ctx, admin, name, false); err != nil {
		t.Fatal(err)
	}
	if _, allow, _ := postgres.DatabaseState(ctx, admin, name); allow {
		t.Error("connections still allowed")
	}
	if err := postgres.EmptyDatabase(ctx, admin, name); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a session on the database survived EmptyDatabase")
	}
	renamed := name + "_r"
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.RenameDatabase(ctx, tx, name, renamed); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := postgres.DatabaseState(ctx, admin, name); got != oid {
		t.Errorf("after a rolled-back rename %s has oid %d, want %d", name, got, oid)
	}
	if err := postgres.RenameDatabase(ctx, admin, name, renamed); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := postgres.DatabaseState(ctx, admin, renamed); got != oid {
		t.Errorf("renamed database has oid %d, want %d", got, oid)
	}
	// Back under its name, open again, for the test's cleanup.
	if err := postgres.RenameDatabase(ctx, admin, renamed, name); err != nil {
		t.Fatal(err)
	}
	if err := postgres.AllowConnections(ctx, admin, name, true); err != nil {
		t.Fatal(err)
	}
	if err := postgres.RenameDatabase(ctx, admin, name+"_none", renamed); err == nil {
		t.Error("renaming a missing database: no error")
	}
}
