package transform

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/restage/restage/internal/transform/fake"
)

type segKind int

const (
	segLit segKind = iota
	segFirst
	segLast
	segFull
	segFirstKana
	segLastKana
	segFirstRomaji
	segLastRomaji
	segEmailLocal
	segDigits
	segHash
	segLetters
)

var placeholders = map[string]segKind{
	"first_name":   segFirst,
	"last_name":    segLast,
	"full_name":    segFull,
	"first_kana":   segFirstKana,
	"last_kana":    segLastKana,
	"first_romaji": segFirstRomaji,
	"last_romaji":  segLastRomaji,
	"email_local":  segEmailLocal,
	"digits":       segDigits,
	"hash":         segHash,
	"letters":      segLetters,
}

// minUniqueTemplateHash is the shortest {hash:N} that makes a template
// unique-capable (base32: 60 bits).
const minUniqueTemplateHash = 12

type seg struct {
	kind segKind
	lit  string
	n    int
}

// elastic segments are person-derived and may be cut to fit a column.
func (s seg) elastic() bool { return s.kind >= segFirst && s.kind <= segEmailLocal }

type templateT struct {
	segs    []seg
	locale  string
	person  bool // needs a fake person
	unique  bool // holds {hash:N} with N >= 12
	fixed   int  // characters that are never cut (literals, digits, letters, hash)
	nonASCI bool
}

