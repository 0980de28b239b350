package transform

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform/fake"
)

func otherCol(dataType string) *schema.Column {
	return &schema.Column{Name: "c", Kind: schema.KindOther, DataType: dataType, Nullable: true}
}

// moreCases are the transformers of issue 12 and shape: keep.
func moreCases() []tcase {
	return []tcase{
		{"ip", nil, textCol(45), []string{"192.168.1.5", "2001:4860:4860::8888", "10.0.0.0/24", "::ffff:10.1.2.3"}},
		{"ip", nil, otherCol("inet"), []string{"192.168.1.5/24", "fe80::1/64"}},
		{"ip", nil, otherCol("cidr"), []string{"192.168.1.0/24", "2001:4860::/48"}},
		{"ip", nil, otherCol("inet6"), []string{"::ffff:192.168.1.5", "2a00:1450:4001:82a::200e"}},
		{"text", nil, textCol(500), []string{"Please call me at 090-1234-5678.\nThanks, Aiko", "short"}},
		{"text", map[string]any{"locale": "ja"}, textCol(500), []string{"山田花子様へ\r\nお誕生日おめでとう", "不在時は090-1234-5678に連絡"}},
		{"address", map[string]any{"locale": "ja"}, textCol(100), []string{"千葉県船橋市南町9丁目27番8号", "東京都新宿区西新宿2-8-1"}},
		{"address", map[string]any{"locale": "ja", "width": "full"}, textCol(100), []string{"大阪府大阪市北区１－２－３"}},
		{"address", nil, textCol(100), []string{"1600 Pennsylvania Avenue NW, Washington, DC 20500"}},
		{"credit_card", nil, textCol(25), []string{"4111 1111 1111 1111", "3782-822463-10005", "5555555555554444"}},
		{"credit_card", map[string]any{"keep_last": 4}, textCol(25), []string{"4012 8888 8888 1881", "3530111333300000"}},
		{"credit_card", nil, &schema.Column{Kind: schema.KindInt, IntBits: 64}, []string{"4012888888881881"}},
		{"uuid", nil, textCol(45), []string{"f47ac10b-58cc-4372-a567-0e02b2c3d479", "{F47AC10B-58CC-4372-A567-0E02B2C3D479}", "0190b9a6c1d27c4e9f1a2b3c4d5e6f70"}},
		{"uuid", nil, otherCol("uuid"), []string{"f47ac10b-58cc-4372-a567-0e02b2c3d479"}},
		{"uuid", nil, &schema.Column{Kind: schema.KindBinary, MaxLength: 16}, []string{"\xf4\x7a\xc1\x0b\x58\xcc\x43\x72\xa5\x67\x0e\x02\xb2\xc3\xd4\x79"}},
		{"postal_code", map[string]any{"shape": "keep"}, textCol(10), []string{"T2P 5M5", "01310-100", "SW1A 1AA"}},
		{"phone", map[string]any{"shape": "keep"}, textCol(25), []string{"+1 (403) 555-1234", "+55 11 91234-5678", "020 7946 0958"}},
		{"region", map[string]any{"shape": "keep"}, textCol(25), []string{"SP", "AB", "QC"}},
	}
}

func TestMoreDeterministicKeyedDifferent(t *testing.T) {
	m1, m1b, m2 := NewMasker(testKey(t, 1)), NewMasker(testKey(t, 1)), NewMasker(testKey(t, 2))
	for _, c := range moreCases() {
		t.Run(fmt.Sprintf("%s/%v/%s", c.name, c.params, c.col.DataType), func(t *testing.T) {
			f := mustBind(t, mustParse(t, c.name, c.params), c.col, false)
			for _, v := range c.inputs {
				a := mustRun(t, f, m1, Input{Value: v})
				if b := mustRun(t, f, m1b, Input{Value: v}); a != b {
					t.Errorf("not deterministic for %q: %q vs %q", v, a, b)
				}
				if a == v {
					t.Errorf("output equals input %q", v)
				}
				if other := mustRun(t, f, m2, Input{Value: v}); other == a {
					t.Errorf("%q: another key gives the same output %q", v, a)
				}
			}
		})
	}
}

