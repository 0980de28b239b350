package fake

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// seqRand is a tiny fixed-sequence Rand: it cycles through vals.
type seqRand struct {
	vals []uint64
	i    int
}

func (s *seqRand) Uint64() uint64 {
	v := s.vals[s.i%len(s.vals)]
	s.i++
	return v
}

func (s *seqRand) IntN(n int) int {
	if n <= 0 {
		panic("IntN: n <= 0")
	}
	return int(s.Uint64() % uint64(n))
}

// splitmix is a deterministic Rand for broad sampling in tests.
type splitmix struct{ x uint64 }

func (s *splitmix) Uint64() uint64 {
	s.x += 0x9e3779b97f4a7c15
	z := s.x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *splitmix) IntN(n int) int {
	if n <= 0 {
		panic("IntN: n <= 0")
	}
	return int(s.Uint64() % uint64(n))
}

func newSeq() *seqRand {
	return &seqRand{vals: []uint64{3, 141, 59, 26, 5358, 979, 32, 384, 626, 4338, 27, 950}}
}

// sample renders one of everything for a locale.
func sample(r Rand, locale string) string {
	p := NewPerson(r, locale)
	return strings.Join([]string{
		p.First, p.Last, p.FirstKana, p.LastKana, p.FirstRomaji, p.LastRomaji,
		Phone(r, locale), Street(r, locale), City(r, locale), Region(r, locale), PostalCode(r, locale),
	}, "|")
}

func TestDeterminism(t *testing.T) {
	for _, loc := range append(Locales(), "xx") {
		a, b := newSeq(), newSeq()
		for i := 0; i < 50; i++ {
			x, y := sample(a, loc), sample(b, loc)
			if x != y {
				t.Fatalf("%s: run %d differs: %q vs %q", loc, i, x, y)
			}
		}
	}
}

// TestGolden pins outputs so that reordering a table or changing the Rand
// call sequence of a generator is caught: masked values must never change.
func TestGolden(t *testing.T) {
	want := map[string][]string{
		"en": goldenEN,
		"ja": goldenJA,
	}
	for loc, w := range want {
		r := &splitmix{x: 42}
		for i, exp := range w {
			if got := sample(r, loc); got != exp {
				t.Errorf("%s[%d]:\n got %q\nwant %q", loc, i, got, exp)
			}
		}
	}
}

var goldenEN = []string{
	"Carolyn|Mills|||carolyn|mills|(400) 555-0125|3278 Laurel Parkway|Honolulu|Wisconsin|56091",
	"William|Myers|||william|myers|245-555-0192|3863 Center Way|Chandler|Alaska|23853",
	"Marie|Kennedy|||marie|kennedy|216-555-0174|723 Hickory Boulevard|Cincinnati|Rhode Island|59827",
	"Patricia|Mills|||patricia|mills|(332) 555-0140|3053 Third Road|Oklahoma City|Ohio|47267",
	"Gregory|Price|||gregory|price|405-555-0144|7871 Sixth Lane|Little Rock|Utah|24404",
	"Ashley|Lane|||ashley|lane|(586) 555-0193|3489 Fairview Circle|Savannah|Maine|86164",
}

var goldenJA = []string{
	"里美|坂本|サトミ|サカモト|satomi|sakamoto|079-425-8547|駅前6丁目26番17号|青森市|愛媛県|821-5925",
	"美紀|坂本|ミキ|サカモト|miki|sakamoto|090-8238-5333|錦町2丁目17-18|高知市|新潟県|658-5982",
	"一郎|須藤|イチロウ|スドウ|ichiro|sudo|080-4240-2282|緑町2丁目15番18号|さいたま市|島根県|409-5445",
	"美穂|山口|ミホ|ヤマグチ|miho|yamaguchi|090-9244-0491|大和町9丁目27-10|豊田市|石川県|678-8616",
	"弘子|五十嵐|ヒロコ|イガラシ|hiroko|igarashi|070-7259-7081|緑町8丁目9番19号|長野市|福島県|974-3811",
	"和也|浜田|カズヤ|ハマダ|kazuya|hamada|088-788-6415|昭和町4丁目1番7号 ヴィラ富士見410|世田谷区|群馬県|095-7142",
}

func TestUnknownLocaleIsEN(t *testing.T) {
	a, b := &splitmix{x: 7}, &splitmix{x: 7}
	for i := 0; i < 100; i++ {
		if x, y := sample(a, "en"), sample(b, "fr"); x != y {
			t.Fatalf("fr differs from en: %q vs %q", y, x)
		}
	}
}

func TestLocales(t *testing.T) {
	if got := fmt.Sprint(Locales()); got != "[en ja]" {
		t.Fatalf("Locales() = %s", got)
	}
}

