package postgres_test

import (
	"fmt"
	"testing"

	"github.com/restage/restage/internal/enginetest"
)

// TestMaskNetworkAndUUIDTypes masks PostgreSQL inet, cidr and uuid, a
// uuid in bytea and text forms of both with ip and uuid.
func TestMaskNetworkAndUUIDTypes(t *testing.T) {
	eng, db := openFresh(t)
	var vals []string
	for i := range 600 {
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
	enginetest.MaskTypes(t, eng, db, enginetest.TypesCase{
		DDL: `CREATE TABLE net (
		id INT PRIMARY KEY,
		host INET NULL,
		net CIDR NULL,
		ip_text TEXT NULL,
		u UUID NULL UNIQUE,
		ub BYTEA NULL UNIQUE,
		us VARCHAR(36) NULL
	)`,
		Rows:  vals,
		Query: "SELECT id::text, host::text, net::text, ip_text, u::text, encode(ub, 'hex'), us FROM net",
		Rules: "version: 1\ntables:\n  net:\n    columns:\n      host: ip\n      net: ip\n      ip_text: ip\n      u: uuid\n      ub: uuid\n      us: uuid\n",
		Kinds: map[int]string{1: "ip", 2: "cidr", 3: "ip", 4: "uuid", 5: "uuidhex", 6: "uuid"},
	})
}
