package transform

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/schema"
)

// --- ip ---

// ipT masks IP addresses into ranges that can never be a real host's:
// IPv4 into 240.0.0.0/4 (reserved "for future use" by RFC 1112, never
// routed) without 255.255.255.255, IPv6 into 2001:db8::/32 (documentation,
// RFC 3849). It is not unique-capable: 28 random bits for IPv4 are too few
// to promise distinct outputs for distinct inputs.
type ipT struct{}

func parseIP(_ string, _ *params, _ Options) (Transformer, error) { return &ipT{}, nil }

func (*ipT) Name() string { return "ip" }

// ipDataType reports a column type that stores addresses natively:
// PostgreSQL inet and cidr, MariaDB INET4 and INET6.
func ipDataType(c *schema.Column) string {
	dt := strings.ToLower(c.DataType)
	switch dt {
	case "inet", "cidr", "inet4", "inet6":
		return dt
	}
	return ""
}

func (t *ipT) Bind(tg Target) (Func, error) {
	c := tg.Column
	kinds := textKinds
	if c != nil && ipDataType(c) != "" {
		kinds = []schema.Kind{c.Kind}
	}
	if err := check("ip", tg, spec{kinds: kinds, minLen: len("240.0.0.1")}); err != nil {
		return nil, err
	}
	cidr := ipDataType(c) == "cidr"
	maxLen := 0
	if c.Kind == schema.KindText {
		maxLen = c.MaxLength
	}
	g := func(m *Masker, in Input, seed []byte, attempt int) (string, error) {
		a, err := parseIPText(in.Value)
		if err != nil {
			return "", err
		}
		if cidr {
			a.network = true
		}
		r := m.Rand("ip", seed, attempt)
		// A fake cut to a narrow column would not be an address: draw
		// again from the same stream until one fits (an IPv4 with short
		// octets, an IPv6 with short groups).
		for try := 0; try < 64; try++ {
			out := a.fake(r)
			if maxLen == 0 || len(out) <= maxLen {
				return out, nil
			}
		}
		return "", errors.New("ip: the column is too short for a fake address of the original's form")
	}
	return wrap(c, g, wrapOpts{}), nil
}

// ipText is a parsed address and what its notation looked like.
type ipText struct {
	addr    netip.Addr
	bits    int    // prefix length, -1 when absent
	zone    string // IPv6 zone ("%eth0"), kept as is
	upper   bool   // IPv6 hex digits in upper case
	full    bool   // IPv6 written without "::"
	padded  bool   // IPv6 groups written with leading zeros (0db8)
	network bool   // host bits are zero (a network, not a host)
}

// parseIPText parses "addr" or "addr/bits". A value that is not an
// address (a text column holding something else) is errUnchanged: there is
// nothing the transformer knows how to mask.
func parseIPText(s string) (ipText, error) {
	v := ipText{bits: -1}
	addrPart, bitsPart, hasBits := strings.Cut(s, "/")
	if i := strings.IndexByte(addrPart, '%'); i >= 0 {
		v.zone = addrPart[i:]
		addrPart = addrPart[:i]
	}
	a, err := netip.ParseAddr(addrPart)
	if err != nil {
		return v, errUnchanged
	}
	v.addr = a
	if hasBits {
		n, err := strconv.Atoi(bitsPart)
		if err != nil || n < 0 || n > a.BitLen() {
			return v, errUnchanged
		}
		v.bits = n
		p, _ := a.Prefix(n)
		v.network = p.Addr() == a
		// A network this wide (16M addresses and more) identifies no one;
		// and it could not be moved into the reserved ranges anyway.
		if v.network && (a.Is4() && n <= 8 || a.Is6() && n <= 32) {
			return v, errUnchanged
		}
	}
	if a.Is6() && !a.Is4In6() {
		v.upper = strings.ContainsAny(addrPart, "ABCDEF")
		v.full = !strings.Contains(addrPart, "::")
		for _, g := range strings.Split(addrPart, ":") {
			if len(g) > 1 && g[0] == '0' {
				v.padded = true // "0db8", "0000"
			}
		}
	}
	return v, nil
}

// fake draws an address of the same family and notation.
func (v ipText) fake(r *Rand) string {
	var out netip.Addr
	switch {
	case v.addr.Is4() || v.addr.Is4In6():
		var b [4]byte
		for {
			u := r.Uint64()
			b = [4]byte{0xf0 | byte(u>>24)&0x0f, byte(u >> 16), byte(u >> 8), byte(u)}
			if b != [4]byte{255, 255, 255, 255} {
				break
			}
		}
		out = netip.AddrFrom4(b)
		if v.addr.Is4In6() {
			out = netip.AddrFrom16(out.As16())
		}
	default:
		orig := v.addr.As16()
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		u1, u2 := r.Uint64(), r.Uint64()
		for i := 4; i < 16; i++ {
			if i < 10 {
				b[i] = byte(u1 >> (8 * (i - 4)))
			} else {
				b[i] = byte(u2 >> (8 * (i - 10)))
			}
		}
		// Groups that were zero stay zero, so "fe80::1" keeps its "::"
		// and a fully written address stays fully written; inside a
		// network's prefix they are drawn, or every /48 would look alike.
		for g := 2; g < 8; g++ {
			inPrefix := v.network && g*16 < v.bits
			if orig[2*g] == 0 && orig[2*g+1] == 0 && !inPrefix {
				b[2*g], b[2*g+1] = 0, 0
			} else if b[2*g] == 0 && b[2*g+1] == 0 {
				b[2*g+1] = 1
			}
		}
		out = netip.AddrFrom16(b)
	}
	if v.network && v.bits >= 0 {
		p, _ := out.Prefix(v.bits)
		out = p.Addr()
	}
	s := v.format(out)
	if v.zone != "" {
		s += v.zone
	}
	if v.bits >= 0 {
		s += "/" + strconv.Itoa(v.bits)
	}
	return s
}

func (v ipText) format(a netip.Addr) string {
	if a.Is4() || a.Is4In6() {
		return a.String()
	}
	var s string
	switch {
	case v.full && v.padded:
		s = a.StringExpanded()
	case v.full:
		b := a.As16()
		var sb strings.Builder
		for g := 0; g < 8; g++ {
			if g > 0 {
				sb.WriteByte(':')
			}
			sb.WriteString(strconv.FormatUint(uint64(b[2*g])<<8|uint64(b[2*g+1]), 16))
		}
		s = sb.String()
	default:
		s = a.String()
	}
	if v.upper {
		s = strings.ToUpper(s)
	}
	return s
}
