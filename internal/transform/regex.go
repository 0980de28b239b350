package transform

import (
	"regexp"

	"github.com/restage/restage/internal/schema"
)

type regexT struct {
	re *regexp.Regexp
}

func parseRegex(_ string, p *params, _ Options) (Transformer, error) {
	s, err := p.str("pattern", "", true)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, perr("pattern", "must not be empty")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, perr("pattern", "is not a valid regular expression")
	}
	return &regexT{re: re}, nil
}

func (*regexT) Name() string { return "regex" }

// Bind: every match (or, when the pattern has groups, group 1 of every
// match) is scrambled in place: digits to random digits, a-z to a-z, A-Z
// to A-Z, anything else kept. A value without a match is left unchanged.
func (t *regexT) Bind(tg Target) (Func, error) {
	if err := check("regex", tg, spec{kinds: []schema.Kind{schema.KindText}}); err != nil {
		return nil, err
	}
	group := 0
	if t.re.NumSubexp() > 0 {
		group = 1
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		v := in.Value
		idx := t.re.FindAllStringSubmatchIndex(v, -1)
		var b []byte
		var r *Rand
		n := 0
		for _, loc := range idx {
			lo, hi := loc[2*group], loc[2*group+1]
			if lo < 0 || lo == hi {
				continue
			}
			if b == nil {
				b = []byte(v)
				r = m.Rand("regex", seed, attempt)
			}
			n += scramble(r, b[lo:hi])
		}
		if n == 0 {
			return "", errUnchanged // no match, or nothing in it to scramble
		}
		return string(b), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

// scramble replaces ASCII digits and letters in place, keeping their class.
// It returns how many bytes it replaced.
func scramble(r *Rand, b []byte) int {
	n := 0
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			b[i] = byte('0' + r.IntN(10))
		case c >= 'a' && c <= 'z':
			b[i] = byte('a' + r.IntN(26))
		case c >= 'A' && c <= 'Z':
			b[i] = byte('A' + r.IntN(26))
		default:
			continue
		}
		n++
	}
	return n
}
