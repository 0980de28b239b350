package transform

import (
	"strings"
	"unicode"
)

// parseShape reads the `shape` parameter of postal_code, phone and region:
// "locale" (the default: the locale's own format) or "keep" (the
// original's pattern of letters, digits and separators, for rows whose
// country column is kept: a Canadian "T2P 5M5" stays letter-digit-letter
// digit-letter-digit, a Brazilian "SP" two capitals).
func parseShape(p *params) (bool, error) {
	s, err := p.str("shape", "locale", false)
	if err != nil {
		return false, err
	}
	if err := oneOf("shape", s, "locale", "keep"); err != nil {
		return false, err
	}
	return s == "keep", nil
}

// keepShape draws a value with the pattern of orig: every ASCII upper-case
// letter becomes a random upper-case letter, lower-case likewise, every
// digit (ASCII or full-width) a random digit of the same width; everything
// else (spaces, hyphens, parentheses, "〒") stays; a cased letter outside
// ASCII ("ã") becomes a random ASCII letter of its case. For phone numbers (phone set) a leading "+" and the
// country code after it stay, and a leading trunk "0" stays "0", so the
// number keeps its country and national format.
//
// ok is false when the pattern cannot be kept: the value holds letters
// without case (kanji, kana) or nothing replaceable. The caller then falls
// back to the locale's format.
func keepShape(r *Rand, orig string, phone bool) (out string, ok bool) {
	var b strings.Builder
	b.Grow(len(orig))
	s := orig
	if phone {
		// "+81 90-…", "+1 (403) …": the country code stays.
		t := strings.TrimLeft(s, " ")
		if strings.HasPrefix(t, "+") {
			i := 1
			for i < len(t) && t[i] >= '0' && t[i] <= '9' {
				i++
			}
			if i > 1 && i < len(t) {
				b.WriteString(s[:len(s)-len(t)+i])
				s = t[i:]
			}
		} else if strings.HasPrefix(t, "0") {
			b.WriteString(s[:len(s)-len(t)+1])
			s = t[1:]
		}
	}
	n := 0
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			c = rune('A' + r.IntN(26))
			n++
		case c >= 'a' && c <= 'z':
			c = rune('a' + r.IntN(26))
			n++
		case c >= '0' && c <= '9':
			c = rune('0' + r.IntN(10))
			n++
		case c >= '０' && c <= '９':
			c = rune('０' + r.IntN(10))
			n++
		case unicode.IsUpper(c):
			c = rune('A' + r.IntN(26))
			n++
		case unicode.IsLower(c):
			c = rune('a' + r.IntN(26))
			n++
		case unicode.IsLetter(c), unicode.IsDigit(c):
			return "", false
		}
		b.WriteRune(c)
	}
	if n == 0 {
		return "", false
	}
	return b.String(), true
}

// shaped wraps a generator: with keep set, values whose shape can be kept
// get keepShape's output (from the generator's own domain), the rest the
// generator's.
func shaped(keep, phone bool, domain string, g gen) gen {
	if !keep {
		return g
	}
	return func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		if out, ok := keepShape(m.Rand(domain+"/shape", seed, attempt), in.Value, phone); ok {
			return out, nil
		}
		return g(m, in, seed, attempt)
	}
}
