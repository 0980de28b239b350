package gate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/restage/restage/internal/schema"
)

// piiCategory is a kind of personal data the drift gate recognises. The
// order is the precedence when a name matches several ("ip_address" is an
// IP address, "email_address" an email address, not a street address).
type piiCategory int

const (
	piiNone piiCategory = iota
	piiEmail
	piiIP
	piiPhone
	piiCard
	piiSecret
	piiGovID
	piiBirth
	piiZip
	piiAddress
	piiName
	piiGeo
)

var piiCategoryNames = [...]string{"", "email address", "IP address", "phone number", "card number", "secret", "government ID", "date of birth", "postal code", "address", "person name", "location"}

func (c piiCategory) String() string { return piiCategoryNames[c] }

// piiTokens splits an identifier into lower-case words: on every
// non-alphanumeric character, between letters and digits, and at camelCase
// humps ("mobileTel2" → mobile, tel, 2; "IPAddress" → ip, address).
func piiTokens(name string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(name)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if len(cur) > 0 {
			prev := cur[len(cur)-1]
			switch {
			case unicode.IsDigit(r) != unicode.IsDigit(prev):
				flush()
			case unicode.IsUpper(r) && unicode.IsLower(prev):
				flush()
			case unicode.IsUpper(r) && unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
				flush() // "IPAddress": the A starts a new word
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// piiWords maps a name token to its category. Tokens, not substrings:
// "zip" is not "ip", "address_id" is not an address (the id suffix and the
// foreign key rule it out).
var piiWords = map[string]piiCategory{
	"email": piiEmail, "mail": piiEmail, "emailaddress": piiEmail, "mailaddress": piiEmail, "meruado": piiEmail,
	"ip": piiIP, "ipaddr": piiIP, "ipaddress": piiIP, "ipv4": piiIP, "ipv6": piiIP,
	"tel": piiPhone, "phone": piiPhone, "telephone": piiPhone, "mobile": piiPhone, "fax": piiPhone,
	"keitai": piiPhone, "denwa": piiPhone, "cell": piiPhone, "cellphone": piiPhone, "phonenumber": piiPhone, "telno": piiPhone,
	"card": piiCard, "cardnumber": piiCard, "cardno": piiCard, "pan": piiCard, "creditcard": piiCard, "iban": piiCard,
	"token": piiSecret, "password": piiSecret, "passwd": piiSecret, "pwd": piiSecret, "secret": piiSecret,
	"apikey": piiSecret, "salt": piiSecret, "otp": piiSecret, "pin": piiSecret, "passphrase": piiSecret,
	"ssn": piiGovID, "mynumber": piiGovID, "passport": piiGovID, "license": piiGovID, "licence": piiGovID, "taxid": piiGovID,
	"birth": piiBirth, "birthday": piiBirth, "birthdate": piiBirth, "dob": piiBirth, "tanjobi": piiBirth, "seinengappi": piiBirth,
	"zip": piiZip, "zipcode": piiZip, "postal": piiZip, "postcode": piiZip, "postalcode": piiZip, "yubin": piiZip, "yubinbango": piiZip,
	"address": piiAddress, "addr": piiAddress, "jusho": piiAddress, "juusho": piiAddress, "street": piiAddress,
	"firstname": piiName, "lastname": piiName, "fullname": piiName, "surname": piiName, "givenname": piiName,
	"familyname": piiName, "middlename": piiName, "shimei": piiName, "namae": piiName, "sei": piiName, "mei": piiName,
	"kana": piiName, "furigana": piiName, "yomi": piiName, "yomigana": piiName,
}

// piiNameQualifiers make a "name" token a person's name in any table.
var piiNameQualifiers = map[string]bool{
	"first": true, "last": true, "full": true, "given": true, "family": true, "sur": true,
	"middle": true, "maiden": true, "real": true, "legal": true, "person": true, "contact": true,
}

// piiPersonTables are table-name tokens of tables about people, where a
// bare "name" is a person's name.
var piiPersonTables = map[string]bool{
	"user": true, "users": true, "customer": true, "customers": true, "member": true, "members": true,
	"staff": true, "staffs": true, "employee": true, "employees": true, "person": true, "persons": true, "people": true,
	"account": true, "accounts": true, "contact": true, "contacts": true, "profile": true, "profiles": true,
	"patient": true, "patients": true, "student": true, "students": true, "client": true, "clients": true,
	"guest": true, "guests": true, "applicant": true, "applicants": true, "candidate": true, "candidates": true,
	"kaiin": true, "kokyaku": true, "shain": true, "jugyoin": true, "riyosha": true, "okyakusama": true,
}

// piiNotWords in last position say the column is about the data, not the
// data itself: "email_verified", "token_type", "password_changed_at".
var piiNotWords = map[string]bool{
	"id": true, "ids": true, "count": true, "cnt": true, "type": true, "kind": true, "status": true,
	"flag": true, "flags": true, "enabled": true, "verified": true, "confirmed": true, "at": true,
	"on": true, "template": true, "policy": true, "format": true, "length": true, "len": true,
	"updated": true, "created": true, "changed": true, "expires": true, "expiry": true, "expired": true,
	"sent": true, "opt": true, "optin": true, "optout": true, "bounced": true, "visible": true, "public": true,
	"required": true, "attempts": true,
}

// piiNumericOK are the categories an integer or decimal column can hold.
var piiNumericOK = map[piiCategory]bool{piiPhone: true, piiZip: true, piiCard: true}

// piiNameMatch is a column name that looks personal: its category and the
// token that said so.
type piiNameMatch struct {
	cat   piiCategory
	token string
	// part is "first", "last" or "full" for names; kana/romaji for the
	// script.
	part, script string
}

// piiMatchName classifies a column (or JSON key) name. personTable says
// whether the table (or enclosing object) is about people.
func piiMatchName(column string, personTable bool) (piiNameMatch, bool) {
	toks := piiTokens(column)
	if len(toks) == 0 || piiNotWords[toks[len(toks)-1]] {
		return piiNameMatch{}, false
	}
	best := piiNameMatch{}
	consider := func(c piiCategory, tok string) {
		if best.cat == piiNone || c < best.cat {
			best = piiNameMatch{cat: c, token: tok}
		}
	}
	hasNameQual, notPerson := false, false
	for _, t := range toks {
		if piiNameQualifiers[t] {
			hasNameQual = true
		}
		notPerson = notPerson || piiNotPersonName[t]
	}
	for i, t := range toks {
		if c, ok := piiWords[t]; ok {
			// "kaisha_mei" (会社名) is a company's name, not a given name.
			if c != piiName || !notPerson {
				consider(c, t)
			}
			continue
		}
		// Two-word forms: "e mail", "post code", "birth day", "api key",
		// "credit card", "phone number" are covered by their words; join
		// the pair for the rest ("cell_phone", "zip_code" work alone).
		if i+1 < len(toks) {
			if c, ok := piiWords[t+toks[i+1]]; ok {
				consider(c, t+"_"+toks[i+1])
				continue
			}
		}
		if t == "name" && (personTable || hasNameQual) && !notPerson {
			consider(piiName, t)
		}
	}
	if best.cat == piiNone {
		return best, false
	}
	if best.cat == piiName {
		best.part, best.script = piiNamePart(toks)
	}
	return best, true
}

// piiNamePart tells a given name from a family name from a full name, and
// kana/romaji from the default script.
func piiNamePart(toks []string) (part, script string) {
	part = "full"
	for _, t := range toks {
		switch t {
		case "first", "firstname", "given", "givenname", "mei", "forename":
			part = "first"
		case "last", "lastname", "family", "familyname", "sur", "surname", "sei":
			part = "last"
		case "kana", "furigana", "yomi", "yomigana":
			script = "kana"
		case "romaji", "roma", "alphabet":
			script = "romaji"
		}
	}
	return part, script
}

// piiPersonTable reports whether a table (or JSON object) name is about
// people.
func piiPersonTable(name string) bool {
	for _, t := range piiTokens(name) {
		if piiPersonTables[t] {
			return true
		}
	}
	return false
}

// piiNameKindOK says whether a column of this kind can hold the category
// at all: numbers hold only phone numbers, postal codes and card numbers;
// dates only dates of birth; booleans nothing.
func piiNameKindOK(k schema.Kind, c piiCategory) bool {
	switch k {
	case schema.KindBool, schema.KindTime:
		return false
	case schema.KindInt, schema.KindDecimal, schema.KindFloat:
		return piiNumericOK[c]
	case schema.KindDate, schema.KindDateTime:
		return c == piiBirth
	}
	return true
}

// --- value detectors ---

var (
	piiEmailRe   = regexp.MustCompile(`^[A-Za-z0-9.!#$%&'*+/=?^_` + "`" + `{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$`)
	piiPhoneJPRe = regexp.MustCompile(`^0\d{1,4}-\d{1,4}-\d{3,4}$`)
	piiPhone81Re = regexp.MustCompile(`^\+81[ -]?\d{1,4}[ -]?\d{1,4}[ -]?\d{3,4}$`)
	piiPhoneIRe  = regexp.MustCompile(`^\+\d[\d ().-]{6,20}\d$`)
	piiPhoneUSRe = regexp.MustCompile(`^\(\d{3}\) ?\d{3}-\d{4}$`)
	piiPhoneBare = regexp.MustCompile(`^[0+]\d{9,14}$`)
	piiZipJPRe   = regexp.MustCompile(`^〒? ?\d{3}-\d{4}$`)
	piiCardRe    = regexp.MustCompile(`^\d[\d -]{11,22}\d$`)
)

// piiIsEmail: one address, nothing around it.
func piiIsEmail(s string) bool { return len(s) <= 320 && piiEmailRe.MatchString(s) }

// piiIsPhone recognises Japanese (0X-XXXX-XXXX, +81), international
// (+CC ...) and US ((NNN) NNN-NNNN) numbers. Bare digit strings count only
// with 10+ digits and a leading 0 or +: plain numbers are not phone numbers.
func piiIsPhone(s string) bool {
	switch {
	case piiPhoneJPRe.MatchString(s), piiPhone81Re.MatchString(s), piiPhoneUSRe.MatchString(s), piiPhoneBare.MatchString(s):
		return true
	case piiPhoneIRe.MatchString(s):
		n := piiDigits(s)
		return n >= 8 && n <= 15
	}
	return false
}

// piiIsJPPhone tells Japanese numbers apart, to suggest locale ja.
func piiIsJPPhone(s string) bool {
	return piiPhoneJPRe.MatchString(s) || piiPhone81Re.MatchString(s) || (piiPhoneBare.MatchString(s) && s[0] == '0')
}

// piiIsJPZip: 123-4567, optionally with the 〒 mark.
func piiIsJPZip(s string) bool { return piiZipJPRe.MatchString(s) }

// piiIsCard: 13 to 19 digits, spaces or hyphens between them, passing the
// Luhn check.
func piiIsCard(s string) bool {
	if !piiCardRe.MatchString(s) {
		return false
	}
	var ds []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			ds = append(ds, s[i])
		}
	}
	return len(ds) >= 13 && len(ds) <= 19 && piiLuhn(string(ds))
}

// piiLuhn checks the Luhn (mod 10) check digit of a digit string.
func piiLuhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// piiIsIP: an IPv4 or IPv6 address (zone and CIDR suffix allowed).
func piiIsIP(s string) bool {
	if !strings.ContainsAny(s, ".:") {
		return false
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func piiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			n++
		}
	}
	return n
}

