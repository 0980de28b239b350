package terraform_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// policyDoc is an IAM policy document as the module writes it.
type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid         string                          `json:"Sid"`
	Effect      string                          `json:"Effect"`
	Action      oneOrMany                       `json:"Action"`
	NotAction   oneOrMany                       `json:"NotAction"`
	Resource    oneOrMany                       `json:"Resource"`
	NotResource oneOrMany                       `json:"NotResource"`
	Condition   map[string]map[string]oneOrMany `json:"Condition"`
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

// glob compiles an IAM ARN pattern: * is any run of characters, ? exactly one.
func glob(pattern string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\*`, `.*`)
	q = strings.ReplaceAll(q, `\?`, `.`)
	return regexp.MustCompile("^" + q + "$")
}

func matchesAny(patterns []string, arn string) bool {
	for _, p := range patterns {
		if glob(p).MatchString(arn) {
			return true
		}
	}
	return false
}

// request is one authorization RDS makes: an action against each of its
// resources, with the tags those resources carry (absent: a resource that
// does not exist yet).
type request struct {
	action    string
	resources []string
	tags      map[string]map[string]string // resource ARN => tag key => value
}

// denied evaluates the Deny statements of docs against req the way IAM
// does for the parts the module uses: Action, Resource / NotResource
// patterns, StringEquals on resource tag keys. A request is denied when
// any of its resource authorizations is.
func denied(t *testing.T, docs []policyDoc, req request) bool {
	t.Helper()
	for _, d := range docs {
		for _, s := range d.Statement {
			if s.Effect != "Deny" || !slices.Contains(s.Action, req.action) {
				continue
			}
			for _, r := range req.resources {
				hit := len(s.Resource) > 0 && matchesAny(s.Resource, r) || len(s.NotResource) > 0 && !matchesAny(s.NotResource, r)
				if hit && conditionsHold(t, s, req.tags[r]) {
					return true
				}
			}
		}
	}
	return false
}

// allowed reports whether some Allow statement grants action on every
// resource of req (conditions are not evaluated: the scope checks do).
func allowed(docs []policyDoc, req request) bool {
	for _, r := range req.resources {
		ok := false
		for _, d := range docs {
			for _, s := range d.Statement {
				if s.Effect == "Allow" && slices.Contains(s.Action, req.action) && matchesAny(s.Resource, r) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func conditionsHold(t *testing.T, s statement, tags map[string]string) bool {
	t.Helper()
	for op, kv := range s.Condition {
		if op != "StringEquals" {
			t.Fatalf("%s: condition operator %s not modelled by the test", s.Sid, op)
		}
		for key, want := range kv {
			var tagKey string
			switch {
			case strings.HasPrefix(key, "aws:ResourceTag/"):
				tagKey = strings.TrimPrefix(key, "aws:ResourceTag/")
			case strings.HasPrefix(key, "rds:cluster-tag/"):
				tagKey = strings.TrimPrefix(key, "rds:cluster-tag/")
			case strings.HasPrefix(key, "rds:db-tag/"):
				tagKey = strings.TrimPrefix(key, "rds:db-tag/")
			default:
				t.Fatalf("%s: condition key %s not modelled by the test", s.Sid, key)
			}
			v, ok := tags[tagKey]
			if !ok || !slices.Contains(want, v) {
				return false
			}
		}
	}
	return true
}