// allTables lists every string table for the generic checks.
func allTables() map[string][]string {
	t := map[string][]string{
		"enFirstNames":     enFirstNames,
		"enLastNames":      enLastNames,
		"enStreetNames":    enStreetNames,
		"enStreetSuffixes": enStreetSuffixes,
		"enCities":         enCities,
		"enStates":         enStates,
		"jaPrefectures":    jaPrefectures,
		"jaCities":         jaCities,
		"jaTowns":          jaTowns,
		"jaBuildings":      jaBuildings,
		"jaMobilePrefixes": jaMobilePrefixes,
		"jaAreaCodes2":     jaAreaCodes2,
		"jaAreaCodes3":     jaAreaCodes3,
	}
	for name, names := range map[string][]jaName{"jaFamilyNames": jaFamilyNames, "jaGivenNames": jaGivenNames} {
		var k, kana, romaji []string
		for _, n := range names {
			k = append(k, n.Kanji)
			kana = append(kana, n.Kana)
			romaji = append(romaji, n.Romaji)
		}
		t[name+".Kanji"] = k
		t[name+".Kana"] = kana
		t[name+".Romaji+"] = romaji // duplicates allowed (小野/大野 are both "ono")
	}
	return t
}

func TestTablesBMPNonEmptyUnique(t *testing.T) {
	for name, tab := range allTables() {
		if len(tab) == 0 {
			t.Errorf("%s: empty table", name)
		}
		seen := map[string]bool{}
		for i, s := range tab {
			if strings.TrimSpace(s) == "" || s != strings.TrimSpace(s) {
				t.Errorf("%s[%d]: empty or padded entry %q", name, i, s)
			}
			if !utf8.ValidString(s) {
				t.Errorf("%s[%d]: invalid UTF-8 %q", name, i, s)
			}
			for _, c := range s {
				if c > 0xFFFF {
					t.Errorf("%s[%d]: %q has non-BMP rune %U", name, i, s, c)
				}
				if c == utf8.RuneError || (c >= 0xFE00 && c <= 0xFE0F) || c == 0x3000 {
					t.Errorf("%s[%d]: %q has suspicious rune %U", name, i, s, c)
				}
			}
			dupOK := strings.HasSuffix(name, "+") || strings.HasSuffix(name, "Kana")
			if seen[s] && !dupOK {
				t.Errorf("%s[%d]: duplicate %q", name, i, s)
			}
			seen[s] = true
		}
	}
}

func TestTableSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		min  int
	}{
		{"enFirstNames", len(enFirstNames), 150},
		{"enLastNames", len(enLastNames), 150},
		{"jaFamilyNames", len(jaFamilyNames), 100},
		{"jaGivenNames", len(jaGivenNames), 100},
		{"enStates", len(enStates), 50},
	} {
		if c.n < c.min {
			t.Errorf("%s has %d entries, want >= %d", c.name, c.n, c.min)
		}
	}
	if len(enStates) != 50 {
		t.Errorf("enStates has %d entries, want 50", len(enStates))
	}
}

func TestPrefectures(t *testing.T) {
	if len(jaPrefectures) != 47 {
		t.Fatalf("got %d prefectures, want 47", len(jaPrefectures))
	}
	var to, do, fu, ken int
	for _, p := range jaPrefectures {
		switch {
		case p == "北海道":
			do++
		case p == "東京都":
			to++
		case p == "京都府" || p == "大阪府":
			fu++
		case strings.HasSuffix(p, "県"):
			ken++
		default:
			t.Errorf("unexpected prefecture %q", p)
		}
	}
	if to != 1 || do != 1 || fu != 2 || ken != 43 {
		t.Errorf("to/do/fu/ken = %d/%d/%d/%d, want 1/1/2/43", to, do, fu, ken)
	}
	if jaPrefectures[0] != "北海道" || jaPrefectures[46] != "沖縄県" {
		t.Errorf("order: first %q last %q", jaPrefectures[0], jaPrefectures[46])
	}
}

var (
	reRomaji = regexp.MustCompile(`^[a-z]+$`)
	reEnName = regexp.MustCompile(`^[A-Z][A-Za-z']*[a-z]$`)
)

func isKatakana(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < 0x30A0 || c > 0x30FF || c == 0x30FB { // ・ is not a reading
			return false
		}
	}
	return true
}

func TestJaNames(t *testing.T) {
	for name, tab := range map[string][]jaName{"family": jaFamilyNames, "given": jaGivenNames} {
		for i, n := range tab {
			if !isKatakana(n.Kana) {
				t.Errorf("%s[%d] %v: kana not katakana", name, i, n)
			}
			if !reRomaji.MatchString(n.Romaji) {
				t.Errorf("%s[%d] %v: romaji not lower-case ASCII", name, i, n)
			}
			if got := kanaToRomaji(n.Kana); got != n.Romaji {
				t.Errorf("%s[%d] %v: romaji %q, reading gives %q", name, i, n, n.Romaji, got)
			}
		}
	}
}

