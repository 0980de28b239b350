package jpshop_test

import (
	"context"
	"database/sql"
	"net/netip"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/testdb/jpshop"
	"github.com/restage/restage/internal/transform"
)

const size = 40_000

var key, _ = transform.NewKey([]byte("jpshop-fixture-test-key-0123456789abcdef"))

func open(t *testing.T, f jpshop.Flavor) (mask.Engine, *sql.DB) {
	t.Helper()
	ctx := context.Background()
	var (
		eng mask.Engine
		db  *sql.DB
		err error
	)
	if f == jpshop.Postgres {
		dsn, _ := testdb.Postgres(t)
		pe, err2 := postgres.Open(ctx, dsn)
		if err2 != nil {
			t.Fatal(err2)
		}
		t.Cleanup(func() { pe.Close() })
		eng = pe
		db, err = sql.Open("pgx", dsn)
	} else {
		dsn, _ := testdb.MySQL(t)
		me, err2 := mysql.Open(ctx, dsn)
		if err2 != nil {
			t.Fatal(err2)
		}
		t.Cleanup(func() { me.Close() })
		eng = me
		db, err = sql.Open("mysql", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return eng, db
}

func TestMaskJPShop(t *testing.T) {
	for _, f := range []struct {
		name   string
		flavor jpshop.Flavor
	}{{"mariadb", jpshop.MariaDB}, {"postgres", jpshop.Postgres}} {
		t.Run(f.name, func(t *testing.T) { testMask(t, f.flavor) })
	}
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func column(t *testing.T, db *sql.DB, q string) []sql.NullString {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	var out []sql.NullString
	for rs.Next() {
		var v sql.NullString
		if err := rs.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func testMask(t *testing.T, f jpshop.Flavor) {
	ctx := context.Background()
	eng, db := open(t, f)
	people, err := jpshop.Load(ctx, db, f, size)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for table, want := range jpshop.Counts(size) {
		if got := count(t, db, "SELECT COUNT(*) FROM "+table); got != want {
			t.Errorf("%s: %d rows, want %d", table, got, want)
		}
		total += want
	}
	if total < size*9/10 || total > size*11/10 {
		t.Errorf("fixture of size %d has %d rows", size, total)
	}
	// The fixture is what it says: orders and events repeat the users'
	// addresses.
	if n := count(t, db, "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id AND u.email = o.customer_email"); n < len(people) {
		t.Errorf("only %d orders repeat their user's e-mail", n)
	}
	stampsBefore := column(t, db, "SELECT CAST(updated_at AS CHAR(30)) FROM users ORDER BY id")
	cardsBefore := column(t, db, "SELECT card_number FROM payments ORDER BY id")
	ticketStamps := column(t, db, "SELECT CAST(updated_at AS CHAR(30)) FROM support_tickets ORDER BY id")
	bodies := column(t, db, "SELECT body FROM support_tickets ORDER BY id")

	r, err := config.ParseRules("rules.yaml", []byte(jpshop.RulesYAML))
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
	if _, err := mask.Run(ctx, eng, p, key, mask.Options{Workers: 2, BatchSize: 5000}); err != nil {
		t.Fatal(err)
	}

	for table, want := range jpshop.Counts(size) {
		if got := count(t, db, "SELECT COUNT(*) FROM "+table); got != want {
			t.Errorf("after masking %s: %d rows, want %d", table, got, want)
		}
	}
	originals := map[string]bool{}
	for _, p := range people {
		originals[p.Email] = true
	}
	for _, q := range []string{
		"SELECT email FROM users", "SELECT customer_email FROM orders", "SELECT user_email FROM events",
	} {
		for _, v := range column(t, db, q) {
			if v.Valid && (originals[v.String] || !strings.HasSuffix(v.String, "@example.invalid")) {
				t.Fatalf("%s: %q is not a masked address", q, v.String)
			}
		}
	}
	// The generated column follows the masked e-mail.
	if n := count(t, db, "SELECT COUNT(*) FROM users WHERE email_domain <> 'example.invalid'"); n != 0 {
		t.Errorf("%d users keep their original email_domain", n)
	}
	// The ON UPDATE / trigger-maintained timestamps are untouched.
	if got := column(t, db, "SELECT CAST(updated_at AS CHAR(30)) FROM users ORDER BY id"); len(got) != len(stampsBefore) {
		t.Fatalf("users.updated_at: %d rows, want %d", len(got), len(stampsBefore))
	} else {
		for i := range got {
			if got[i] != stampsBefore[i] {
				t.Fatalf("users.updated_at changed by masking: row %d", i)
			}
		}
	}
	// The trigger-maintained timestamp too, while every body was rewritten.
	for i, v := range column(t, db, "SELECT CAST(updated_at AS CHAR(30)) FROM support_tickets ORDER BY id") {
		if v != ticketStamps[i] {
			t.Fatalf("support_tickets.updated_at changed by masking (row %d): the trigger fired", i)
		}
	}
	for i, v := range column(t, db, "SELECT body FROM support_tickets ORDER BY id") {
		if v == bodies[i] || strings.Count(v.String, "\n") != strings.Count(bodies[i].String, "\n") {
			t.Fatalf("support ticket %d: body not masked as text with its line breaks", i)
		}
	}
	v4, v6 := netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("2001:db8::/32")
	native := "SELECT CAST(ip AS CHAR(50)) FROM login_history"
	if f == jpshop.Postgres {
		native = "SELECT host(ip) FROM login_history"
	}
	for _, q := range []string{native, "SELECT ip FROM events", "SELECT ip_address FROM payments"} {
		for _, v := range column(t, db, q) {
			a, err := netip.ParseAddr(v.String)
			if err != nil || (!v4.Contains(a.Unmap()) && !v6.Contains(a)) {
				t.Fatalf("%s: %q is not in the reserved ranges (%v)", q, v.String, err)
			}
		}
	}
	for i, v := range column(t, db, "SELECT card_number FROM payments ORDER BY id") {
		o := cardsBefore[i].String
		if len(v.String) != 19 || strings.Count(v.String, "-") != 3 || !luhn(v.String) {
			t.Fatalf("card %q lost its format or Luhn check digit", v.String)
		}
		if v.String == o || v.String[15:] != o[15:] { // keep_last: 4
			t.Fatalf("card not masked or its last four digits not kept (row %d)", i)
		}
	}
	for _, p := range people[:50] {
		for _, q := range []string{"SELECT gift_message FROM orders", "SELECT body FROM support_tickets"} {
			for _, v := range column(t, db, q) {
				if strings.Contains(v.String, p.Email) || strings.Contains(v.String, p.Phone) {
					t.Fatalf("%s still holds an original e-mail or phone", q)
				}
			}
		}
	}
}

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] < '0' || s[i] > '9' {
			continue
		}
		d := int(s[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
