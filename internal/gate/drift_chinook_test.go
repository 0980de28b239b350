package gate

import (
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/restage/restage/internal/config"
)

// A small Chinook-like fixture of our own: customers, employees (their
// support reps) and invoices that copy the customer's billing address. On
// MariaDB the names are PascalCase and the tables utf8mb3_general_ci, as
// Chinook ships them; on PostgreSQL snake_case, with a case-insensitive
// (ICU, nondeterministic) City column. Customer.City holds case and
// trailing-space variants of the same city. Customer.Notes is free text
// where, only past the first rows, one note in five holds a phone number,
// an e-mail address, a postal code or a card number.

// chinookSnake turns PascalCase into snake_case: BillingPostalCode →
// billing_postal_code, CustomerId → customer_id.
func chinookSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var chinookIdent = regexp.MustCompile(`\{([A-Za-z]+)\}`)

// chinookNames spells {Name} placeholders the engine's way.
func chinookNames(e driftEngine, s string) string {
	return chinookIdent.ReplaceAllStringFunc(s, func(m string) string {
		n := m[1 : len(m)-1]
		if e.name == "postgres" {
			return chinookSnake(n)
		}
		return n
	})
}

// chinookPascal are the fixture's names in MySQL's spelling.
var chinookPascal = []string{"Customer", "Employee", "Invoice", "CustomerId", "EmployeeId", "InvoiceId", "FirstName", "LastName",
	"Company", "Address", "City", "State", "Country", "PostalCode", "Phone", "Email", "Notes", "BirthDate", "HireDate",
	"BillingAddress", "BillingCity", "BillingState", "BillingCountry", "BillingPostalCode", "Contact"}

// chinookRespell respells the rules' table and column names for the other
// engine: PascalCase → snake_case, or back. Template placeholders
// ({last_name}) and everything else stay.
func chinookRespell(text string, toSnake bool) string {
	from := map[string]string{}
	var alts []string
	for _, p := range chinookPascal {
		if toSnake {
			from[p] = chinookSnake(p)
			alts = append(alts, p)
		} else {
			from[chinookSnake(p)] = p
			alts = append(alts, chinookSnake(p))
		}
	}
	key := regexp.MustCompile(`(?m)^(\s*)(` + strings.Join(alts, "|") + `):`)
	text = key.ReplaceAllStringFunc(text, func(m string) string {
		sub := key.FindStringSubmatch(m)
		return sub[1] + from[sub[2]] + ":"
	})
	seed := regexp.MustCompile(`seed: \[([A-Za-z_, ]*)\]`)
	return seed.ReplaceAllStringFunc(text, func(m string) string {
		items := strings.Split(seed.FindStringSubmatch(m)[1], ", ")
		for i, it := range items {
			items[i] = from[it]
		}
		return "seed: [" + strings.Join(items, ", ") + "]"
	})
}

const chinookCities = "Edinburgh|Edinburgh |EDINBURGH|Calgary|São Paulo|Tokyo|Berlin|Prague"