// piiValueCats is the category a single value looks like (email, phone,
// postal code, card, IP), or piiNone.
func piiValueCat(s string) piiCategory {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) {
		return piiNone
	}
	switch {
	case piiIsEmail(s):
		return piiEmail
	case piiIsCard(s): // before phone: a 16-digit number with a leading 0 is a card
		return piiCard
	case piiIsJPZip(s):
		return piiZip
	case piiIsPhone(s):
		return piiPhone
	case piiIsIP(s):
		return piiIP
	}
	return piiNone
}

// piiValueWhat describes a category in a reason.
var piiValueWhat = map[piiCategory]string{
	piiEmail: "email addresses", piiPhone: "phone numbers", piiZip: "Japanese postal codes",
	piiCard: "card numbers (Luhn)", piiIP: "IP addresses", piiBirth: "dates of birth",
}

// piiSpatialType reports whether a column's type holds coordinates
// (geometry, point, geography): where a person lives or was.
func piiSpatialType(dataType string) bool {
	t := strings.ToLower(dataType)
	for _, p := range []string{"geometry", "geography", "point", "multipoint"} {
		if t == p || strings.HasPrefix(t, p+"(") || strings.HasPrefix(t, p+" ") {
			return true
		}
	}
	return false
}

// piiValueStats counts how many sampled values look like each category.
type piiValueStats struct {
	n      int
	counts map[piiCategory]int
	jp     int // Japanese-looking phone numbers / postal codes
}

