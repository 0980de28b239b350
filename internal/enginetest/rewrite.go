package enginetest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/restage/restage/internal/mask"
)

// Rewrite checks an engine that implements mask.Rewriter (others skip):
// a table masked with strategy rewrite holds exactly the rows it holds
// when masked with strategy update (same key, same fakes, NULLs kept,
// unmasked columns untouched), and the report says which strategy ran.
// Part of Run.
func Rewrite(t *testing.T, h Harness) {
	const q = "SELECT id, team_id, email, full_name, phone, born, salary, note, created, prefs FROM people"
	got := map[string]map[string][]string{}
	for _, strategy := range []string{"rewrite", "update"} {
		eng, db := h.Open(t)
		if _, ok := eng.(mask.Rewriter); !ok {
			t.Skipf("%T masks in place only", eng)
		}
		exec(t, db, peopleDDL(h)...)
		fill(t, db, 1234)
		// A rewrite needs the database to itself: the setup connection
		// goes (the engine gives a closing session time to leave).
		db.SetMaxIdleConns(0)
		rules := strings.Replace(maskRules, "  people:\n", "  people:\n    strategy: "+strategy+"\n", 1)
		rep, err := mask.Run(context.Background(), eng, Plan(t, eng, rules), Key, mask.Options{Workers: 2, BatchSize: 100})
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		for _, ts := range rep.Tables {
			if ts.Action == "mask" && ts.Strategy != strategy {
				t.Fatalf("%s: the report says %s for %s (%s)", strategy, ts.Strategy, ts.Table, ts.StrategyWhy)
			}
		}
		rows := map[string][]string{}
		for k, vals := range snapshot(t, db, q) {
			for _, v := range vals {
				s := v.String
				if !v.Valid {
					s = "NULL"
				}
				rows[k] = append(rows[k], s)
			}
		}
		if len(rows) != 1234 {
			t.Errorf("%s: %d rows, want 1234", strategy, len(rows))
		}
		got[strategy] = rows
	}
	if !reflect.DeepEqual(got["rewrite"], got["update"]) {
		n := 0
		for k, v := range got["update"] {
			if !reflect.DeepEqual(got["rewrite"][k], v) {
				n++
			}
		}
		t.Errorf("%d rows differ between rewrite and update", n)
	}
}
