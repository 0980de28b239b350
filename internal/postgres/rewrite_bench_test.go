package postgres

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/testdb"
)

// BenchmarkRewriteVsUpdate masks a generated table (RESTAGE_PG_BENCH_ROWS
// rows, default 100000; a primary key, a unique e-mail and a secondary
// index) with each strategy, the table built again before every
// iteration, and reports the table's size after masking relative to
// before (table + indexes, statistics refreshed as Run's Finish does).
//
//	go test ./internal/postgres -run '^$' -bench RewriteVsUpdate -benchtime 3x
func BenchmarkRewriteVsUpdate(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("RESTAGE_PG_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	setup := fmt.Sprintf(`DROP TABLE IF EXISTS people;
CREATE TABLE people (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, name text, phone text, city text, note text);
CREATE INDEX people_city ON people (city);
INSERT INTO people SELECT g, 'user' || g || '@example.com', 'Name ' || g, '+1 555 ' || lpad(g::text, 7, '0'), 'city ' || (g %% 100), repeat('x', 40)
  FROM generate_series(1, %d) g`, n)
	for _, strategy := range []config.Strategy{config.StrategyRewrite, config.StrategyUpdate} {
		b.Run(string(strategy), func(b *testing.B) {
			dsn, _ := testdb.Postgres(b)
			ctx := context.Background()
			e, err := Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			rules, err := config.ParseRules("rules.yaml", []byte(`version: 1
tables:
  people:
    strategy: `+string(strategy)+`
    columns:
      email: {transformer: email, seed: [id]}
      name: {transformer: full_name, seed: [id]}
      phone: phone
      note: nullify
`))
			if err != nil {
				b.Fatal(err)
			}
			var ratio float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				var before int64
				err := e.with(ctx, func(c *pgx.Conn) error {
					for _, q := range []string{setup, "VACUUM ANALYZE people"} {
						if _, err := c.Exec(ctx, q); err != nil {
							return err
						}
					}
					return c.QueryRow(ctx, "SELECT pg_total_relation_size('people')").Scan(&before)
				})
				if err != nil {
					b.Fatal(err)
				}
				s, err := e.Introspect(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p, err := mask.NewPlan(rules, s)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := mask.Run(ctx, e, p, enginetest.Key, mask.Options{Workers: 2})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := rep.Tables[0].Strategy; got != string(strategy) {
					b.Fatalf("strategy %s (%s), want %s", got, rep.Tables[0].StrategyWhy, strategy)
				}
				var after int64
				if err := e.with(ctx, func(c *pgx.Conn) error {
					return c.QueryRow(ctx, "SELECT pg_total_relation_size('people')").Scan(&after)
				}); err != nil {
					b.Fatal(err)
				}
				ratio = float64(after) / float64(before)
				b.StartTimer()
			}
			b.ReportMetric(ratio, "size-after/before")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