func (st *piiValueStats) add(s string) {
	st.n++
	c := piiValueCat(s)
	if c == piiNone {
		return
	}
	if st.counts == nil {
		st.counts = map[piiCategory]int{}
	}
	st.counts[c]++
	t := strings.TrimSpace(s)
	if (c == piiPhone && piiIsJPPhone(t)) || c == piiZip {
		st.jp++
	}
}

// piiMinShare is the share of sampled values that must look personal for
// a column (or JSON path) to be flagged by its values.
const piiMinShare = 0.3

// best returns the category most values look like, if at least
// piiMinShare of them do, with its count.
func (st *piiValueStats) best() (piiCategory, int) {
	best, bestN := piiNone, 0
	for c, k := range st.counts {
		if k > bestN || (k == bestN && c < best) {
			best, bestN = c, k
		}
	}
	if st.n == 0 || bestN == 0 || float64(bestN) < piiMinShare*float64(st.n) {
		return piiNone, 0
	}
	return best, bestN
}

// --- dates of birth ---

// piiNotBirthWords are name tokens that say a date is something else: the
// date a row was created, paid, rented, shipped ...
var piiNotBirthWords = map[string]bool{
	"create": true, "created": true, "creation": true, "update": true, "updated": true, "last": true,
	"modified": true, "modify": true, "change": true, "changed": true, "insert": true, "inserted": true,
	"payment": true, "paid": true, "pay": true, "rental": true, "rent": true, "return": true, "returned": true,
	"order": true, "ordered": true, "ship": true, "shipped": true, "delivery": true, "delivered": true,
	"start": true, "end": true, "begin": true, "from": true, "to": true, "until": true, "since": true,
	"expire": true, "expires": true, "expiry": true, "expiration": true, "due": true, "release": true,
	"released": true, "publish": true, "published": true, "issue": true, "issued": true, "valid": true,
	"effective": true, "booking": true, "booked": true, "event": true, "login": true, "logout": true,
	"deleted": true, "archived": true, "closed": true, "opened": true, "open": true, "close": true,
	"hire": true, "hired": true, "join": true, "joined": true, "signup": true, "registered": true,
	"registration": true, "sent": true, "received": true, "scheduled": true, "timestamp": true, "ts": true,
	"at": true, "on": true, "time": true, "period": true, "fiscal": true, "year": true, "month": true,
}

