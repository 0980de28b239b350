package mask

import (
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

// A rules name in the wrong case, or in the other engine's convention,
// gets "did you mean" from the planner too (restage mask plans before
// the drift gate runs).
func TestPlanDidYouMean(t *testing.T) {
	s := &schema.Schema{Tables: []*schema.Table{{
		TableName:  schema.TableName{Name: "Customer"},
		PrimaryKey: []string{"CustomerId"},
		Columns: []*schema.Column{
			{Name: "CustomerId", Kind: schema.KindInt, IntBits: 32},
			{Name: "FirstName", Kind: schema.KindText, MaxLength: 40, Charset: "utf8mb3"},
		},
	}}}
	for _, c := range []struct{ rules, want string }{
		{"version: 1\ntables:\n  customer:\n    columns:\n      FirstName: first_name\n",
			"rules.yaml:3: table \"customer\" does not exist: did you mean `Customer`?"},
		{"version: 1\ntables:\n  Customer:\n    columns:\n      first_name: {transformer: first_name, seed: [customer_id]}\n",
			"rules.yaml:5: column Customer.first_name does not exist: did you mean `FirstName`? (the rule spells it in snake_case, the database in PascalCase)"},
		{"version: 1\ntables:\n  Customer:\n    columns:\n      FirstName: {transformer: first_name, seed: [customer_id]}\n",
			"rules.yaml:5: seed column Customer.customer_id does not exist: did you mean `CustomerId`?"},
		{"version: 1\ntruncate: [CUSTOMER]\n", "rules.yaml:2: truncate: table \"CUSTOMER\" does not exist: did you mean `Customer`?"},
	} {
		rules, err := config.ParseRules("rules.yaml", []byte(c.rules))
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewPlan(rules, s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPlan: %v\nwant %q", err, c.want)
		}
	}
}
