package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLinksConsistentSeedOf(t *testing.T) {
	r := mustParse(t, `version: 1
links:
  - {column: orders.customer_email, follows: users.email, via: orders.user_id}
tables:
  users:
    columns:
      email: {transformer: email, consistent: false}
  Invoice:
    columns:
      BillingCity: {transformer: city, seed: [CustomerId], seed_of: Customer}
`)
	want := []Link{{Column: "orders.customer_email", Follows: "users.email", Via: "orders.user_id", Line: 3}}
	if !reflect.DeepEqual(r.Links, want) {
		t.Errorf("links = %+v, want %+v", r.Links, want)
	}
	if c := r.Tables[0].Columns[0]; !c.Loose {
		t.Error("consistent: false not read")
	}
	if c := r.Tables[1].Columns[0]; c.SeedOf != "Customer" || c.Loose {
		t.Errorf("seed_of = %q, loose %v", c.SeedOf, c.Loose)
	}

	bad := []struct{ src, want string }{
		{"links: [{column: orders.customer_email, follows: users.email}]", "needs column, follows and via"},
		{"links: [{column: orders.customer_email, follows: users.email, via: users.id}]", "via must be a column of the linked column's table orders"},
		{"links: [{column: orders, follows: users.email, via: orders.user_id}]", "is not table.column"},
		{"links: [{column: a.b, follows: c.d, via: a.e, also: x}]", `unknown key "also"`},
		{"links: {column: a.b}", "links must be a list"},
		{"tables: {t: {columns: {c: {transformer: city, consistent: maybe}}}}", "consistent must be true or false"},
		{"tables: {t: {columns: {c: {transformer: city, seed_of: Customer}}}}", "add seed"},
	}
	for _, tt := range bad {
		_, err := ParseRules("rules.yaml", []byte("version: 1\n"+tt.src+"\n"))
		var re *RulesError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.src, err, tt.want)
		}
	}
}
