package transform

import (
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/unicode/norm"

	"github.com/restage/restage/internal/schema"
)

// asciiOnly reports whether a column character set can only be trusted
// with ASCII (single-byte Western sets: what fits in all of them).
func asciiOnly(charset string) bool {
	switch strings.ToLower(charset) {
	case "latin1", "ascii", "us7ascii", "latin2", "latin5", "latin7", "cp1250",
		"cp1251", "cp1256", "cp1257", "cp850", "cp852", "cp866", "dec8", "hp8",
		"koi8r", "koi8u", "swe7", "greek", "hebrew", "armscii8", "geostd8",
		"keybcs2", "macce", "macroman", "tis620",
		"win1250", "win1251", "win1252", "win1253", "win1254", "win1255",
		"win1256", "win1257", "win1258", "iso_8859_5", "iso_8859_6",
		"iso_8859_7", "iso_8859_8", "koi8", "latin3", "latin4", "latin6",
		"latin8", "latin9", "latin10":
		return true
	}
	return false
}

// noFourByte reports a MySQL three-byte UTF-8 set. PostgreSQL reports
// "UTF8" (upper case), which holds every character.
func noFourByte(charset string) bool {
	return charset == "utf8mb3" || charset == "utf8"
}

// fit makes a text output fit the column: characters the set cannot hold
// are replaced, text is cut to MaxLength characters, numbers are kept in
// range.
func fit(c *schema.Column, s string, strictLen bool) (string, error) {
	switch c.Kind {
	case schema.KindInt:
		return fitInt(c, s)
	case schema.KindDecimal:
		return fitDecimal(c, s)
	case schema.KindBinary:
		if c.MaxLength > 0 && len(s) > c.MaxLength {
			if strictLen {
				return "", errors.New("output does not fit the column")
			}
			s = s[:c.MaxLength]
		}
		return s, nil
	case schema.KindText, schema.KindJSON, schema.KindOther:
	default:
		return s, nil
	}
	s = fitCharset(c.Charset, s)
	if c.MaxLength > 0 && len(s) > c.MaxLength {
		n := 0
		for i := range s {
			if n == c.MaxLength {
				if strictLen {
					return "", errors.New("output does not fit the column")
				}
				return s[:i], nil
			}
			n++
		}
	}
	return s, nil
}

// legacyJA returns the encoder of a Japanese legacy character set (MySQL
// sjis, cp932, ujis, eucjpms; PostgreSQL EUC_JP), or nil.
func legacyJA(charset string) *encoding.Encoder {
	switch strings.ToLower(charset) {
	case "sjis", "cp932":
		return japanese.ShiftJIS.NewEncoder()
	case "ujis", "eucjpms", "euc_jp", "euc_jis_2004":
		return japanese.EUCJP.NewEncoder()
	}
	return nil
}

