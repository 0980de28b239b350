package mysql

import (
	"context"
	"fmt"
	"testing"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/testdb"
)

// BenchmarkRewriteVsUpdate masks a generated table (RESTAGE_MYSQL_BENCH_ROWS
// rows, default 100000) with each strategy and reports the size after
// masking relative to before (data + indexes from information_schema after
// ANALYZE TABLE). The PostgreSQL twin is in internal/postgres.
//
//	go test ./internal/mysql -run '^$' -bench RewriteVsUpdate -benchtime 3x
func BenchmarkRewriteVsUpdate(b *testing.B) {
	ctx := context.Background()
	enginetest.BenchRewriteVsUpdate(b, enginetest.RewriteBench{
		RowsEnv: "RESTAGE_MYSQL_BENCH_ROWS",
		TestDB:  testdb.MySQL,
		Open:    func(ctx context.Context, d string) (mask.Engine, error) { return Open(ctx, d) },
		Reset: func(b *testing.B, me mask.Engine, n int) {
			for _, q := range []string{
				"DROP TABLE IF EXISTS people",
				`CREATE TABLE people (id BIGINT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, name VARCHAR(80), phone VARCHAR(30),
					city VARCHAR(40), note VARCHAR(60), KEY people_city (city)) DEFAULT CHARSET=utf8mb4`,
				fmt.Sprintf(`INSERT INTO people SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('Name ', seq),
					CONCAT('+1 555 ', LPAD(seq, 7, '0')), CONCAT('city ', seq %% 100), REPEAT('x', 40) FROM seq_1_to_%d`, n),
				"ANALYZE TABLE people",
			} {
				if _, err := me.(*Engine).db.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		},
		Size: func(b *testing.B, me mask.Engine) int64 {
			db := me.(*Engine).db
			if _, err := db.ExecContext(ctx, "ANALYZE TABLE people"); err != nil {
				b.Fatal(err)
			}
			var size int64
			if err := db.QueryRowContext(ctx, "SELECT DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'people'").Scan(&size); err != nil {
				b.Fatal(err)
			}
			return size
		},
	})
}
