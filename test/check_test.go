package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restage/restage/internal/engines"
)

// TestCheck drives `restage check` the way an application team's CI would:
// clean rules pass (0), a new personal-looking column is refused (1) with
// a patch naming it, --fix applies the patch and the next check passes,
// bad input exits 2, and no sampled value is ever printed.
func TestCheck(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			d, _ := ec.create(t)
			ec.load(t, d)
			db := openDB(t, ec.driver, d)
			rulesText, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			rules := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(rules, rulesText, 0o644); err != nil {
				t.Fatal(err)
			}
			res := restage(t, nil, "check", "--dsn", d, "--rules", rules)
			if res.code != 0 {
				t.Fatalf("complete rules: exit %d, want 0\n%s%s", res.code, res.stdout, res.stderr)
			}

			// "Production" grows a mobile phone column with a canary value.
			const canary = "090-9999-0001"
			for _, q := range []string{
				"ALTER TABLE customer ADD COLUMN mobile_tel VARCHAR(20)",
				"UPDATE customer SET mobile_tel = '" + canary + "' WHERE customer_id = 1",
				"UPDATE customer SET mobile_tel = '080-1234-5678' WHERE customer_id > 1",
			} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			sumBefore := checksum(t, ec, db, introspect(t, ec, d))
			patch := filepath.Join(t.TempDir(), "rules.diff")
			res = restage(t, nil, "check", "--dsn", d, "--rules", rules, "--patch", patch)
			if res.code != 4 {
				t.Fatalf("unclassified column: exit %d, want 4 (the drift gate refuses, as in mask and run)\n%s%s", res.code, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, "mobile_tel") {
				t.Errorf("check output does not name customer.mobile_tel:\n%s", res.stdout)
			}
			p, err := os.ReadFile(patch)
			if err != nil || !strings.Contains(string(p), "mobile_tel") {
				t.Fatalf("patch file missing or not naming the column (%v):\n%s", err, p)
			}
			if strings.Contains(res.stdout+res.stderr+string(p), canary) {
				t.Error("check printed a sampled value")
			}
			// restage mask refuses the same way (exit 4) and changes nothing.
			pd, _ := engines.ParseDSN(d)
			res = restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", d, "--rules", rules, "--confirm", pd.Target())
			if res.code != 4 || !strings.Contains(res.stderr, "mobile_tel") {
				t.Errorf("mask with an unclassified column: exit %d, want 4 naming it\n%s", res.code, res.stderr)
			}
			if strings.Contains(res.stdout+res.stderr, canary) {
				t.Error("mask printed a sampled value")
			}
			if got := checksum(t, ec, db, introspect(t, ec, d)); got != sumBefore {
				t.Fatal("a refused mask changed the database")
			}

			res = restage(t, nil, "check", "--dsn", d, "--rules", rules, "--fix")
			if res.code != 4 {
				t.Fatalf("--fix run: exit %d, want 4 (it still reports what it fixed)\n%s%s", res.code, res.stdout, res.stderr)
			}
			res = restage(t, nil, "check", "--dsn", d, "--rules", rules)
			if res.code != 0 {
				t.Fatalf("after --fix: exit %d, want 0\n%s%s", res.code, res.stdout, res.stderr)
			}
			// And masking with the fixed rules passes both gates.
			res = restage(t, []string{"RESTAGE_MASK_KEY=" + testKey}, "mask", "--dsn", d, "--rules", rules, "--confirm", pd.Target())
			if res.code != 0 {
				t.Fatalf("mask with fixed rules: exit %d\n%s", res.code, res.stderr)
			}
			var v string
			if err := db.QueryRow("SELECT mobile_tel FROM customer WHERE customer_id = 1").Scan(&v); err != nil || v == canary {
				t.Errorf("mobile_tel after masking: %v (err %v), want a fake", v == canary, err)
			}

			// Bad input: exit 2.
			bad := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(bad, []byte("version: 1\ntables:\n  customer:\n    colums: {}\n"), 0o644)
			for _, args := range [][]string{
				{"check", "--rules", rules},
				{"check", "--dsn", d, "--rules", bad},
				{"check", "--dsn", d},
				{"check", "--dsn", d, "--rules", rules, "--sample", "0"},
			} {
				if res := restage(t, nil, args...); res.code != 2 {
					t.Errorf("%v: exit %d, want 2\n%s", args, res.code, res.stderr)
				}
			}
		})
	}
}