func TestEnNames(t *testing.T) {
	for _, tab := range [][]string{enFirstNames, enLastNames} {
		for _, s := range tab {
			if !reEnName.MatchString(s) {
				t.Errorf("bad en name %q", s)
			}
		}
	}
	r := &splitmix{x: 1}
	for i := 0; i < 2000; i++ {
		p := NewPerson(r, "en")
		if p.FirstKana != "" || p.LastKana != "" {
			t.Fatalf("en person has kana: %+v", p)
		}
		if p.FirstRomaji != asciiLower(p.First) || p.LastRomaji != asciiLower(p.Last) ||
			!reRomaji.MatchString(p.FirstRomaji) || !reRomaji.MatchString(p.LastRomaji) {
			t.Fatalf("bad en romaji: %+v", p)
		}
	}
	if got := asciiLower("O'Brien"); got != "obrien" {
		t.Errorf("asciiLower(O'Brien) = %q", got)
	}
}

func TestJaPerson(t *testing.T) {
	r := &splitmix{x: 2}
	for i := 0; i < 2000; i++ {
		p := NewPerson(r, "ja")
		if p.First == "" || p.Last == "" || !isKatakana(p.FirstKana) || !isKatakana(p.LastKana) ||
			!reRomaji.MatchString(p.FirstRomaji) || !reRomaji.MatchString(p.LastRomaji) {
			t.Fatalf("bad ja person: %+v", p)
		}
	}
}

func TestFormats(t *testing.T) {
	cases := []struct {
		what   string
		locale string
		gen    func(Rand, string) string
		re     *regexp.Regexp
	}{
		{"phone", "en", Phone, regexp.MustCompile(`^(\([2-9][0-8]\d\) |[2-9][0-8]\d-)555-01\d\d$`)},
		{"phone", "ja", Phone, regexp.MustCompile(`^(0[789]0-[1-9]\d{3}-\d{4}|0[36]-[2-9]\d{3}-\d{4}|0\d\d-[2-9]\d\d-\d{4})$`)},
		{"postal", "en", PostalCode, regexp.MustCompile(`^\d{5}$`)},
		{"postal", "ja", PostalCode, regexp.MustCompile(`^\d{3}-\d{4}$`)},
		{"street", "en", Street, regexp.MustCompile(`^[1-9]\d{0,3} [A-Z][A-Za-z ]+ [A-Z][a-z]+$`)},
		{"street", "ja", Street, regexp.MustCompile(`^\p{Han}[\p{Han}\p{Hiragana}]*[1-9](-\d+-\d+|丁目\d+-\d+|丁目\d+番\d+号)( [\p{Katakana}\p{Han}ー]+[1-9]\d?(0[1-9]|10))?$`)},
	}
	for _, c := range cases {
		r := &splitmix{x: 3}
		seen := map[string]bool{}
		for i := 0; i < 5000; i++ {
			s := c.gen(r, c.locale)
			if !c.re.MatchString(s) {
				t.Fatalf("%s %s: %q does not match %s", c.locale, c.what, s, c.re)
			}
			seen[s] = true
		}
		if len(seen) < 1000 {
			t.Errorf("%s %s: only %d distinct values in 5000", c.locale, c.what, len(seen))
		}
	}
	// Phones are ASCII digits and hyphens (plus "() " for en).
	r := &splitmix{x: 4}
	for i := 0; i < 1000; i++ {
		for _, loc := range Locales() {
			for _, c := range Phone(r, loc) {
				if !(c >= '0' && c <= '9' || c == '-' || loc == "en" && strings.ContainsRune("() ", c)) {
					t.Fatalf("%s phone has %q", loc, c)
				}
			}
		}
	}
	// The ja phone mix covers all three shapes, and ja streets sometimes
	// have a building.
	var mobile, two, three, bldg int
	for i := 0; i < 2000; i++ {
		p := Phone(r, "ja")
		switch {
		case regexp.MustCompile(`^0[789]0-`).MatchString(p):
			mobile++
		case regexp.MustCompile(`^0\d-`).MatchString(p):
			two++
		default:
			three++
		}
		if strings.Contains(Street(r, "ja"), " ") {
			bldg++
		}
	}
	if mobile == 0 || two == 0 || three == 0 || bldg == 0 || bldg == 2000 {
		t.Errorf("mix: mobile %d, 2-digit %d, 3-digit %d, building %d", mobile, two, three, bldg)
	}
}

