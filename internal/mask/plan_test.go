package mask

import (
	"errors"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

func testSchema() *schema.Schema {
	text := func(name string, n int, nullable bool) *schema.Column {
		return &schema.Column{Name: name, DataType: "varchar", Kind: schema.KindText, MaxLength: n, Nullable: nullable, Charset: "utf8mb4"}
	}
	id := func(name string) *schema.Column { return &schema.Column{Name: name, Kind: schema.KindInt, IntBits: 32} }
	customer := &schema.Table{
		TableName:  schema.TableName{Schema: "public", Name: "customer"},
		Columns:    []*schema.Column{id("id"), text("email", 100, false), text("name", 50, true), {Name: "name_upper", Kind: schema.KindText, Generated: true, Nullable: true}, id("store_id")},
		PrimaryKey: []string{"id"},
		Uniques:    []schema.Index{{Name: "customer_email", Columns: []string{"email"}}},
		ForeignKeys: []schema.ForeignKey{{Name: "fk_store", Columns: []string{"store_id"},
			RefTable: schema.TableName{Schema: "public", Name: "store"}, RefColumns: []string{"id"}}},
		EstimatedRows: 10,
	}
	store := &schema.Table{TableName: schema.TableName{Schema: "public", Name: "store"}, Columns: []*schema.Column{id("id"), text("manager", 50, true)}, PrimaryKey: []string{"id"}}
	payment := &schema.Table{TableName: schema.TableName{Schema: "public", Name: "payment"}, Columns: []*schema.Column{id("id"), text("card", 20, true)}, PrimaryKey: []string{"id"}, EstimatedRows: 1000}
	parent := payment.TableName
	p1 := &schema.Table{TableName: schema.TableName{Schema: "public", Name: "payment_p1"}, Columns: payment.Columns, PrimaryKey: []string{"id"}, Parent: &parent, EstimatedRows: 500}
	log := &schema.Table{TableName: schema.TableName{Schema: "public", Name: "log"}, Columns: []*schema.Column{text("who", 50, true)}}
	return &schema.Schema{DefaultSchema: "public", Tables: []*schema.Table{customer, store, payment, p1, log}}
}

func rules(t *testing.T, body string) *config.Rules {
	t.Helper()
	r, err := config.ParseRules("rules.yaml", []byte(body))
	if err != nil {
		t.Fatalf("parse rules: %v", err)
	}
	return r
}

func TestPlanChildrenFollowParent(t *testing.T) {
	p, err := NewPlan(rules(t, "version: 1\ntables:\n  payment:\n    columns:\n      card: digits\n  customer:\n    columns:\n      email: email\n      name: {transformer: full_name, seed: [id]}\n"), testSchema())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range p.Jobs {
		got = append(got, j.Job.Table.Name)
	}
	if want := "payment payment_p1 customer"; strings.Join(got, " ") != want {
		t.Errorf("jobs = %v, want %s (biggest first, child included)", got, want)
	}
	if !strings.Contains(p.Describe(), "follows parent public.payment") {
		t.Errorf("plan does not say the partition follows its parent:\n%s", p.Describe())
	}
	cust := p.Jobs[2]
	if strings.Join(cust.Job.Write, ",") != "email,name" || strings.Join(cust.Job.Read, ",") != "email,name,id" {
		t.Errorf("customer write %v read %v, want [email name] and [email name id]", cust.Job.Write, cust.Job.Read)
	}
}

func TestPlanTruncateNeedsReferencingTables(t *testing.T) {
	_, err := NewPlan(rules(t, "version: 1\ntruncate: [store]\n"), testSchema())
	var pe *PlanError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *PlanError", err)
	}
	if !strings.Contains(err.Error(), "referenced by public.customer") {
		t.Errorf("error does not name the referencing table: %v", err)
	}
	p, err := NewPlan(rules(t, "version: 1\ntruncate: [store, customer, payment]\n"), testSchema())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range p.Truncate {
		got = append(got, tb.Name)
	}
	if strings.Join(got, ",") != "customer,store,payment,payment_p1" {
		t.Errorf("truncate set = %v, want the partition to follow payment", got)
	}
}

func TestPlanListsEveryProblem(t *testing.T) {
	body := `version: 1
tables:
  nosuch:
    columns:
      a: email
  customer:
    columns:
      missing: email
      name_upper: full_name
      id: hash
      store_id: hash
      email: nullify
      name: {transformer: email, seed: [nope]}
  public.customer:
    columns:
      name: full_name
`
	_, err := NewPlan(rules(t, body), testSchema())
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"rules.yaml:3: table \"nosuch\"", "rules.yaml:8: column public.customer.missing", "rules.yaml:9:", "generated", "rules.yaml:10:", "primary key", "rules.yaml:11:", "foreign key", "rules.yaml:12:", "rules.yaml:13:", "seed column", "rules.yaml:14: table public.customer already has rules at line 6"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestPlanNoKeyTable(t *testing.T) {
	p, err := NewPlan(rules(t, "version: 1\ntables:\n  log:\n    columns:\n      who: email\n"), testSchema())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Jobs) != 1 || len(p.Jobs[0].Job.Key) != 0 {
		t.Fatalf("jobs = %+v, want one keyless job", p.Jobs)
	}
	if !strings.Contains(p.Describe(), "no key") {
		t.Errorf("plan does not say how a keyless table is masked:\n%s", p.Describe())
	}
}
