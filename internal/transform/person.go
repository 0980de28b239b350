package transform

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/restage/restage/internal/transform/fake"
)

// person draws the fake person for a seed. Every person-based transformer
// uses the same domain, so columns seeded alike describe the same person
// (kanji name, kana reading and e-mail address agree).
func (m *Masker) person(seed []byte, attempt int, locale string) fake.Person {
	return draw(m, "person", seed, attempt, func(r *Rand) fake.Person { return fake.NewPerson(r, locale) })
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// --- first_name, last_name, full_name ---

type nameT struct {
	name, locale, script string
}

func parseScript(p *params, locale string) (string, error) {
	def := "kanji"
	if locale == "en" {
		def = "romaji"
	}
	s, err := p.str("script", def, false)
	if err != nil {
		return "", err
	}
	if err := oneOf("script", s, "kanji", "kana", "romaji"); err != nil {
		return "", err
	}
	if locale == "en" && s != "romaji" {
		return "", perr("script", "%s needs locale ja", s)
	}
	return s, nil
}

func parsePersonName(name string, p *params, opt Options) (Transformer, error) {
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	s, err := parseScript(p, l)
	if err != nil {
		return nil, err
	}
	return &nameT{name: name, locale: l, script: s}, nil
}

func (t *nameT) Name() string { return t.name }

// personName renders one part ("first", "last", "full") of a person in a
// script. Japanese full names are family name first, separated by an ASCII
// space ("佐藤 太郎", "サトウ タロウ", "Sato Taro"); English ones "First Last".
func personName(p fake.Person, part, locale, script string) string {
	var first, last string
	switch script {
	case "kana":
		first, last = p.FirstKana, p.LastKana
	case "romaji":
		if locale == "en" {
			first, last = p.First, p.Last
		} else {
			first, last = capitalize(p.FirstRomaji), capitalize(p.LastRomaji)
		}
	default:
		first, last = p.First, p.Last
	}
	switch part {
	case "first":
		return first
	case "last":
		return last
	}
	if locale == "ja" {
		return last + " " + first
	}
	return first + " " + last
}

func (*nameT) entity() string { return "person" }

// nameMax is the longest name part (first, last, full) in a script.
func nameMax(part, locale, script string) int {
	l := fake.LimitsOf(locale)
	first, last := l.First, l.Last
	switch {
	case script == "kana":
		first, last = l.FirstKana, l.LastKana
	case script == "romaji" && locale != "en":
		first, last = l.FirstRomaji, l.LastRomaji
	}
	switch part {
	case "first":
		return first
	case "last":
		return last
	}
	return first + 1 + last
}

func (t *nameT) Bind(tg Target) (Func, error) {
	part := strings.TrimSuffix(t.name, "_name")
	if err := check(t.name, tg, spec{kinds: textKinds, nonASCII: t.locale == "ja" && t.script != "romaji", maxLen: nameMax(part, t.locale, t.script)}); err != nil {
		return nil, err
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		return personName(m.person(seed, attempt, t.locale), part, t.locale, t.script), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

// --- email ---

type emailT struct{ domain, locale string }

const (
	defaultEmailDomain = "example.invalid"
	uniqueTagLen       = 13 // 65 bits
	shortTagLen        = 4
	// emailNameLen caps "first.last" in the consistent form, so that the
	// address (at most 35 characters plus the domain: 50 with the default
	// domain) fits the common VARCHAR(50) e-mail column everywhere.
	emailNameLen = 20
)

func parseEmail(_ string, p *params, opt Options) (Transformer, error) {
	d, err := p.str("domain", defaultEmailDomain, false)
	if err != nil {
		return nil, err
	}
	d = strings.ToLower(d)
	if !validDomain(d) {
		return nil, perr("domain", "is not a valid domain name")
	}
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	return &emailT{domain: d, locale: l}, nil
}

func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func (*emailT) Name() string { return "email" }

func (*emailT) entity() string { return "person" }

// Bind: the address is "first.last.TAG@domain", lower-case ASCII. The
// consistent form (every column, unique or not, unless the rule says
// consistent: false) has "first.last" cut to 20 characters and a
// 13-character TAG (65 bits): unique by construction, and the same address
// for the same original in every column; the reserved .invalid default
// domain keeps outputs apart from real addresses. The fake person comes
// from the folded original (or the seed); TAG from the exact original
// (plus the seed), so "A@x" and "a@x" share a name but never an address,
// which keeps a case-sensitive unique index safe. With consistent: false
// the tag is 4 characters off a unique column and a short column loses
// name characters first, never the tag or domain.
func (t *emailT) Bind(tg Target) (Func, error) {
	tagLen := uniqueTagLen
	if tg.Loose && !tg.Unique {
		tagLen = shortTagLen
	}
	minLen := tagLen + 1 + len(t.domain)
	maxOut := emailNameLen + 1 + minLen
	if err := check("email", tg, spec{kinds: textKinds, unique: true, minLen: minLen, maxLen: maxOut}); err != nil {
		return nil, err
	}
	maxLen := tg.Column.MaxLength
	nameRoom := emailNameLen
	if tg.Loose {
		nameRoom = 64 - tagLen - 1 // local part limit (RFC 5321)
		if maxLen > 0 && maxLen-minLen-1 < nameRoom {
			nameRoom = maxLen - minLen - 1
		}
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		p := m.person(seed, attempt, t.locale)
		var buf [160]byte
		b := buf[:0]
		if room := nameRoom; room > 0 {
			b = appendLocal(b, p)
			if len(b) > room {
				b = b[:room]
			}
			for len(b) > 0 && b[len(b)-1] == '.' {
				b = b[:len(b)-1]
			}
			if len(b) > 0 {
				b = append(b, '.')
			}
		}
		b = m.appendTag(b, "email", m.uniqSeed(in), attempt, tagLen)
		b = append(b, '@')
		b = append(b, t.domain...)
		return string(b), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

// appendLocal appends "first.last" in lower-case ASCII.
func appendLocal(b []byte, p fake.Person) []byte {
	n := len(b)
	b = appendASCIILower(b, p.FirstRomaji)
	if len(b) > n && p.LastRomaji != "" {
		b = append(b, '.')
	}
	b = appendASCIILower(b, p.LastRomaji)
	if len(b) == n {
		b = append(b, "user"...)
	}
	return b
}

func appendASCIILower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b = append(b, c)
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		}
	}
	return b
}

// --- phone ---

type phoneT struct {
	locale, format string
	shape          bool // shape: keep
}

func parsePhone(_ string, p *params, opt Options) (Transformer, error) {
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	f, err := p.str("format", "", false)
	if err != nil {
		return nil, err
	}
	if p.has("format") && !strings.Contains(f, "#") {
		return nil, perr("format", "needs at least one # (a random digit)")
	}
	shape, err := parseShape(p)
	if err != nil {
		return nil, err
	}
	if shape && p.has("format") {
		return nil, perr("shape", "keep cannot be combined with format")
	}
	return &phoneT{locale: l, format: f, shape: shape}, nil
}

func (*phoneT) Name() string { return "phone" }

func (t *phoneT) Bind(tg Target) (Func, error) {
	s := spec{kinds: textKinds, nonASCII: !isASCII(t.format), maxLen: fake.LimitsOf(t.locale).Phone}
	if t.format != "" {
		s.minLen = utf8.RuneCountInString(t.format)
		s.maxLen = s.minLen
	}
	if t.shape {
		s.maxLen = 0 // as long as the original, which the column holds
	}
	if err := check("phone", tg, s); err != nil {
		return nil, err
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		if t.format == "" {
			return draw(m, "phone", seed, attempt, func(r *Rand) string { return fake.Phone(r, t.locale) }), nil
		}
		r := m.Rand("phone", seed, attempt)
		b := []byte(t.format)
		for i, c := range b {
			if c == '#' {
				b[i] = byte('0' + r.IntN(10))
			}
		}
		return string(b), nil
	}
	return wrap(tg.Column, shaped(t.shape, true, "phone", g), wrapOpts{}), nil
}

// --- street_address, city, region (prefecture), postal_code ---

type addressT struct {
	name, locale string
	mark         bool
	shape        bool // shape: keep (postal_code, region, prefecture)
}

func parseAddress(name string, p *params, opt Options) (Transformer, error) {
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	t := &addressT{name: name, locale: l}
	if name == "postal_code" {
		if t.mark, err = p.boolean("mark", false); err != nil {
			return nil, err
		}
		if t.mark && l != "ja" {
			return nil, perr("mark", "needs locale ja")
		}
	}
	if name == "postal_code" || name == "region" || name == "prefecture" {
		if t.shape, err = parseShape(p); err != nil {
			return nil, err
		}
		if t.shape && t.mark {
			return nil, perr("shape", "keep cannot be combined with mark (the original's mark is kept)")
		}
	}
	return t, nil
}

func (t *addressT) Name() string { return t.name }

func (t *addressT) Bind(tg Target) (Func, error) {
	nonASCII := t.locale == "ja" && (t.name != "postal_code" || t.mark)
	l := fake.LimitsOf(t.locale)
	maxOut := map[string]int{"street_address": l.Street, "city": l.City, "region": l.Region, "prefecture": l.Region, "postal_code": l.PostalCode}[t.name]
	if t.mark {
		maxOut++
	}
	if t.shape {
		maxOut = 0 // as long as the original, which the column holds
	}
	if err := check(t.name, tg, spec{kinds: textKinds, nonASCII: nonASCII, maxLen: maxOut}); err != nil {
		return nil, err
	}
	var g gen
	switch t.name {
	case "street_address":
		g = func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
			return draw(m, "street", seed, attempt, func(r *Rand) string { return fake.Street(r, t.locale) }), nil
		}
	case "city":
		g = func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
			return draw(m, "city", seed, attempt, func(r *Rand) string { return fake.City(r, t.locale) }), nil
		}
	case "region", "prefecture":
		g = func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
			return draw(m, "region", seed, attempt, func(r *Rand) string { return fake.Region(r, t.locale) }), nil
		}
	case "postal_code":
		g = func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
			// The region comes from region's own stream, so a postal code
			// seeded like a prefecture (or state) column lies in it.
			region := draw(m, "region", seed, attempt, func(r *Rand) int { return fake.RegionIndex(r, t.locale) })
			s := draw(m, "postal_code", seed, attempt, func(r *Rand) string { return fake.PostalCodeIn(r, t.locale, region) })
			if t.mark {
				s = "〒" + s
			}
			return s, nil
		}
	default:
		return nil, errors.New(t.name + ": unknown address part")
	}
	domain := t.name
	if domain == "prefecture" {
		domain = "region"
	}
	return wrap(tg.Column, shaped(t.shape, false, domain, g), wrapOpts{}), nil
}
