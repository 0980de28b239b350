package transform

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restage/restage/internal/schema"
)

// --- fixed ---

type fixedT struct {
	s string // text form
	b *bool  // set when the YAML value was a bool
}

func parseFixed(_ string, p *params, _ Options) (Transformer, error) {
	v, ok := p.get("value")
	if !ok {
		return nil, perr("value", "is required")
	}
	t := &fixedT{}
	switch x := v.(type) {
	case string:
		t.s = x
	case int:
		t.s = strconv.Itoa(x)
	case int64:
		t.s = strconv.FormatInt(x, 10)
	case uint64:
		t.s = strconv.FormatUint(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, perr("value", "must be a finite number")
		}
		t.s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		t.b = &x
		t.s = strconv.FormatBool(x)
	default:
		return nil, perr("value", "must be a string, number or boolean")
	}
	return t, nil
}

func (*fixedT) Name() string { return "fixed" }

var allKinds = []schema.Kind{
	schema.KindOther, schema.KindText, schema.KindInt, schema.KindDecimal,
	schema.KindFloat, schema.KindBool, schema.KindDate, schema.KindDateTime,
	schema.KindTime, schema.KindJSON, schema.KindBinary,
}

func (t *fixedT) Bind(tg Target) (Func, error) {
	if err := check("fixed", tg, spec{kinds: allKinds}); err != nil {
		return nil, err
	}
	c := tg.Column
	s := t.s
	if t.b != nil && c.Kind == schema.KindInt {
		s = "0"
		if *t.b {
			s = "1"
		}
	}
	if err := validFor(c, s); err != nil {
		return nil, errors.New("fixed: " + err.Error())
	}
	return func(*Masker, Input) (string, bool, error) { return s, false, nil }, nil
}

// validFor checks that a constant can be stored in the column as is.
func validFor(c *schema.Column, s string) error {
	switch c.Kind {
	case schema.KindText, schema.KindOther:
		if c.MaxLength > 0 && utf8.RuneCountInString(s) > c.MaxLength {
			return errors.New("value is longer than the column")
		}
		if fitCharset(c.Charset, s) != s {
			return errors.New("value does not fit the column character set")
		}
	case schema.KindBinary:
		if c.MaxLength > 0 && len(s) > c.MaxLength {
			return errors.New("value is longer than the column")
		}
	case schema.KindInt:
		if out, err := fitInt(c, s); err != nil || out != s {
			return errors.New("value is not an integer in the column's range")
		}
	case schema.KindDecimal:
		if out, err := fitDecimal(c, s); err != nil || out != s {
			return errors.New("value is not a decimal number that fits the column")
		}
	case schema.KindFloat:
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return errors.New("value is not a number")
		}
	case schema.KindBool:
		switch strings.ToLower(s) {
		case "true", "false", "t", "f", "1", "0", "yes", "no", "on", "off", "y", "n":
		default:
			return errors.New("value is not a boolean")
		}
	case schema.KindDate:
		if _, err := time.Parse("2006-01-02", s); err != nil {
			return errors.New("value is not a date (YYYY-MM-DD)")
		}
	case schema.KindDateTime:
		if _, err := splitDate(s); err != nil {
			return errors.New("value is not a timestamp (YYYY-MM-DD HH:MM:SS)")
		}
	case schema.KindTime:
		if !validTime(s) {
			return errors.New("value is not a time (HH:MM:SS)")
		}
	case schema.KindJSON:
		if !json.Valid([]byte(s)) {
			return errors.New("value is not valid json")
		}
	}
	return nil
}

func validTime(s string) bool {
	h, rest, ok := strings.Cut(s, ":")
	if !ok || h == "" || !allDigits(strings.TrimPrefix(h, "-")) {
		return false
	}
	if len(rest) < 5 || rest[2] != ':' || !allDigits(rest[:2]) || !allDigits(rest[3:5]) {
		return false
	}
	frac := rest[5:]
	return frac == "" || (frac[0] == '.' && allDigits(frac[1:]))
}

// --- hash ---

type hashT struct{ length int }

func parseHash(_ string, p *params, _ Options) (Transformer, error) {
	n, err := p.integer("length", 0, false)
	if err != nil {
		return nil, err
	}
	if p.has("length") && (n < 1 || n > 64) {
		return nil, perr("length", "must be between 1 and 64")
	}
	return &hashT{length: n}, nil
}

func (*hashT) Name() string { return "hash" }

// minUniqueHash is the shortest hash (hex digits, 64 bits) allowed on a
// unique column.
const minUniqueHash = 16

func (t *hashT) Bind(tg Target) (Func, error) {
	if err := check("hash", tg, spec{kinds: []schema.Kind{schema.KindText, schema.KindBinary}, unique: true}); err != nil {
		return nil, err
	}
	c := tg.Column
	n := t.length
	if n == 0 {
		n = 32
		// A shorter hash is another hash: only consistent: false fits the
		// default to the column.
		if tg.Loose && c.MaxLength > 0 && c.MaxLength < n {
			n = c.MaxLength
		}
	}
	if tg.Unique && n < minUniqueHash {
		return nil, errors.New("hash: a unique column needs length >= 16 (the column may be too short)")
	}
	if c.MaxLength > 0 && n > c.MaxLength {
		if t.length == 0 {
			return nil, fmt.Errorf("hash: column is too short for the consistent hash output (needs %d characters; set length (16 or more on a unique column), or give the rule consistent: false)", n)
		}
		return nil, errors.New("hash: length is longer than the column")
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		sum := m.macOf("hash", m.uniqSeed(in), attempt)
		var buf [64]byte
		hex.Encode(buf[:], sum)
		return string(buf[:n]), nil
	}
	return wrap(c, g, wrapOpts{}), nil
}

// uniqSeed is what unique parts of an output (hash, email tag, {hash:N})
// are keyed by: the original value, plus the seed when the rule has one.
// Distinct originals thus get distinct tags even when rows share a seed.
// The result lives in the Masker until the next call.
func (m *Masker) uniqSeed(in Input) []byte {
	if in.Seed == nil {
		return bytesOf(in.Value)
	}
	b := m.scratch[:0]
	b = append(b, 2)
	b = appendUvarint(b, uint64(len(in.Seed)))
	b = append(b, in.Seed...)
	b = append(b, in.Value...)
	m.scratch = b
	return b
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
