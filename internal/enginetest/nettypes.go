package enginetest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
)

// CheckNetAndUUID checks rows masked with ip and uuid: before and after
// map a row id to its columns read as text; kinds names what column i
// holds: "ip" (an address, optionally with a prefix length), "cidr" (a
// network), "uuid" (hyphenated text) or "uuidhex" (32 hex digits, a
// BINARY(16)/bytea read with HEX/encode). NULL must stay NULL; every value
// must change, stay valid and of the same family/version, land in
// 240.0.0.0/4 or 2001:db8::/32, and keep its prefix length; uuids must stay
// distinct.
func CheckNetAndUUID(t *testing.T, before, after map[string][]sql.NullString, kinds map[int]string) {
	t.Helper()
	if len(before) != len(after) || len(before) == 0 {
		t.Fatalf("rows before %d, after %d", len(before), len(after))
	}
	v4, v6 := netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("2001:db8::/32")
	seen := map[int]map[string]bool{}
	for id, b := range before {
		a := after[id]
		for i, kind := range kinds {
			if b[i].Valid != a[i].Valid {
				t.Fatalf("row %s column %d: NULL changed (%v -> %v)", id, i, b[i].Valid, a[i].Valid)
			}
			if !b[i].Valid {
				continue
			}
			o, m := b[i].String, a[i].String
			if strings.EqualFold(o, m) {
				t.Fatalf("row %s column %d: %q not masked", id, i, o)
			}
			switch kind {
			case "ip", "cidr":
				op, err1 := netip.ParsePrefix(withBits(o))
				mp, err2 := netip.ParsePrefix(withBits(m))
				if err1 != nil || err2 != nil {
					t.Fatalf("row %s column %d: %q -> %q: %v %v", id, i, o, m, err1, err2)
				}
				if op.Bits() != mp.Bits() || op.Addr().Is4() != mp.Addr().Is4() || op.Addr().Is4In6() != mp.Addr().Is4In6() {
					t.Fatalf("row %s column %d: %q -> %q: family or prefix length changed", id, i, o, m)
				}
				if ma := mp.Addr().Unmap(); !v4.Contains(ma) && !v6.Contains(ma) {
					t.Fatalf("row %s column %d: %q is outside 240.0.0.0/4 and 2001:db8::/32", id, i, m)
				}
				if kind == "cidr" && mp.Masked() != mp {
					t.Fatalf("row %s column %d: cidr %q has host bits", id, i, m)
				}
			case "uuid", "uuidhex":
				ob, mb := uuidBytes(o), uuidBytes(m)
				if ob == nil || mb == nil {
					t.Fatalf("row %s column %d: %q -> %q: not a uuid", id, i, o, m)
				}
				if ob[6]>>4 != mb[6]>>4 || ob[8]>>6 != mb[8]>>6 {
					t.Fatalf("row %s column %d: %q -> %q: version or variant changed", id, i, o, m)
				}
				if seen[i] == nil {
					seen[i] = map[string]bool{}
				}
				if seen[i][m] {
					t.Fatalf("column %d: %q twice", i, m)
				}
				seen[i][m] = true
			}
		}
	}
}

func withBits(s string) string {
	if strings.Contains(s, "/") {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	return netip.PrefixFrom(a, a.BitLen()).String()
}

func uuidBytes(s string) []byte {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return nil
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	return b
}

// TypesCase is one engine's table of network and UUID columns for
// MaskTypes: its DDL, the rows to insert, the query that reads them back
// as text (id first) and the kind of each queried column.
type TypesCase struct {
	DDL   string
	Rows  []string // "(…)" value tuples
	Query string
	Rules string
	Kinds map[int]string
}

// MaskTypes creates the case's table on db, masks it through eng with the
// case's rules and checks every value with CheckNetAndUUID.
func MaskTypes(t *testing.T, eng mask.Engine, db *sql.DB, c TypesCase) {
	t.Helper()
	ctx := context.Background()
	for _, s := range []string{c.DDL, "INSERT INTO net VALUES " + strings.Join(c.Rows, ",")} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, db, c.Query)
	r, err := config.ParseRules("rules.yaml", []byte(c.Rules))
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
	if _, err := mask.Run(ctx, eng, p, Key, mask.Options{Workers: 2, BatchSize: 128}); err != nil {
		t.Fatal(err)
	}
	CheckNetAndUUID(t, before, snapshot(t, db, c.Query), c.Kinds)
}