func TestIP(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	v4, v6 := netip.MustParsePrefix("240.0.0.0/4"), netip.MustParsePrefix("2001:db8::/32")
	text := mustBind(t, mustParse(t, "ip", nil), textCol(60), false)
	for _, tc := range []struct {
		in   string
		want *regexp.Regexp
	}{
		{"192.168.1.5", regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)},
		{"10.20.30.0/24", regexp.MustCompile(`^\d+\.\d+\.\d+\.0/24$`)}, // a network stays a network
		{"10.20.30.7/24", regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+/24$`)},
		{"2001:4860:4860::8888", regexp.MustCompile(`^2001:db8:[0-9a-f]{1,4}::[0-9a-f]{1,4}$`)},
		{"2A00:1450:4001:082A:0000:0000:0000:200E", regexp.MustCompile(`^2001:0DB8:[0-9A-F]{4}:[0-9A-F]{4}:0000:0000:0000:[0-9A-F]{4}$`)},
		{"2a00:1450:4001:82a:1:2:3:4", regexp.MustCompile(`^2001:db8(:[0-9a-f]{1,4}){6}$`)},
		{"2a00:1450:0:82a:1:2:3:4", regexp.MustCompile(`^2001:db8:0(:[0-9a-f]{1,4}){5}$`)}, // a zero group, unpadded
		{"fe80::1%eth0", regexp.MustCompile(`^2001:db8::[0-9a-f]{1,4}%eth0$`)},
		{"::ffff:10.1.2.3", regexp.MustCompile(`^::ffff:\d+\.\d+\.\d+\.\d+$`)},
	} {
		got := mustRun(t, text, m, Input{Value: tc.in})
		if !tc.want.MatchString(got) {
			t.Errorf("ip(%q) = %q, want it to match %s", tc.in, got, tc.want)
			continue
		}
		addr, _, _ := strings.Cut(got, "/")
		addr, _, _ = strings.Cut(addr, "%")
		a, err := netip.ParseAddr(addr)
		if err != nil {
			t.Errorf("ip(%q) = %q: not an address: %v", tc.in, got, err)
			continue
		}
		a = a.Unmap()
		if !v4.Contains(a) && !v6.Contains(a) {
			t.Errorf("ip(%q) = %q: outside 240.0.0.0/4 and 2001:db8::/32", tc.in, got)
		}
	}
	// cidr: host bits stay zero whatever the input notation, the prefix
	// length is kept.
	cidr := mustBind(t, mustParse(t, "ip", nil), otherCol("cidr"), false)
	for i := 0; i < 200; i++ {
		in := fmt.Sprintf("10.%d.%d.0/23", i, i%7*2)
		got := mustRun(t, cidr, m, Input{Value: in})
		p, err := netip.ParsePrefix(got)
		if err != nil || p.Bits() != 23 || p.Masked() != p {
			t.Fatalf("cidr %q -> %q: not a /23 network (%v)", in, got, err)
		}
	}
	// Nothing to mask: kept as is.
	for _, in := range []string{"unknown", "0.0.0.0/0", "10.0.0.0/8", "::/0"} {
		if got := mustRun(t, text, m, Input{Value: in}); got != in {
			t.Errorf("ip(%q) = %q, want it unchanged", in, got)
		}
	}
	// 255.255.255.255 is never drawn; outputs spread over the range.
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		got := mustRun(t, text, m, Input{Value: fmt.Sprintf("172.16.%d.%d", i/256, i%256)})
		if got == "255.255.255.255" {
			t.Fatal("broadcast address drawn")
		}
		seen[got] = true
	}
	if len(seen) < 4990 {
		t.Errorf("5000 addresses gave %d distinct outputs", len(seen))
	}
	if _, err := mustParse(t, "ip", nil).Bind(Target{Column: textCol(45), Unique: true}); err == nil {
		t.Error("ip bound to a unique column: it is not unique-capable")
	}
	if _, err := mustParse(t, "ip", nil).Bind(Target{Column: col(schema.KindInt)}); err == nil {
		t.Error("ip bound to an integer column")
	}
}

func TestUUID(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBind(t, mustParse(t, "uuid", nil), textCol(45), true)
	for _, tc := range []struct{ in, pattern string }{
		{"f47ac10b-58cc-4372-a567-0e02b2c3d479", `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		{"{F47AC10B-58CC-1372-A567-0E02B2C3D479}", `^\{[0-9A-F]{8}-[0-9A-F]{4}-1[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$`},
		{"0190b9a6c1d27c4e9f1a2b3c4d5e6f70", `^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$`},
		{"urn:uuid:f47ac10b-58cc-3372-c567-0e02b2c3d479", `^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[cd][0-9a-f]{3}-[0-9a-f]{12}$`},
	} {
		if got := mustRun(t, f, m, Input{Value: tc.in}); !regexp.MustCompile(tc.pattern).MatchString(got) {
			t.Errorf("uuid(%q) = %q, want %s", tc.in, got, tc.pattern)
		}
	}
	for _, in := range []string{"00000000-0000-0000-0000-000000000000", "not a uuid"} {
		if got := mustRun(t, f, m, Input{Value: in}); got != in {
			t.Errorf("uuid(%q) = %q, want it unchanged", in, got)
		}
	}
	bin := mustBind(t, mustParse(t, "uuid", nil), &schema.Column{Kind: schema.KindBinary, MaxLength: 16}, true)
	in := "\xf4\x7a\xc1\x0b\x58\xcc\x43\x72\xa5\x67\x0e\x02\xb2\xc3\xd4\x79"
	got := mustRun(t, bin, m, Input{Value: in})
	if len(got) != 16 || got[6]>>4 != 4 || got[8]&0xc0 != 0x80 || got == in {
		t.Errorf("binary uuid = %x", got)
	}
	// PostgreSQL reads bytea in its hex text form.
	bytea := mustBind(t, mustParse(t, "uuid", nil), col(schema.KindBinary), true)
	pg := mustRun(t, bytea, m, Input{Value: `\xf47ac10b58cc4372a5670e02b2c3d479`})
	if !regexp.MustCompile(`^\\x[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`).MatchString(pg) {
		t.Errorf("bytea uuid = %q", pg)
	}
	if _, _, err := bin(m, Input{Value: "short"}); err == nil {
		t.Error("a 5-byte value in a binary uuid column was accepted")
	}
	// Unique-capable: 20000 distinct inputs, 20000 distinct outputs.
	seen := map[string]bool{}
	for i := 0; i < 20000; i++ {
		seen[mustRun(t, f, m, Input{Value: fmt.Sprintf("f47ac10b-58cc-4372-a567-%012x", i)})] = true
	}
	if len(seen) != 20000 {
		t.Errorf("20000 uuids gave %d distinct outputs", len(seen))
	}
	if _, err := mustParse(t, "uuid", nil).Bind(Target{Column: &schema.Column{Kind: schema.KindBinary, MaxLength: 8}}); err == nil {
		t.Error("uuid bound to binary(8)")
	}
}

