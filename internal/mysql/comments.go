package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/restage/restage/internal/engine"
)

// Database comments, where a provider keeps its markers: MariaDB ≥ 10.5
// has them (information_schema.SCHEMATA.SCHEMA_COMMENT, ALTER DATABASE …
// COMMENT); MySQL 8 has none.

type rowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// HasDatabaseComments reports whether the server keeps database comments.
func HasDatabaseComments(ctx context.Context, q rowQueryer) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'SCHEMATA' AND COLUMN_NAME = 'SCHEMA_COMMENT'").Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read server features: %w", Scrub(err))
	}
	return n > 0, nil
}

// DatabaseComment returns database name's comment: "" when it has none or
// there is no such database.
func DatabaseComment(ctx context.Context, q rowQueryer, name string) (string, error) {
	var c sql.NullString
	err := q.QueryRowContext(ctx, "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the comment of %s: %w", name, Scrub(err))
	}
	return c.String, nil
}

// SetDatabaseComment sets database name's comment (the server must keep
// them: HasDatabaseComments).
func SetDatabaseComment(ctx context.Context, q Querier, name, comment string) error {
	if _, err := q.ExecContext(ctx, "ALTER DATABASE "+quote(name)+" COMMENT = ?", comment); err != nil {
		return fmt.Errorf("comment on %s: %w", name, Scrub(err))
	}
	return nil
}

// DatabaseComments lists database name and every database whose name
// starts with prefix, with their comments: name first, then by name.
func DatabaseComments(ctx context.Context, q queryer, name, prefix string) ([]engine.Commented, error) {
	like := strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(prefix) + "%"
	rows, err := q.QueryContext(ctx, `SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA
		WHERE SCHEMA_NAME = ? OR SCHEMA_NAME LIKE ? ORDER BY SCHEMA_NAME = ? DESC, SCHEMA_NAME`, name, like, name)
	if err != nil {
		return nil, fmt.Errorf("read database comments: %w", Scrub(err))
	}
	defer rows.Close()
	var out []engine.Commented
	for rows.Next() {
		var d engine.Commented
		var c sql.NullString
		if err := rows.Scan(&d.Name, &c); err != nil {
			return nil, fmt.Errorf("read database comments: %w", Scrub(err))
		}
		d.Comment = c.String
		out = append(out, d)
	}
	return out, Scrub(rows.Err())
}
