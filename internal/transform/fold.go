package transform

import (
	"encoding/binary"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Values are keyed folded the way a case-insensitive, pad-space collation
// compares them: NFKC (full-width "ＡＢ" is "AB", half-width kana are
// full-width), Unicode case folding, trailing spaces dropped. So
// "Edinburgh", "Edinburgh " and "EDINBURGH" get one fake in every column,
// whatever the column's own collation; only the unique parts of an output
// (the e-mail tag, hash, {hash:N}) stay keyed by the exact bytes, so that
// variants a case-sensitive unique index holds apart stay apart.

// FoldKey returns the folded form of s that fakes are keyed by.
func FoldKey(s string) string {
	if isASCII(s) {
		// NFKC and case folding of ASCII are its lower case.
		s = strings.TrimRight(s, " ")
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'A' && c <= 'Z' {
				return strings.ToLower(s)
			}
		}
		return s
	}
	s = cases.Fold().String(norm.NFKC.String(s))
	return strings.TrimRight(s, " ")
}

// sameFolded reports whether an output equals its original for the
// never-equal check. It is the same on every column (so a value's fake
// does not depend on the column's collation): case, width, accents, kana
// kind and trailing spaces are ignored, which errs on the side of "equal"
// (an extra redraw) under any collation. Binary columns compare bytes.
func sameFolded(binary bool, a, b string) bool {
	if a == b {
		return true
	}
	if binary {
		return false
	}
	a, b = strings.TrimRight(a, " "), strings.TrimRight(b, " ")
	if isASCII(a) && isASCII(b) {
		return strings.EqualFold(a, b)
	}
	return looseKey(a) == looseKey(b)
}

// SeedFor is the seed of a seeded rule: the seed columns' values folded
// like FoldKey and encoded by SeedOf, prefixed by the namespace when the
// seed identifies a row of a table (the planner passes the table's name:
// a seed that is a table's primary key, or a foreign key to it); "" keys
// the seed by value alone. Namespaces keep Employee 1 and Customer 1 apart
// while Invoice.CustomerId 5 and Customer.CustomerId 5 meet.
func SeedFor(namespace string, vals []string, nulls []bool) []byte {
	folded := make([]string, len(vals))
	for i, v := range vals {
		folded[i] = FoldKey(v)
	}
	s := SeedOf(folded, nulls)
	if namespace == "" {
		return s
	}
	namespace = FoldKey(namespace)
	// SeedOf starts with 0 or 1; 3 marks a namespace.
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(namespace)+len(s))
	out = append(out, 3)
	out = binary.AppendUvarint(out, uint64(len(namespace)))
	out = append(out, namespace...)
	return append(out, s...)
}