func luhnValid(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
		n++
	}
	return n > 0 && sum%10 == 0
}

func nonDigitsAt(s string) string {
	return regexp.MustCompile(`[0-9]`).ReplaceAllString(s, "#")
}

func TestCreditCard(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBind(t, mustParse(t, "credit_card", nil), textCol(30), false)
	prefixes := map[byte][]string{'4': {"411111", "424242"}, '3': {"378282", "371449", "353011", "356600", "305693", "385200"}, '5': {"555555"}}
	for i := 0; i < 300; i++ {
		for _, in := range []string{
			fmt.Sprintf("4%03d 1111 1111 %04d", i, i),
			fmt.Sprintf("37%02d-%06d-%05d", i%100, i, i),
			fmt.Sprintf("55%014d", i*7919),
		} {
			got := mustRun(t, f, m, Input{Value: in})
			if !luhnValid(got) {
				t.Fatalf("credit_card(%q) = %q: not Luhn-valid", in, got)
			}
			if nonDigitsAt(got) != nonDigitsAt(in) {
				t.Fatalf("credit_card(%q) = %q: length or separators changed", in, got)
			}
			digits := strings.NewReplacer(" ", "", "-", "").Replace(got)
			ok := false
			for _, p := range prefixes[in[0]] {
				ok = ok || strings.HasPrefix(digits, p)
			}
			if !ok {
				t.Fatalf("credit_card(%q) = %q: not a test prefix of its network", in, got)
			}
		}
	}
	keep := mustBind(t, mustParse(t, "credit_card", map[string]any{"keep_last": 4}), textCol(30), false)
	for i := 0; i < 300; i++ {
		in := fmt.Sprintf("4012 8888 %04d %04d", i, 1881+i)
		got := mustRun(t, keep, m, Input{Value: in})
		if !luhnValid(got) || got[len(got)-4:] != in[len(in)-4:] || nonDigitsAt(got) != nonDigitsAt(in) || got == in {
			t.Fatalf("credit_card keep_last 4 (%q) = %q", in, got)
		}
	}
	for _, n := range []int{-1, 5, 12} {
		_, err := Parse("credit_card", map[string]any{"keep_last": n}, Options{})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != "keep_last" {
			t.Errorf("keep_last %d: err = %v, want a ParamError on keep_last", n, err)
		}
	}
	// Not a card (too few digits): digits replaced, still different.
	if got := mustRun(t, f, m, Input{Value: "12-34"}); got == "12-34" || nonDigitsAt(got) != "##-##" {
		t.Errorf("credit_card(12-34) = %q", got)
	}
}

