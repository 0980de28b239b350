package test

import (
	"strings"
	"testing"

	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/refresh"
)

// TestRunLinkBrokenRefuses (issue 12 point 2): a table that copies each
// customer's e-mail declares a link to customer.email. Masked, every copy
// still equals its customer's e-mail (the drift gate counts the linked
// column as covered); when post-mask SQL breaks two pairs, the
// verification gate refuses the run with exit 4, naming the columns and
// no value, and staging is not switched.
func TestRunLinkBrokenRefuses(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			if ec.name == "mysql" {
				f.exec(t, "CREATE TABLE order_copy (id INT PRIMARY KEY, customer_id SMALLINT UNSIGNED NOT NULL, customer_email VARCHAR(80), FOREIGN KEY (customer_id) REFERENCES customer (customer_id))")
			} else {
				f.exec(t, "CREATE TABLE order_copy (id INT PRIMARY KEY, customer_id INT NOT NULL REFERENCES customer (customer_id), customer_email VARCHAR(80))")
			}
			f.exec(t, "INSERT INTO order_copy SELECT customer_id, customer_id, email FROM customer")
			f.extraRules = "\nlinks:\n  - {column: order_copy.customer_email, follows: customer.email, via: order_copy.customer_id}\n"
			rep, err := f.run(t, nil)
			if err != nil {
				if rep.Verify != nil {
					t.Log(rep.Verify.Summary())
				}
				t.Fatalf("consistent run: %v\n%+v", err, rep.Steps)
			}
			db := f.stagingDB(t)
			var n, same int
			if err := db.QueryRow("SELECT COUNT(*), SUM(CASE WHEN o.customer_email = c.email THEN 1 ELSE 0 END) FROM order_copy o JOIN customer c ON c.customer_id = o.customer_id").Scan(&n, &same); err != nil {
				t.Fatal(err)
			}
			db.Close()
			if n != 599 || same != n {
				t.Errorf("%d of %d copies equal their customer's masked e-mail, want all", same, n)
			}
			sum := f.stagingSum(t)

			f.extraRules += "post_mask_sql:\n  - UPDATE order_copy SET customer_email = 'broken@example.invalid' WHERE id IN (1, 2)\n"
			rep, err = f.run(t, nil)
			if err == nil || refresh.ExitCode(err) != exitcode.Refused {
				t.Fatalf("broken link: err = %v (exit %d), want exit %d", err, refresh.ExitCode(err), exitcode.Refused)
			}
			if rep.Verify == nil {
				t.Fatal("no verification report")
			}
			var detail string
			for _, fl := range rep.Verify.Failures {
				if fl.Check == "links" && strings.HasSuffix(fl.Table, "order_copy") && fl.Column == "customer_email" {
					detail = fl.Detail
				}
				if strings.Contains(fl.Detail, "@") {
					t.Errorf("failure holds a value: %s", fl)
				}
			}
			if !strings.HasPrefix(detail, "2 of 599 rows") || !strings.Contains(detail, "customer.email") {
				t.Errorf("links failure detail %q\n%s", detail, rep.Verify.Summary())
			}
			if f.stagingSum(t) != sum {
				t.Errorf("staging changed after a refused run")
			}
		})
	}
}
