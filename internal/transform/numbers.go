package transform

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/schema"
)

var errNotNumber = errors.New("value is not a number")

// --- noise ---

type noiseT struct {
	percent float64
	p       *big.Rat // percent / 100, exactly
}

func parseNoise(_ string, p *params, _ Options) (Transformer, error) {
	v, _, err := p.float("percent", true)
	if err != nil {
		return nil, err
	}
	if v <= 0 || v > 100 {
		return nil, perr("percent", "must be > 0 and <= 100")
	}
	r := new(big.Rat).SetFloat64(v)
	r.Quo(r, big.NewRat(100, 1))
	return &noiseT{percent: v, p: r}, nil
}

func (*noiseT) Name() string { return "noise" }

// noiseSteps is the resolution of the uniform draw u in [-p, p].
const noiseSteps = 1 << 30

func (t *noiseT) Bind(tg Target) (Func, error) {
	if err := check("noise", tg, spec{kinds: []schema.Kind{schema.KindInt, schema.KindDecimal, schema.KindFloat}}); err != nil {
		return nil, err
	}
	c := tg.Column
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		v := in.Value
		switch v {
		case "NaN", "Infinity", "-Infinity", "inf", "-inf", "nan":
			return "", errUnchanged // PostgreSQL numeric/float specials
		}
		r := m.Rand("noise", seed, attempt)
		if c.Kind == schema.KindFloat {
			if strings.ContainsAny(v, "eEnN") { // exponent, NaN, Infinity
				return noiseFloat(r, t.percent, v)
			}
		}
		neg, ip, fp, ok := splitDecimal(v)
		if !ok || (c.Kind == schema.KindInt && fp != "") {
			return "", errors.New("noise: " + errNotNumber.Error())
		}
		mant, _ := new(big.Int).SetString(ip+fp, 10)
		if neg {
			mant.Neg(mant)
		}
		k := int64(r.IntN(2*noiseSteps+1)) - noiseSteps
		// delta = round(mant * k/steps * p)
		num := new(big.Int).Mul(mant, big.NewInt(k))
		num.Mul(num, t.p.Num())
		den := new(big.Int).Mul(big.NewInt(noiseSteps), t.p.Denom())
		delta := roundQuo(num, den)
		out := new(big.Int).Add(mant, delta)
		up := k > 0 || (k == 0 && r.Uint64()&1 == 0)
		if out.Cmp(mant) == 0 {
			out.Add(out, unit(up))
		}
		lo, hi := numRange(c, len(fp))
		if lo != nil && out.Cmp(lo) < 0 {
			out.Set(lo)
		}
		if hi != nil && out.Cmp(hi) > 0 {
			out.Set(hi)
		}
		if out.Cmp(mant) == 0 { // the input sits at the bound: step inwards
			if hi != nil && mant.Cmp(hi) >= 0 {
				out.Sub(mant, big.NewInt(1))
			} else {
				out.Add(mant, big.NewInt(1))
			}
		}
		return formatScaled(out, len(fp)), nil
	}
	return wrap(c, g, wrapOpts{}), nil
}

func unit(up bool) *big.Int {
	if up {
		return big.NewInt(1)
	}
	return big.NewInt(-1)
}

// roundQuo returns num/den rounded half away from zero (den > 0).
func roundQuo(num, den *big.Int) *big.Int {
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	rem.Abs(rem)
	rem.Lsh(rem, 1)
	if rem.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// numRange returns the column's bounds as scaled integers (scale fraction
// digits); nil means unbounded.
func numRange(c *schema.Column, scale int) (lo, hi *big.Int) {
	switch c.Kind {
	case schema.KindInt:
		l, h := intRange(c)
		return big.NewInt(l), new(big.Int).SetUint64(h)
	case schema.KindDecimal:
		if c.Precision > 0 {
			digits := c.Precision - c.Scale + scale
			hi = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
			hi.Sub(hi, big.NewInt(1))
			lo = new(big.Int).Neg(hi)
		}
		if c.Unsigned {
			lo = big.NewInt(0)
		}
	}
	return lo, hi
}

// formatScaled prints a scaled integer with scale fraction digits.
func formatScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	s := new(big.Int).Abs(v).String()
	if scale == 0 {
		if neg {
			return "-" + s
		}
		return s
	}
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	return joinDecimal(neg, s[:len(s)-scale], s[len(s)-scale:])
}

// noiseFloat handles floats printed with an exponent. Non-finite values are
// returned unchanged.
func noiseFloat(r *Rand, percent float64, v string) (string, error) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return "", errUnchanged
		}
		return "", errors.New("noise: " + errNotNumber.Error())
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return "", errUnchanged
	}
	mant, _, _ := strings.Cut(strings.ToLower(v), "e")
	sig := 0
	for i := 0; i < len(mant); i++ {
		if mant[i] >= '0' && mant[i] <= '9' {
			sig++
		}
	}
	if sig < 1 {
		sig = 1
	}
	k := float64(r.IntN(2*noiseSteps+1) - noiseSteps)
	u := float64(float64(k/noiseSteps) * float64(percent/100))
	out := float64(x * float64(1+u))
	s := strconv.FormatFloat(out, 'g', sig, 64)
	if orig := strconv.FormatFloat(x, 'g', sig, 64); s == orig {
		step := float64(x * math.Pow(10, float64(1-sig)))
		if k < 0 {
			step = -step
		}
		s = strconv.FormatFloat(float64(x+step), 'g', sig, 64)
	}
	return s, nil
}

// --- digits ---

type digitsT struct{ keepPrefix int }

func parseDigits(_ string, p *params, _ Options) (Transformer, error) {
	n, err := p.integer("keep_prefix", 0, false)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, perr("keep_prefix", "must be >= 0")
	}
	return &digitsT{keepPrefix: n}, nil
}

func (*digitsT) Name() string { return "digits" }

func (t *digitsT) Bind(tg Target) (Func, error) {
	if err := check("digits", tg, spec{kinds: []schema.Kind{schema.KindText, schema.KindInt}}); err != nil {
		return nil, err
	}
	c := tg.Column
	isInt := c.Kind == schema.KindInt
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		v := in.Value
		if isInt && !validInt(v) {
			return "", errors.New("digits: value is not an integer")
		}
		r := m.Rand("digits", seed, attempt)
		var out string
		for try := 0; try < 20; try++ {
			b, n := scrambleDigits(r, v, t.keepPrefix, isInt)
			if n == 0 {
				return "", errUnchanged
			}
			out = string(b)
			if !isInt {
				return out, nil
			}
			if f, err := fitInt(c, out); err == nil && f == out {
				return out, nil
			}
		}
		return out, nil // fit clamps it
	}
	return wrap(c, g, wrapOpts{}), nil
}

func validInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	return s != "" && allDigits(s)
}

// scrambleDigits replaces every ASCII digit after the first keep digits
// with a random one; for integers the leading digit of a multi-digit
// number is never zero. It returns how many digits were replaced.
func scrambleDigits(r *Rand, v string, keep int, isInt bool) ([]byte, int) {
	b := []byte(v)
	seen, n := 0, 0
	for i, ch := range b {
		if ch < '0' || ch > '9' {
			continue
		}
		seen++
		if seen <= keep {
			continue
		}
		lead := isInt && seen == 1 && i+1 < len(b)
		if lead {
			b[i] = byte('1' + r.IntN(9))
		} else {
			b[i] = byte('0' + r.IntN(10))
		}
		n++
	}
	return b, n
}
