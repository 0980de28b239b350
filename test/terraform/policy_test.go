package terraform_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// policyDoc is an IAM policy document as the module writes it.
type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                          `json:"Sid"`
	Effect    string                          `json:"Effect"`
	Action    oneOrMany                       `json:"Action"`
	NotAction oneOrMany                       `json:"NotAction"`
	Resource  oneOrMany                       `json:"Resource"`
	Condition map[string]map[string]oneOrMany `json:"Condition"`
}

// oneOrMany is IAM's "a string or a list of strings".
type oneOrMany []string

func (o *oneOrMany) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*o = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*o = many
	return nil
}

func parsePolicy(t *testing.T, where, doc string) policyDoc {
	t.Helper()
	if doc == "" {
		t.Fatalf("%s: policy unknown at plan time; build it from inputs so it can be reviewed and tested", where)
	}
	var p policyDoc
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("%s: decode policy: %v", where, err)
	}
	return p
}

// cond returns the values of one condition key under one operator.
func (s statement) cond(op, key string) []string { return s.Condition[op][key] }

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
