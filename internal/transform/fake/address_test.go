package fake

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRegionTablesAligned(t *testing.T) {
	if len(jaPrefectureCities) != len(jaPrefectures) || len(jaPostalRanges) != len(jaPrefectures) {
		t.Fatalf("ja tables: %d cities, %d ranges, %d prefectures", len(jaPrefectureCities), len(jaPostalRanges), len(jaPrefectures))
	}
	if len(enStateCodes) != len(enStates) || len(enZIPRanges) != len(enStates) || len(enStateCities) != len(enStates) {
		t.Fatalf("en tables: %d codes, %d ranges, %d cities, %d states", len(enStateCodes), len(enZIPRanges), len(enStateCities), len(enStates))
	}
	for i, r := range append(append([][2]int{}, jaPostalRanges...), enZIPRanges...) {
		if r[0] > r[1] || r[1] > 999 {
			t.Errorf("range %d: %v", i, r)
		}
	}
}

func TestAddressIn(t *testing.T) {
	r := newSeq()
	for i := range jaPrefectures {
		a := AddressIn(r, "ja", i, false)
		if !strings.HasPrefix(a, jaPrefectures[i]) {
			t.Fatalf("%q does not start with %s", a, jaPrefectures[i])
		}
		if z := PostalCodeIn(r, "ja", i); !InRegion(z, "ja", jaPrefectures[i]) || len(z) != 8 {
			t.Fatalf("postal code %q for %s", z, jaPrefectures[i])
		}
	}
	for i := range enStates {
		if z := PostalCodeIn(r, "en", i); !InRegion(z, "en", enStates[i]) || len(z) != 5 {
			t.Fatalf("ZIP %q for %s", z, enStates[i])
		}
	}
}

func TestText(t *testing.T) {
	r := newSeq()
	for _, locale := range []string{"en", "ja"} {
		for n := 0; n < 300; n += 7 {
			s := Text(r, locale, n)
			got := utf8.RuneCountInString(s)
			if got > n || got < n-12 || strings.ContainsAny(s, "\r\n") {
				t.Fatalf("Text(%s, %d) = %q (%d characters)", locale, n, s, got)
			}
		}
	}
	for _, s := range append(append([]string{}, enSentences...), jaSentences...) {
		for _, c := range s {
			if c > 0xFFFF {
				t.Errorf("%q holds a 4-byte character", s)
			}
		}
	}
}
