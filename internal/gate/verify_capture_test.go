package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/restage/restage/internal/mask"
)

// The baseline the masking pass takes (VerifyCapturer as mask.Run's
// observer, several workers, small ranges) must equal the one the separate
// read pass VerifyCapture takes of the same rows: same counts, NULL counts,
// sampled fingerprints, keyless sets and consistency places. Small sample
// bounds make both sample, so the order-independence of the samples is
// exercised too.
func TestVerifyCapturerEqualsVerifyCapture(t *testing.T) {
	for _, ec := range verifyEngines {
		t.Run(ec.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			rules := verifyCaptureRules(t, ec)
			setup := func() *verifyEnv {
				e := verifySetup(t, ec, true)
				var vals []string
				for i := range 600 {
					// 100 names over two columns: originals seen in many
					// places, for the consistency check.
					vals = append(vals, fmt.Sprintf("(%d, 'Name%03d', 'Name%03d')", i+1, i%100, (i*7)%100))
				}
				e.exec(t,
					"CREATE TABLE nokey (name VARCHAR(60), city VARCHAR(40))",
					"INSERT INTO nokey VALUES ('Alice Smith', 'Paris'), ('Bob Jones', NULL), ('Alice Smith', 'Paris'), ('', 'Nice'), (NULL, 'Lyon')",
					"CREATE TABLE twice (id INT PRIMARY KEY, a VARCHAR(40), b VARCHAR(40))",
					"INSERT INTO twice VALUES "+strings.Join(vals, ", "),
				)
				return e
			}
			e := setup()
			s, plan := e.plan(t, rules)
			for _, opt := range []VerifyOptions{
				{Schema: s, Workers: 3},
				{Schema: s, Workers: 3, MaxRowsPerTable: 64, ConsistencySample: 40},
			} {
				want, err := VerifyCapture(ctx, e.eng, plan, verifyKey, opt)
				if err != nil {
					t.Fatal(err)
				}
				capt, err := NewVerifyCapturer(ctx, e.eng, plan, verifyKey, opt)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := mask.Run(ctx, e.eng, plan, verifyKey, mask.Options{Workers: 3, BatchSize: 97, Observer: capt}); err != nil {
					t.Fatal(err)
				}
				got, err := capt.Baseline()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := capt.Baseline(); err == nil {
					t.Error("a second Baseline succeeded")
				}
				verifyBaselineEqual(t, got, want)
				rep, err := Verify(ctx, e.eng, s, plan, got)
				verifyNoLeak(t, rep, err)
				if !rep.OK() {
					t.Fatalf("verification of the masked copy failed: %v", verifyFailed(rep))
				}
				// Masking changed the data: fresh originals for the next
				// option set.
				e = setup()
				s, plan = e.plan(t, rules)
			}
		})
	}
}

func verifyBaselineEqual(t *testing.T, got, want *VerifyBaseline) {
	t.Helper()
	keyless, pairs := 0, 0
	for _, jb := range want.jobs {
		if !jb.keyed() {
			keyless++
		}
	}
	for _, g := range want.groups {
		pairs += len(g.pairs)
	}
	if len(want.jobs) < 3 || keyless == 0 || pairs == 0 {
		t.Fatalf("%d jobs, %d keyless, %d consistency pairs: the test proves too little", len(want.jobs), keyless, pairs)
	}
	g, w := *got, *want
	g.elapsed, w.elapsed = 0, 0
	if !reflect.DeepEqual(g.counts, w.counts) {
		t.Errorf("row counts differ: got %v, want %v", g.counts, w.counts)
	}
	for i := range w.jobs {
		if !reflect.DeepEqual(g.jobs[i], w.jobs[i]) {
			gj, wj := g.jobs[i], w.jobs[i]
			t.Errorf("%s: baselines differ: rows %d/%d nulls %v/%v", wj.table.TableName, gj.rows, wj.rows, gj.nulls, wj.nulls)
		}
	}
	if !reflect.DeepEqual(g.groups, w.groups) {
		t.Error("consistency groups differ")
	}
	if !reflect.DeepEqual(g, w) {
		t.Error("baselines differ")
	}
}

// verifyCaptureRules is the engine's Sakila rules plus a keyless table and
// a table whose two columns share one unseeded rule.
func verifyCaptureRules(t *testing.T, ec verifyEngine) string {
	t.Helper()
	b, err := os.ReadFile(ec.rules)
	if err != nil {
		t.Fatal(err)
	}
	extra := `
  nokey:
    columns:
      name: full_name
      city: city
  twice:
    columns:
      a: last_name
      b: last_name
`
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, append(b, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
