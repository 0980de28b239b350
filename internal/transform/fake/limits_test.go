package fake

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// TestLimits: no draw is longer than the documented limits, and the limits
// are reached (so they are not loose guesses).
func TestLimits(t *testing.T) {
	for _, loc := range Locales() {
		l := LimitsOf(loc)
		r := &splitmix{x: 42}
		var got Limits
		for range 200000 {
			p := NewPerson(r, loc)
			got.First = max(got.First, utf8.RuneCountInString(p.First))
			got.Last = max(got.Last, utf8.RuneCountInString(p.Last))
			got.FirstKana = max(got.FirstKana, utf8.RuneCountInString(p.FirstKana))
			got.LastKana = max(got.LastKana, utf8.RuneCountInString(p.LastKana))
			got.FirstRomaji = max(got.FirstRomaji, len(p.FirstRomaji))
			got.LastRomaji = max(got.LastRomaji, len(p.LastRomaji))
			got.Phone = max(got.Phone, utf8.RuneCountInString(Phone(r, loc)))
			got.Street = max(got.Street, utf8.RuneCountInString(Street(r, loc)))
			got.City = max(got.City, utf8.RuneCountInString(City(r, loc)))
			got.Region = max(got.Region, utf8.RuneCountInString(Region(r, loc)))
			got.PostalCode = max(got.PostalCode, utf8.RuneCountInString(PostalCode(r, loc)))
			region := RegionIndex(r, loc)
			got.Address = max(got.Address, utf8.RuneCountInString(AddressIn(r, loc, region, loc == "ja" && r.IntN(2) == 0)))
		}
		gv, lv := reflect.ValueOf(got), reflect.ValueOf(l)
		for i := range gv.NumField() {
			name := gv.Type().Field(i).Name
			if g, w := gv.Field(i).Int(), lv.Field(i).Int(); g > w {
				t.Errorf("%s: %s drew %d characters, limit %d", loc, name, g, w)
			} else if g < w-1 {
				t.Logf("%s: %s longest draw %d, limit %d", loc, name, g, w)
			}
		}
	}
}
