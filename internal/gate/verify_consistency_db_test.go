package gate

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/transform"
	"github.com/restage/restage/internal/transform/fake"
)

// consistencyRules mask a small multi-entity schema: users with a UNIQUE
// e-mail, orders and events repeating it (orders through a link),
// case-insensitive cities with case and trailing-space variants,
// customers and employees that share ids, invoices that copy a customer's
// city.
const consistencyRules = `version: 1
links:
  - {column: orders.customer_email, follows: users.email, via: orders.user_id}
tables:
  users:
    columns:
      email: email
      city: city
  orders:
    columns:
      city: city
  events:
    columns:
      user_email: email
  customer:
    columns:
      first_name: {transformer: first_name, seed: [customer_id]}
      last_name: {transformer: last_name, seed: [customer_id]}
      full_name: {transformer: full_name, seed: [customer_id]}
      email: {transformer: email, seed: [customer_id]}
      nick: {transformer: template, template: "{first_name}/{last_name}", seed: [customer_id]}
      city: {transformer: city, seed: [customer_id]}
  employee:
    columns:
      first_name: {transformer: first_name, seed: [employee_id]}
  invoice:
    columns:
      billing_city: {transformer: city, seed: [customer_id]}
`

var cityVariants = []string{"Edinburgh", "Edinburgh ", "EDINBURGH", "edinburgh"}

func consistencyLoad(t *testing.T, e *verifyEnv) {
	t.Helper()
	ci := "CHARACTER SET utf8mb3 COLLATE utf8mb3_general_ci"
	if e.ec.name == "postgres" {
		e.exec(t, "CREATE COLLATION ci_test (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
		ci = `COLLATE ci_test`
	}
	e.exec(t,
		"CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL UNIQUE, city VARCHAR(60) "+ci+")",
		"CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL REFERENCES users (id), customer_email VARCHAR(200), city VARCHAR(60))",
		"CREATE TABLE events (id INT PRIMARY KEY, user_email VARCHAR(255))",
		"CREATE TABLE customer (customer_id INT PRIMARY KEY, first_name VARCHAR(40), last_name VARCHAR(40), full_name VARCHAR(90), email VARCHAR(60), nick VARCHAR(90), city VARCHAR(60))",
		"CREATE TABLE employee (employee_id INT PRIMARY KEY, first_name VARCHAR(40))",
		"CREATE TABLE invoice (invoice_id INT PRIMARY KEY, customer_id INT NOT NULL REFERENCES customer (customer_id), billing_city VARCHAR(60))",
	)
	if e.ec.name == "mysql" {
		// MariaDB ignores inline REFERENCES: declare the keys.
		e.exec(t, "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id)",
			"ALTER TABLE invoice ADD FOREIGN KEY (customer_id) REFERENCES customer (customer_id)")
	}
	m := transform.NewMasker(verifyKey)
	var users, orders, events, cust, emp, inv []string
	for i := 1; i <= 200; i++ {
		email := fmt.Sprintf("User%d@Example.com", i)
		users = append(users, fmt.Sprintf("(%d, '%s', '%s')", i, email, cityVariants[i%4]))
		orders = append(orders, fmt.Sprintf("(%d, %d, '%s', '%s')", 2*i-1, i, email, cityVariants[(i+1)%4]),
			fmt.Sprintf("(%d, %d, 'other%d@example.net', NULL)", 2*i, i, i))
		events = append(events, fmt.Sprintf("(%d, '%s')", i, email))
	}
	for i := 1; i <= 100; i++ {
		// Half the customers are named like their seed's first fake
		// person (a collision on every such row), the rest collide on
		// the last name every third row.
		p := fake.NewPerson(m.Rand("person", transform.SeedFor("customer", []string{fmt.Sprint(i)}, nil), 0), "en")
		first, last := "Zed", "Brooks"
		if i%2 == 0 {
			first = p.First
		} else if i%3 == 0 {
			last = p.Last
		}
		cust = append(cust, fmt.Sprintf("(%d, '%s', '%s', '%s %s', 'c%d@aol.com', 'zz', 'Edinburgh')", i, first, strings.ReplaceAll(last, "'", "''"), first, strings.ReplaceAll(last, "'", "''"), i))
		emp = append(emp, fmt.Sprintf("(%d, 'Zed')", i))
	}
	for i := 1; i <= 300; i++ {
		inv = append(inv, fmt.Sprintf("(%d, %d, '%s')", i, i%100+1, cityVariants[i%4]))
	}
	e.exec(t,
		"INSERT INTO users VALUES "+strings.Join(users, ", "),
		"INSERT INTO orders VALUES "+strings.Join(orders, ", "),
		"INSERT INTO events VALUES "+strings.Join(events, ", "),
		"INSERT INTO customer VALUES "+strings.Join(cust, ", "),
		"INSERT INTO employee VALUES "+strings.Join(emp, ", "),
		"INSERT INTO invoice VALUES "+strings.Join(inv, ", "),
	)
}

// consistencyRead reads id → columns as strings ("" for NULL).
func consistencyRead(t *testing.T, db *sql.DB, q string) map[string][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string][]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols)-1)
		for i := range row {
			row[i] = vals[i+1].String
		}
		out[vals[0].String] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestVerifyConsistencyAcrossColumns (issues 12 and 15, both engines):
