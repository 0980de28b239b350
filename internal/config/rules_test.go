package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// columnSummary is what a test compares of a ColumnRule (the Transformer
// itself is checked by name).
type columnSummary struct {
	Column string
	Line   int
	Name   string
	Seed   []string
	Reason string
}

type tableSummary struct {
	Name    string
	Line    int
	Columns []columnSummary
}

func summarize(t *testing.T, r *Rules) []tableSummary {
	t.Helper()
	var out []tableSummary
	for _, tr := range r.Tables {
		ts := tableSummary{Name: tr.Name, Line: tr.Line}
		for _, c := range tr.Columns {
			if c.Transformer == nil {
				t.Fatalf("%s.%s: Transformer is nil", tr.Name, c.Column)
			}
			ts.Columns = append(ts.Columns, columnSummary{c.Column, c.Line, c.Name, c.Seed, c.Reason})
		}
		out = append(out, ts)
	}
	return out
}

func mustParse(t *testing.T, src string) *Rules {
	t.Helper()
	r, err := ParseRules("rules.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseRules: unexpected error:\n%v", err)
	}
	return r
}

func TestLoadRulesGood(t *testing.T) {
	path := filepath.Join("testdata", "good.yaml")
	r, err := LoadRules(path)
	if err != nil {
		t.Fatalf("LoadRules(%s): %v", path, err)
	}
	if r.Path != path || r.Version != 1 || r.Locale != "ja" {
		t.Errorf("got path %q version %d locale %q, want %q 1 \"ja\"", r.Path, r.Version, r.Locale, path)
	}
	wantTruncate := []TableRef{{"rental", 5}, {"public.payment", 6}}
	if !reflect.DeepEqual(r.Truncate, wantTruncate) {
		t.Errorf("Truncate: got %v, want %v", r.Truncate, wantTruncate)
	}
	want := []tableSummary{
		{"customer", 8, []columnSummary{
			{"first_name", 10, "first_name", nil, ""},
			{"last_name", 11, "last_name", []string{"customer_id"}, ""},
			{"email", 12, "email", []string{"customer_id"}, ""},
			{"create_date", 15, "keep", nil, ""},
			{"active", 16, "keep", nil, "flag, not personal"},
			{"notes", 17, "nullify", nil, ""},
		}},
		{"staff", 18, []columnSummary{
			{"username", 20, "template", []string{"staff_id"}, ""},
			{"password", 21, "keep", nil, ""},
			{"last_update", 22, "keep", nil, "audit column"},
		}},
	}
	if got := summarize(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("Tables:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestParseRulesDefaults(t *testing.T) {
	r := mustParse(t, "version: 1\ntables:\n  t:\n    columns:\n      c: keep\n")
	if r.Locale != "en" {
		t.Errorf("Locale: got %q, want %q", r.Locale, "en")
	}
	if r.Truncate != nil {
		t.Errorf("Truncate: got %v, want none", r.Truncate)
	}
	if r := mustParse(t, "version: 1\n"); len(r.Tables) != 0 {
		t.Errorf("Tables: got %d, want none", len(r.Tables))
	}
}

// problem is a wanted Problem: its line and a part of its message.
type problem struct {
	line int
	msg  string
}

func checkProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	var re *RulesError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v (%T), want a *RulesError", err, err)
	}
	if len(re.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(re.Problems), len(want), err)
	}
	for i, w := range want {
		got := re.Problems[i]
		if got.Line != w.line || !strings.Contains(got.Msg, w.msg) {
			t.Errorf("problem %d: got line %d %q, want line %d containing %q", i, got.Line, got.Msg, w.line, w.msg)
		}
	}
}

