package awsiam

import (
	"slices"
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

// Restoring from production never changes it, and a later source mode
// clones it by point-in-time restore: no restore in the production Deny.
func TestProductionDenyKeepsRestores(t *testing.T) {
	for _, d := range ProductionDeny {
		if strings.HasPrefix(d, "rds:RestoreDB") {
			t.Errorf("production deny %s: restores from the source must stay possible", d)
		}
	}
	for _, want := range []string{"rds:CreateDBInstance", "rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot", "rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot"} {
		if !slices.Contains(ProductionDeny, want) {
			t.Errorf("production deny lacks %s", want)
		}
	}
}

// The aws/secretsmanager key actions are declared KMS actions (the module's
// policy is compared with Names()).
func TestManagedSecretKeyActionsDeclared(t *testing.T) {
	scope := map[string]Scope{}
	for _, a := range Actions {
		scope[a.Name] = a.Scope
	}
	for _, a := range ManagedSecretKeyActions {
		if scope[a] != KMS {
			t.Errorf("%s: scope %q, want %q", a, scope[a], KMS)
		}
	}
	for _, list := range [][]string{RestorePointDeny, PointInTimeDeny} {
		for _, a := range list {
			if !strings.HasPrefix(a, "rds:") {
				t.Errorf("%s: want an rds action", a)
			}
		}
	}
}
