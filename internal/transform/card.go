package transform

import (
	"errors"

	"github.com/restage/restage/internal/schema"
)

// --- credit_card ---

// cardT replaces a payment card number by a Luhn-valid one that starts with
// a card network's published test prefix, keeping the number of digits and
// every separator where it was.
type cardT struct{ keepLast int }

// maxCardKeepLast is the most trailing digits credit_card may keep: a
// 13-digit card then still has 6 test-prefix digits, 2 keyed random digits
// (so the output is keyed and differs) and 1 digit chosen to make the
// Luhn sum right. PCI DSS shows at most the last four anyway.
const maxCardKeepLast = 4

// minCardDigits is the shortest value treated as a card number (ISO/IEC
// 7812 allows 8 to 19 digits; issued cards have 12 or more).
const minCardDigits = 12

// cardTestPrefixes are the first six digits of the networks' published
// test card numbers, by the original's leading digits, so a masked Visa
// still looks like a Visa:
//
//	4     411111, 424242 (Visa test cards 4111 1111 1111 1111, 4242 4242 4242 4242)
//	5, 2  555555, 222300 (Mastercard 5555 5555 5555 4444, 2223 0031 2200 3222)
//	34/37 378282, 371449 (American Express 3782 822463 10005, 3714 496353 98431)
//	35    353011, 356600 (JCB 3530 1113 3330 0000, 3566 0020 2036 0505)
//	30/36/38 305693, 385200 (Diners Club 3056 930902 5904, 3852 0000 023237)
//	6     601111, 601100 (Discover 6011 1111 1111 1117, 6011 0009 9013 9424)
//	else  411111
var cardTestPrefixes = map[string][2]string{
	"4": {"411111", "424242"}, "5": {"555555", "555555"}, "2": {"222300", "222300"},
	"34": {"378282", "371449"}, "37": {"378282", "371449"}, "35": {"353011", "356600"},
	"30": {"305693", "385200"}, "36": {"305693", "385200"}, "38": {"305693", "385200"},
	"6": {"601111", "601100"},
}

func parseCard(_ string, p *params, _ Options) (Transformer, error) {
	n, err := p.integer("keep_last", 0, false)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxCardKeepLast {
		return nil, perr("keep_last", "must be between 0 and %d: keeping more leaves too few digits for a number that is Luhn-valid, keyed and different from the original", maxCardKeepLast)
	}
	return &cardT{keepLast: n}, nil
}

func (*cardT) Name() string { return "credit_card" }

func (t *cardT) Bind(tg Target) (Func, error) {
	if err := check("credit_card", tg, spec{kinds: []schema.Kind{schema.KindText, schema.KindInt, schema.KindDecimal}}); err != nil {
		return nil, err
	}
	c := tg.Column
	if c.Kind == schema.KindDecimal && c.Scale > 0 {
		return nil, errors.New("credit_card: a decimal column with a fraction cannot hold card numbers")
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		b := []byte(in.Value)
		var pos []int // indexes of the digits in b
		for i, ch := range b {
			if ch >= '0' && ch <= '9' {
				pos = append(pos, i)
			}
		}
		if len(pos) == 0 {
			return "", errUnchanged
		}
		r := m.Rand("credit_card", seed, attempt)
		free := len(pos) - t.keepLast // digits we may change
		if len(pos) < minCardDigits {
			// Not a card number: keyed random digits, the first never 0.
			for i := 0; i < free; i++ {
				lo := 0
				if i == 0 {
					lo = 1
				}
				b[pos[i]] = byte('0' + lo + r.IntN(10-lo))
			}
			return string(b), nil
		}
		prefix := cardPrefix(b, pos, r.IntN(2))
		for i := 0; i < free; i++ {
			if i < len(prefix) {
				b[pos[i]] = prefix[i]
			} else {
				b[pos[i]] = byte('0' + r.IntN(10))
			}
		}
		// The check digit: the last one, or the last free one when the
		// last digits are kept.
		fix := free - 1
		if t.keepLast == 0 {
			fix = len(pos) - 1
		}
		setLuhn(b, pos, fix)
		return string(b), nil
	}
	return wrap(c, g, wrapOpts{}), nil
}

// cardPrefix picks the test prefix for the original's network.
func cardPrefix(b []byte, pos []int, pick int) string {
	two := string([]byte{b[pos[0]], b[pos[1]]})
	if p, ok := cardTestPrefixes[two]; ok {
		return p[pick]
	}
	if p, ok := cardTestPrefixes[two[:1]]; ok {
		return p[pick]
	}
	return "411111"
}

// setLuhn sets the digit at pos[fix] so that the digits pass the Luhn
// check.
func setLuhn(b []byte, pos []int, fix int) {
	sum := 0
	n := len(pos)
	var weight int // what one unit at pos[fix] adds, mod 10, is 1 or 2 (with carry)
	for i := 0; i < n; i++ {
		double := (n-1-i)%2 == 1
		if i == fix {
			if double {
				weight = 2
			} else {
				weight = 1
			}
			continue
		}
		d := int(b[pos[i]] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	for d := 0; d < 10; d++ {
		v := d
		if weight == 2 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		if (sum+v)%10 == 0 {
			b[pos[fix]] = byte('0' + d)
			return
		}
	}
}