func TestParseRulesErrors(t *testing.T) {
	const head = "version: 1\ntables:\n  t:\n    columns:\n" // column rules start on line 5
	tests := []struct {
		name string
		src  string
		want []problem
	}{
		{"empty file", "", []problem{{1, "empty"}}},
		{"only comments", "# nothing\n\n", []problem{{1, "empty"}}},
		{"not a mapping", "- version\n", []problem{{1, "must be a mapping"}}},
		{"yaml syntax", "version: 1\ntables: [\n", []problem{{2, "invalid YAML"}}},
		{"two documents", "version: 1\n---\nversion: 1\n", []problem{{2, "one YAML document"}}},
		{"missing version", "locale: en\n", []problem{{1, "version is missing"}}},
		{"unsupported version", "version: 2\n", []problem{{1, "unsupported version 2"}}},
		{"version not an integer", "version: \"1\"\n", []problem{{1, "version must be an integer"}}},
		{"unknown top-level key", "version: 1\ntabels: {}\n", []problem{{2, `unknown key "tabels"`}}},
		{"duplicate top-level key", "version: 1\nversion: 1\n", []problem{{2, `duplicate key "version" (first at line 1)`}}},
		{"unknown locale", "version: 1\nlocale: fr\n", []problem{{2, "unknown locale (valid: en, ja)"}}},
		{"locale not text", "version: 1\nlocale: [en]\n", []problem{{2, "locale must be text"}}},
		{"truncate not a list", "version: 1\ntruncate: rental\n", []problem{{2, "truncate must be a list"}}},
		{"truncate item not text", "version: 1\ntruncate:\n  - {rental: true}\n", []problem{{3, "table name must be text"}}},
		{"truncate duplicate", "version: 1\ntruncate:\n  - a\n  - b\n  - a\n", []problem{{5, "listed twice in truncate (first at line 3)"}}},
		{"bad table name", "version: 1\ntruncate: [a.b.c]\n", []problem{{2, `bad table name "a.b.c"`}}},
		{"truncated and masked", "version: 1\ntruncate: [t]\ntables:\n  t:\n    columns:\n      c: keep\n",
			[]problem{{4, "both truncated (line 2) and masked"}}},
		{"tables not a mapping", "version: 1\ntables: [t]\n", []problem{{2, "tables must be a mapping"}}},
		{"duplicate table", "version: 1\ntables:\n  t:\n    columns: {c: keep}\n  t:\n    columns: {d: keep}\n",
			[]problem{{5, `duplicate table "t" (first at line 3)`}}},
		{"table without rules", "version: 1\ntables:\n  t:\n", []problem{{3, "has no rules"}}},
		{"table without columns", "version: 1\ntables:\n  t: {}\n", []problem{{3, "has no columns"}}},
		{"empty columns", "version: 1\ntables:\n  t:\n    columns: {}\n", []problem{{4, "has no columns"}}},
		{"columns not a mapping", "version: 1\ntables:\n  t:\n    columns: [a]\n", []problem{{4, "columns must be a mapping"}}},
		{"unknown table key", "version: 1\ntables:\n  t:\n    colums: {c: keep}\n    columns: {c: keep}\n",
			[]problem{{4, `unknown key "colums"`}}},
		{"strategy unknown", "version: 1\ntables:\n  t:\n    strategy: copy\n    columns: {c: keep}\n",
			[]problem{{4, `strategy must be rewrite or update, got "copy"`}}},
		{"strategy not text", "version: 1\ntables:\n  t:\n    columns: {c: keep}\n    strategy: [rewrite]\n",
			[]problem{{5, "strategy must be rewrite or update, got a list"}}},
		{"strategy boolean", "version: 1\ntables:\n  t:\n    columns: {c: keep}\n    strategy: true\n",
			[]problem{{5, "strategy must be rewrite or update, got a boolean"}}},
		{"truncate inside a table", "version: 1\ntables:\n  t:\n    truncate: true\n    columns: {c: keep}\n",
			[]problem{{4, "top-level truncate"}}},
		{"duplicate column", head + "      c: keep\n      d: keep\n      c: nullify\n",
			[]problem{{7, `duplicate column "c" (first at line 5)`}}},
		{"unknown transformer short", head + "      c: emial\n", []problem{{5, `unknown transformer, did you mean "email"? (valid: `}}},
		{"unknown transformer long", head + "      c:\n        transformer: frist_name\n", []problem{{6, `did you mean "first_name"?`}}},
		{"unknown transformer lists names", head + "      c: scramble\n", []problem{{5, "unknown transformer (valid: address, city, "}}},
		{"no rule", head + "      c:\n", []problem{{5, "no rule"}}},
		{"rule not text", head + "      c: 42\n", []problem{{5, "rule must be a transformer name or a mapping, got an integer"}}},
		{"no transformer", head + "      c: {seed: [id]}\n", []problem{{5, "no transformer"}}},
		{"transformer not text", head + "      c: {transformer: [email]}\n", []problem{{5, "transformer must be a name"}}},
		{"keep and transformer", head + "      c: {keep: true, transformer: email}\n", []problem{{5, "keep and transformer exclude each other"}}},
		{"keep false", head + "      c: {keep: false}\n", []problem{{5, "keep must be a reason"}}},
		{"keep empty reason", head + "      c: {keep: \"\"}\n", []problem{{5, "keep must be a reason"}}},
		{"keep with params", head + "      c:\n        keep: why\n        length: 3\n", []problem{{7, `a kept column takes no parameters, found "length"`}}},
		{"keep with seed", head + "      c:\n        keep: why\n        seed: [id]\n", []problem{{7, "a kept column takes no seed"}}},
		{"transformer keep with seed", head + "      c:\n        transformer: keep\n        seed: [id]\n", []problem{{7, "a kept column takes no seed"}}},
		{"nullify with seed", head + "      c:\n        transformer: nullify\n        seed: [id]\n", []problem{{7, "seed has no effect with nullify"}}},
		{"seed is the column", head + "      c:\n        transformer: email\n        seed: [id, c]\n", []problem{{7, "seed names the column itself"}}},
		{"seed is the column, multi-line", head + "      c:\n        transformer: email\n        seed:\n          - id\n          - c\n", []problem{{9, "seed names the column itself"}}},
		{"seed twice", head + "      c:\n        transformer: email\n        seed: [id, id]\n", []problem{{7, `seed names column "id" twice`}}},
		{"seed empty", head + "      c:\n        transformer: email\n        seed: []\n", []problem{{7, "seed is empty"}}},
		{"seed not a list", head + "      c:\n        transformer: email\n        seed: {id: 1}\n", []problem{{7, "seed must be a list"}}},
		{"seed item not text", head + "      c:\n        transformer: email\n        seed: [[id]]\n", []problem{{7, "seed column must be text"}}},
		{"bad param points at its line", head + "      c:\n        transformer: email\n        seed: [id]\n        bogus: 1\n",
			[]problem{{8, "bogus"}}},
		{"duplicate param", head + "      c:\n        transformer: email\n        domain: a\n        domain: b\n",
			[]problem{{8, `duplicate parameter "domain" (first at line 7)`}}},
		{"duplicate nested key", head + "      c:\n        transformer: json\n        paths:\n          a: keep\n          a: nullify\n",
			[]problem{{9, `duplicate key "a" (first at line 8)`}}},
		{"non-text key", head + "      [c]: keep\n", []problem{{5, "a key must be a name"}}},
		{"merge key", "version: 1\nbase: &b {transformer: email}\n", []problem{{2, `unknown key "base"`}}},
		{"merge key in a rule", head + "      c: &b {transformer: email}\n      d:\n        <<: *b\n        seed: [id]\n",
			[]problem{{6, "no transformer"}, {7, "merge keys (<<) are not supported"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRules("rules.yaml", []byte(tt.src))
			checkProblems(t, err, tt.want)
		})
	}
}

func TestParseRulesStrategy(t *testing.T) {
	r := mustParse(t, "version: 1\ntables:\n  a:\n    strategy: rewrite\n    columns: {c: nullify}\n  b:\n    columns: {c: nullify}\n    strategy: update\n  c:\n    columns: {c: nullify}\n")
	type got struct {
		s    Strategy
		line int
	}
	want := []got{{StrategyRewrite, 4}, {StrategyUpdate, 8}, {StrategyAuto, 0}}
	for i, tr := range r.Tables {
		if g := (got{tr.Strategy, tr.StrategyLine}); g != want[i] {
			t.Errorf("table %s: got strategy %q at line %d, want %q at line %d", tr.Name, g.s, g.line, want[i].s, want[i].line)
		}
	}
}

func TestParseRulesReportsEveryProblem(t *testing.T) {
	_, err := LoadRules(filepath.Join("testdata", "many-problems.yaml"))
	checkProblems(t, err, []problem{
		{1, "unsupported version 2"},
		{2, `unknown key "colour"`},
		{5, "rental is listed twice in truncate"},
		{7, "rental is both truncated (line 4) and masked"},
		{11, "top-level truncate"},
		{13, `unknown transformer, did you mean "first_name"?`},
		{14, "seed names the column itself"},
		{15, `duplicate column "first_name" (first at line 13)`},
		{16, `duplicate table "customer" (first at line 10)`},
	})
}

func TestRulesErrorFormat(t *testing.T) {
	_, err := ParseRules("db/rules.yaml", []byte("version: 3\nextra: 1\n"))
	want := "db/rules.yaml:1: unsupported version 3: this restage reads version 1\n" +
		"db/rules.yaml:2: unknown key \"extra\" (valid: version, locale, truncate, tables, post_mask_sql, links)"
	if err == nil || err.Error() != want {
		t.Errorf("Error():\ngot  %v\nwant %s", err, want)
	}
}

// A value written in the wrong place may be personal data: messages name
// where it is, never what it is.
func TestParseRulesDoesNotEchoValues(t *testing.T) {
	const secret = "yamada.taro@example.jp"
	srcs := map[string]string{
		"value as short form":    "version: 1\ntables:\n  t:\n    columns:\n      c: " + secret + "\n",
		"value as transformer":   "version: 1\ntables:\n  t:\n    columns:\n      c: {transformer: \"" + secret + "\"}\n",
		"value as locale":        "version: 1\nlocale: \"" + secret + "\"\n",
		"name as short form":     "version: 1\ntables:\n  t:\n    columns:\n      c: Yamada\n",
		"value as keep":          "version: 1\ntables:\n  t:\n    columns:\n      c: {keep: [\"" + secret + "\"]}\n",
		"value in a fixed param": "version: 1\ntables:\n  t:\n    columns:\n      c: {transformer: fixed, value: [\"" + secret + "\"], bogus: 1}\n",
		"value as seed":          "version: 1\ntables:\n  t:\n    columns:\n      c: {transformer: email, seed: {\"" + secret + "\": 1}}\n",
	}
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRules("rules.yaml", []byte(src))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			if strings.Contains(strings.ToLower(err.Error()), "yamada") {
				t.Errorf("error repeats the value:\n%v", err)
			}
		})
	}
}