// piiBirthName reports whether a date column's name leaves room for a date
// of birth: no token says it is some other date.
func piiBirthName(column string) bool {
	for _, t := range piiTokens(column) {
		if piiNotBirthWords[t] {
			return false
		}
	}
	return true
}

// piiBirthStats judges sampled dates: most fall between 1900 and ten years
// ago, spread over many distinct years (created/paid dates of a real
// system cluster in a few years).
type piiBirthStats struct {
	n, inRange int
	years      map[int]bool
}

// piiBirthMinValues and piiBirthMinYears keep the detector conservative.
const (
	piiBirthMinValues = 20
	piiBirthMinYears  = 15
	piiBirthMinShare  = 0.8
)

func (b *piiBirthStats) add(s string, now time.Time) {
	b.n++
	if len(s) < 10 {
		return
	}
	d, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return
	}
	if d.Year() >= 1900 && d.Before(now.AddDate(-10, 0, 0)) {
		b.inRange++
		if b.years == nil {
			b.years = map[int]bool{}
		}
		b.years[d.Year()] = true
	}
}

func (b *piiBirthStats) looksLikeBirth() bool {
	return b.n >= piiBirthMinValues && float64(b.inRange) >= piiBirthMinShare*float64(b.n) && len(b.years) >= piiBirthMinYears
}

