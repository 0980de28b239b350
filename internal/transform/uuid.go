package transform

import (
	"encoding/hex"
	"errors"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// --- uuid ---

// uuidT replaces a UUID by a keyed one with the same version nibble and
// variant bits. It is unique-capable: the other 122 bits (RFC 9562
// variant) come from the MAC of the original, like hash's 64 bits.
type uuidT struct{}

func parseUUID(_ string, _ *params, _ Options) (Transformer, error) { return &uuidT{}, nil }

func (*uuidT) Name() string { return "uuid" }

func (t *uuidT) Bind(tg Target) (Func, error) {
	c := tg.Column
	kinds := []schema.Kind{schema.KindText, schema.KindBinary}
	if c != nil && strings.EqualFold(c.DataType, "uuid") {
		kinds = []schema.Kind{c.Kind}
	}
	if err := check("uuid", tg, spec{kinds: kinds, unique: true}); err != nil {
		return nil, err
	}
	if c.Kind == schema.KindBinary && c.MaxLength > 0 && c.MaxLength < 16 {
		return nil, errors.New("uuid: binary column is shorter than 16 bytes")
	}
	if c.Kind == schema.KindText && c.MaxLength > 0 && c.MaxLength < 32 {
		return nil, errors.New("column is too short for uuid output (needs 32 characters)")
	}
	binary := c.Kind == schema.KindBinary
	g := func(m *Masker, in Input, _ []byte, attempt int) (string, error) {
		var u [16]byte
		var form uuidForm
		pgHex := false
		if binary {
			// MySQL hands binary strings over as bytes; PostgreSQL reads
			// bytea as text in its hex output format ("\x0123…").
			switch {
			case len(in.Value) == 16:
				copy(u[:], in.Value)
			case len(in.Value) == 34 && in.Value[:2] == "\\x":
				if _, err := hex.Decode(u[:], []byte(in.Value[2:])); err != nil {
					return "", errors.New("uuid: binary value is not 16 bytes")
				}
				pgHex = true
			default:
				return "", errors.New("uuid: binary value is not 16 bytes")
			}
		} else {
			var ok bool
			if u, form, ok = parseUUIDText(in.Value); !ok {
				return "", errUnchanged
			}
		}
		// The nil and max UUIDs are markers, not identifiers.
		if u == [16]byte{} || u == [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
			return "", errUnchanged
		}
		sum := m.macOf("uuid", m.uniqSeed(in), attempt)
		var out [16]byte
		copy(out[:], sum[:16])
		out[6] = u[6]&0xf0 | out[6]&0x0f
		// Keep the variant: its 1 to 3 leading bits, the others random.
		switch {
		case u[8]&0x80 == 0:
			out[8] = out[8] & 0x7f
		case u[8]&0xc0 == 0x80:
			out[8] = 0x80 | out[8]&0x3f
		default:
			out[8] = u[8]&0xe0 | out[8]&0x1f
		}
		if pgHex {
			return "\\x" + hex.EncodeToString(out[:]), nil
		}
		if binary {
			return string(out[:]), nil
		}
		return form.format(out), nil
	}
	return wrap(c, g, wrapOpts{}), nil
}

// uuidForm is how a UUID was written.
type uuidForm struct {
	prefix, suffix string // "{" "}" or "urn:uuid:" ""
	hyphens        bool
	upper          bool
}

// parseUUIDText reads the hyphenated, bare 32-digit, braced and URN forms.
func parseUUIDText(s string) (u [16]byte, f uuidForm, ok bool) {
	switch {
	case len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}':
		f.prefix, f.suffix = "{", "}"
	case len(s) > 9 && strings.EqualFold(s[:9], "urn:uuid:"):
		f.prefix = s[:9]
	}
	h := s[len(f.prefix) : len(s)-len(f.suffix)]
	switch len(h) {
	case 36:
		if h[8] != '-' || h[13] != '-' || h[18] != '-' || h[23] != '-' {
			return u, f, false
		}
		f.hyphens = true
		h = h[:8] + h[9:13] + h[14:18] + h[19:23] + h[24:]
	case 32:
	default:
		return u, f, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, f, false
	}
	f.upper = strings.ContainsAny(h, "ABCDEF")
	return u, f, true
}

func (f uuidForm) format(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[:32], u[:])
	h := string(buf[:32])
	if f.hyphens {
		h = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	if f.upper {
		h = strings.ToUpper(h)
	}
	return f.prefix + h + f.suffix
}