// fitCharset replaces what the character set cannot store.
func fitCharset(charset, s string) string {
	ascii, mb3 := asciiOnly(charset), noFourByte(charset)
	if !ascii && !mb3 && !isASCII(s) {
		if enc := legacyJA(charset); enc != nil {
			return fitEncoder(enc, s)
		}
	}
	if !ascii && !mb3 {
		if utf8.ValidString(s) {
			return s
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	clean := true
	for i := 0; i < len(s); i++ {
		b := s[i]
		if (ascii && b >= 0x80) || (mb3 && b >= 0xF0) {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		switch {
		case ascii && r >= 0x80:
			sb.WriteString(toASCII(r))
		case mb3 && r > 0xFFFF:
			if r == 0x20BB7 { // 𠮷, the "tsuchi-yoshi" variant
				sb.WriteRune('吉')
			} else {
				sb.WriteRune('\uFFFD')
			}
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

// toASCII approximates a rune in ASCII: Latin letters lose their
// diacritics, full-width forms become half-width, anything else is '?'.
func toASCII(r rune) string {
	var out []byte
	for _, d := range norm.NFKD.String(string(r)) {
		if d < 0x80 {
			out = append(out, byte(d))
		} else if !unicode.Is(unicode.Mn, d) {
			return "?"
		}
	}
	if len(out) == 0 {
		switch r {
		case 'ß':
			return "ss"
		case 'æ':
			return "ae"
		case 'Æ':
			return "AE"
		case 'ø':
			return "o"
		case 'Ø':
			return "O"
		case 'đ':
			return "d"
		case 'Đ':
			return "D"
		case 'ł':
			return "l"
		case 'Ł':
			return "L"
		}
		return "?"
	}
	return string(out)
}

// intRange returns the column's bounds.
func intRange(c *schema.Column) (lo int64, hi uint64) {
	bitsN := c.IntBits
	if bitsN <= 0 || bitsN > 64 {
		bitsN = 64
	}
	if c.Unsigned {
		if bitsN == 64 {
			return 0, ^uint64(0)
		}
		return 0, 1<<uint(bitsN) - 1
	}
	return -1 << uint(bitsN-1), 1<<uint(bitsN-1) - 1
}

// fitInt clamps an integer into the column's range.
func fitInt(c *schema.Column, s string) (string, error) {
	lo, hi := intRange(c)
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return strconv.FormatInt(lo, 10), nil
			}
			return "", errors.New("output is not an integer")
		}
		if v < lo {
			return strconv.FormatInt(lo, 10), nil
		}
		return s, nil
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return strconv.FormatUint(hi, 10), nil
		}
		return "", errors.New("output is not an integer")
	}
	if v > hi {
		return strconv.FormatUint(hi, 10), nil
	}
	return s, nil
}

// fitDecimal cuts extra fraction digits and clamps the integer part to the
// column's precision.
func fitDecimal(c *schema.Column, s string) (string, error) {
	neg, ip, fp, ok := splitDecimal(s)
	if !ok {
		return "", errors.New("output is not a decimal number")
	}
	if c.Precision <= 0 {
		return s, nil
	}
	changed := false
	if len(fp) > c.Scale {
		fp, changed = fp[:c.Scale], true
	}
	t := strings.TrimLeft(ip, "0")
	if maxInt := c.Precision - c.Scale; len(t) > maxInt {
		ip, fp, changed = strings.Repeat("9", maxInt), strings.Repeat("9", len(fp)), true
		if ip == "" {
			ip = "0"
		}
	}
	if !changed {
		return s, nil
	}
	return joinDecimal(neg, ip, fp), nil
}

// splitDecimal splits "-123.45" into sign, integer and fraction digits.
func splitDecimal(s string) (neg bool, ip, fp string, ok bool) {
	if s == "" {
		return
	}
	if s[0] == '-' || s[0] == '+' {
		neg, s = s[0] == '-', s[1:]
	}
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" && (!dot || fp == "") {
		return false, "", "", false
	}
	if !allDigits(ip) || !allDigits(fp) {
		return false, "", "", false
	}
	return neg, ip, fp, true
}

func joinDecimal(neg bool, ip, fp string) string {
	var sb strings.Builder
	if neg && strings.Trim(ip+fp, "0") != "" {
		sb.WriteByte('-')
	}
	if ip == "" {
		ip = "0"
	}
	sb.WriteString(ip)
	if fp != "" {
		sb.WriteByte('.')
		sb.WriteString(fp)
	}
	return sb.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sameUnder reports whether a and b are equal the way the column compares
// them. For case-insensitive collations it errs on the side of "equal":
// case, accents, width and hiragana/katakana are all ignored (MySQL's
// *_ai_ci collations ignore most of these), which can only cause an extra
// redraw.
func sameUnder(c *schema.Column, a, b string) bool {
	if c.PadSpace {
		a, b = strings.TrimRight(a, " "), strings.TrimRight(b, " ")
	}
	if a == b {
		return true
	}
	if !c.CaseInsensitive {
		return false
	}
	if strings.EqualFold(a, b) {
		return true
	}
	if isASCII(a) && isASCII(b) {
		return false
	}
	return looseKey(a) == looseKey(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// looseKey folds compatibility forms, drops combining marks, folds case
// and maps hiragana to katakana.
func looseKey(s string) string {
	var sb strings.Builder
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if r >= 0x3041 && r <= 0x3096 {
			r += 0x60
		}
		sb.WriteRune(unicode.ToLower(unicode.ToUpper(r)))
	}
	return sb.String()
}

// fitEncoder replaces the runes the encoder cannot represent with '?'.
func fitEncoder(enc *encoding.Encoder, s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			sb.WriteRune(r)
			continue
		}
		if _, err := enc.String(string(r)); err != nil {
			sb.WriteByte('?')
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
