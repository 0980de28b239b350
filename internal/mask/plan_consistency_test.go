package mask

import (
	"strconv"
	"strings"
	"testing"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
	"github.com/restage/restage/internal/transform/fake"
)

// chinookSchema: Customer and Employee share ids; Invoice references
// Customer. Names as on MariaDB (PascalCase).
func chinookSchema() *schema.Schema {
	text := func(name string, n int) *schema.Column {
		return &schema.Column{Name: name, DataType: "varchar", Kind: schema.KindText, MaxLength: n, Nullable: true, Charset: "utf8mb3", CaseInsensitive: true, PadSpace: true}
	}
	id := func(name string) *schema.Column { return &schema.Column{Name: name, Kind: schema.KindInt, IntBits: 32} }
	cust := &schema.Table{TableName: schema.TableName{Schema: "chinook", Name: "Customer"},
		Columns:    []*schema.Column{id("CustomerId"), text("FirstName", 40), text("LastName", 20), text("FullName", 80), text("Email", 60), text("Nick", 80), text("City", 40)},
		PrimaryKey: []string{"CustomerId"}}
	emp := &schema.Table{TableName: schema.TableName{Schema: "chinook", Name: "Employee"},
		Columns: []*schema.Column{id("EmployeeId"), text("FirstName", 40), text("LastName", 20)}, PrimaryKey: []string{"EmployeeId"}}
	inv := &schema.Table{TableName: schema.TableName{Schema: "chinook", Name: "Invoice"},
		Columns: []*schema.Column{id("InvoiceId"), id("CustomerId"), text("BillingCity", 40), text("Email", 60)}, PrimaryKey: []string{"InvoiceId"},
		ForeignKeys: []schema.ForeignKey{{Name: "fk", Columns: []string{"CustomerId"}, RefTable: cust.TableName, RefColumns: []string{"CustomerId"}}}}
	return &schema.Schema{DefaultSchema: "chinook", Tables: []*schema.Table{cust, emp, inv}}
}