func TestText(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	for _, locale := range []string{"en", "ja"} {
		f := mustBind(t, mustParse(t, "text", map[string]any{"locale": locale}), textCol(0), false)
		in := "Dear Aiko Yamada,\n\nplease call 090-1234-5678 or write to aiko@example.com.\r\nThanks!\n"
		got := mustRun(t, f, m, Input{Value: in})
		gl, il := lines(got), lines(in)
		if len(gl) != len(il) {
			t.Fatalf("%s: %d lines, want %d: %q", locale, len(gl), len(il), got)
		}
		for i := range il {
			if gl[i].brk != il[i].brk {
				t.Errorf("%s: line %d break %q, want %q", locale, i, gl[i].brk, il[i].brk)
			}
			n, want := utf8.RuneCountInString(gl[i].text), utf8.RuneCountInString(il[i].text)
			if n > want || n < want-12 || (want == 0) != (n == 0) {
				t.Errorf("%s: line %d has %d characters, want about %d", locale, i, n, want)
			}
		}
		for _, leak := range []string{"Aiko", "Yamada", "090", "example.com"} {
			if strings.Contains(got, leak) {
				t.Errorf("%s: output %q holds %q", locale, got, leak)
			}
		}
		if locale == "ja" && !regexp.MustCompile(`\p{Hiragana}`).MatchString(got) {
			t.Errorf("ja text %q has no hiragana", got)
		}
		// The original counts only through the seed, its line lengths and
		// breaks: another text of the same shape under the same seed gives
		// the same output.
		seed := []byte("row-1")
		a := mustRun(t, f, m, Input{Value: "abc de\nfg", Seed: seed})
		b := mustRun(t, f, m, Input{Value: "xyz uv\nwq", Seed: seed})
		if a != b {
			t.Errorf("%s: same seed and shape gave %q and %q", locale, a, b)
		}
	}
	// Cut to fit the column.
	short := mustBind(t, mustParse(t, "text", nil), textCol(10), false)
	if got := mustRun(t, short, m, Input{Value: strings.Repeat("x", 10)}); utf8.RuneCountInString(got) > 10 {
		t.Errorf("text in varchar(10) = %q", got)
	}
	if _, err := mustParse(t, "text", map[string]any{"locale": "ja"}).Bind(Target{Column: &schema.Column{Kind: schema.KindText, Charset: "latin1"}}); err == nil {
		t.Error("ja text bound to a latin1 column")
	}
}

type line struct{ text, brk string }

func lines(s string) []line {
	var out []line
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, line{s, ""})
			break
		}
		brk := s[i : i+1]
		if strings.HasPrefix(s[i:], "\r\n") {
			brk = "\r\n"
		}
		out = append(out, line{s[:i], brk})
		s = s[i+len(brk):]
	}
	return out
}

func TestAddressSeededAgrees(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	bind := func(name string, params map[string]any) Func {
		return mustBind(t, mustParse(t, name, params), textCol(120), false)
	}
	ja := map[string]any{"locale": "ja"}
	addr, pref, zip := bind("address", ja), bind("prefecture", ja), bind("postal_code", ja)
	full := bind("address", map[string]any{"locale": "ja", "width": "full"})
	jaAddr := regexp.MustCompile(`^(北海道|東京都|(?:京都|大阪)府|\p{Han}{2,3}県)(\p{Han}+[市区]|\p{Hiragana}+市)\p{Han}*[\p{Han}\p{Hiragana}ヶ]*\d+(丁目\d+(番\d+号|-\d+)|-\d+(-\d+)?)(\p{Katakana}|\p{Han}|ー)*(\d+)?$`)
	for i := 0; i < 500; i++ {
		seed := []byte(fmt.Sprintf("user-%d", i))
		a := mustRun(t, addr, m, Input{Value: "x", Seed: seed})
		p := mustRun(t, pref, m, Input{Value: "y", Seed: seed})
		z := mustRun(t, zip, m, Input{Value: "z", Seed: seed})
		if !strings.HasPrefix(a, p) {
			t.Fatalf("seeded address %q does not start with the seeded prefecture %q", a, p)
		}
		if !jaAddr.MatchString(a) {
			t.Fatalf("address %q does not look like a Japanese address", a)
		}
		if !fake.InRegion(z, "ja", p) {
			t.Fatalf("postal code %q is not in %s's range", z, p)
		}
		fw := mustRun(t, full, m, Input{Value: "x", Seed: seed})
		if strings.ContainsAny(fw, "0123456789-") || !strings.HasPrefix(fw, p) {
			t.Fatalf("full-width address %q", fw)
		}
	}
	en := map[string]any{"locale": "en"}
	addrEN, state, zipEN := bind("address", en), bind("region", en), bind("postal_code", en)
	enAddr := regexp.MustCompile(`^\d+ [A-Za-z ]+, [A-Za-z. ]+, ([A-Z]{2}) (\d{5})$`)
	for i := 0; i < 200; i++ {
		seed := []byte(fmt.Sprintf("user-%d", i))
		a := mustRun(t, addrEN, m, Input{Value: "x", Seed: seed})
		s := mustRun(t, state, m, Input{Value: "y", Seed: seed})
		z := mustRun(t, zipEN, m, Input{Value: "z", Seed: seed})
		g := enAddr.FindStringSubmatch(a)
		if g == nil {
			t.Fatalf("en address %q", a)
		}
		if code, _ := fake.StateCode(s); g[1] != code {
			t.Fatalf("address %q and state %q (%s) name different states", a, s, code)
		}
		if !fake.InRegion(z, "en", s) || !fake.InRegion(g[2], "en", s) {
			t.Fatalf("ZIP %q or the address's %q is not in %s", z, g[2], s)
		}
	}
}