// --- quasi-identifiers ---

// piiQuasiKind is a quasi-identifier: not personal on its own, but next to
// a name, an address or an e-mail it narrows down who a row is about (a
// company, a city, a state, the day someone was hired).
type piiQuasiKind int

const (
	piiQuasiNone piiQuasiKind = iota
	piiQuasiCompany
	piiQuasiCity
	piiQuasiRegion
	piiQuasiEmployment
)

var piiQuasiNames = [...]string{"", "company", "city", "state/prefecture/region", "employment date"}

func (k piiQuasiKind) String() string { return piiQuasiNames[k] }

// piiQuasiWords map name tokens to quasi-identifiers. "state" is also an
// order's or a job's state: it counts only beside an address (see
// piiQuasiNeedsAddress).
var piiQuasiWords = map[string]piiQuasiKind{
	"company": piiQuasiCompany, "companyname": piiQuasiCompany, "employer": piiQuasiCompany,
	"organization": piiQuasiCompany, "organisation": piiQuasiCompany, "kaisha": piiQuasiCompany,
	"kaishamei": piiQuasiCompany, "kinmusaki": piiQuasiCompany, "workplace": piiQuasiCompany,
	"city": piiQuasiCity, "town": piiQuasiCity, "municipality": piiQuasiCity, "shikuchoson": piiQuasiCity,
	"shichoson": piiQuasiCity, "shi": piiQuasiCity,
	"state": piiQuasiRegion, "prefecture": piiQuasiRegion, "province": piiQuasiRegion, "region": piiQuasiRegion,
	"county": piiQuasiRegion, "todofuken": piiQuasiRegion, "todoufuken": piiQuasiRegion, "pref": piiQuasiRegion,
}

// piiEmploymentWords mark a date as part of someone's employment history.
var piiEmploymentWords = map[string]bool{
	"hire": true, "hired": true, "hiredate": true, "employment": true, "employed": true,
	"termination": true, "terminated": true, "resignation": true, "resigned": true,
	"retirement": true, "retired": true, "nyusha": true, "taisha": true, "nyushabi": true, "taishabi": true,
}

// piiQuasiMatch is a column name that names a quasi-identifier.
type piiQuasiMatch struct {
	kind  piiQuasiKind
	token string
}

