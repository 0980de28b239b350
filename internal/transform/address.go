package transform

import (
	"github.com/restage/restage/internal/transform/fake"
)

// --- address ---

// wholeAddressT writes a whole address in one column. Its region is drawn
// from the stream region (prefecture) and postal_code draw theirs from, so
// columns seeded alike name the same prefecture (or state).
type wholeAddressT struct {
	locale string
	full   bool // ja: full-width digits and hyphens
}

func parseWholeAddress(_ string, p *params, opt Options) (Transformer, error) {
	l, err := p.locale(opt)
	if err != nil {
		return nil, err
	}
	w, err := p.str("width", "half", false)
	if err != nil {
		return nil, err
	}
	if err := oneOf("width", w, "half", "full"); err != nil {
		return nil, err
	}
	if w == "full" && l != "ja" {
		return nil, perr("width", "full needs locale ja")
	}
	return &wholeAddressT{locale: l, full: w == "full"}, nil
}

func (*wholeAddressT) Name() string { return "address" }

func (t *wholeAddressT) Bind(tg Target) (Func, error) {
	if err := check("address", tg, spec{kinds: textKinds, nonASCII: t.locale == "ja", maxLen: fake.LimitsOf(t.locale).Address}); err != nil {
		return nil, err
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		region := draw(m, "region", seed, attempt, func(r *Rand) int { return fake.RegionIndex(r, t.locale) })
		return draw(m, "address", seed, attempt, func(r *Rand) string { return fake.AddressIn(r, t.locale, region, t.full) }), nil
	}
	return wrap(tg.Column, g, wrapOpts{}), nil
}
