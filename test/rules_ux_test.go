package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// restageIn runs the binary in a working directory, so that a relative
// rules path means what it means to a user in that directory.
func restageIn(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// sakilaWithMobile is a Sakila copy whose customer table grew a phone
// column no rule covers.
func sakilaWithMobile(t *testing.T, ec engineCase) string {
	t.Helper()
	d, _ := ec.create(t)
	ec.load(t, d)
	db := openDB(t, ec.driver, d)
	for _, q := range []string{
		"ALTER TABLE customer ADD COLUMN mobile_tel VARCHAR(20)",
		"UPDATE customer SET mobile_tel = '080-1234-5678'",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// applyInstruction runs the printed "apply with: CMD" under sh in dir, with
// FILE standing for the saved patch, the way a user would paste it.
func applyInstruction(t *testing.T, dir, out, file string) {
	t.Helper()
	m := regexp.MustCompile(`apply with: (patch [^\n]*?)(?:\)|, or | \(or |\n)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no patch instruction in:\n%s", out)
	}
	cmdline := strings.ReplaceAll(m[1], "< FILE", "< "+file)
	if strings.Contains(cmdline, "-p0") {
		t.Errorf("instruction %q relies on the diff's file name (-p0)", cmdline)
	}
	cmd := exec.Command("sh", "-c", cmdline+" --batch --no-backup-if-mismatch")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
}

// TestPatchInstructionRelativeAndAbsolute: the command restage prints to
// apply its rules patch works, run with GNU patch, whether the rules path
// was given relative to the working directory or absolute (where `patch
// -p0` refuses the diff's file name as dangerous).
func TestPatchInstructionRelativeAndAbsolute(t *testing.T) {
	if _, err := exec.LookPath("patch"); err != nil {
		t.Fatal("GNU patch is needed: the test runs the printed instruction")
	}
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			d := sakilaWithMobile(t, ec)
			rulesText, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			for _, abs := range []bool{false, true} {
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(dir, "conf", "rules.yaml")
				path := filepath.Join("conf", "rules.yaml")
				if abs {
					path = file
				}
				if err := os.WriteFile(file, rulesText, 0o644); err != nil {
					t.Fatal(err)
				}
				// --patch FILE prints the command for that file.
				res := restageIn(t, dir, nil, "check", "--dsn", d, "--rules", path, "--patch", "fix.diff")
				if res.code != 4 {
					t.Fatalf("abs=%v: check exit %d, want 4\n%s%s", abs, res.code, res.stdout, res.stderr)
				}
				applyInstruction(t, dir, res.stdout[strings.Index(res.stdout, "rules patch written"):], "fix.diff")
				if res = restageIn(t, dir, nil, "check", "--dsn", d, "--rules", path); res.code != 0 {
					t.Fatalf("abs=%v: after applying the printed command: exit %d\n%s", abs, res.code, res.stdout)
				}

				// The summary's "save it as FILE and apply with" works too
				// (the same report, through --report).
				if err := os.WriteFile(file, rulesText, 0o644); err != nil {
					t.Fatal(err)
				}
				res = restageIn(t, dir, nil, "check", "--dsn", d, "--rules", path, "--report", "rep.json")
				var rep struct{ Patch string }
				b, err := os.ReadFile(filepath.Join(dir, "rep.json"))
				if err != nil || json.Unmarshal(b, &rep) != nil || rep.Patch == "" {
					t.Fatalf("abs=%v: no patch in the JSON report (%v): %s", abs, err, b)
				}
				if err := os.WriteFile(filepath.Join(dir, "saved.diff"), []byte(rep.Patch), 0o644); err != nil {
					t.Fatal(err)
				}
				applyInstruction(t, dir, res.stdout, "saved.diff")
				if res = restageIn(t, dir, nil, "check", "--dsn", d, "--rules", path); res.code != 0 {
					t.Fatalf("abs=%v: after applying the summary's command: exit %d\n%s", abs, res.code, res.stdout)
				}
			}
		})
	}
}

// TestCheckFixRenamesWrongCaseBlock: a table written in the wrong case gets
// "did you mean", and --fix renames that block (adding the missing rule to
// it) instead of adding a second one beside it.
func TestCheckFixRenamesWrongCaseBlock(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			d := sakilaWithMobile(t, ec)
			rulesText, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			wrong := strings.Replace(string(rulesText), "\n  customer:\n", "\n  Customer:\n", 1)
			if wrong == string(rulesText) {
				t.Fatal("no customer block in the example rules")
			}
			rules := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(rules, []byte(wrong), 0o644); err != nil {
				t.Fatal(err)
			}
			res := restage(t, nil, "check", "--dsn", d, "--rules", rules)
			// A rule for a table the database doesn't have is bad input (2)
			// in check, mask and run alike (issue 9).
			if res.code != 2 || !strings.Contains(res.stdout, "table Customer does not exist: did you mean `customer`?") {
				t.Fatalf("exit %d, want 2 with a did-you-mean:\n%s%s", res.code, res.stdout, res.stderr)
			}
			if res = restage(t, nil, "check", "--dsn", d, "--rules", rules, "--fix"); res.code != 2 {
				t.Fatalf("--fix: exit %d, want 2 (it reports what it fixed)\n%s%s", res.code, res.stdout, res.stderr)
			}
			fixed, err := os.ReadFile(rules)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(strings.ToLower(string(fixed)), "\n  customer:\n"); n != 1 || !strings.Contains(string(fixed), "\n  customer:\n") {
				t.Errorf("%d customer blocks after --fix, want one spelt customer:\n%s", n, fixed)
			}
			if res = restage(t, nil, "check", "--dsn", d, "--rules", rules); res.code != 0 {
				t.Fatalf("after --fix: exit %d, want 0\n%s%s\n%s", res.code, res.stdout, res.stderr, fixed)
			}
		})
	}
}

