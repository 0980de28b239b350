package fake

import "unicode/utf8"

// Limits are the longest outputs (in characters) the generators of one
// locale can return. Masking decides at plan time whether a column can
// hold the one consistent form of a fake (the same fake in every column),
// so these must be true upper bounds: TestLimits draws many values and
// checks them. A generator that changes its output must change these.
type Limits struct {
	First, Last             int // kanji (en: the name)
	FirstKana, LastKana     int // 0 for en
	FirstRomaji, LastRomaji int // lower-case ASCII
	Phone, Street, City     int
	Region, PostalCode      int
	Address                 int // AddressIn, either width
}

// LimitsOf returns the limits of a locale (anything but "ja" is "en").
func LimitsOf(locale string) Limits {
	if isJA(locale) {
		return jaLimits
	}
	return enLimits
}

var enLimits, jaLimits = func() (Limits, Limits) {
	var en Limits
	en.First = maxLen(enFirstNames, nil)
	en.Last = maxLen(enLastNames, nil)
	en.FirstRomaji = maxLen(enFirstNames, asciiLower)
	en.LastRomaji = maxLen(enLastNames, asciiLower)
	en.Phone = len("(NPA) 555-01XX")
	// "9999 Name Suffix"
	en.Street = 4 + 1 + maxLen(enStreetNames, nil) + 1 + maxLen(enStreetSuffixes, nil)
	en.City = maxLen(enCities, nil)
	en.Region = maxLen(enStates, nil)
	en.PostalCode = 5
	// "9999 Name Suffix, City, ST 12345"
	en.Address = 4 + 1 + maxLen(enStreetNames, nil) + 1 + maxLen(enStreetSuffixes, nil) + 2 + maxLenAll(enStateCities) + 2 + 2 + 1 + 5

	var ja Limits
	for _, n := range jaFamilyNames {
		ja.Last = max(ja.Last, utf8.RuneCountInString(n.Kanji))
		ja.LastKana = max(ja.LastKana, utf8.RuneCountInString(n.Kana))
		ja.LastRomaji = max(ja.LastRomaji, len(n.Romaji))
	}
	for _, n := range jaGivenNames {
		ja.First = max(ja.First, utf8.RuneCountInString(n.Kanji))
		ja.FirstKana = max(ja.FirstKana, utf8.RuneCountInString(n.Kana))
		ja.FirstRomaji = max(ja.FirstRomaji, len(n.Romaji))
	}
	ja.Phone = len("090-####-####")
	// town + "9丁目30番20号" + " " + building + "1210"
	ja.Street = maxLen(jaTowns, nil) + utf8.RuneCountInString("9丁目30番20号") + 1 + maxLen(jaBuildings, nil) + 4
	ja.City = maxLen(jaCities, nil)
	ja.Region = maxLen(jaPrefectures, nil)
	ja.PostalCode = len("###-####")
	// prefecture + city + town + "9丁目30番20号" + building + "1210"
	ja.Address = maxLen(jaPrefectures, nil) + maxLenAll(jaPrefectureCities) + maxLen(jaTowns, nil) +
		utf8.RuneCountInString("9丁目30番20号") + maxLen(jaBuildings, nil) + 4
	return en, ja
}()

func maxLen(list []string, f func(string) string) int {
	n := 0
	for _, s := range list {
		if f != nil {
			s = f(s)
		}
		n = max(n, utf8.RuneCountInString(s))
	}
	return n
}

func maxLenAll(lists [][]string) int {
	n := 0
	for _, l := range lists {
		n = max(n, maxLen(l, nil))
	}
	return n
}
