// Package fake holds pure, deterministic fake-data generators (people,
// phone numbers, addresses) for the "en" and "ja" locales.
//
// Every generator draws its randomness only from the Rand it is given: there
// is no global state and no use of math/rand. The same Rand stream therefore
// yields the same output forever, which masking relies on (the same original
// value must always map to the same fake one).
//
// STABILITY: the data tables in this package are part of that contract.
// Never reorder, remove or insert entries in an existing table, and never
// change the order or number of Rand calls a generator makes: doing so
// changes every masked value produced by released versions. Fix a wrong
// entry in place only if the change is acceptable for existing users; add
// new data as new tables (behind a new generator or version) instead.
// TestGolden pins a sample of outputs to catch accidental changes.
//
// All strings are in the Basic Multilingual Plane (no 4-byte UTF-8), so the
// output fits MySQL utf8mb3 columns.
package fake

import (
	"strconv"
	"strings"
)

// Rand is the only source of randomness. IntN returns a value in [0,n) and
// is only called with n > 0.
type Rand interface {
	Uint64() uint64
	IntN(n int) int
}

// Person is a fake person's name. For "en" the Kana fields are empty and the
// Romaji fields are the lower-case ASCII letters of First/Last. For "ja",
// First/Last are kanji (occasionally kana), the Kana fields full-width
// katakana readings and the Romaji fields lower-case Hepburn (long vowels
// unmarked, e.g. 佐藤 → "sato").
type Person struct {
	First, Last             string
	FirstKana, LastKana     string
	FirstRomaji, LastRomaji string
}

// Locales lists the supported locales. Any other locale behaves as "en".
func Locales() []string { return []string{"en", "ja"} }

func isJA(locale string) bool { return locale == "ja" }

func pick[T any](r Rand, s []T) T { return s[r.IntN(len(s))] }

// digits returns n random ASCII digits, the first in [first,9].
func digits(r Rand, n int, first int) string {
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < n; i++ {
		lo := 0
		if i == 0 {
			lo = first
		}
		b.WriteByte(byte('0' + lo + r.IntN(10-lo)))
	}
	return b.String()
}

// asciiLower keeps the ASCII letters of s, lower-cased ("O'Brien" → "obrien").
func asciiLower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		}
	}
	return b.String()
}

// NewPerson returns a fake person. The family name is drawn first, then the
// given name.
func NewPerson(r Rand, locale string) Person {
	if isJA(locale) {
		last := pick(r, jaFamilyNames)
		first := pick(r, jaGivenNames)
		return Person{
			First: first.Kanji, Last: last.Kanji,
			FirstKana: first.Kana, LastKana: last.Kana,
			FirstRomaji: first.Romaji, LastRomaji: last.Romaji,
		}
	}
	last := pick(r, enLastNames)
	first := pick(r, enFirstNames)
	return Person{
		First: first, Last: last,
		FirstRomaji: asciiLower(first), LastRomaji: asciiLower(last),
	}
}

// Phone returns a fake phone number of ASCII digits, hyphens and (en only)
// parentheses and a space.
//
// en: "(NPA) 555-01XX" or "NPA-555-01XX", in the 555-0100..0199 range
// reserved for fiction; NPA is a syntactically valid area code.
// ja: mobile "0[789]0-####-####", Tokyo/Osaka "0[36]-####-####" or a
// 3-digit area code "0##-###-####".
func Phone(r Rand, locale string) string {
	if isJA(locale) {
		switch n := r.IntN(10); {
		case n < 5: // mobile
			return pick(r, jaMobilePrefixes) + "-" + digits(r, 4, 1) + "-" + digits(r, 4, 0)
		case n < 7: // 2-digit area code
			return pick(r, jaAreaCodes2) + "-" + digits(r, 4, 2) + "-" + digits(r, 4, 0)
		default: // 3-digit area code
			return pick(r, jaAreaCodes3) + "-" + digits(r, 3, 2) + "-" + digits(r, 4, 0)
		}
	}
	npa := enAreaCode(r)
	line := "555-01" + digits(r, 2, 0)
	if r.IntN(2) == 0 {
		return "(" + npa + ") " + line
	}
	return npa + "-" + line
}

// enAreaCode returns a NANP-style area code N[0-8]X that is not an N11
// service code.
func enAreaCode(r Rand) string {
	a := 2 + r.IntN(8)
	b := r.IntN(9)
	c := r.IntN(10)
	if b == 1 && c == 1 {
		c = 0
	}
	return strconv.Itoa(a*100 + b*10 + c)
}

// Street returns a fake street address line.
//
// en: "1234 Maple Street". ja: a town name with chōme-banchi-gō, e.g.
// "中央1-2-3", "本町4丁目5-6" or "栄町2丁目8番3号", and about one time in three
// a building name and room number ("中央1-2-3 サンハイツ203").
func Street(r Rand, locale string) string {
	if isJA(locale) {
		town := pick(r, jaTowns)
		chome := 1 + r.IntN(9)
		banchi := 1 + r.IntN(30)
		gou := 1 + r.IntN(20)
		var s string
		switch r.IntN(3) {
		case 0:
			s = town + strconv.Itoa(chome) + "-" + strconv.Itoa(banchi) + "-" + strconv.Itoa(gou)
		case 1:
			s = town + strconv.Itoa(chome) + "丁目" + strconv.Itoa(banchi) + "-" + strconv.Itoa(gou)
		default:
			s = town + strconv.Itoa(chome) + "丁目" + strconv.Itoa(banchi) + "番" + strconv.Itoa(gou) + "号"
		}
		if r.IntN(3) == 0 {
			floor := 1 + r.IntN(12)
			unit := 1 + r.IntN(10)
			room := strconv.Itoa(floor*100 + unit)
			s += " " + pick(r, jaBuildings) + room
		}
		return s
	}
	num := 1 + r.IntN(9999)
	return strconv.Itoa(num) + " " + pick(r, enStreetNames) + " " + pick(r, enStreetSuffixes)
}

// City returns a fake city: a US city for en, a Japanese city or Tokyo
// special ward (e.g. "横浜市", "新宿区") for ja.
func City(r Rand, locale string) string {
	if isJA(locale) {
		return pick(r, jaCities)
	}
	return pick(r, enCities)
}

// Region returns a US state (full name) for en, one of the 47 prefectures
// for ja.
func Region(r Rand, locale string) string {
	if isJA(locale) {
		return pick(r, jaPrefectures)
	}
	return pick(r, enStates)
}

// PostalCode returns a 5-digit ZIP code "#####" for en, "###-####" for ja.
func PostalCode(r Rand, locale string) string {
	if isJA(locale) {
		return digits(r, 3, 0) + "-" + digits(r, 4, 0)
	}
	return digits(r, 5, 0)
}
