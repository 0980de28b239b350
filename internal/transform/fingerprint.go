package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// fpDomain is the domain of the verification fingerprints' key; no
// transformer draws from it, so a fingerprint tells nothing about any fake.
const fpDomain = "verify-fingerprint"

// Fingerprint returns a keyed 64-bit fingerprint of value, normalised the
// way col compares: trailing spaces dropped on PadSpace columns, and on
// CaseInsensitive ones the same folding the never-equal check uses (case,
// accents, width, kana kind). Two values equal under the column's
// collation, as the transformers judge it, get the same fingerprint. With
// col nil the fingerprint is of the exact bytes.
//
// It is SipHash-2-4 of the normalised value under a 128-bit key derived
// from the masking key (ShortMAC("verify-fingerprint")): a keyed
// pseudorandom function, so without the key it can't be inverted or even
// brute-forced over a small domain (postal codes), and the verification
// gate can hold fingerprints of originals instead of the originals. The
// gates fingerprint every value they read, in the masking pass and after
// it: SipHash costs a tenth of an HMAC there. Fingerprints live only in
// the run that makes them.
func (m *Masker) Fingerprint(col *schema.Column, value string) uint64 {
	return m.fp.String64(fpNormalise(col, value))
}

// fpNormalise maps every value to a representative of its equivalence
// class under sameUnder(col, ·, ·).
func fpNormalise(col *schema.Column, s string) string {
	if col == nil {
		return s
	}
	if col.PadSpace {
		s = strings.TrimRight(s, " ")
	}
	if !col.CaseInsensitive {
		return s
	}
	if isASCII(s) {
		// looseKey of ASCII is its lower case; skip NFKD.
		return strings.ToLower(s)
	}
	return looseKey(s)
}

// Signature identifies a transformer by its name and canonical
// parameters: two rules with equal signatures (and no seed) map an
// original to the same fake on columns of the same type. It is a hex
// SHA-256, so a parameter that could be sensitive (a fixed value, a
// pattern) never shows through it.
func Signature(t Transformer) string {
	var b strings.Builder
	sigWrite(&b, t)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func sigWrite(b *strings.Builder, t Transformer) {
	str := func(s string) { b.WriteString(strconv.Quote(s)); b.WriteByte(' ') }
	num := func(n int) { b.WriteString(strconv.Itoa(n)); b.WriteByte(' ') }
	str(t.Name())
	switch x := t.(type) {
	case *keepT, *nullifyT:
	case *fixedT:
		str(x.s)
		if x.b != nil {
			str(strconv.FormatBool(*x.b))
		}
	case *hashT:
		num(x.length)
	case *dateShiftT:
		num(x.days)
	case *noiseT:
		str(x.p.RatString())
	case *digitsT:
		num(x.keepPrefix)
	case *nameT:
		str(x.name)
		str(x.locale)
		str(x.script)
	case *emailT:
		str(x.domain)
		str(x.locale)
	case *phoneT:
		str(x.locale)
		str(x.format)
	case *addressT:
		str(x.name)
		str(x.locale)
		str(strconv.FormatBool(x.mark))
	case *regexT:
		str(x.re.String())
	case *templateT:
		str(x.locale)
		for _, s := range x.segs {
			num(int(s.kind))
			str(s.lit)
			num(s.n)
		}
	case *jsonT:
		num(len(x.paths))
		for _, p := range x.paths {
			str(p.src)
			b.WriteByte('(')
			sigWrite(b, p.t)
			b.WriteByte(')')
		}
	default:
		// An unknown implementation: unique per value, so it never groups
		// with another rule.
		str(fmt.Sprintf("%T %p", t, t))
	}
}
