package test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/restage/restage/internal/testdb/jpshop"
)

// TestRunLeakScanJPShop runs restage on the Japanese shop fixture with an
// original e-mail planted in a kept free-text column (orders.delivery_note):
// the leak scan refuses the swap (exit 4) naming the column and the row
// count; with a text rule on that column the same fixture then refreshes.
func TestRunLeakScanJPShop(t *testing.T) {
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			flavor := jpshop.MariaDB
			if ec.name == "postgres" {
				flavor = jpshop.Postgres
			}
			dir := t.TempDir()
			kept := filepath.Join(dir, "kept.yaml")
			if err := os.WriteFile(kept, []byte(jpshop.RulesYAML), 0o600); err != nil {
				t.Fatal(err)
			}
			const keepLine = `delivery_note: {keep: "canned delivery instructions chosen from a list"}`
			if !strings.Contains(jpshop.RulesYAML, keepLine) {
				t.Fatal("jpshop rules no longer keep orders.delivery_note")
			}
			texted := filepath.Join(dir, "text.yaml")
			if err := os.WriteFile(texted, []byte(strings.Replace(jpshop.RulesYAML, keepLine, "delivery_note: text", 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			ec.rules = kept
			var planted int
			ec.load = func(t testing.TB, dsn string) {
				db, err := sql.Open(ec.driver, dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := jpshop.Load(context.Background(), db, flavor, 40_000); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(`UPDATE orders SET delivery_note = (SELECT email FROM users WHERE users.id = orders.user_id) WHERE id % 40 = 0`); err != nil {
					t.Fatal(err)
				}
				if err := db.QueryRow(`SELECT COUNT(*) FROM orders WHERE id % 40 = 0`).Scan(&planted); err != nil {
					t.Fatal(err)
				}
			}
			f := newFixture(t, ec)
			res := restage(t, f.env(), "run")
			out := res.stdout + res.stderr
			if res.code != 4 {
				t.Fatalf("run with an original e-mail in a kept column: exit %d, want 4\n%s", res.code, out)
			}
			if want := fmt.Sprintf("orders.delivery_note holds original email values in %d row(s)", planted); !strings.Contains(out, want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
			if strings.Contains(out, "@example.jp") || strings.Contains(out, "@example.co.jp") {
				t.Error("the output shows an original e-mail address")
			}
			if n := len(f.databases(t, "restage_"+f.target+"_")); n != 0 {
				t.Errorf("the refused run left %d database(s)", n)
			}

			// With a text rule the same fixture refreshes, and the whole run,
			// leak scan included, stays under 100 MB.
			f.ec.rules = texted
			cmd := measured(binary, "run")
			cmd.Env = append(cmd.Env, f.env()...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("run with a text rule: %v\n%s", err, out)
			} else if !regexp.MustCompile(`leak scan: \d+ column\(s\), \d+ row\(s\), no original found`).Match(out) || strings.Contains(string(out), "leak scan: leak scan") {
				t.Errorf("the report does not say once what the leak scan read:\n%s", out)
			}
			if mb := peakRSSMB(cmd); mb >= 100 {
				t.Errorf("peak RSS %d MiB, want < 100", mb)
			} else {
				t.Logf("peak RSS %d MiB", mb)
			}
		})
	}
}
