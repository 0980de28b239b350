package gate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

func TestPIITokens(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mobile_tel", "mobile tel"},
		{"mobileTel2", "mobile tel 2"},
		{"IPAddress", "ip address"},
		{"shimei-kana", "shimei kana"},
		{"address_id", "address id"},
		{"zip", "zip"},
		{"ZipCode", "zip code"},
		{"tel1", "tel 1"},
		{"e_mail", "e mail"},
		{"__x__", "x"},
		{"", ""},
	} {
		if got := strings.Join(piiTokens(c.in), " "); got != c.want {
			t.Errorf("piiTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPIIMatchName(t *testing.T) {
	for _, c := range []struct {
		column string
		person bool
		want   piiCategory
		part   string
		script string
	}{
		{"email", false, piiEmail, "", ""},
		{"e_mail", false, piiEmail, "", ""},
		{"EmailAddress", false, piiEmail, "", ""},
		{"mobile_tel", false, piiPhone, "", ""},
		{"keitai_denwa", false, piiPhone, "", ""},
		{"fax", false, piiPhone, "", ""},
		{"zip", false, piiZip, "", ""},
		{"zip_code", false, piiZip, "", ""},
		{"yubin_bango", false, piiZip, "", ""},
		{"ip", false, piiIP, "", ""},
		{"ip_address", false, piiIP, "", ""},
		{"last_login_ip", false, piiIP, "", ""},
		{"address", false, piiAddress, "", ""},
		{"address2", false, piiAddress, "", ""},
		{"jusho", false, piiAddress, "", ""},
		{"birthday", false, piiBirth, "", ""},
		{"date_of_birth", false, piiBirth, "", ""},
		{"dob", false, piiBirth, "", ""},
		{"seinengappi", false, piiBirth, "", ""},
		{"card_number", false, piiCard, "", ""},
		{"password", false, piiSecret, "", ""},
		{"api_key", false, piiSecret, "", ""},
		{"reset_token", false, piiSecret, "", ""},
		{"my_number", false, piiGovID, "", ""},
		{"passport_no", false, piiGovID, "", ""},
		{"first_name", false, piiName, "first", ""},
		{"lastName", false, piiName, "last", ""},
		{"surname", false, piiName, "last", ""},
		{"full_name", false, piiName, "full", ""},
		{"name", true, piiName, "full", ""},
		{"shimei", false, piiName, "full", ""},
		{"shimei_kana", false, piiName, "full", "kana"},
		{"sei_kana", false, piiName, "last", "kana"},
		{"mei", false, piiName, "first", ""},
		{"furigana", false, piiName, "full", "kana"},
		// Not personal by name.
		{"name", false, piiNone, "", ""},           // category.name, language.name
		{"zipper", false, piiNone, "", ""},         // no substring matching
		{"ship_date", false, piiNone, "", ""},      // "ip" inside a word
		{"address_id", false, piiNone, "", ""},     // a reference
		{"email_verified", false, piiNone, "", ""}, // about the email
		{"token_type", false, piiNone, "", ""},
		{"password_changed_at", false, piiNone, "", ""},
		{"last_update", false, piiNone, "", ""},
		{"username", true, piiNone, "", ""},
		{"description", false, piiNone, "", ""},
		{"district", false, piiNone, "", ""},
		{"description", true, piiNone, "", ""},
	} {
		m, ok := piiMatchName(c.column, c.person)
		if ok != (c.want != piiNone) || m.cat != c.want || (c.want == piiName && (m.part != c.part || m.script != c.script)) {
			t.Errorf("piiMatchName(%q, person=%v) = %v %+v, want %v part %q script %q", c.column, c.person, ok, m, c.want, c.part, c.script)
		}
	}
}

func TestPIIPersonTable(t *testing.T) {
	for name, want := range map[string]bool{
		"customer": true, "users": true, "staff": true, "kaiin_master": true, "CustomerProfile": true,
		"category": false, "language": false, "film": false, "store": false, "usersettings": false,
	} {
		if got := piiPersonTable(name); got != want {
			t.Errorf("piiPersonTable(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPIINameKinds(t *testing.T) {
	for _, c := range []struct {
		kind schema.Kind
		cat  piiCategory
		want bool
	}{
		{schema.KindInt, piiPhone, true},
		{schema.KindInt, piiZip, true},
		{schema.KindInt, piiCard, true},
		{schema.KindInt, piiEmail, false},
		{schema.KindInt, piiAddress, false},
		{schema.KindBool, piiPhone, false},
		{schema.KindDateTime, piiEmail, false},
		{schema.KindDate, piiBirth, true},
		{schema.KindText, piiName, true},
	} {
		if got := piiNameKindOK(c.kind, c.cat); got != c.want {
			t.Errorf("piiNameKindOK(%v, %v) = %v, want %v", c.kind, c.cat, got, c.want)
		}
	}
}

func TestPIILuhn(t *testing.T) {
	for in, want := range map[string]bool{
		"4111111111111111": true,
		"4111111111111112": false,
		"79927398713":      true,
		"0":                true,
		"":                 false,
		"12a4":             false,
	} {
		if got := piiLuhn(in); got != want {
			t.Errorf("piiLuhn(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestPIIValueCat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want piiCategory
	}{
		{"jon.doe@example.com", piiEmail},
		{"MARY.SMITH@sakilacustomer.org", piiEmail},
		{"not an @ email", piiNone},
		{"a@b", piiNone},
		{"090-1234-5678", piiPhone},
		{"03-3123-4567", piiPhone},
		{"+81 90 1234 5678", piiPhone},
		{"+81-90-1234-5678", piiPhone},
		{"+1 (415) 555-0100", piiPhone},
		{"+44 20 7946 0958", piiPhone},
		{"(415) 555-0100", piiPhone},
		{"09012345678", piiPhone},
		{"14033335568", piiNone}, // bare digits without a leading 0 or +
		{"123456", piiNone},
		{"2006", piiNone},
		{"123-4567", piiZip},
		{"〒150-0002", piiZip},
		{"4111 1111 1111 1111", piiCard},
		{"4111-1111-1111-1111", piiCard},
		{"4111111111111111", piiCard},
		{"4111111111111112", piiNone},
		{"192.168.0.1", piiIP},
		{"2001:db8::1", piiIP},
		{"10.0.0.0/8", piiIP},
		{"1.5", piiNone},
		{"ACADEMY DINOSAUR", piiNone},
		{"", piiNone},
	} {
		if got := piiValueCat(c.in); got != c.want {
			t.Errorf("piiValueCat(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPIIValueStats(t *testing.T) {
	var st piiValueStats
	for i := 0; i < 10; i++ {
		v := "plain text"
		if i < 3 {
			v = fmt.Sprintf("090-0000-%04d", i)
		}
		st.add(v)
	}
	if c, k := st.best(); c != piiPhone || k != 3 || st.jp != 3 {
		t.Errorf("3 of 10 phones: got %v %d (jp %d), want phone 3 (jp 3)", c, k, st.jp)
	}
	st = piiValueStats{}
	for i := 0; i < 10; i++ {
		v := "plain text"
		if i < 2 {
			v = "x@example.com"
		}
		st.add(v)
	}
	if c, _ := st.best(); c != piiNone {
		t.Errorf("2 of 10 emails flagged as %v", c)
	}
}

func TestPIIBirth(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	var births, created, few piiBirthStats
	for i := 0; i < 40; i++ {
		births.add(fmt.Sprintf("%d-%02d-%02d", 1950+i, i%12+1, i%28+1), now)
		created.add(fmt.Sprintf("2006-02-%02d", i%28+1), now)
	}
	for i := 0; i < 10; i++ {
		few.add(fmt.Sprintf("%d-01-01", 1950+i), now)
	}
	if !births.looksLikeBirth() {
		t.Error("dates spread over 40 years between 1950 and 1989 are not dates of birth")
	}
	if created.looksLikeBirth() {
		t.Error("dates of one month of 2006 look like dates of birth")
	}
	if few.looksLikeBirth() {
		t.Error("10 dates are enough to call dates of birth")
	}
	for name, want := range map[string]bool{"birthday": true, "dob": true, "d": true, "create_date": false, "payment_date": false, "rental_date": false, "return_date": false, "last_update": false} {
		if got := piiBirthName(name); got != want {
			t.Errorf("piiBirthName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDriftSuggest(t *testing.T) {
	text := func(n int, nullable, unique bool) transform.Target {
		return transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindText, MaxLength: n, Nullable: nullable, Charset: "utf8mb4"}, Unique: unique}
	}
	name := func(col string) piiNameMatch { m, _ := piiMatchName(col, true); return m }
	for _, c := range []struct {
		cat  piiCategory
		nm   piiNameMatch
		jp   bool
		tg   transform.Target
		want string
	}{
		{piiEmail, name("email"), false, text(50, true, false), "email"},
		{piiEmail, name("email"), false, text(50, true, true), "email"},
		// Too short for a unique email: a hash of the column's length.
		{piiEmail, name("email"), false, text(20, false, true), "{transformer: hash, length: 20}"},
		// Too short for a unique hash: NULL.
		{piiEmail, name("email"), false, text(10, true, true), "nullify"},
		{piiPhone, name("tel"), true, text(20, true, false), "{transformer: phone, locale: ja}"},
		{piiPhone, name("tel"), false, text(20, true, false), "phone"},
		{piiPhone, name("tel"), false, transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindInt, IntBits: 64}}, "digits"},
		{piiName, name("sei_kana"), false, text(50, true, false), "{transformer: last_name, script: kana, locale: ja}"},
		{piiName, name("first_name"), false, text(50, true, false), "first_name"},
		{piiName, name("shimei"), false, text(50, true, false), "full_name"},
		{piiZip, name("zip"), true, text(10, true, false), "{transformer: postal_code, locale: ja}"},
		{piiAddress, name("address"), false, text(50, false, false), "street_address"},
		{piiSecret, name("password"), false, text(40, true, false), "{transformer: hash, length: 40}"},
		{piiSecret, name("reset_token"), false, text(64, true, false), "nullify"},
		{piiSecret, name("reset_token"), false, text(200, false, false), "hash"},
		{piiBirth, name("birthday"), false, transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindDate}}, "{transformer: date_shift, days: 365}"},
		{piiIP, name("ip"), false, transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindOther, DataType: "inet"}}, `{transformer: fixed, value: "192.0.2.1"}`},
		// NOT NULL spatial: nothing fits, decide by hand.
		{piiGeo, piiNameMatch{}, false, transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindOther, DataType: "geometry"}}, ""},
	} {
		if got := driftSuggest(c.cat, c.nm, c.jp, c.tg, "en"); got != c.want {
			t.Errorf("driftSuggest(%v, %+v, jp=%v, %+v) = %q, want %q", c.cat, c.nm, c.jp, *c.tg.Column, got, c.want)
		}
	}
}

func TestPIITextCats(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []piiCategory
		jp   bool
	}{
		{"不在時は090-1234-5678に連絡", []piiCategory{piiPhone}, true},
		{"不在時は０９０－１２３４－５６７８に連絡", []piiCategory{piiPhone}, true}, // full-width
		{"Call back on +1 (415) 555-0100 after five", []piiCategory{piiPhone}, false},
		{"copies to accounts.team@example.org please", []piiCategory{piiEmail}, false},
		{"Ship to 〒150-0002 reception", []piiCategory{piiZip}, true},
		{"ship to T2P 5M5, Calgary", []piiCategory{piiZip}, false},
		{"Card on file 4111 1111 1111 1111 expires soon", []piiCategory{piiCard}, false},
		{"order 4111111111111112 shipped", nil, false}, // not Luhn-valid
		{"order 20240115 shipped in 3 boxes", nil, false},
		{"Prefers contact in the afternoon", nil, false},
		{"version 1.2.3-4567", nil, false},
	} {
		got, jp := piiTextCats(c.in)
		if fmt.Sprint(got) != fmt.Sprint(c.want) || jp != c.jp {
			t.Errorf("piiTextCats(%q) = %v jp=%v, want %v jp=%v", c.in, got, jp, c.want, c.jp)
		}
	}
	var st piiTextStats
	for i := 0; i < 100; i++ {
		v := "nothing to see"
		if i < 2 {
			v = "mail x@example.com"
		}
		st.add(v)
	}
	if !st.flagged() || !strings.Contains(st.reason(), "2 of 100 sampled values (2%) hold personal data inside longer text: e-mail addresses in 2") {
		t.Errorf("2 of 100: flagged %v, reason %q", st.flagged(), st.reason())
	}
	st = piiTextStats{}
	for i := 0; i < 200; i++ {
		v := "nothing to see"
		if i == 0 {
			v = "mail x@example.com"
		}
		st.add(v)
	}
	if st.flagged() {
		t.Error("one value in 200 flagged a column")
	}
}

func TestPIIMatchQuasi(t *testing.T) {
	for _, c := range []struct {
		column string
		kind   schema.Kind
		want   piiQuasiKind
	}{
		{"Company", schema.KindText, piiQuasiCompany},
		{"company_name", schema.KindText, piiQuasiCompany},
		{"City", schema.KindText, piiQuasiCity},
		{"BillingCity", schema.KindText, piiQuasiCity},
		{"State", schema.KindText, piiQuasiRegion},
		{"prefecture", schema.KindText, piiQuasiRegion},
		{"HireDate", schema.KindDateTime, piiQuasiEmployment},
		{"hired_at", schema.KindDateTime, piiQuasiEmployment},
		{"termination_date", schema.KindDate, piiQuasiEmployment},
		{"city_id", schema.KindInt, piiQuasiNone},
		{"city_id", schema.KindText, piiQuasiNone},
		{"HireDate", schema.KindText, piiQuasiNone},
		{"InvoiceDate", schema.KindDateTime, piiQuasiNone},
		{"Country", schema.KindText, piiQuasiNone},
	} {
		m, ok := piiMatchQuasi(c.column, c.kind)
		if ok != (c.want != piiQuasiNone) || m.kind != c.want {
			t.Errorf("piiMatchQuasi(%q, %v) = %v %+v, want %v", c.column, c.kind, ok, m, c.want)
		}
	}
	// A company's name in a customers table is not a person's name.
	for _, n := range []string{"CompanyName", "kaisha_mei", "shop_name"} {
		if m, ok := piiMatchName(n, true); ok {
			t.Errorf("piiMatchName(%s) = %+v, want no person name", n, m)
		}
	}
}

func TestDriftSuggestQuasiAndText(t *testing.T) {
	text := transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindText, MaxLength: 80, Nullable: true, Charset: "utf8mb4"}}
	ascii := transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindText, MaxLength: 80, Nullable: true, Charset: "latin1"}}
	date := transform.Target{Column: &schema.Column{Name: "c", Kind: schema.KindDateTime, Nullable: true}}
	q := func(col string, k schema.Kind) piiQuasiMatch { m, _ := piiMatchQuasi(col, k); return m }
	for _, c := range []struct {
		m      piiQuasiMatch
		tg     transform.Target
		locale string
		want   string
	}{
		{q("Company", schema.KindText), text, "en", `{transformer: template, template: "{last_name} Ltd"}`},
		{q("kaisha_mei", schema.KindText), text, "ja", `{transformer: template, template: "株式会社{last_name}"}`},
		{q("City", schema.KindText), text, "en", "city"},
		{q("State", schema.KindText), text, "en", "region"},
		{q("prefecture", schema.KindText), text, "ja", "prefecture"},
		{q("HireDate", schema.KindDateTime), date, "en", "{transformer: date_shift, days: 90}"},
	} {
		if got := driftSuggestQuasi(c.m, c.tg, c.locale); got != c.want {
			t.Errorf("driftSuggestQuasi(%+v, %s) = %q, want %q", c.m, c.locale, got, c.want)
		}
	}
	if got := driftSuggestText(true, text, "en"); got != "{transformer: text, locale: ja}" {
		t.Errorf("Japanese free text: %q", got)
	}
	if got := driftSuggestText(false, text, "en"); got != "text" {
		t.Errorf("free text: %q", got)
	}
	// A latin1 column can't hold Japanese sentences: the English corpus.
	if got := driftSuggestText(true, ascii, "en"); got != "text" {
		t.Errorf("Japanese free text in latin1: %q", got)
	}
	// Person rules in a table about people carry its key as seed; others not.
	if got := driftSuggestSeeded(piiName, piiNameMatch{cat: piiName, part: "first"}, false, text, "en", []string{"CustomerId"}); got != "{transformer: first_name, seed: [CustomerId]}" {
		t.Errorf("seeded first name: %q", got)
	}
	if got := driftSuggestSeeded(piiPhone, piiNameMatch{cat: piiPhone}, false, text, "en", []string{"CustomerId"}); got != "phone" {
		t.Errorf("phone with a seed offered: %q", got)
	}
}