func TestCityRegion(t *testing.T) {
	r := &splitmix{x: 5}
	for i := 0; i < 1000; i++ {
		c := City(r, "ja")
		if !strings.HasSuffix(c, "市") && !strings.HasSuffix(c, "区") {
			t.Fatalf("ja city %q", c)
		}
		p := Region(r, "ja")
		if !strings.ContainsAny(p[len(p)-3:], "都道府県") {
			t.Fatalf("ja region %q", p)
		}
		if City(r, "en") == "" || Region(r, "en") == "" {
			t.Fatal("empty en city/region")
		}
	}
}

// kanaToRomaji is an independent katakana → Hepburn transliteration used to
// cross-check the romaji column: long vowels collapse (オウ, オオ → o;
// ウウ → u), ッ doubles the next consonant, ン is "n".
func kanaToRomaji(kana string) string {
	if r, ok := romajiExceptions[kana]; ok {
		return r
	}
	rs := []rune(kana)
	var out []string
	geminate := false
	for i := 0; i < len(rs); i++ {
		if i+1 < len(rs) {
			if s, ok := kanaDigraphs[string(rs[i:i+2])]; ok {
				out, geminate = appendMora(out, s, geminate), false
				i++
				continue
			}
		}
		switch rs[i] {
		case 'ッ':
			geminate = true
			continue
		case 'ー':
			continue
		}
		s, ok := kanaMonographs[rs[i]]
		if !ok {
			return "?" + string(rs[i])
		}
		out, geminate = appendMora(out, s, geminate), false
	}
	// Collapse long vowels across mora boundaries.
	var b strings.Builder
	for i, m := range out {
		if i > 0 {
			prev := out[i-1]
			last := prev[len(prev)-1]
			if (m == "u" && (last == 'o' || last == 'u')) || (m == "o" && last == 'o') {
				continue
			}
		}
		b.WriteString(m)
	}
	return b.String()
}

func appendMora(out []string, s string, geminate bool) []string {
	if geminate {
		if strings.HasPrefix(s, "ch") {
			s = "t" + s
		} else {
			s = s[:1] + s
		}
	}
	return append(out, s)
}

// romajiExceptions are readings where a vowel pair straddles a word
// boundary and is not a long vowel (井上 = i + noue).
var romajiExceptions = map[string]string{
	"イノウエ": "inoue",
}

var kanaMonographs = map[rune]string{
	'ア': "a", 'イ': "i", 'ウ': "u", 'エ': "e", 'オ': "o",
	'カ': "ka", 'キ': "ki", 'ク': "ku", 'ケ': "ke", 'コ': "ko",
	'ガ': "ga", 'ギ': "gi", 'グ': "gu", 'ゲ': "ge", 'ゴ': "go",
	'サ': "sa", 'シ': "shi", 'ス': "su", 'セ': "se", 'ソ': "so",
	'ザ': "za", 'ジ': "ji", 'ズ': "zu", 'ゼ': "ze", 'ゾ': "zo",
	'タ': "ta", 'チ': "chi", 'ツ': "tsu", 'テ': "te", 'ト': "to",
	'ダ': "da", 'ヂ': "ji", 'ヅ': "zu", 'デ': "de", 'ド': "do",
	'ナ': "na", 'ニ': "ni", 'ヌ': "nu", 'ネ': "ne", 'ノ': "no",
	'ハ': "ha", 'ヒ': "hi", 'フ': "fu", 'ヘ': "he", 'ホ': "ho",
	'バ': "ba", 'ビ': "bi", 'ブ': "bu", 'ベ': "be", 'ボ': "bo",
	'パ': "pa", 'ピ': "pi", 'プ': "pu", 'ペ': "pe", 'ポ': "po",
	'マ': "ma", 'ミ': "mi", 'ム': "mu", 'メ': "me", 'モ': "mo",
	'ヤ': "ya", 'ユ': "yu", 'ヨ': "yo",
	'ラ': "ra", 'リ': "ri", 'ル': "ru", 'レ': "re", 'ロ': "ro",
	'ワ': "wa", 'ヲ': "o", 'ン': "n",
}

var kanaDigraphs = map[string]string{
	"キャ": "kya", "キュ": "kyu", "キョ": "kyo",
	"ギャ": "gya", "ギュ": "gyu", "ギョ": "gyo",
	"シャ": "sha", "シュ": "shu", "ショ": "sho",
	"ジャ": "ja", "ジュ": "ju", "ジョ": "jo",
	"チャ": "cha", "チュ": "chu", "チョ": "cho",
	"ニャ": "nya", "ニュ": "nyu", "ニョ": "nyo",
	"ヒャ": "hya", "ヒュ": "hyu", "ヒョ": "hyo",
	"ビャ": "bya", "ビュ": "byu", "ビョ": "byo",
	"ピャ": "pya", "ピュ": "pyu", "ピョ": "pyo",
	"ミャ": "mya", "ミュ": "myu", "ミョ": "myo",
	"リャ": "rya", "リュ": "ryu", "リョ": "ryo",
}