// piiMatchQuasi classifies a column name as a quasi-identifier for a column
// of kind k: company, city and region on text columns, employment dates on
// date columns ("hired_at" too, which piiMatchName reads as a timestamp).
func piiMatchQuasi(column string, k schema.Kind) (piiQuasiMatch, bool) {
	toks := piiTokens(column)
	if len(toks) == 0 {
		return piiQuasiMatch{}, false
	}
	switch k {
	case schema.KindDate, schema.KindDateTime:
		for _, t := range toks {
			if piiEmploymentWords[t] {
				return piiQuasiMatch{kind: piiQuasiEmployment, token: t}, true
			}
		}
		return piiQuasiMatch{}, false
	case schema.KindText:
	default:
		return piiQuasiMatch{}, false
	}
	if piiNotWords[toks[len(toks)-1]] {
		return piiQuasiMatch{}, false
	}
	for _, t := range toks {
		if q, ok := piiQuasiWords[t]; ok {
			return piiQuasiMatch{kind: q, token: t}, true
		}
	}
	return piiQuasiMatch{}, false
}

// piiQuasiNeedsAddress: "state" is a quasi-identifier only beside an
// address; an order's or a job's state is not.
func piiQuasiNeedsAddress(m piiQuasiMatch) bool { return m.token == "state" }

// piiNotPersonName are tokens that make a "name" the name of something
// other than a person ("company_name" in a customers table).
var piiNotPersonName = map[string]bool{
	"company": true, "companyname": true, "employer": true, "organization": true, "organisation": true,
	"kaisha": true, "shop": true, "store": true, "product": true, "item": true, "file": true, "host": true,
	"city": true, "town": true, "country": true, "state": true, "region": true, "prefecture": true,
	"bank": true, "branch": true, "brand": true,
}

// --- personal data inside free text ---

var (
	piiTextEmailRe = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)
	// Phone numbers: Japanese 0X-XXXX-XXXX (090-1234-5678), +CC forms,
	// US (NNN) NNN-NNNN. A hyphen, space or + is required: a bare digit
	// run in text is more often an order number than a phone number.
	piiTextPhoneRe = regexp.MustCompile(`(?:^|[^0-9A-Za-z])((?:0\d{1,4}-\d{1,4}-\d{3,4})|(?:\+\d{1,3}[ -]?(?:\(\d{1,4}\)[ -]?)?\d{1,4}(?:[ -]\d{2,4}){1,3})|(?:\(\d{3}\) ?\d{3}-\d{4}))(?:$|[^0-9A-Za-z])`)
	// Postal codes: Japanese 123-4567 (with or without 〒), US ZIP+4,
	// Canadian A1A 1A1, UK outward+inward.
	piiTextZipRe = regexp.MustCompile(`(?:^|[^0-9A-Za-z-])((?:〒 ?\d{3}-?\d{4})|(?:\d{3}-\d{4})|(?:\d{5}-\d{4})|(?:[A-Z]\d[A-Z] \d[A-Z]\d)|(?:[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}))(?:$|[^0-9A-Za-z-])`)
	// Card numbers: 13 to 19 digits, spaces or hyphens between groups,
	// Luhn-valid.
	piiTextCardRe = regexp.MustCompile(`(?:^|[^0-9])(\d(?:[ -]?\d){12,18})(?:$|[^0-9])`)
)

// piiTextFold maps full-width digits, letters and hyphen-like marks to
// ASCII, so that ０９０－１２３４－５６７８ in Japanese text is seen like
// 090-1234-5678.
func piiTextFold(s string) string {
	if isASCII(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return '0' + (r - '０')
		case r >= 'Ａ' && r <= 'Ｚ':
			return 'A' + (r - 'Ａ')
		case r >= 'ａ' && r <= 'ｚ':
			return 'a' + (r - 'ａ')
		case r == '＠':
			return '@'
		case r == '．':
			return '.'
		case r == '＋':
			return '+'
		case r == '－', r == '‐', r == '‑', r == '‒', r == '–', r == '—', r == '―', r == 'ー', r == '−':
			return '-'
		case r == '（':
			return '('
		case r == '）':
			return ')'
		case r == '　':
			return ' '
		}
		return r
	}, s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// piiTextCats returns the categories of personal data found anywhere