// chinookLoad creates the fixture on an empty database of the engine.
func chinookLoad(t *testing.T, e driftEngine) *driftSakila {
	t.Helper()
	d, _ := e.create(t)
	k := &driftSakila{e: e, dsn: d}
	db, err := sql.Open(e.driver, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k.db = db
	ts, ci, tail := "DATETIME", "", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci"
	if e.name == "postgres" {
		k.exec(t, "CREATE COLLATION restage_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)")
		ts, ci, tail = "TIMESTAMP", " COLLATE restage_ci", ""
	}
	ddl := []string{
		`CREATE TABLE {Employee} ({EmployeeId} INT NOT NULL PRIMARY KEY, {LastName} VARCHAR(20) NOT NULL, {FirstName} VARCHAR(20) NOT NULL,
			{Title} VARCHAR(30), {ReportsTo} INT, {BirthDate} ` + ts + `, {HireDate} ` + ts + `, {Address} VARCHAR(70), {City} VARCHAR(40),
			{State} VARCHAR(40), {Country} VARCHAR(40), {PostalCode} VARCHAR(10), {Phone} VARCHAR(24), {Email} VARCHAR(60))` + tail,
		`CREATE TABLE {Customer} ({CustomerId} INT NOT NULL PRIMARY KEY, {FirstName} VARCHAR(40) NOT NULL, {LastName} VARCHAR(20) NOT NULL,
			{Company} VARCHAR(80), {Address} VARCHAR(70), {City} VARCHAR(40)` + ci + `, {State} VARCHAR(40), {Country} VARCHAR(40),
			{PostalCode} VARCHAR(10), {Phone} VARCHAR(24), {Email} VARCHAR(60) NOT NULL, {SupportRepId} INT,
			{Notes} VARCHAR(200), FOREIGN KEY ({SupportRepId}) REFERENCES {Employee} ({EmployeeId}))` + tail,
		`CREATE TABLE {Invoice} ({InvoiceId} INT NOT NULL PRIMARY KEY, {CustomerId} INT NOT NULL, {InvoiceDate} ` + ts + ` NOT NULL,
			{BillingAddress} VARCHAR(70), {BillingCity} VARCHAR(40), {BillingState} VARCHAR(40), {BillingCountry} VARCHAR(40),
			{BillingPostalCode} VARCHAR(10), {Total} DECIMAL(10,2) NOT NULL,
			FOREIGN KEY ({CustomerId}) REFERENCES {Customer} ({CustomerId}))` + tail,
	}
	for _, q := range ddl {
		k.exec(t, chinookNames(e, q))
	}
	first := []string{"Michelle", "Jack", "Aiko", "Luís", "Frank", "Helena", "Astrid", "Daan", "Kara", "Eduardo"}
	last := []string{"Brooks", "Dunn", "Sato", "Gonçalves", "Harris", "Holý", "Gruber", "Peeters", "Nielsen", "Martins"}
	cities := strings.Split(chinookCities, "|")
	states := []string{"AB", "SP", "CA", "Tokyo", "", "BC"}
	for i := 1; i <= 8; i++ {
		k.exec(t, chinookNames(e, fmt.Sprintf(`INSERT INTO {Employee} VALUES (%d, '%s', '%s', 'Sales Support Agent', NULL,
			'%04d-%02d-%02d 00:00:00', '%04d-%02d-01 00:00:00', '%d Jasper Ave NW', 'Calgary', 'AB', 'Canada', 'T5K 2N1',
			'+1 (780) 428-%04d', 'emp%d@chinookcorp.com')`,
			i, last[i%10], first[(i+3)%10], 1950+i*4, 1+i%12, 1+i%28, 2000+i, 1+i%12, 100+i, 9000+i, i)))
	}
	var rows []string
	for i := 1; i <= 600; i++ {
		note := "Prefers contact in the afternoon"
		if i > 300 && i%5 == 0 {
			note = []string{
				"不在時は090-1234-5678に連絡",
				"Call back on +1 (415) 555-0100 after five",
				"Invoice copies to accounts.team@example.org please",
				"Ship to 〒150-0002 reception",
				"Card on file 4111 1111 1111 1111 expires soon",
			}[(i/5)%5]
		}
		city := cities[i%len(cities)]
		rows = append(rows, fmt.Sprintf("(%d, '%s', '%s', 'Company %d', '%d Main St', '%s', '%s', 'Country', 'T2P 5M5', '+1 (403) 262-%04d', 'c%d@example.com', %d, '%s')",
			i, first[i%10], last[(i/10)%10], i%7, i, city, states[i%len(states)], i, i, 1+i%8, note))
	}
	k.exec(t, chinookNames(e, "INSERT INTO {Customer} VALUES "+strings.Join(rows, ", ")))
	rows = rows[:0]
	for i := 1; i <= 1200; i++ {
		c := 1 + (i*7)%600
		rows = append(rows, fmt.Sprintf("(%d, %d, '2024-%02d-%02d 00:00:00', '%d Main St', '%s', '%s', 'Country', 'T2P 5M5', %d.99)",
			i, c, 1+i%12, 1+i%28, c, cities[c%len(cities)], states[c%len(states)], i%20))
	}
	k.exec(t, chinookNames(e, "INSERT INTO {Invoice} VALUES "+strings.Join(rows, ", ")))
	return k
}

// chinookRules are complete rules for the fixture, in PascalCase (MySQL's
// spelling); chinookRespell makes PostgreSQL's. Notes take the free-text
// rule the gate suggests.
func chinookRules(notes string) string {
	return `version: 1
tables:
  Customer:
    columns:
      FirstName: {transformer: first_name, seed: [CustomerId]}
      LastName: {transformer: last_name, seed: [CustomerId]}
      Email: {transformer: email, seed: [CustomerId]}
      Company: {transformer: template, template: "{last_name} Ltd"}
      Address: street_address
      City: city
      State: region
      Country: {keep: countries are kept}
      PostalCode: postal_code
      Phone: phone
      Notes: ` + notes + `
  Employee:
    columns:
      FirstName: {transformer: first_name, seed: [EmployeeId]}
      LastName: {transformer: last_name, seed: [EmployeeId]}
      Email: {transformer: email, seed: [EmployeeId]}
      BirthDate: {transformer: date_shift, days: 365}
      HireDate: {transformer: date_shift, days: 90}
      Address: street_address
      City: city
      State: region
      PostalCode: postal_code
      Phone: phone
  Invoice:
    columns:
      BillingAddress: street_address
      BillingCity: city
      BillingState: region
      BillingPostalCode: postal_code
`
}

// chinookTextRule is the rule the gate suggests for free text holding
// personal data: text (plausible sentences of about the same length).
func chinookTextRule() string { return "text" }

// TestDriftChinookFromScratch: a new user's first check finds every
// personal column, quasi-identifiers and free text included, and suggests
// rules that keep a row one person; the patch makes rules that pass.
func TestDriftChinookFromScratch(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := chinookLoad(t, e)
			n := func(s string) string { return chinookNames(e, "{"+s+"}") }
			rules := []byte("version: 1\n")
			rep := k.drift(t, rules)
			t.Logf("%s\n%s", rep.Summary(), rep.Patch)
			seed := func(tr, table string) string {
				return fmt.Sprintf("{transformer: %s, seed: [%s]}", tr, n(table+"Id"))
			}
			want := map[string]string{
				"Customer.FirstName":        seed("first_name", "Customer"),
				"Customer.LastName":         seed("last_name", "Customer"),
				"Customer.Email":            seed("email", "Customer"),
				"Employee.FirstName":        seed("first_name", "Employee"),
				"Employee.Email":            seed("email", "Employee"),
				"Customer.Company":          `{transformer: template, template: "{last_name} Ltd"}`,
				"Customer.City":             "city",
				"Customer.State":            "region",
				"Employee.City":             "city",
				"Employee.State":            "region",
				"Employee.BirthDate":        "{transformer: date_shift, days: 365}",
				"Employee.HireDate":         "{transformer: date_shift, days: 90}",
				"Invoice.BillingCity":       "city",
				"Invoice.BillingState":      "region",
				"Invoice.BillingAddress":    "street_address",
				"Invoice.BillingPostalCode": "postal_code",
				"Customer.Notes":            chinookTextRule(),
			}
			for tc, sug := range want {
				table, col, _ := strings.Cut(tc, ".")
				f := driftFind(rep, n(table), n(col))
				if f == nil {
					t.Errorf("%s.%s not flagged", n(table), n(col))
					continue
				}
				if f.Suggest != sug {
					t.Errorf("%s.%s: suggest %s, want %s", n(table), n(col), f.Suggest, sug)
				}
			}
			for _, tc := range []string{"Customer.Country", "Invoice.BillingCountry", "Invoice.InvoiceDate", "Employee.Title", "Invoice.Total"} {
				table, col, _ := strings.Cut(tc, ".")
				if f := driftFind(rep, n(table), n(col)); f != nil {
					t.Errorf("%s.%s flagged: %+v", n(table), n(col), f)
				}
			}
			// Quasi-identifiers say why; free text says how much of the
			// sample held what.
			if f := driftFind(rep, n("Customer"), n("Company")); f != nil && !strings.Contains(strings.Join(f.Reasons, " "), "quasi-identifier") {
				t.Errorf("Company reasons %q: want it called a quasi-identifier", f.Reasons)
			}
			if f := driftFind(rep, n("Customer"), n("Notes")); f != nil {
				r := strings.Join(f.Reasons, " ")
				for _, w := range []string{"of 200 sampled values", "% ) hold", "phone numbers in", "e-mail addresses in", "postal codes in", "card numbers (Luhn) in"} {
					if w == "% ) hold" {
						if !regexp.MustCompile(`\(\d+%\) hold personal data inside longer text`).MatchString(r) {
							t.Errorf("Notes reasons %q: want the share of sampled values", r)
						}
						continue
					}
					if !strings.Contains(r, w) {
						t.Errorf("Notes reasons %q: want %q", r, w)
					}
				}
			}
			fixed := driftFix(t, rules, rep)
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s\n%s", rep2.Summary(), fixed)
			}
			// The hand-written complete rules pass too.
			complete := chinookRules(chinookTextRule())
			if e.name == "postgres" {
				complete = chinookRespell(complete, true)
			}
			if rep3 := k.drift(t, []byte(complete)); !rep3.OK() {
				t.Fatalf("complete rules refused:\n%s", rep3.Summary())
			}
		})
	}
}

