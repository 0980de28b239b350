package gate

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/restage/restage/internal/testdb/jpshop"
)

// TestDriftJPShopFreeText: on the Japanese shop fixture, free-text columns
// without a rule — gift messages and support tickets holding phone numbers
// and e-mail addresses inside Japanese sentences — are flagged with the
// share of sampled values holding them, and get the text rule.
func TestDriftJPShopFreeText(t *testing.T) {
	for _, f := range []struct {
		e      driftEngine
		flavor jpshop.Flavor
	}{{driftEngines[0], jpshop.MariaDB}, {driftEngines[1], jpshop.Postgres}} {
		t.Run(f.e.name, func(t *testing.T) {
			d, _ := f.e.create(t)
			db, err := sql.Open(f.e.driver, d)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := jpshop.Load(context.Background(), db, f.flavor, 4000); err != nil {
				t.Fatal(err)
			}
			k := &driftSakila{e: f.e, dsn: d, db: db}
			rules := jpshop.RulesYAML
			for _, line := range []string{"      gift_message: text\n", "  support_tickets:\n    columns:\n      body: text\n"} {
				if !strings.Contains(rules, line) {
					t.Fatalf("the jpshop rules lack %q", line)
				}
				rules = strings.Replace(rules, line, "", 1)
			}
			rep := k.drift(t, []byte(rules))
			t.Log(rep.Summary())
			for _, c := range []struct{ table, column, what string }{
				{"orders", "gift_message", "phone numbers in"},
				{"support_tickets", "body", "e-mail addresses in"},
			} {
				fd := driftFind(rep, c.table, c.column)
				if fd == nil {
					t.Errorf("%s.%s not flagged", c.table, c.column)
					continue
				}
				if fd.Suggest != "text" {
					t.Errorf("%s.%s: suggest %q, want text", c.table, c.column, fd.Suggest)
				}
				r := strings.Join(fd.Reasons, "; ")
				if !strings.Contains(r, "sampled values (") || !strings.Contains(r, "hold personal data inside longer text") || !strings.Contains(r, c.what) {
					t.Errorf("%s.%s reasons %q: want the share and %q", c.table, c.column, r, c.what)
				}
			}
			fixed := driftFix(t, []byte(rules), rep)
			if rep2 := k.drift(t, fixed); !rep2.OK() {
				t.Fatalf("still refused after the patch:\n%s", rep2.Summary())
			}
		})
	}
}
