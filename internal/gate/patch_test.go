package gate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

func patchTestSchema(def string) *schema.Schema {
	tbl := func(name string) *schema.Table {
		return &schema.Table{TableName: schema.TableName{Schema: def, Name: name}}
	}
	s := &schema.Schema{DefaultSchema: def, Tables: []*schema.Table{tbl("customer"), tbl("staff"), tbl("member")}}
	if def != "" {
		s.Tables = append(s.Tables, &schema.Table{TableName: schema.TableName{Schema: "crm", Name: "lead"}})
	}
	return s
}

func TestPatchMake(t *testing.T) {
	pub := func(n string) schema.TableName { return schema.TableName{Schema: "public", Name: n} }
	my := func(n string) schema.TableName { return schema.TableName{Name: n} }
	for _, c := range []struct {
		name string
		def  string
		in   string
		adds []patchAdd
		want string
	}{
		{
			name: "into an existing table, after its comments",
			in: `version: 1
tables:
  customer:
    columns:
      email: email          # mailbox
      # a comment inside the block
  staff:
    columns:
      email: email
`,
			adds: []patchAdd{{table: my("customer"), column: "mobile_tel", rule: "phone", comment: `name looks like "mobile"`}},
			want: `version: 1
tables:
  customer:
    columns:
      email: email          # mailbox
      # a comment inside the block
      mobile_tel: phone  # name looks like "mobile"
  staff:
    columns:
      email: email
`,
		},
		{
			name: "four-space indentation, qualified spelling, new tables",
			def:  "public",
			in: `version: 1
tables:
    public.customer:
        columns:
            email: email

# trailing comment
`,
			adds: []patchAdd{
				{table: pub("customer"), column: "tel", rule: "phone", comment: "r1"},
				{table: pub("member"), column: "name", rule: "full_name", comment: "r2"},
				{table: schema.TableName{Schema: "crm", Name: "lead"}, column: "2fa secret", rule: "nullify", comment: "r3"},
			},
			want: `version: 1
tables:
    public.customer:
        columns:
            email: email
            tel: phone  # r1
    member:
        columns:
            name: full_name  # r2
    crm.lead:
        columns:
            "2fa secret": nullify  # r3

# trailing comment
`,
		},
		{
			name: "no tables key, no final newline",
			in:   "version: 1\ntruncate:\n  - staff",
			adds: []patchAdd{{table: my("member"), column: "email", rule: "email", comment: "r"}},
			want: "version: 1\ntruncate:\n  - staff\ntables:\n  member:\n    columns:\n      email: email  # r\n",
		},
		{
			name: "empty tables",
			in:   "version: 1\ntables:\n# nothing yet\n",
			adds: []patchAdd{{table: my("member"), column: "email", rule: "email", comment: "r"}},
			want: "version: 1\ntables:\n  member:\n    columns:\n      email: email  # r\n# nothing yet\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			diff, err := patchMake("rules.yaml", []byte(c.in), patchTestSchema(c.def), c.adds, patchRenames{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(diff, "--- rules.yaml\n+++ rules.yaml\n@@ ") {
				t.Errorf("diff header:\n%s", diff)
			}
			got, err := PatchApply([]byte(c.in), &DriftReport{Patch: diff})
			if err != nil {
				t.Fatalf("PatchApply: %v\n%s", err, diff)
			}
			if string(got) != c.want {
				t.Errorf("got:\n%s\nwant:\n%s\ndiff:\n%s", got, c.want, diff)
			}
			if _, err := config.ParseRules("rules.yaml", got); err != nil {
				t.Errorf("patched file does not parse: %v", err)
			}
			driftPatchProgram(t, []byte(c.in), diff, got)
		})
	}
}

func TestPatchMakeManyHunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\ntables:\n  customer:\n    columns:\n      a: email\n")
	b.WriteString("  staff:\n    columns:\n      a: email\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "      c%d: email\n", i)
	}
	in := b.String()
	adds := []patchAdd{
		{table: schema.TableName{Name: "staff"}, column: "b", rule: "phone", comment: "r"},
		{table: schema.TableName{Name: "customer"}, column: "b", rule: "phone", comment: "r"},
	}
	diff, err := patchMake("rules.yaml", []byte(in), patchTestSchema(""), adds, patchRenames{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(diff, "\n@@ "); n != 2 {
		t.Errorf("want 2 hunks, got %d:\n%s", n, diff)
	}
	got, err := PatchApply([]byte(in), &DriftReport{Patch: diff})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(got), "      b: phone  # r\n") != 2 || !strings.Contains(string(got), "c9: email\n      b: phone") {
		t.Errorf("got:\n%s", got)
	}
	driftPatchProgram(t, []byte(in), diff, got)
}

func TestPatchMakeFlowStyle(t *testing.T) {
	in := "version: 1\ntables:\n  customer: {columns: {email: email}}\n"
	_, err := patchMake("rules.yaml", []byte(in), patchTestSchema(""), []patchAdd{{table: schema.TableName{Name: "customer"}, column: "tel", rule: "phone"}}, patchRenames{})
	if err == nil || !strings.Contains(err.Error(), "flow style") {
		t.Errorf("err = %v, want a flow style refusal", err)
	}
}

func TestPatchApplyRefusesChangedFile(t *testing.T) {
	in := "version: 1\ntables:\n  customer:\n    columns:\n      email: email\n"
	diff, err := patchMake("rules.yaml", []byte(in), patchTestSchema(""), []patchAdd{{table: schema.TableName{Name: "customer"}, column: "tel", rule: "phone"}}, patchRenames{})
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(in, "email: email", "email: nullify", 1)
	if _, err := PatchApply([]byte(changed), &DriftReport{Patch: diff}); err == nil {
		t.Error("PatchApply applied a patch to a file that changed under it")
	}
	if got, err := PatchApply([]byte(in), &DriftReport{}); err != nil || string(got) != in {
		t.Errorf("empty patch: got %q, %v", got, err)
	}
}

func TestPatchRuleRender(t *testing.T) {
	r := patchRule{name: "json", paths: []patchPathRule{
		{path: "$.contact.email", rule: patchRule{name: "email"}},
		{path: "$['a b'][*].tel", rule: patchRule{name: "phone", params: []patchParam{{"locale", "ja"}}}},
	}}
	want := `{transformer: json, paths: {"$.contact.email": email, "$['a b'][*].tel": {transformer: phone, locale: ja}}}`
	if got := r.render(); got != want {
		t.Errorf("render = %s, want %s", got, want)
	}
	for in, want := range map[string]string{"email": "email", "": `""`, "true": `"true"`, "a b": `"a b"`, "{}": `"{}"`} {
		if got := patchScalar(in); got != want {
			t.Errorf("patchScalar(%q) = %s, want %s", in, got, want)
		}
	}
}