// TestDriftSamplesAcrossTheTable: values that look personal only past the
// first rows (a column that started being filled later) are still seen.
func TestDriftSamplesAcrossTheTable(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := chinookLoad(t, e)
			k.exec(t, chinookNames(e, "ALTER TABLE {Invoice} ADD COLUMN {Contact} VARCHAR(60)"),
				chinookNames(e, "UPDATE {Invoice} SET {Contact} = CASE WHEN {InvoiceId} > 600 THEN CONCAT('buyer', {InvoiceId}, '@example.net') ELSE 'online' END"))
			complete := chinookRules(chinookTextRule())
			if e.name == "postgres" {
				complete = chinookRespell(complete, true)
			}
			rep := k.drift(t, []byte(complete))
			f := driftFind(rep, chinookNames(e, "{Invoice}"), chinookNames(e, "{Contact}"))
			if f == nil || f.Suggest != "email" {
				t.Fatalf("Invoice.Contact (e-mails in its second half) not flagged as e-mail:\n%s", rep.Summary())
			}
		})
	}
}

// TestDriftRuleNames: a name in the wrong case gets "did you mean", rules
// written for the other engine's names are recognised and said so, and
// the patch renames them in place instead of adding a second block.
func TestDriftRuleNames(t *testing.T) {
	for _, e := range driftEngines {
		t.Run(e.name, func(t *testing.T) {
			k := chinookLoad(t, e)
			n := func(s string) string { return chinookNames(e, "{"+s+"}") }
			complete := chinookRules(chinookTextRule())
			if e.name == "postgres" {
				complete = chinookRespell(complete, true)
			}
			if rep := k.drift(t, []byte(complete)); !rep.OK() {
				t.Fatalf("complete rules refused:\n%s", rep.Summary())
			}

			// The other engine's spelling of the same rules.
			other := chinookRespell(complete, e.name == "mysql")
			rep := k.drift(t, []byte(other))
			sum := rep.Summary()
			t.Logf("%s\n%s", sum, rep.Patch)
			wrongTable, wrongCol := "customer", "first_name"
			style, dbStyle, engine := "snake_case", "PascalCase", "PostgreSQL"
			if e.name == "postgres" {
				wrongTable, wrongCol = "Customer", "FirstName"
				style, dbStyle, engine = "PascalCase", "snake_case", "MySQL/MariaDB"
			}
			for _, w := range []string{
				"table " + wrongTable + " does not exist: did you mean `" + n("Customer") + "`?",
				"does not exist: did you mean `" + n("FirstName") + "`? (the rule spells it in " + style + ", the database in " + dbStyle + ")",
				"these rules spell names in " + style + ", the way the " + engine + " copy of this schema does; this database spells them in " + dbStyle,
			} {
				if !strings.Contains(sum, w) {
					t.Errorf("summary lacks %q:\n%s", w, sum)
				}
			}
			if len(rep.Unclassified) != 0 {
				t.Errorf("the respelt rules still cover every column, want nothing unclassified:\n%s", sum)
			}
			var sawCol bool
			for _, s := range rep.Stale {
				if s.Table == wrongTable && s.Column == wrongCol && s.Suggest == n("FirstName") {
					sawCol = true
				}
			}
			if !sawCol {
				t.Errorf("stale %+v: want %s.%s suggesting %s", rep.Stale, wrongTable, wrongCol, n("FirstName"))
			}
			fixed := driftFix(t, []byte(other), rep)
			if string(fixed) != complete {
				t.Errorf("the patch does not give this engine's rules:\n%s\nwant:\n%s", fixed, complete)
			}
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
			}

			// A table in the wrong case, missing a rule: one block,
			// renamed, with the rule added to it.
			lc := strings.Replace(complete, "  "+n("Customer")+":\n", "  "+chinookFlipCase(n("Customer"))+":\n", 1)
			lc = strings.Replace(lc, "      "+n("Phone")+": phone\n", "", 1)
			lc = strings.Replace(lc, "      "+n("City")+": city\n", "      "+chinookFlipCase(n("City"))+": city\n", 1)
			rep = k.drift(t, []byte(lc))
			sum = rep.Summary()
			if !strings.Contains(sum, "table "+chinookFlipCase(n("Customer"))+" does not exist: did you mean `"+n("Customer")+"`?\n") ||
				!strings.Contains(sum, "column "+chinookFlipCase(n("Customer"))+"."+chinookFlipCase(n("City"))+" does not exist: did you mean `"+n("City")+"`?\n") {
				t.Errorf("summary lacks the did-you-mean lines:\n%s", sum)
			}
			if f := driftFind(rep, n("Customer"), n("Phone")); f == nil || len(rep.Unclassified) != 1 {
				t.Errorf("want only %s.%s unclassified:\n%s", n("Customer"), n("Phone"), sum)
			}
			fixed = driftFix(t, []byte(lc), rep)
			if c := strings.Count(strings.ToLower(string(fixed)), "\n  "+strings.ToLower(n("Customer"))+":\n"); c != 1 {
				t.Errorf("the fixed rules hold %d customer blocks, want 1:\n%s", c, fixed)
			}
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s\n%s", rep2.Summary(), fixed)
			}
			if _, err := config.ParseRules("rules.yaml", fixed); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// chinookFlipCase makes the wrong case of a name: Customer → customer,
// customer → Customer.
func chinookFlipCase(s string) string {
	if s == strings.ToLower(s) {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return strings.ToLower(s)
}

// TestDriftSamplesKeylessPostgres: a PostgreSQL table without an integer
// key is sampled with TABLESAMPLE over its whole extent, not from its
// first pages. (MySQL has no TABLESAMPLE: a table there without an integer
// key is read from the start, as docs/drift-gate.md says.)
func TestDriftSamplesKeylessPostgres(t *testing.T) {
	e := driftEngines[1]
	if e.name != "postgres" {
		t.Fatal("driftEngines[1] is not postgres")
	}
	k := chinookLoad(t, e)
	// Wide rows (a page holds a few), values personal only in the second
	// half of the table.
	k.exec(t, `CREATE TABLE outbox (ref TEXT PRIMARY KEY, contact TEXT NOT NULL, filler TEXT NOT NULL)`,
		`INSERT INTO outbox SELECT 'r' || lpad(i::text, 6, '0'),
			CASE WHEN i > 5000 THEN 'person' || i || '@example.net' ELSE 'by phone' END, repeat('x', 900)
		 FROM generate_series(1, 10000) AS i`,
		`ANALYZE outbox`)
	complete := chinookRespell(chinookRules(chinookTextRule()), true)
	rep := k.drift(t, []byte(complete))
	f := driftFind(rep, "outbox", "contact")
	if f == nil || f.Suggest != "email" {
		t.Fatalf("outbox.contact (e-mails in its second half) not flagged as e-mail:\n%s", rep.Summary())
	}
	t.Log(f.Reasons)
}
