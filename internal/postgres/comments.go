package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/engine"
)

// Database comments, where a provider keeps its markers: COMMENT ON
// DATABASE, kept in pg_shdescription by OID, so a comment follows its
// database through renames.

// DatabaseComment returns the comment of the database with OID oid, ""
// when it has none.
func DatabaseComment(ctx context.Context, q Querier, oid int64) (string, error) {
	var s string
	if err := q.QueryRow(ctx, "SELECT coalesce(shobj_description($1::oid, 'pg_database'), '')", oid).Scan(&s); err != nil {
		return "", fmt.Errorf("read database comment: %w", scrub(err))
	}
	return s, nil
}

// SetDatabaseComment sets database name's comment.
func SetDatabaseComment(ctx context.Context, q Querier, name, comment string) error {
	if _, err := q.Exec(ctx, "COMMENT ON DATABASE "+Quote(name)+" IS "+literal(comment)); err != nil {
		return fmt.Errorf("comment on %s: %w", name, scrub(err))
	}
	return nil
}

// DatabaseComments lists database name and every database whose name
// starts with prefix, with their OIDs and comments: name first, then by
// name.
func DatabaseComments(ctx context.Context, c *pgx.Conn, name, prefix string) ([]engine.Commented, error) {
	like := strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(prefix) + "%"
	rows, err := c.Query(ctx, `SELECT datname, oid::bigint, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database
		WHERE datname = $1 OR datname LIKE $2 ORDER BY datname = $1 DESC, datname`, name, like)
	if err != nil {
		return nil, fmt.Errorf("read database comments: %w", scrub(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (engine.Commented, error) {
		var d engine.Commented
		err := r.Scan(&d.Name, &d.OID, &d.Comment)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read database comments: %w", scrub(err))
	}
	return out, nil
}
