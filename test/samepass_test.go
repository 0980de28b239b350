package test

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/gate"
)

// TestMaskAndRunShareOnePass: `restage run` and `restage mask` go through
// one mask + verify implementation. Both run on copies of the same
// production database with rules that include post-mask SQL; the masked
// tables and the gate reports must be the same.
func TestMaskAndRunShareOnePass(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			base, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules.yaml")
			post := "\npost_mask_sql:\n  - UPDATE category SET name = 'Restaged' WHERE category_id = 1\n"
			if err := os.WriteFile(rules, append(base, post...), 0o644); err != nil {
				t.Fatal(err)
			}

			runRep := filepath.Join(dir, "run.json")
			if res := restage(t, f.env("RESTAGE_RULES="+rules), "run", "--report", runRep); res.code != 0 {
				t.Fatalf("run: exit %d\n%s", res.code, res.stderr)
			}
			copyDSN, _ := ec.create(t)
			ec.load(t, copyDSN)
			target, err := engines.ParseDSN(copyDSN)
			if err != nil {
				t.Fatal(err)
			}
			maskRep := filepath.Join(dir, "mask.json")
			res := restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", copyDSN, "--rules", rules,
				"--confirm", target.Target(), "--report", maskRep, "--batch-size", "500")
			if res.code != 0 {
				t.Fatalf("mask: exit %d\n%s", res.code, res.stderr)
			}

			staging := f.stagingDB(t)
			defer staging.Close()
			masked := openDB(t, ec.driver, copyDSN)
			defer masked.Close()
			var name string
			if err := masked.QueryRow("SELECT name FROM category WHERE category_id = 1").Scan(&name); err != nil || name != "Restaged" {
				t.Errorf("restage mask did not run the post-mask SQL: name = %q, %v", name, err)
			}
			s := introspect(t, ec, copyDSN)
			for _, tb := range s.Tables {
				a, b := dump(t, ec, staging, tb), dump(t, ec, masked, tb)
				if tb.Name == "category" {
					// The post-mask UPDATE stamps last_update with its own
					// time (a trigger on PostgreSQL, ON UPDATE on MySQL).
					for _, d := range []map[string][]sql.NullString{a, b} {
						if r := d["1"]; len(r) == 3 {
							r[2] = sql.NullString{}
						}
					}
				}
				if !reflect.DeepEqual(a, b) {
					diff := 0
					for k, v := range a {
						if !reflect.DeepEqual(v, b[k]) {
							if diff < 2 {
								t.Logf("%s %q: run %v, mask %v", tb.TableName, k, v, b[k])
							}
							diff++
						}
					}
					t.Errorf("%s: restage run and restage mask produced different rows (%d of %d differ)", tb.TableName, diff, len(a))
				}
			}

			var fromRun struct {
				Verify *gate.VerifyReport `json:"verify"`
				Leak   *gate.LeakReport   `json:"leak_scan"`
			}
			var fromMask struct {
				Verify *gate.VerifyReport `json:"verify"`
				Leak   *gate.LeakReport   `json:"leak_scan"`
			}
			readJSON(t, runRep, &fromRun)
			readJSON(t, maskRep, &fromMask)
			if fromRun.Verify == nil || fromMask.Verify == nil || fromRun.Leak == nil || fromMask.Leak == nil {
				t.Fatalf("a report lacks a gate: run %+v, mask %+v", fromRun, fromMask)
			}
			for _, r := range []*gate.VerifyReport{fromRun.Verify, fromMask.Verify} {
				r.Duration = 0
				for i := range r.Tables {
					r.Tables[i].Duration = 0
				}
			}
			fromRun.Leak.Duration, fromMask.Leak.Duration = 0, 0
			if !reflect.DeepEqual(fromRun.Verify, fromMask.Verify) {
				t.Errorf("verification reports differ:\nrun:  %s\nmask: %s", jsonOf(fromRun.Verify), jsonOf(fromMask.Verify))
			}
			if !reflect.DeepEqual(fromRun.Leak, fromMask.Leak) {
				t.Errorf("leak scan reports differ:\nrun:  %s\nmask: %s", jsonOf(fromRun.Leak), jsonOf(fromMask.Leak))
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