func TestParamValues(t *testing.T) {
	src := `
paths:
  profile.name: {transformer: last_name}
  tags: [1, 2.5, true, null, "x"]
since: 2020-01-31
big: 9007199254740993
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	p := &rulesParser{file: "rules.yaml"}
	got := p.value(doc.Content[0], "params")
	want := map[string]any{
		"paths": map[string]any{
			"profile.name": map[string]any{"transformer": "last_name"},
			"tags":         []any{1, 2.5, true, nil, "x"},
		},
		"since": "2020-01-31",
		"big":   9007199254740993,
	}
	if len(p.problems) != 0 {
		t.Fatalf("problems: %v", p.problems)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestParseRulesAliasBomb(t *testing.T) {
	src := "version: 1\ntables:\n  t:\n    columns:\n      c:\n        transformer: json\n        x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
	for i := 1; i <= 8; i++ {
		prev := fmt.Sprintf("*a%d", i-1)
		src += fmt.Sprintf("        x%d: &a%d [%s, %s, %s, %s, %s, %s, %s, %s, %s, %s]\n", i, i, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
	}
	_, err := ParseRules("rules.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "too many parameter values") {
		t.Errorf("got %v, want too many parameter values", err)
	}
}

func TestParseRulesAliases(t *testing.T) {
	r := mustParse(t, `version: 1
tables:
  customer:
    columns:
      last_name: &person {transformer: last_name, seed: [customer_id]}
  actor:
    columns:
      last_name: *person
`)
	got := summarize(t, r)
	if len(got) != 2 || !reflect.DeepEqual(got[1].Columns[0].Seed, []string{"customer_id"}) {
		t.Errorf("got %+v, want the alias resolved", got)
	}
}

func TestLoadRulesMissingFile(t *testing.T) {
	_, err := LoadRules(filepath.Join("testdata", "no-such-file.yaml"))
	var re *RulesError
	if err == nil || errors.As(err, &re) {
		t.Errorf("got %v, want a read error", err)
	}
}

func TestExampleRulesParse(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "examples", "rules", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 2 {
		t.Fatalf("got %d example rules files, want at least 2 (MySQL and PostgreSQL)", len(paths))
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r, err := LoadRules(path)
			if err != nil {
				t.Fatalf("LoadRules:\n%v", err)
			}
			if len(r.Tables) == 0 {
				t.Error("got no tables, want the Sakila rules")
			}
		})
	}
}

func TestPostMaskSQL(t *testing.T) {
	r, err := ParseRules("r.yaml", []byte("version: 1\npost_mask_sql:\n  - UPDATE webhooks SET url = 'https://example.invalid/hook'\n  - |\n    DELETE FROM api_keys\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PostMaskSQL) != 2 || r.PostMaskSQL[0].Line != 3 || !strings.HasPrefix(r.PostMaskSQL[1].SQL, "DELETE FROM api_keys") {
		t.Errorf("post_mask_sql = %+v, want two statements, the first on line 3", r.PostMaskSQL)
	}
	for _, bad := range []string{"version: 1\npost_mask_sql: UPDATE x SET y = 1\n", "version: 1\npost_mask_sql:\n  - ''\n"} {
		if _, err := ParseRules("r.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "r.yaml:2") && !strings.Contains(err.Error(), "r.yaml:3") {
			t.Errorf("ParseRules(%q) = %v, want a post_mask_sql error with its line", bad, err)
		}
	}
}

func TestSuggestName(t *testing.T) {
	valid := []string{"Customer", "CustomerId", "FirstName", "BillingPostalCode", "email", "Invoice", "invoice"}
	for _, c := range []struct {
		in, want, hint string
	}{
		{"customer", "Customer", "did you mean `Customer`?"},
		{"CUSTOMER", "Customer", "did you mean `Customer`?"},
		{"first_name", "FirstName", "did you mean `FirstName`? (the rule spells it in snake_case, the database in PascalCase)"},
		{"customer_id", "CustomerId", "did you mean `CustomerId`? (the rule spells it in snake_case, the database in PascalCase)"},
		{"billing_postal_code", "BillingPostalCode", "did you mean `BillingPostalCode`? (the rule spells it in snake_case, the database in PascalCase)"},
		{"Email", "email", "did you mean `email`?"},
		{"INVOICE", "", ""}, // Invoice and invoice both: ambiguous, say nothing
		{"address2", "", ""},
		{"Custmer", "", ""}, // misspellings are not guessed
	} {
		s, ok := SuggestName(c.in, valid)
		if ok != (c.want != "") || s.Name != c.want || (ok && s.Hint() != c.hint) {
			t.Errorf("SuggestName(%q) = %+v %v (hint %q), want %q (hint %q)", c.in, s, ok, s.Hint(), c.want, c.hint)
		}
	}
	for in, want := range map[string]string{"first_name": "snake_case", "FIRST_NAME": "snake_case", "FirstName": "PascalCase",
		"firstName": "camelCase", "Customer": "", "email": ""} {
		if got := NameStyle(in); got != want {
			t.Errorf("NameStyle(%q) = %q, want %q", in, got, want)
		}
	}
}
