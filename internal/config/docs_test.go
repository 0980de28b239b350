package config

import (
	"os"
	"strings"
	"testing"
)

// TestRulesDocumented: every top-level key the parser accepts has a row in
// docs/rules.md's "Top level" table (post_mask_sql had none).
func TestRulesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, k := range topLevelKeys {
		if !strings.Contains(doc, "\n| `"+k+"` |") {
			t.Errorf("docs/rules.md has no row for the top-level key %s", k)
		}
		if k != "version" && k != "locale" && !strings.Contains(doc, "\n### `"+k+"`") {
			t.Errorf("docs/rules.md has no section for %s", k)
		}
	}
}
