package lifecycle

import "testing"

func TestMoves(t *testing.T) {
	all := []State{Creating, Ready, Live, Previous, Retired, Discarded}
	allowed := map[[2]State]bool{
		{Creating, Ready}: true, {Creating, Discarded}: true,
		{Ready, Live}: true, {Ready, Discarded}: true,
		{Live, Previous}:    true,
		{Previous, Retired}: true, {Previous, Live}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := CanMove(from, to); got != allowed[[2]State{from, to}] {
				t.Errorf("CanMove(%s, %s) = %v", from, to, got)
			}
			if err := Move(from, to); (err == nil) != allowed[[2]State{from, to}] {
				t.Errorf("Move(%s, %s) = %v", from, to, err)
			}
		}
	}
	// The live copy is never a leftover; a gone copy can't move.
	if Leftover(Live) || Leftover(Retired) || !Leftover(Creating) || !Leftover(Previous) {
		t.Error("Leftover")
	}
	for _, s := range []State{Retired, Discarded} {
		if !Gone(s) || len(Transitions[s]) != 0 {
			t.Errorf("%s must be final", s)
		}
	}
	if Valid("provisioning") || !Valid(Live) {
		t.Error("Valid")
	}
}
