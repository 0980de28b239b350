package fake

import (
	"strconv"
	"strings"
)

// RegionIndex draws a region the way Region does (one IntN over the
// prefectures or states), so that Region, PostalCodeIn and AddressIn fed
// from equal streams name the same region.
func RegionIndex(r Rand, locale string) int {
	if isJA(locale) {
		return r.IntN(len(jaPrefectures))
	}
	return r.IntN(len(enStates))
}

// PostalCodeIn returns a postal code of the region: "###-####" whose first
// three digits lie in the prefecture's range for ja, a 5-digit ZIP code in
// the state's range of 3-digit prefixes for en.
func PostalCodeIn(r Rand, locale string, region int) string {
	if isJA(locale) {
		rg := jaPostalRanges[region]
		return pad3(rg[0]+r.IntN(rg[1]-rg[0]+1)) + "-" + digits(r, 4, 0)
	}
	rg := enZIPRanges[region]
	return pad3(rg[0]+r.IntN(rg[1]-rg[0]+1)) + digits(r, 2, 0)
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", 3-len(s)) + s
}

// AddressIn returns a whole address in the region.
//
// ja: prefecture + city of that prefecture + town + chōme-banchi(-gō), e.g.
// "千葉県船橋市南町9丁目27番8号" or "大阪府堺市本町3-5-12", about one in three
// followed by a building and room ("サンハイツ203"). Digits and hyphens
// are full-width when full is set ("３－５－１２").
//
// en: "1234 Maple Street, Austin, TX 73301" (street, a city of the state,
// the state's USPS code and a ZIP code in its range).
func AddressIn(r Rand, locale string, region int, full bool) string {
	if !isJA(locale) {
		num := 1 + r.IntN(9999)
		street := pick(r, enStreetNames) + " " + pick(r, enStreetSuffixes)
		city := pick(r, enStateCities[region])
		return strconv.Itoa(num) + " " + street + ", " + city + ", " + enStateCodes[region] + " " + PostalCodeIn(r, locale, region)
	}
	var b strings.Builder
	b.WriteString(jaPrefectures[region])
	b.WriteString(pick(r, jaPrefectureCities[region]))
	b.WriteString(pick(r, jaTowns))
	chome := strconv.Itoa(1 + r.IntN(9))
	banchi := strconv.Itoa(1 + r.IntN(30))
	gou := strconv.Itoa(1 + r.IntN(20))
	var num string
	switch r.IntN(4) {
	case 0:
		num = chome + "-" + banchi + "-" + gou
	case 1:
		num = chome + "丁目" + banchi + "-" + gou
	case 2:
		num = chome + "丁目" + banchi + "番" + gou + "号"
	default:
		num = chome + "-" + banchi
	}
	room := ""
	if r.IntN(3) == 0 {
		room = pick(r, jaBuildings) + strconv.Itoa((1+r.IntN(12))*100+1+r.IntN(10))
	}
	if full {
		num, room = fullWidth(num), fullWidth(room)
	}
	b.WriteString(num)
	if room != "" {
		b.WriteString(room)
	}
	return b.String()
}

// fullWidth turns ASCII digits and hyphens into their full-width forms.
func fullWidth(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c - '0' + '０')
		case c == '-':
			b.WriteRune('－')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// StateCode returns the USPS code of a state name as Region gives it.
func StateCode(state string) (string, bool) {
	for i, s := range enStates {
		if s == state {
			return enStateCodes[i], true
		}
	}
	return "", false
}

// InRegion reports whether a postal code lies in the range PostalCodeIn
// uses for the region (a prefecture or state name as Region gives it).
func InRegion(code, locale, region string) bool {
	names, ranges := enStates, enZIPRanges
	if isJA(locale) {
		names, ranges = jaPrefectures, jaPostalRanges
	}
	if len(code) < 3 {
		return false
	}
	n, err := strconv.Atoi(code[:3])
	if err != nil {
		return false
	}
	for i, s := range names {
		if s == region {
			return n >= ranges[i][0] && n <= ranges[i][1]
		}
	}
	return false
}