// inside a value: e-mail addresses, phone numbers, postal codes, card
// numbers. jp is set when a phone number or postal code is Japanese.
func piiTextCats(s string) (cats []piiCategory, jp bool) {
	if s == "" || !utf8.ValidString(s) {
		return nil, false
	}
	s = piiTextFold(s)
	// Each finding is blanked out before the next detector looks, so that
	// the 555-0100 of a phone number is not also a postal code.
	blank := func(lo, hi int) { s = s[:lo] + strings.Repeat(" ", hi-lo) + s[hi:] }
	if strings.IndexByte(s, '@') >= 0 {
		if m := piiTextEmailRe.FindAllStringIndex(s, -1); m != nil {
			cats = append(cats, piiEmail)
			for _, x := range m {
				blank(x[0], x[1])
			}
		}
	}
	phone := false
	for _, x := range piiTextPhoneRe.FindAllStringSubmatchIndex(s, -1) {
		v := s[x[2]:x[3]]
		if n := piiDigits(v); n >= 8 && n <= 15 {
			phone = true
			if strings.HasPrefix(v, "0") || strings.HasPrefix(v, "+81") {
				jp = true
			}
			blank(x[2], x[3])
		}
	}
	if phone {
		cats = append(cats, piiPhone)
	}
	if m := piiTextZipRe.FindStringSubmatch(s); m != nil {
		cats = append(cats, piiZip)
		if strings.Contains(m[1], "〒") || len(m[1]) == 8 && m[1][3] == '-' && piiDigits(m[1]) == 7 {
			jp = true
		}
	}
	for _, m := range piiTextCardRe.FindAllStringSubmatch(s, -1) {
		var ds []byte
		for i := 0; i < len(m[1]); i++ {
			if c := m[1][i]; c >= '0' && c <= '9' {
				ds = append(ds, c)
			}
		}
		if len(ds) >= 13 && len(ds) <= 19 && piiLuhn(string(ds)) {
			cats = append(cats, piiCard)
			break
		}
	}
	return cats, jp
}

var piiTextWhat = map[piiCategory]string{
	piiEmail: "e-mail addresses", piiPhone: "phone numbers", piiZip: "postal codes", piiCard: "card numbers (Luhn)",
}

// piiTextStats counts the sampled values of a column holding personal
// data inside longer text.
type piiTextStats struct {
	n, hits, jp int
	counts      map[piiCategory]int
}

func (st *piiTextStats) add(s string) {
	st.n++
	cats, jp := piiTextCats(s)
	if len(cats) == 0 {
		return
	}
	st.hits++
	if jp {
		st.jp++
	}
	if st.counts == nil {
		st.counts = map[piiCategory]int{}
	}
	for _, c := range cats {
		st.counts[c]++
	}
}

// A free-text column is flagged when at least piiTextMinHits values and
// piiTextMinShare of the sample hold personal data: notes mention a phone
// number now and then, and one stray address is not a pattern.
const (
	piiTextMinHits  = 2
	piiTextMinShare = 0.02
)

// flagged reports whether the column holds personal data in its text.
func (st *piiTextStats) flagged() bool {
	return st.hits >= piiTextMinHits && float64(st.hits) >= piiTextMinShare*float64(st.n)
}

// reason describes what was found, never a value: "12 of 200 sampled
// values (6%) hold personal data inside longer text: phone numbers in 9,
// e-mail addresses in 4".
func (st *piiTextStats) reason() string {
	var parts []string
	for _, c := range []piiCategory{piiEmail, piiPhone, piiZip, piiCard} {
		if k := st.counts[c]; k > 0 {
			parts = append(parts, fmt.Sprintf("%s in %d", piiTextWhat[c], k))
		}
	}
	pct := 100 * st.hits / max(st.n, 1)
	return fmt.Sprintf("%d of %d sampled values (%d%%) hold personal data inside longer text: %s", st.hits, st.n, pct, strings.Join(parts, ", "))
}