func TestShapeKeep(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	for _, tc := range []struct {
		name, in, pattern string
	}{
		{"postal_code", "T2P 5M5", `^[A-Z]\d[A-Z] \d[A-Z]\d$`},
		{"postal_code", "01310-100", `^\d{5}-\d{3}$`},
		{"postal_code", "〒100-0001", `^〒\d{3}-\d{4}$`},
		{"phone", "+1 (403) 555-1234", `^\+1 \(\d{3}\) \d{3}-\d{4}$`},
		{"phone", "+55 11 91234-5678", `^\+55 \d{2} \d{5}-\d{4}$`},
		{"phone", "020 7946 0958", `^0\d{2} \d{4} \d{4}$`},
		{"region", "SP", `^[A-Z]{2}$`},
		{"region", "São Paulo", `^[A-Z][a-z]{2} [A-Z][a-z]{4}$`},
		{"region", "東京都", `^(北海道|東京都|(?:京都|大阪)府|\p{Han}{2,3}県)$`}, // no case: falls back to a prefecture
	} {
		params := map[string]any{"shape": "keep"}
		if tc.name == "region" && tc.in == "東京都" {
			params["locale"] = "ja"
		}
		f := mustBind(t, mustParse(t, tc.name, params), textCol(30), false)
		for i := 0; i < 50; i++ {
			got := mustRun(t, f, m, Input{Value: tc.in, Seed: []byte{byte(i)}})
			if got == tc.in || !regexp.MustCompile(tc.pattern).MatchString(got) {
				t.Fatalf("%s shape keep (%q) = %q, want %s", tc.name, tc.in, got, tc.pattern)
			}
		}
	}
	for _, bad := range []map[string]any{{"shape": "round"}, {"shape": "keep", "format": "###"}} {
		if _, err := Parse("phone", bad, Options{}); err == nil {
			t.Errorf("phone %v accepted", bad)
		}
	}
	if _, err := Parse("city", map[string]any{"shape": "keep"}, Options{}); err == nil {
		t.Error("city accepted shape (only postal_code, phone and region take it)")
	}
}

func TestIPFitsNarrowColumn(t *testing.T) {
	m := NewMasker(testKey(t, 1))
	f := mustBind(t, mustParse(t, "ip", nil), textCol(12), false)
	for i := 0; i < 300; i++ {
		in := fmt.Sprintf("10.0.%d.%d", i%10, i/10)
		got := mustRun(t, f, m, Input{Value: in})
		if _, err := netip.ParseAddr(got); err != nil || len(got) > 12 {
			t.Fatalf("ip(%q) in varchar(12) = %q: %v", in, got, err)
		}
	}
	v6 := mustBind(t, mustParse(t, "ip", nil), textCol(20), false)
	for i := 0; i < 300; i++ {
		in := fmt.Sprintf("2400:%x::%x", i+1, i+7)
		got := mustRun(t, v6, m, Input{Value: in})
		if _, err := netip.ParseAddr(got); err != nil || len(got) > 20 {
			t.Fatalf("ip(%q) in varchar(20) = %q: %v", in, got, err)
		}
	}
}