// TestRunDryRunChecksRules: `restage run --dry-run` checks the rules
// against the live source schema and fails the way `restage check` does:
// exit 2 for a name the database doesn't have and for a rule that doesn't
// fit its column (bad input, as in mask and run); it creates nothing
// either way.
func TestRunDryRunChecksRules(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			rulesText, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name, rules, want string
				code              int
			}{
				{"wrong case", strings.Replace(string(rulesText), "\n  customer:\n", "\n  Customer:\n", 1), "did you mean `customer`?", 2},
				{"rule that does not fit", string(rulesText) + "  category:\n    columns:\n      last_update: email\n", "category.last_update", 2},
			} {
				rules := filepath.Join(t.TempDir(), "rules.yaml")
				if err := os.WriteFile(rules, []byte(c.rules), 0o644); err != nil {
					t.Fatal(err)
				}
				check := restage(t, nil, "check", "--dsn", f.sourceDSN, "--rules", rules)
				if check.code != c.code {
					t.Fatalf("%s: check exit %d, want %d\n%s%s", c.name, check.code, c.code, check.stdout, check.stderr)
				}
				res := restage(t, f.env("RESTAGE_RULES="+rules), "run", "--dry-run")
				if res.code != check.code {
					t.Errorf("%s: dry run exit %d, check exit %d: want the same\n%s", c.name, res.code, check.code, res.stderr)
				}
				if !strings.Contains(res.stderr, c.want) || !strings.Contains(res.stderr, "rules checked against the source schema") || !strings.Contains(res.stderr, "nothing was changed") {
					t.Errorf("%s: dry run output lacks %q:\n%s", c.name, c.want, res.stderr)
				}
				if dbs := f.databases(t, "restage_"); len(f.databases(t, "restage_"+f.target)) != 0 || containsStr(dbs, f.control) {
					t.Errorf("%s: dry run created databases: %v", c.name, dbs)
				}
			}
		})
	}
}
