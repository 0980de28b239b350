package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/testdb"
)

// BenchmarkRewriteVsUpdate masks a generated table (RESTAGE_PG_BENCH_ROWS
// rows, default 100000) with each strategy and reports the table's size
// after masking relative to before (table + indexes, statistics refreshed
// as Run's Finish does). The MySQL twin is in internal/mysql.
//
//	go test ./internal/postgres -run '^$' -bench RewriteVsUpdate -benchtime 3x
func BenchmarkRewriteVsUpdate(b *testing.B) {
	ctx := context.Background()
	enginetest.BenchRewriteVsUpdate(b, enginetest.RewriteBench{
		RowsEnv: "RESTAGE_PG_BENCH_ROWS",
		TestDB:  testdb.Postgres,
		Open:    func(ctx context.Context, d string) (mask.Engine, error) { return Open(ctx, d) },
		Reset: func(b *testing.B, me mask.Engine, n int) {
			setup := fmt.Sprintf(`DROP TABLE IF EXISTS people;
CREATE TABLE people (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text, phone text, city text, note text);
CREATE INDEX people_city ON people (city);
INSERT INTO people SELECT g, 'user' || g || '@example.com', 'Name ' || g, '+1 555 ' || lpad(g::text, 7, '0'), 'city ' || (g %% 100), repeat('x', 40)
  FROM generate_series(1, %d) g`, n)
			err := me.(*Engine).with(ctx, func(c *pgx.Conn) error {
				for _, q := range []string{setup, "VACUUM ANALYZE people"} {
					if _, err := c.Exec(ctx, q); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		},
		Size: func(b *testing.B, me mask.Engine) int64 {
			var size int64
			if err := me.(*Engine).with(ctx, func(c *pgx.Conn) error {
				return c.QueryRow(ctx, "SELECT pg_total_relation_size('people')").Scan(&size)
			}); err != nil {
				b.Fatal(err)
			}
			return size
		},
	})
}
