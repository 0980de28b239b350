package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
)

// TestMaskNetworkAndUUIDTypes masks PostgreSQL inet, cidr and uuid, a
// uuid in bytea and text forms of both with ip and uuid.
func TestMaskNetworkAndUUIDTypes(t *testing.T) {
	dsn, _ := testdb.Postgres(t)
	ctx := context.Background()
	eng, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE net (
		id INT PRIMARY KEY,
		host INET NULL,
		net CIDR NULL,
		ip_text TEXT NULL,
		u UUID NULL UNIQUE,
		ub BYTEA NULL UNIQUE,
		us VARCHAR(36) NULL
	)`); err != nil {
		t.Fatal(err)
	}
	const n = 600
	var vals []string
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("'192.168.%d.%d/24'", i/256, i%256)
		network := fmt.Sprintf("'10.%d.%d.0/24'", i/256, i%256)
		if i%2 == 0 {
			host = fmt.Sprintf("'2a00:1450:4001:82a::%x'", i+1)
			network = fmt.Sprintf("'2a00:1450:%x::/48'", i+1)
		}
		ipText := fmt.Sprintf("'172.16.%d.%d'", i/256, i%256)
		u := fmt.Sprintf("'f47ac10b-58cc-4372-a567-%012x'", i)
		ub := fmt.Sprintf("decode('F47AC10B58CC1372A567%012X', 'hex')", i)
		us := fmt.Sprintf("'0190b9a6-c1d2-7c4e-9f1a-%012x'", i)
		if i%10 == 0 {
			host, network, ipText, u, ub, us = "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"
		}
		vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s)", i, host, network, ipText, u, ub, us))
	}
	if _, err := db.Exec("INSERT INTO net VALUES " + strings.Join(vals, ",")); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT id::text, host::text, net::text, ip_text, u::text, encode(ub, 'hex'), us FROM net"
	before := rows(t, db, q)
	rules := `version: 1
tables:
  net:
    columns:
      host: ip
      net: ip
      ip_text: ip
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
	enginetest.CheckNetAndUUID(t, before, after, map[int]string{1: "ip", 2: "cidr", 3: "ip", 4: "uuid", 5: "uuidhex", 6: "uuid"})
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
