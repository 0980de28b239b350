package localserver

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/transform"
)

// BenchmarkMySQLCopy compares the plain copy (mariadb-dump | rewrite |
// mariadb, what Restore does) with the masking copy (RestoreMasked: drift
// gate on the source, the dump masked on its way) of one generated table
// of RESTAGE_MYSQL_BENCH_ROWS rows (default 200000) with three masked
// columns (a unique e-mail) and three kept ones. Each iteration makes one
// copy of each; ns/op is the copy's whole time.
func BenchmarkMySQLCopy(b *testing.B) {
	n := 200000
	if v, _ := strconv.Atoi(os.Getenv("RESTAGE_MYSQL_BENCH_ROWS")); v > 0 {
		n = v
	}
	srcDSN, src := testdb.MySQL(b)
	base := os.Getenv(testdb.EnvMySQL)
	if base == "" {
		base = testdb.DefaultMySQL
	}
	adminCfg, err := mysql.ParseDSN(base)
	if err != nil {
		b.Fatal(err)
	}
	adminCfg.DBName = ""
	admin, err := sql.Open("mysql", adminCfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	q := mysqlQuote(src)
	for _, s := range []string{
		"CREATE TABLE " + q + `.people (id INT PRIMARY KEY, first_name VARCHAR(40) NOT NULL, email VARCHAR(80) NOT NULL,
			phone VARCHAR(20), plan_code INT NOT NULL, balance DECIMAL(12,2) NOT NULL, created DATETIME NOT NULL, UNIQUE KEY (email))`,
		"INSERT INTO " + q + `.people SELECT seq, CONCAT('Name', seq), CONCAT('user', seq, '@example.org'),
			CONCAT('090-', LPAD(seq MOD 10000, 4, '0'), '-', LPAD(seq MOD 9973, 4, '0')), seq MOD 17, seq / 7,
			'2020-01-01 00:00:00' + INTERVAL seq SECOND FROM ` + q + `.seq_1_to_` + strconv.Itoa(n),
	} {
		if _, err := admin.Exec(s); err != nil {
			b.Fatalf("%.60s: %v", s, err)
		}
	}
	r := myRand(b)
	stg := adminCfg.Clone()
	stg.DBName = "rs_stg_" + r
	cfg := local.Config{Target: "b" + r, SourceDSN: srcDSN, StagingDSN: stg.FormatDSN(), ControlDB: "rs_ctl_" + r}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		names, _ := mysqlStrings(ctx, admin, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ? OR SCHEMA_NAME LIKE ?`,
			cfg.ControlDB, "restage\\_"+cfg.Target+"\\_%")
		for _, n := range names {
			_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(n))
		}
	})
	pr, err := newProvider(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p := pr
	defer p.Close()
	rulesText := []byte(`version: 1
tables:
  people:
    columns:
      first_name: first_name
      email: email
      phone: phone
`)
	rules, err := config.ParseRules("bench.yaml", rulesText)
	if err != nil {
		b.Fatal(err)
	}
	key, err := transform.NewKey([]byte("stream-copy-bench-key-0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run := 0
	drop := func(db *refresh.DB) {
		if _, err := admin.Exec("DROP DATABASE " + mysqlQuote(db.Name)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("plain", func(b *testing.B) {
		for range b.N {
			run++
			db, err := p.Restore(ctx, fmt.Sprintf("p%d", run))
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			drop(db)
			b.StartTimer()
		}
	})
	b.Run("masked", func(b *testing.B) {
		for range b.N {
			run++
			m := &refresh.Masking{Rules: rules, RulesText: rulesText, Key: key, Workers: 2}
			db, used, err := p.RestoreMasked(ctx, fmt.Sprintf("m%d", run), m)
			if err != nil || !used {
				b.Fatalf("RestoreMasked: used %v, %v", used, err)
			}
			b.StopTimer()
			drop(db)
			b.StartTimer()
		}
	})
}
