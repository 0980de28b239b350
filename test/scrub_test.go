package test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/restage/restage/internal/enginetest"
)

// TestRunErrorsCarryNoValue plants a personal value in a production column
// the rules keep, makes post-mask SQL fail on it, and checks that the value
// reaches none of what an operator reads — the JSON log, the human report,
// the --report file, the Slack message — while each still names the
// server's error code, so the operator can act.
func TestRunErrorsCarryNoValue(t *testing.T) {
	const planted = "ZEBULON QUACKENBUSH"
	for _, ec := range engineCases {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, ec)
			f.exec(t, "UPDATE film SET title = '"+planted+"' WHERE film_id = 1")
			stmt, code := "UPDATE film SET length = title::int WHERE film_id = 1", "22P02"
			if ec.name == "mysql" {
				stmt, code = "UPDATE film SET length = title WHERE film_id = 1", "1366"
			}
			base, err := os.ReadFile(ec.rules)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules.yaml")
			if err := os.WriteFile(rules, append(base, "\npost_mask_sql:\n  - "+stmt+"\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var slackBodies []string
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				slackBodies = append(slackBodies, string(b))
				mu.Unlock()
				io.WriteString(w, "ok")
			}))
			t.Cleanup(hook.Close)
			report := filepath.Join(dir, "report.json")
			res := restage(t, f.env("RESTAGE_RULES="+rules, "RESTAGE_SLACK_WEBHOOK_URL="+hook.URL), "run", "--report", report)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1 (post-mask SQL failed)\n%s", res.code, res.stderr)
			}
			rep, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			slackText := strings.Join(slackBodies, "\n")
			mu.Unlock()
			for what, text := range map[string]string{"JSON log": res.stdout, "human report": res.stderr, "report file": string(rep), "Slack": slackText} {
				if enginetest.Leaks(text) {
					t.Errorf("%s carries the planted value:\n%s", what, text)
				}
				if !strings.Contains(text, code) {
					t.Errorf("%s does not name the server's error code %s:\n%s", what, code, text)
				}
			}
		})
	}
}