func parseTemplate(_ string, p *params, opt Options) (Transformer, error) {
	src, err := p.str("template", "", true)
	if err != nil {
		return nil, err
	}
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	t := &templateT{locale: l}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.segs = append(t.segs, seg{kind: segLit, lit: lit.String()})
			t.fixed += utf8.RuneCountInString(lit.String())
			lit.Reset()
		}
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '{' && i+1 < len(src) && src[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(src) && src[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '}':
			return nil, perr("template", "unmatched } (write }} for a literal brace)")
		case c == '{':
			end := strings.IndexByte(src[i:], '}')
			if end < 0 {
				return nil, perr("template", "unclosed {")
			}
			ph := src[i+1 : i+end]
			i += end
			name, arg, hasArg := strings.Cut(ph, ":")
			k, ok := placeholders[name]
			if !ok {
				return nil, perr("template", "unknown placeholder {%s}", name)
			}
			s := seg{kind: k}
			switch k {
			case segDigits, segHash, segLetters:
				n, err := strconv.Atoi(arg)
				max := 64
				if k == segHash {
					max = MaxTagLen
				}
				if !hasArg || err != nil || n < 1 || n > max {
					return nil, perr("template", "{%s:N} needs N between 1 and %d", name, max)
				}
				s.n = n
				t.fixed += n
				if k == segHash && n >= minUniqueTemplateHash {
					t.unique = true
				}
			default:
				if hasArg {
					return nil, perr("template", "{%s} takes no argument", name)
				}
				t.person = true
				if l == "ja" && k <= segLastKana {
					t.nonASCI = true
				}
			}
			flush()
			t.segs = append(t.segs, s)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	if len(t.segs) == 0 {
		return nil, perr("template", "must not be empty")
	}
	for _, s := range t.segs {
		if s.kind == segLit && !isASCII(s.lit) {
			t.nonASCI = true
		}
	}
	return t, nil
}

func (*templateT) Name() string { return "template" }

func (t *templateT) entity() string {
	if t.person {
		return "person"
	}
	return ""
}

// maxOut is the longest output: literals and fixed-width parts plus the
// longest name each name placeholder can give.
func (t *templateT) maxOut() int {
	l := fake.LimitsOf(t.locale)
	n := t.fixed
	for _, s := range t.segs {
		switch s.kind {
		case segFirst:
			n += l.First
		case segLast:
			n += l.Last
		case segFull:
			n += l.First + 1 + l.Last
		case segFirstKana:
			n += max(l.FirstKana, l.First)
		case segLastKana:
			n += max(l.LastKana, l.Last)
		case segFirstRomaji:
			n += l.FirstRomaji
		case segLastRomaji:
			n += l.LastRomaji
		case segEmailLocal:
			n += max(l.FirstRomaji+1+l.LastRomaji, len("user"))
		}
	}
	return n
}

// Bind: {hash:N} is N base32 characters (a-z2-7) keyed by the original
// value (and seed), {digits:N} and {letters:N} random digits / lower-case
// letters, the name placeholders the row's fake person (Japanese full name
// "姓 名" with an ASCII space; en "First Last"; *_kana falls back to the
// name for en). When the column is short, person-derived parts are cut
// first; on a unique column the rest must fit.
func (t *templateT) Bind(tg Target) (Func, error) {
	s := spec{kinds: textKinds, unique: t.unique, nonASCII: t.nonASCI, maxLen: t.maxOut()}
	if tg.Unique {
		s.minLen = t.fixed
	}
	if err := check("template", tg, s); err != nil {
		return nil, err
	}
	// Name parts are cut to fit only with consistent: false; otherwise
	// the column holds the longest output (checked above).
	maxLen := 0
	if tg.Loose {
		maxLen = tg.Column.MaxLength
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		return t.render(m, in, seed, attempt, maxLen), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

func (t *templateT) render(m *Masker, in Input, seed []byte, attempt, maxLen int) string {
	var parts [16]string
	out := parts[:0]
	if len(t.segs) > len(parts) {
		out = make([]string, 0, len(t.segs))
	}
	var r *Rand
	var p = struct{ first, last, full, fk, lk, fr, lr, local string }{}
	if t.person {
		ps := m.person(seed, attempt, t.locale)
		p.first = personName(ps, "first", t.locale, "kanji")
		p.last = personName(ps, "last", t.locale, "kanji")
		p.full = personName(ps, "full", t.locale, "kanji")
		p.fk, p.lk = ps.FirstKana, ps.LastKana
		if p.fk == "" {
			p.fk, p.lk = ps.First, ps.Last
		}
		p.fr, p.lr = ps.FirstRomaji, ps.LastRomaji
		p.local = string(appendLocal(nil, ps))
	}
	total := 0
	for _, s := range t.segs {
		var v string
		switch s.kind {
		case segLit:
			v = s.lit
		case segFirst:
			v = p.first
		case segLast:
			v = p.last
		case segFull:
			v = p.full
		case segFirstKana:
			v = p.fk
		case segLastKana:
			v = p.lk
		case segFirstRomaji:
			v = p.fr
		case segLastRomaji:
			v = p.lr
		case segEmailLocal:
			v = p.local
		case segHash:
			var buf [MaxTagLen]byte
			v = string(m.appendTag(buf[:0], "template", m.uniqSeed(in), attempt, s.n))
		case segDigits, segLetters:
			if r == nil {
				r = m.Rand("template", seed, attempt)
			}
			b := make([]byte, s.n)
			for i := range b {
				if s.kind == segDigits {
					b[i] = byte('0' + r.IntN(10))
				} else {
					b[i] = byte('a' + r.IntN(26))
				}
			}
			v = string(b)
		}
		out = append(out, v)
		total += utf8.RuneCountInString(v)
	}
	if maxLen > 0 && total > maxLen {
		shrinkElastic(t.segs, out, total-maxLen)
	}
	return strings.Join(out, "")
}

// shrinkElastic cuts characters from the longest person-derived parts
// until excess characters are gone (or no such part is left).
func shrinkElastic(segs []seg, out []string, excess int) {
	for excess > 0 {
		best, bestLen := -1, 0
		for i, s := range segs {
			if n := utf8.RuneCountInString(out[i]); s.elastic() && n > bestLen {
				best, bestLen = i, n
			}
		}
		if best < 0 {
			return
		}
		v := out[best]
		_, size := utf8.DecodeLastRuneInString(v)
		out[best] = v[:len(v)-size]
		excess--
	}
}
