package mysql

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/testdb"
)

// BenchmarkRewriteVsUpdate masks a generated table (RESTAGE_MYSQL_BENCH_ROWS
// rows, default 100000; a primary key, a unique e-mail and a secondary
// index) with each strategy, the table built again before every
// iteration, and reports the table's size after masking relative to
// before (data + indexes from information_schema after ANALYZE TABLE, as
// Run's Finish leaves them). The PostgreSQL twin is in internal/postgres.
//
//	go test ./internal/mysql -run '^$' -bench RewriteVsUpdate -benchtime 3x
func BenchmarkRewriteVsUpdate(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("RESTAGE_MYSQL_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	setup := []string{
		"DROP TABLE IF EXISTS people",
		`CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, name VARCHAR(80), phone VARCHAR(30),
			city VARCHAR(40), note VARCHAR(60), KEY people_city (city)) DEFAULT CHARSET=utf8mb4`,
		fmt.Sprintf(`INSERT INTO people SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('Name ', seq),
			CONCAT('+1 555 ', LPAD(seq, 7, '0')), CONCAT('city ', seq %% 100), REPEAT('x', 40) FROM seq_1_to_%d`, n),
		"ANALYZE TABLE people",
	}
	size := "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'people'"
	for _, strategy := range []config.Strategy{config.StrategyRewrite, config.StrategyUpdate} {
		b.Run(string(strategy), func(b *testing.B) {
			dsn, _ := testdb.MySQL(b)
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
				for _, q := range setup {
					if _, err := e.db.ExecContext(ctx, q); err != nil {
						b.Fatal(err)
					}
				}
				var before, after int64
				if err := e.db.QueryRowContext(ctx, size).Scan(&before); err != nil {
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
				if _, err := e.db.ExecContext(ctx, "ANALYZE TABLE people"); err != nil {
					b.Fatal(err)
				}
				if err := e.db.QueryRowContext(ctx, size).Scan(&after); err != nil {
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