func chinookKey(t *testing.T) transform.Key {
	k, err := transform.NewKey([]byte("chinook-newcomer-test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// maskRow runs a table plan's row function on one row given by column.
func maskRow(t *testing.T, tp *TablePlan, m *transform.Masker, row map[string]string) map[string]string {
	t.Helper()
	in := make([]Value, len(tp.Job.Read))
	for i, c := range tp.Job.Read {
		v, ok := row[c]
		in[i] = Value{S: v, Null: !ok}
	}
	out := make([]Value, len(tp.Job.Write))
	if err := tp.RowFunc(m)(in, out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, c := range tp.Job.Write {
		got[c] = out[i].S
	}
	return got
}

func job(p *Plan, name string) *TablePlan {
	for _, j := range p.Jobs {
		if j.Job.Table.Name == name {
			return j
		}
	}
	return nil
}

// Issue 15 point 1, the exact reproduction: Customer 18, Michelle, seeded
// by CustomerId. Her seed's first draw is named Michelle, so the whole
// person is redrawn: the e-mail's name is the first name's.
// With CustomerId the primary key the seed is namespaced (issue 15 point
// 2) and the first draw is someone else; the table is also planned with
// CustomerId as a plain column (keyed by value, as the issue measured), where
// the first draw is "Michelle Moore".
func TestRowLevelRedrawIssue15(t *testing.T) {
	m := transform.NewMasker(chinookKey(t))
	if p := fake.NewPerson(m.Rand("person", transform.SeedFor("", []string{"18"}, nil), 0), "en"); p.First != "Michelle" {
		t.Fatalf("the value seed's first person is %s %s, not the issue's Michelle Moore", p.First, p.Last)
	}
	for _, pk := range []bool{true, false} {
		s := chinookSchema()
		if !pk {
			s.Tables[0].PrimaryKey = nil
		}
		p, err := NewPlan(rules(t, `version: 1
tables:
  Customer: {columns: {FirstName: {transformer: first_name, seed: [CustomerId]}, Email: {transformer: email, seed: [CustomerId]}}}
`), s)
		if err != nil {
			t.Fatal(err)
		}
		testRedraw18(t, job(p, "Customer"), m)
	}
}

func testRedraw18(t *testing.T, tp *TablePlan, m *transform.Masker) {
	t.Helper()
	got := maskRow(t, tp, m, map[string]string{"CustomerId": "18", "FirstName": "Michelle", "Email": "michelleb@aol.com"})
	if got["FirstName"] == "Michelle" {
		t.Fatalf("first name kept: %v", got)
	}
	if !strings.HasPrefix(got["Email"], strings.ToLower(got["FirstName"])+".") {
		t.Errorf("first name %q and e-mail %q are two people", got["FirstName"], got["Email"])
	}
	if strings.HasPrefix(got["Email"], "michelle.") {
		t.Errorf("e-mail %q still shows the real first name", got["Email"])
	}
}

// Issue 15 point 1 on a fixture built to collide: every original is the
// seed's first fake person, so every row must redraw, and all person
// columns of a row must agree.
func TestRowLevelRedrawAgrees(t *testing.T) {
	p, err := NewPlan(rules(t, `version: 1
tables:
  Customer:
    columns:
      FirstName: {transformer: first_name, seed: [CustomerId]}
      LastName: {transformer: last_name, seed: [CustomerId]}
      FullName: {transformer: full_name, seed: [CustomerId]}
      Email: {transformer: email, seed: [CustomerId]}
      Nick: {transformer: template, template: "{first_name}/{last_name}", seed: [CustomerId]}
      City: {transformer: city, seed: [CustomerId]}
`), chinookSchema())
	if err != nil {
		t.Fatal(err)
	}
	m := transform.NewMasker(chinookKey(t))
	tp := job(p, "Customer")
	for i := 1; i <= 500; i++ {
		id := strconv.Itoa(i)
		seed := transform.SeedFor("Customer", []string{id}, nil)
		first := fake.NewPerson(m.Rand("person", seed, 0), "en")
		orig := map[string]string{"CustomerId": id, "FirstName": first.First, "LastName": "Zzz", "FullName": "Zzz Zzz", "Email": "z@z.example", "Nick": "z", "City": "Nowhere"}
		if i%2 == 0 { // the other half collides on the last name only
			orig["FirstName"], orig["LastName"] = "Zzz", first.Last
		}
		got := maskRow(t, tp, m, orig)
		fn, ln := got["FirstName"], got["LastName"]
		if fn == orig["FirstName"] || ln == orig["LastName"] {
			t.Fatalf("row %d kept an original: %v", i, got)
		}
		if got["FullName"] != fn+" "+ln || got["Nick"] != fn+"/"+ln {
			t.Errorf("row %d: names disagree: %v", i, got)
		}
		local := strings.NewReplacer("'", "", " ", "").Replace(strings.ToLower(fn + "." + ln))
		if len(local) > 20 {
			local = local[:20]
		}
		if !strings.HasPrefix(got["Email"], strings.TrimRight(local, ".")) {
			t.Errorf("row %d: e-mail %q is not %q", i, got["Email"], local)
		}
	}
}

// Issue 15 point 2: seeds namespaced by what they identify.
func TestSeedNamespaces(t *testing.T) {
	p, err := NewPlan(rules(t, `version: 1
tables:
  Customer: {columns: {FirstName: {transformer: first_name, seed: [CustomerId]}, City: {transformer: city, seed: [CustomerId]}}}
  Employee: {columns: {FirstName: {transformer: first_name, seed: [EmployeeId]}}}
  Invoice: {columns: {BillingCity: {transformer: city, seed: [CustomerId]}, Email: {transformer: email, seed: [InvoiceId], seed_of: Customer}}}
`), chinookSchema())
	if err != nil {
		t.Fatal(err)
	}
	m := transform.NewMasker(chinookKey(t))
	same := 0
	for i := 1; i <= 200; i++ {
		id := strconv.Itoa(i)
		c := maskRow(t, job(p, "Customer"), m, map[string]string{"CustomerId": id, "FirstName": "Zed", "City": "Edinburgh"})
		e := maskRow(t, job(p, "Employee"), m, map[string]string{"EmployeeId": id, "FirstName": "Zed"})
		inv := maskRow(t, job(p, "Invoice"), m, map[string]string{"InvoiceId": "9" + id, "CustomerId": id, "BillingCity": "Edinburgh"})
		if c["FirstName"] == e["FirstName"] {
			same++
		}
		if inv["BillingCity"] != c["City"] {
			t.Errorf("Invoice.CustomerId %s: billing city %q, customer's %q", id, inv["BillingCity"], c["City"])
		}
	}
	if same > 20 { // 1 in ~100 first names by chance
		t.Errorf("Employee n and Customer n share a first name %d times in 200: not namespaced", same)
	}
	if got := job(p, "Invoice").SeedNamespaces; got[0] != "Customer" || got[1] != "Customer" {
		t.Errorf("invoice namespaces %v", got)
	}
	// seed_of must name a table.
	_, err = NewPlan(rules(t, "version: 1\ntables:\n  Invoice: {columns: {Email: {transformer: email, seed: [InvoiceId], seed_of: Nope}}}\n"), chinookSchema())
	if err == nil || !strings.Contains(err.Error(), `seed_of: table "Nope" does not exist`) {
		t.Errorf("err = %v", err)
	}
}

// Issue 12 point 1: a column too short for the consistent form is a plan
// error naming the column and the length needed, unless consistent: false.
func TestPlanConsistentLength(t *testing.T) {
	_, err := NewPlan(rules(t, "version: 1\ntables:\n  Customer: {columns: {FirstName: {transformer: email}}}\n"), chinookSchema())
	if err == nil || !strings.Contains(err.Error(), "Customer.FirstName") || !strings.Contains(err.Error(), "needs 50 characters") {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewPlan(rules(t, "version: 1\ntables:\n  Customer: {columns: {FirstName: {transformer: email, consistent: false}}}\n"), chinookSchema()); err != nil {
		t.Fatal(err)
	}
}

// Issue 12 point 2: a link gives the linked column the followed rule,
// seeded through via when the followed rule is seeded by its key.
func TestPlanLinks(t *testing.T) {
	p, err := NewPlan(rules(t, `version: 1
links:
  - {column: Invoice.Email, follows: Customer.Email, via: Invoice.CustomerId}
tables:
  Customer: {columns: {Email: {transformer: email, seed: [CustomerId]}}}
`), chinookSchema())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Links) != 1 || p.Links[0].Ref != "CustomerId" || p.Links[0].String() != "chinook.Invoice.Email follows chinook.Customer.Email via CustomerId" {
		t.Fatalf("links %+v", p.Links)
	}
	if !strings.Contains(p.Describe(), "note: mask chinook.Invoice.Email: follows chinook.Customer.Email via CustomerId") {
		t.Errorf("the plan does not describe the link:\n%s", p.Describe())
	}
	m := transform.NewMasker(chinookKey(t))
	c := maskRow(t, job(p, "Customer"), m, map[string]string{"CustomerId": "5", "Email": "a@b.example"})
	i := maskRow(t, job(p, "Invoice"), m, map[string]string{"InvoiceId": "77", "CustomerId": "5", "Email": "a@b.example"})
	i2 := maskRow(t, job(p, "Invoice"), m, map[string]string{"InvoiceId": "78", "CustomerId": "5", "Email": "other@b.example"})
	if c["Email"] != i["Email"] {
		t.Errorf("linked e-mail %q, followed %q", i["Email"], c["Email"])
	}
	if i2["Email"] == c["Email"] {
		t.Error("a row that differed now matches: a link must not copy")
	}
	for _, tt := range []struct{ body, want string }{
		{"links: [{column: Invoice.Email, follows: Customer.Nope, via: Invoice.CustomerId}]", "column chinook.Customer.Nope does not exist"},
		{"links: [{column: Invoice.Email, follows: Customer.FirstName, via: Invoice.CustomerId}]", "has no masking rule"},
		{"links: [{column: Invoice.Email, follows: Customer.Email, via: Invoice.CustomerId}]\ntables:\n  Customer: {columns: {Email: email}}\n  Invoice: {columns: {Email: hash}}", "remove its own rule"},
	} {
		_, err := NewPlan(rules(t, "version: 1\n"+tt.body+"\n"), chinookSchema())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.body, err, tt.want)
		}
	}
}

// A person redrawn at row level in its own table is redrawn the same way
// in a table whose seed refers to it (here through a link), so the copy
// of the e-mail still equals the customer's (the verification gate checks
// it). The owner table is flagged to be masked first.
func TestRowLevelRedrawFollowedAcrossTables(t *testing.T) {
	p, err := NewPlan(rules(t, `version: 1
links:
  - {column: Invoice.Email, follows: Customer.Email, via: Invoice.CustomerId}
tables:
  Customer: {columns: {FirstName: {transformer: first_name, seed: [CustomerId]}, Email: {transformer: email, seed: [CustomerId]}}}
`), chinookSchema())
	if err != nil {
		t.Fatal(err)
	}
	if !job(p, "Customer").Owner || job(p, "Invoice").Owner {
		t.Fatalf("owners: customer %v, invoice %v", job(p, "Customer").Owner, job(p, "Invoice").Owner)
	}
	m := transform.NewMasker(chinookKey(t))
	for i := 1; i <= 100; i++ {
		id := strconv.Itoa(i)
		first := fake.NewPerson(m.Rand("person", transform.SeedFor("Customer", []string{id}, nil), 0), "en").First
		c := maskRow(t, job(p, "Customer"), m, map[string]string{"CustomerId": id, "FirstName": first, "Email": "c" + id + "@aol.example"})
		if c["FirstName"] == first {
			t.Fatalf("customer %s kept its first name", id)
		}
		inv := maskRow(t, job(p, "Invoice"), m, map[string]string{"InvoiceId": "7" + id, "CustomerId": id, "Email": "c" + id + "@aol.example"})
		if inv["Email"] != c["Email"] {
			t.Errorf("customer %s: invoice e-mail %q, customer's %q", id, inv["Email"], c["Email"])
		}
	}
}