// one original gets one fake in a UNIQUE and in non-unique columns and
// through a link; case and trailing-space variants in a case-insensitive
// column share a fake; a seeded person stays one person after a row-level
// redraw; Employee 1 and Customer 1 are different people while
// Invoice.customer_id 5 is Customer 5. The gate passes, listing the
// consistency and links checks; then a broken link refuses, naming the
// columns and no value.
func TestVerifyConsistencyAcrossColumns(t *testing.T) {
	for _, ec := range verifyEngines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := verifySetup(t, ec, false)
			consistencyLoad(t, e)
			rules := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(rules, []byte(consistencyRules), 0o644); err != nil {
				t.Fatal(err)
			}
			s, plan := e.plan(t, rules)
			if len(plan.Links) != 1 {
				t.Fatalf("plan links: %v", plan.Links)
			}
			// The drift gate counts a linked column as covered by the
			// rule it follows.
			cr, err := config.LoadRules(rules)
			if err != nil {
				t.Fatal(err)
			}
			drep, err := Drift(ctx, e.eng, s, cr, []byte(consistencyRules), DriftOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range drep.Unclassified {
				if f.Column == "customer_email" {
					t.Errorf("drift: the linked orders.customer_email is unclassified: %+v", f)
				}
			}
			before := consistencyRead(t, e.db, "SELECT id, customer_email FROM orders")
			base, err := VerifyCapture(ctx, e.eng, plan, verifyKey, VerifyOptions{Schema: s})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mask.Run(ctx, e.eng, plan, verifyKey, mask.Options{Workers: 2, BatchSize: 64}); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, e.eng, s, plan, base)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() {
				t.Fatalf("a consistent masking was refused:\n%s", rep.Summary())
			}
			passed := map[string][]string{}
			for _, tb := range rep.Tables {
				for _, c := range tb.Columns {
					passed[tb.Table[strings.LastIndexByte(tb.Table, '.')+1:]+"."+c.Column] = c.Checks
				}
			}
			for _, c := range []string{"users.email", "orders.customer_email", "events.user_email", "users.city", "orders.city", "customer.city", "invoice.billing_city", "customer.first_name"} {
				if !slices.Contains(passed[c], VerifyCheckConsistency) {
					t.Errorf("%s: consistency not checked (%v)", c, passed[c])
				}
			}
			if !slices.Contains(passed["orders.customer_email"], VerifyCheckLinks) {
				t.Errorf("orders.customer_email: links not checked (%v)", passed["orders.customer_email"])
			}

			// Issue 12.1: the same e-mail, one fake, UNIQUE or not, linked or not.
			users := consistencyRead(t, e.db, "SELECT id, email, city FROM users")
			orders := consistencyRead(t, e.db, "SELECT id, customer_email, city, user_id FROM orders")
			events := consistencyRead(t, e.db, "SELECT id, user_email FROM events")
			for i := 1; i <= 200; i++ {
				u := users[fmt.Sprint(i)]
				if o := orders[fmt.Sprint(2*i-1)]; o[0] != u[0] {
					t.Fatalf("user %d: orders e-mail %q, users %q", i, o[0], u[0])
				}
				if ev := events[fmt.Sprint(i)]; ev[0] != u[0] {
					t.Fatalf("user %d: events e-mail %q, users %q", i, ev[0], u[0])
				}
				if o := orders[fmt.Sprint(2*i)]; o[0] == u[0] || o[0] == before[fmt.Sprint(2*i)][0] {
					t.Fatalf("user %d: a row that differed now matches, or kept its value", i)
				}
			}
			// Issue 15.3: the case and trailing-space variants of a city,
			// in a case-insensitive column and a case-sensitive one, share
			// one fake.
			cities := map[string]bool{}
			for _, u := range users {
				cities[u[1]] = true
			}
			for _, o := range orders {
				if o[1] != "" {
					cities[o[1]] = true
				}
			}
			if len(cities) != 1 {
				t.Errorf("variants of one city became %d fakes: %v", len(cities), cities)
			}

			// Issue 15.1: one person per row; 15.2: namespaces.
			cust := consistencyRead(t, e.db, "SELECT customer_id, first_name, last_name, full_name, email, nick, city FROM customer")
			emp := consistencyRead(t, e.db, "SELECT employee_id, first_name FROM employee")
			inv := consistencyRead(t, e.db, "SELECT invoice_id, customer_id, billing_city FROM invoice")
			same := 0
			for id, c := range cust {
				fn, ln := c[0], c[1]
				if c[2] != fn+" "+ln || c[4] != fn+"/"+ln {
					t.Errorf("customer %s: names disagree: %v", id, c)
				}
				local := strings.NewReplacer("'", "", " ", "").Replace(strings.ToLower(fn + "." + ln))
				if !strings.HasPrefix(c[3], strings.TrimRight(local[:min(20, len(local))], ".")) {
					t.Errorf("customer %s: e-mail %q is not %s %s", id, c[3], fn, ln)
				}
				if emp[id][0] == fn {
					same++
				}
			}
			if same > 15 {
				t.Errorf("employee n and customer n share a first name %d times in 100", same)
			}
			for id, iv := range inv {
				if iv[1] != cust[iv[0]][5] {
					t.Errorf("invoice %s: billing city %q, its customer's %q", id, iv[1], cust[iv[0]][5])
				}
			}

			// Issue 12.2: a broken pair refuses, naming columns, never values.
			e.exec(t, "UPDATE orders SET customer_email = 'broken@example.invalid' WHERE id IN (1, 3)")
			rep, err = Verify(ctx, e.eng, s, plan, base)
			if err != nil {
				t.Fatal(err)
			}
			var links *VerifyFailure
			for i, f := range rep.Failures {
				if f.Check == VerifyCheckLinks {
					links = &rep.Failures[i]
				}
				if strings.Contains(f.Detail, "@") || strings.Contains(strings.ToLower(f.Detail), "user1") {
					t.Errorf("failure detail holds a value: %s", f)
				}
			}
			if links == nil || !strings.HasSuffix(links.Table, "orders") || links.Column != "customer_email" ||
				!strings.HasPrefix(links.Detail, "2 of 200 rows") || !strings.Contains(links.Detail, "users.email") {
				t.Errorf("links failure = %+v\n%s", links, rep.Summary())
			}
			if !slices.Contains(verifyFailed(rep), strings.TrimSuffix(links.Table, "orders")+"orders|customer_email|consistency") {
				t.Errorf("consistency did not see the broken pair: %v", verifyFailed(rep))
			}
		})
	}
}
