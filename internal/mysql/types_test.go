package mysql_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/testdb"
)

// TestMaskNetworkAndUUIDTypes masks MariaDB's INET6 and UUID types, a
// UUID in BINARY(16) and text forms of both with ip and uuid.
func TestMaskNetworkAndUUIDTypes(t *testing.T) {
	eng, db := openFresh(t, testdb.MySQL)
	var version string
	if err := db.QueryRow("SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		t.Skip("INET6 and UUID are MariaDB types")
	}
	var vals []string
	for i := range 600 {
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
	enginetest.MaskTypes(t, eng, db, enginetest.TypesCase{
		DDL: `CREATE TABLE net (
		id INT PRIMARY KEY,
		ip_text VARCHAR(45) NULL,
		ip6 INET6 NULL,
		u UUID NULL UNIQUE,
		ub BINARY(16) NULL UNIQUE,
		us CHAR(36) NULL
	)`,
		Rows:  vals,
		Query: "SELECT id, ip_text, CAST(ip6 AS CHAR), CAST(u AS CHAR), HEX(ub), us FROM net",
		Rules: "version: 1\ntables:\n  net:\n    columns:\n      ip_text: ip\n      ip6: ip\n      u: uuid\n      ub: uuid\n      us: uuid\n",
		Kinds: map[int]string{1: "ip", 2: "ip", 3: "uuid", 4: "uuidhex", 5: "uuid"},
	})
}
