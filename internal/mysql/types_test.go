package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/testdb"
)

// TestMaskNetworkAndUUIDTypes masks MariaDB's INET6 and UUID types, a
// UUID in BINARY(16) and text forms of both with ip and uuid.
func TestMaskNetworkAndUUIDTypes(t *testing.T) {
	dsn, _ := testdb.MySQL(t)
	ctx := context.Background()
	eng, err := mysql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		t.Skip("INET6 and UUID are MariaDB types")
	}
	mustExec(t, db, `CREATE TABLE net (
		id INT PRIMARY KEY,
		ip_text VARCHAR(45) NULL,
		ip6 INET6 NULL,
		u UUID NULL UNIQUE,
		ub BINARY(16) NULL UNIQUE,
		us CHAR(36) NULL
	)`)
	const n = 600
	var vals []string
	for i := 0; i < n; i++ {
		ipText := fmt.Sprintf("'192.168.%d.%d'", i/256, i%256)
		ip6 := fmt.Sprintf("'2a00:1450:4001:82a::%x'", i+1)
		if i%3 == 0 {
			ip6 = fmt.Sprintf("'::ffff:10.0.%d.%d'", i/256, i%256)
		}
		u := fmt.Sprintf("'f47ac10b-58cc-4372-a567-%012x'", i)
		ub := fmt.Sprintf("UNHEX('F47AC10B58CC1372A567%012X')", i)
		us := fmt.Sprintf("'0190b9a6-c1d2-7c4e-9f1a-%012x'", i)
		if i%10 == 0 {
			ipText, ip6, u, ub, us = "NULL", "NULL", "NULL", "NULL", "NULL"
		}
		vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s, %s, %s)", i, ipText, ip6, u, ub, us))
	}
	mustExec(t, db, "INSERT INTO net VALUES "+strings.Join(vals, ","))
	const q = "SELECT id, ip_text, CAST(ip6 AS CHAR), CAST(u AS CHAR), HEX(ub), us FROM net"
	before := rows(t, db, q)
	rules := `version: 1
tables:
  net:
    columns:
      ip_text: ip
      ip6: ip
      u: uuid
      ub: uuid
      us: uuid
`
	r, err := config.ParseRules("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mask.NewPlan(r, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mask.Run(ctx, eng, p, enginetest.Key, mask.Options{Workers: 2, BatchSize: 128}); err != nil {
		t.Fatal(err)
	}
	after := rows(t, db, q)
	enginetest.CheckNetAndUUID(t, before, after, map[int]string{1: "ip", 2: "ip", 3: "uuid", 4: "uuidhex", 5: "uuid"})
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func rows(t *testing.T, db *sql.DB, q string) map[string][]sql.NullString {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	out := map[string][]sql.NullString{}
	for rs.Next() {
		v := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[v[0].String] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
