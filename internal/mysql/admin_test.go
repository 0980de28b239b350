package mysql

import "testing"

func TestGrantDB(t *testing.T) {
	for _, name := range []string{"a_b", "x%y", "plain", "a`b"} {
		if got := UnescapeGrantDB(GrantDB(name)); got != name {
			t.Errorf("unescape(grant(%q)) = %q", name, got)
		}
	}
}
