package transform

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// maxAttempts bounds the redraws made to get an output that differs from
// the original under the column's collation.
const maxAttempts = 50

var (
	errNotDifferent = errors.New("could not draw a value different from the original")
	// errUnchanged is returned by a generator when the value holds nothing
	// the transformer masks (regex without a match, json without any of
	// its paths, digits without a replaceable digit, special values like
	// "infinity"): the original is returned as is.
	errUnchanged = errors.New("unchanged")
)

type parseFunc func(name string, p *params, opt Options) (Transformer, error)

var registry map[string]parseFunc

func init() {
	registry = map[string]parseFunc{
		"keep":           parseKeep,
		"nullify":        parseNullify,
		"fixed":          parseFixed,
		"hash":           parseHash,
		"email":          parseEmail,
		"first_name":     parsePersonName,
		"last_name":      parsePersonName,
		"full_name":      parsePersonName,
		"phone":          parsePhone,
		"street_address": parseAddress,
		"city":           parseAddress,
		"region":         parseAddress,
		"prefecture":     parseAddress,
		"postal_code":    parseAddress,
		"date_shift":     parseDateShift,
		"noise":          parseNoise,
		"digits":         parseDigits,
		"regex":          parseRegex,
		"template":       parseTemplate,
		"json":           parseJSON,
		"ip":             parseIP,
		"text":           parseText,
		"address":        parseWholeAddress,
		"credit_card":    parseCard,
		"uuid":           parseUUID,
	}
}

// Names returns the transformer names Parse accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Parse validates a rule's transformer and its parameters (decoded YAML:
// string, int, float64, bool, []any, map[string]any). An unknown name is
// a plain error; a bad parameter is a *ParamError naming it.
func Parse(name string, params map[string]any, opt Options) (Transformer, error) {
	pf, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown transformer %q", name)
	}
	p := newParams(params)
	t, err := pf(name, p, opt)
	if err != nil {
		return nil, err
	}
	if err := p.done(); err != nil {
		return nil, err
	}
	return t, nil
}

// IsKeep reports whether t leaves the column as it is.
func IsKeep(t Transformer) bool {
	_, ok := t.(*keepT)
	return ok
}

// Nullifies reports whether t sets the column to NULL (its Func is never
// needed: the planner can write NULL directly).
func Nullifies(t Transformer) bool {
	_, ok := t.(*nullifyT)
	return ok
}

// gen draws one candidate output. seed is Input.Seed, or the value itself
// when the rule has no seed. attempt starts at 0 and grows on redraws.
type gen func(m *Masker, in Input, seed []byte, attempt int) (string, error)

type wrapOpts struct {
	// exempt skips the never-equal check (fixed, json at document level).
	exempt bool
	// strictLen makes an over-long output an error instead of truncating
	// it (json documents, which truncation would break).
	strictLen bool
}

// wrap turns a generator into a Func with the generic guarantees: the
// output fits the column, and differs from the input (compared folded, the
// same way on every column: see sameFolded), redrawing with attempt+1 on a
// hit. Without a seed the generator is keyed by the folded value
// (FoldKey), so values a case-insensitive pad-space collation treats as
// equal get one fake.
func wrap(col *schema.Column, g gen, o wrapOpts) Func {
	bin := col.Kind == schema.KindBinary
	return func(m *Masker, in Input) (string, bool, error) {
		// Blank stays blank, like NULL stays NULL: an empty or all-space
		// text holds no personal data, and a fake there would change the
		// data's shape (and collide under a unique index).
		if !o.exempt && col.Kind == schema.KindText && strings.TrimSpace(in.Value) == "" {
			return in.Value, false, nil
		}
		seed := in.Seed
		if seed == nil {
			seed = bytesOf(FoldKey(in.Value))
		}
		for attempt := in.Attempt; attempt < in.Attempt+maxAttempts; attempt++ {
			out, err := g(m, in, seed, attempt)
			if err == errUnchanged {
				return in.Value, false, nil
			}
			if err != nil {
				return "", false, err
			}
			out, err = fit(col, out, o.strictLen)
			if err != nil {
				return "", false, err
			}
			if o.exempt || !sameFolded(bin, out, in.Value) {
				return out, false, nil
			}
			if in.NoRedraw {
				return "", false, ErrSameAsOriginal
			}
		}
		return "", false, errNotDifferent
	}
}

// spec is what a transformer needs from its target.
type spec struct {
	kinds []schema.Kind
	// unique: the output is unique by construction (may go on a unique
	// column).
	unique bool
	// nonASCII: the output may hold characters outside ASCII.
	nonASCII bool
	// minLen: shortest column (characters) the output fits without losing
	// what makes it valid or unique. 0: anything.
	minLen int
	// maxLen: the longest output (characters), documented per
	// transformer. Unless the target is Loose, a shorter column is refused:
	// cutting would make this column's fake differ from other columns'.
	// 0: no fixed maximum (the output's length follows the original's).
	maxLen int
}

// check refuses targets the transformer cannot produce values for.
func check(name string, t Target, s spec) error {
	c := t.Column
	if c == nil {
		return errors.New(name + ": no column")
	}
	if c.Generated {
		return errors.New(name + ": generated column cannot be written")
	}
	ok := false
	for _, k := range s.kinds {
		if k == c.Kind {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("%s cannot produce %s values", name, c.Kind)
	}
	if t.Unique && !s.unique {
		return fmt.Errorf("%s output is not unique; on a unique column use hash (length >= 16), email, or template with {hash:N} (N >= 12)", name)
	}
	if s.nonASCII && asciiOnly(c.Charset) {
		return fmt.Errorf("%s output is not ascii but the column character set is %s", name, c.Charset)
	}
	if s.minLen > 0 && c.MaxLength > 0 && c.MaxLength < s.minLen {
		return fmt.Errorf("column is too short for %s output (needs %d characters)", name, s.minLen)
	}
	if !t.Loose && s.maxLen > 0 && c.MaxLength > 0 && c.MaxLength < s.maxLen && c.Kind == schema.KindText {
		return fmt.Errorf("column is too short for the consistent %s output (needs %d characters; or give the rule consistent: false to cut it to this column)", name, s.maxLen)
	}
	return nil
}

var textKinds = []schema.Kind{schema.KindText}

// --- keep ---

type keepT struct{ reason string }

func parseKeep(_ string, p *params, _ Options) (Transformer, error) {
	r, err := p.str("reason", "", false)
	if err != nil {
		return nil, err
	}
	return &keepT{reason: r}, nil
}

func (*keepT) Name() string { return "keep" }

// Bind accepts any column. The planner never calls the Func (the column is
// not written); it returns the input unchanged.
func (*keepT) Bind(t Target) (Func, error) {
	if t.Column == nil {
		return nil, errors.New("keep: no column")
	}
	return func(_ *Masker, in Input) (string, bool, error) { return in.Value, false, nil }, nil
}

// --- nullify ---

type nullifyT struct{}

func parseNullify(_ string, _ *params, _ Options) (Transformer, error) { return &nullifyT{}, nil }

func (*nullifyT) Name() string { return "nullify" }

func (*nullifyT) Bind(t Target) (Func, error) {
	c := t.Column
	if c == nil {
		return nil, errors.New("nullify: no column")
	}
	if c.Generated {
		return nil, errors.New("nullify: generated column cannot be written")
	}
	if !c.Nullable {
		return nil, errors.New("nullify: column is not null")
	}
	return func(*Masker, Input) (string, bool, error) { return "", true, nil }, nil
}
