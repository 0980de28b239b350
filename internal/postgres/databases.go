package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The database administration a local switch-by-rename needs: PostgreSQL
// renames databases transactionally, but only databases nobody is
// connected to. The provider keeps the order of steps, its intent record
// and its recovery; the SQL is here.

// Querier is what these functions run on: a *pgx.Conn or a pgx.Tx (a
// rename inside the provider's transaction).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// DatabaseState returns the OID of database name (0 if there is none) and
// whether it accepts connections (datallowconn).
func DatabaseState(ctx context.Context, q Querier, name string) (oid int64, allowConn bool, err error) {
	err = q.QueryRow(ctx, "SELECT coalesce((SELECT oid::bigint FROM pg_database WHERE datname = $1), 0), coalesce((SELECT datallowconn FROM pg_database WHERE datname = $1), false)", name).Scan(&oid, &allowConn)
	return oid, allowConn, scrub(err)
}

// AllowConnections sets whether database name accepts connections.
// Idempotent.
func AllowConnections(ctx context.Context, q Querier, name string, allow bool) error {
	if _, err := q.Exec(ctx, "ALTER DATABASE "+Quote(name)+" ALLOW_CONNECTIONS "+fmt.Sprint(allow)); err != nil {
		return fmt.Errorf("allow connections to %s (%t): %w", name, allow, scrub(err))
	}
	return nil
}

// RenameDatabase renames database from to to (inside the caller's
// transaction when q is one). Nobody may be connected to it.
func RenameDatabase(ctx context.Context, q Querier, from, to string) error {
	if _, err := q.Exec(ctx, "ALTER DATABASE "+Quote(from)+" RENAME TO "+Quote(to)); err != nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, scrub(err))
	}
	return nil
}

// EmptyDatabase ends every other session on database name and waits (15
// seconds at most) until they are gone. Connections to it should be
// blocked first (AllowConnections false), or new ones may arrive.
func EmptyDatabase(ctx context.Context, c *pgx.Conn, name string) error {
	const q = `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`
	if _, err := c.Exec(ctx, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		return fmt.Errorf("end sessions on %s: %w", name, scrub(err))
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	delay := 20 * time.Millisecond
	for {
		var n int
		if err := c.QueryRow(ctx, q, name).Scan(&n); err != nil {
			return fmt.Errorf("end sessions on %s: %w", name, scrub(err))
		}
		if n == 0 {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("end sessions on %s: %d still open", name, n)
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
}

// CreateDatabaseSQL is CREATE DATABASE name like the database of session
// src: its encoding and collation (a plain pg_dump carries neither), from
// template0. The new database is owned by the login that runs it.
func CreateDatabaseSQL(ctx context.Context, src Querier, name string) (string, error) {
	var enc, collate, ctype string
	err := src.QueryRow(ctx, "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = current_database()").
		Scan(&enc, &collate, &ctype)
	if err != nil {
		return "", fmt.Errorf("read the source's encoding: %w", scrub(err))
	}
	return fmt.Sprintf("CREATE DATABASE %s TEMPLATE template0 ENCODING %s LC_COLLATE %s LC_CTYPE %s",
		Quote(name), literal(enc), literal(collate), literal(ctype)), nil
}
