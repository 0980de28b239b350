package fake

import (
	"strings"
	"unicode/utf8"
)

// Text returns plausible prose of exactly n characters (runes) with no line
// break: sentences drawn from a built-in corpus ("en" or "ja"), joined and
// cut to n. English text is cut at a word boundary when one lies within the
// last 12 characters and padded with nothing: the result may then be a few
// characters shorter than n. It draws one IntN per sentence used.
func Text(r Rand, locale string, n int) string {
	if n <= 0 {
		return ""
	}
	corpus, sep := enSentences, " "
	if isJA(locale) {
		corpus, sep = jaSentences, ""
	}
	var b strings.Builder
	count := 0
	for count < n {
		if count > 0 {
			b.WriteString(sep)
			count += len(sep)
		}
		s := pick(r, corpus)
		b.WriteString(s)
		count += utf8.RuneCountInString(s)
	}
	s := b.String()
	if count == n {
		return s
	}
	// Cut to n runes.
	i, k := 0, 0
	for k < n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		k++
	}
	cut := s[:i]
	if sep == " " && s[i] != ' ' {
		if j := strings.LastIndexByte(cut, ' '); j > 0 && len(cut)-j <= 12 {
			cut = cut[:j]
		}
	}
	return strings.TrimRight(cut, " ")
}
