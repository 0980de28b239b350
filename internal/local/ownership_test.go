package local

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/refresh"
)

func TestOwnerCheck(t *testing.T) {
	o := Owner{Target: "app", Adopt: "handmade"}
	mine := &Marker{Target: "app", Run: "r1", Name: "restage_app_r1", Role: "copy"}
	for _, c := range []struct {
		name string
		c    Claim
		ok   bool
	}{
		{"recorded copy", Claim{Name: "restage_app_r1", Recorded: true, Target: "app", RunID: "r1"}, true},
		{"other target", Claim{Name: "restage_app_r1", Recorded: true, Target: "other", RunID: "r1"}, false},
		{"recorded without run", Claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app"}, false},
		{"hand-made holding", Claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app", RunID: "r1", Origin: "stg"}, false},
		{"adopted holding", Claim{Name: "restage_app_previous_r1", Recorded: true, Target: "app", Origin: "handmade"}, true},
		{"adopted itself", Claim{Name: "handmade"}, true},
		{"name alone", Claim{Name: "restage_app_r2"}, false},
		{"marker of this target", Claim{Name: "restage_app_r1", Marker: mine}, true},
		{"marker of another target", Claim{Name: "restage_app_r1", Marker: &Marker{Target: "x", Run: "r1", Role: "copy"}}, false},
		{"staging schema restage fills", Claim{Name: "stg", Marker: &Marker{Target: "app", Role: "staging"}}, true},
		{"staging schema of another target", Claim{Name: "stg", Marker: &Marker{Target: "x", Run: "r1", Role: "staging"}}, false},
		{"holding marker with a hand-made origin", Claim{Name: "restage_app_previous_r1", Marker: &Marker{Target: "app", Run: "r1", Role: "holding", Origin: "stg"}}, false},
	} {
		err := o.Check(c.c)
		if (err == nil) != c.ok {
			t.Errorf("%s: check = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, refresh.ErrNotOurs) {
			t.Errorf("%s: %v does not wrap ErrNotOurs", c.name, err)
		}
	}
}

func TestMarkerRoundTrip(t *testing.T) {
	m := Marker{Target: "app", Run: "20261202150405_ab12", Name: "restage_app_20261202150405_ab12", Role: "copy"}
	got, ok := ParseMarker(m.String())
	if m.Restage = markerVersion; !ok || got != m {
		t.Errorf("parseMarker(%s) = %+v, %v", m.String(), got, ok)
	}
	for _, s := range []string{"", "a comment", `{"target":"app"}`, `{"restage":1}`, `{"restage":1,"target":`} {
		if _, ok := ParseMarker(s); ok {
			t.Errorf("parseMarker(%q) accepted", s)
		}
	}
}

func TestNamesFit(t *testing.T) {
	run := refresh.NewRunID(fixedNow)
	long := strings.Repeat("a", 30)
	for _, target := range []string{"t", "app", long, strings.Repeat("b", 29) + "c"} {
		for _, n := range []string{DBName(target, run), HoldingName(target, run), DBName(target, strings.Repeat("9", 60))} {
			if len(n) > maxDBName {
				t.Errorf("%s: %d bytes, want at most %d", n, len(n), maxDBName)
			}
			if !strings.HasPrefix(n, "restage_") {
				t.Errorf("%s: want the restage_ prefix", n)
			}
		}
	}
	if got, want := DBName("app", run), "restage_app_"+run; got != want {
		t.Errorf("DBName = %s, want %s (short names unchanged)", got, want)
	}
	if got, want := HoldingName("app", run), "restage_app_previous_"+run; got != want {
		t.Errorf("holdingName = %s, want %s", got, want)
	}
	a, b := HoldingName(long, run), HoldingName(long[:29]+"b", run)
	if a == b {
		t.Errorf("two 30-character targets with one prefix share %s", a)
	}
	if !strings.HasSuffix(a, "_previous_"+run) {
		t.Errorf("%s: the run id must stay readable", a)
	}
}

// fixedNow gives run ids of the real format (19 characters).
var fixedNow = time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
