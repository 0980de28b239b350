package transform

import (
	"strings"
	"unicode/utf8"

	"github.com/restage/restage/internal/transform/fake"
)

// --- text ---

// textT writes plausible prose in place of free text (gift messages,
// notes, support tickets). The output depends on the original only through
// the seed's MAC, the length of each line and where the line breaks are:
// every line becomes corpus sentences cut to about its length, and every
// line break ("\n", "\r\n", "\r") stays where it was. Lines that are empty
// stay empty. It fits the column by cutting, by design.
type textT struct{ locale string }

func parseText(_ string, p *params, opt Options) (Transformer, error) {
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	return &textT{locale: l}, nil
}

func (*textT) Name() string { return "text" }

func (t *textT) Bind(tg Target) (Func, error) {
	if err := check("text", tg, spec{kinds: textKinds, nonASCII: t.locale == "ja"}); err != nil {
		return nil, err
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		return fakeText(m.Rand("text", seed, attempt), t.locale, in.Value), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}

// fakeText replaces each line of s by corpus text of its length.
func fakeText(r *Rand, locale, s string) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		line, brk := s, ""
		if i >= 0 {
			line = s[:i]
			brk = s[i : i+1]
			if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				brk = "\r\n"
			}
		}
		b.WriteString(fake.Text(r, locale, utf8.RuneCountInString(line)))
		b.WriteString(brk)
		s = s[len(line)+len(brk):]
	}
	return b.String()
}
