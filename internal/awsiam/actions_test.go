package awsiam

import (
	"strings"
	"testing"
)

func TestActionsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions {
		if seen[a.Name] {
			t.Errorf("%s listed twice", a.Name)
		}
		seen[a.Name] = true
		if strings.Contains(a.Name, "*") || !strings.Contains(a.Name, ":") {
			t.Errorf("%s: want an exact service:Action", a.Name)
		}
		if a.Purpose == "" || a.Scope == "" {
			t.Errorf("%s: needs a scope and a purpose", a.Name)
		}
	}
	for _, d := range ProductionDeny {
		if !strings.HasPrefix(d, "rds:") {
			t.Errorf("production deny %s: want an rds action", d)
		}
	}
}
