package gate

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// verifyFPs returns n pseudo-random (uniform, like HMAC output) fingerprints.
func verifyFPs(seed uint64, n int) []uint64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.Uint64()
	}
	return out
}

// verifyWantMod is the sampling rule stated independently: the smallest
// power of two m for which at most max distinct fingerprints are 0 mod m.
func verifyWantMod(fps []uint64, max int) uint64 {
	distinct := slices.Compact(slices.Sorted(slices.Values(fps)))
	for m := uint64(1); ; m <<= 1 {
		n := 0
		for _, fp := range distinct {
			if fp%m == 0 {
				n++
			}
		}
		if n <= max {
			return m
		}
	}
}

func TestVerifyRowsSampling(t *testing.T) {
	cases := []struct {
		rows, max int
	}{
		{0, 10}, {10, 10}, {11, 10}, {1000, 1000}, {1000, 999}, {100000, 2000}, {100000, 1}, {50000, 50000},
	}
	for _, c := range cases {
		keys := verifyFPs(uint64(c.rows*31+c.max), c.rows)
		r := newVerifyRows(2, int64(c.max))
		for _, k := range keys {
			r.add(k, []uint64{k ^ 1, k ^ 2})
		}
		r.finish()
		want := verifyWantMod(keys, c.max)
		if r.mod != want {
			t.Errorf("%d rows, max %d: modulus %d, want %d", c.rows, c.max, r.mod, want)
		}
		if len(r.keys) > c.max {
			t.Errorf("%d rows, max %d: holds %d rows", c.rows, c.max, len(r.keys))
		}
		// Exactly the sampled rows, each with its own values, found by key.
		n := 0
		for _, k := range keys {
			first, count := r.lookup(k)
			if k%want != 0 {
				if count != 0 || r.sampled(k) {
					t.Fatalf("%d rows, max %d: unsampled key held", c.rows, c.max)
				}
				continue
			}
			n++
			if count != 1 || r.value(first, 0) != k^1 || r.value(first, 1) != k^2 {
				t.Fatalf("%d rows, max %d: sampled key: count %d", c.rows, c.max, count)
			}
		}
		if n != len(r.keys) {
			t.Errorf("%d rows, max %d: %d sampled, %d held", c.rows, c.max, n, len(r.keys))
		}
		// A uniform sample: about rows/mod rows, at least max/2 when sampling.
		if want > 1 && len(r.keys) < c.max/4 {
			t.Errorf("%d rows, max %d: only %d held", c.rows, c.max, len(r.keys))
		}
	}
}

func TestVerifyRowsOrderIndependent(t *testing.T) {
	keys := verifyFPs(7, 5000)
	a, b := newVerifyRows(1, 300), newVerifyRows(1, 300)
	for _, k := range keys {
		a.add(k, []uint64{k})
	}
	for i := len(keys) - 1; i >= 0; i-- {
		b.add(keys[i], []uint64{keys[i]})
	}
	a.finish()
	b.finish()
	if a.mod != b.mod || !slices.Equal(a.keys, b.keys) || !slices.Equal(a.fps, b.fps) {
		t.Error("the sample depends on the row order")
	}
}

func TestVerifyRowsKeyCollision(t *testing.T) {
	r := newVerifyRows(1, 10)
	r.add(42, []uint64{100})
	r.add(42, []uint64{200})
	r.add(7, []uint64{300})
	r.finish()
	first, count := r.lookup(42)
	if count != 2 {
		t.Fatalf("count %d, want 2", count)
	}
	got := []uint64{r.value(first, 0), r.value(first+1, 0)}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{100, 200}) {
		t.Errorf("values %v", got)
	}
	if _, c := r.lookup(8); c != 0 {
		t.Error("absent key found")
	}
}

func TestVerifySet(t *testing.T) {
	for _, c := range []struct{ n, distinct, max int }{{0, 0, 5}, {100, 10, 5}, {10000, 3000, 1000}, {10000, 500, 1000}, {200000, 100000, 20000}} {
		vals := verifyFPs(uint64(c.n+c.distinct), c.distinct)
		s := newVerifySet(int64(c.max))
		var all []uint64
		for i := 0; i < c.n; i++ {
			fp := vals[(i*7919)%max(c.distinct, 1)]
			all = append(all, fp)
			s.add(fp)
		}
		s.finish()
		want := verifyWantMod(all, c.max)
		if s.mod != want {
			t.Errorf("%+v: modulus %d, want %d", c, s.mod, want)
		}
		if len(s.fps) > c.max {
			t.Errorf("%+v: holds %d", c, len(s.fps))
		}
		// Set compare: every sampled original is found, nothing else is.
		for _, fp := range all {
			if got := s.has(fp); got != (fp%want == 0) {
				t.Fatalf("%+v: has = %v for a value with fp mod m = %d", c, got, fp%want)
			}
		}
		for _, fp := range verifyFPs(99, 1000) {
			if s.has(fp) && !slices.Contains(all, fp) {
				t.Fatalf("%+v: a value never added is found", c)
			}
		}
	}
}

func TestVerifyGroup(t *testing.T) {
	g := newVerifyGroup("phone", 1000)
	vals := verifyFPs(3, 3000)
	// Every value in one place, the first 600 in a second, the first 10 in
	// a third.
	for i, fp := range vals {
		g.add(fp, verifyPlace{job: 0, col: 0, key: uint64(i)})
	}
	for i, fp := range vals[:600] {
		g.add(fp, verifyPlace{job: 1, col: 2, key: uint64(i)})
	}
	for i, fp := range vals[:10] {
		g.add(fp, verifyPlace{job: 2, col: 0, key: uint64(i)})
	}
	mod := g.mod
	if want := verifyWantMod(vals, 1000); mod != want {
		t.Errorf("modulus %d, want %d", mod, want)
	}
	g.finish()
	// Issue 12: the first place is paired with the first place in each
	// other column (before: only the first two places were kept), so the
	// first 10 give a second pair each.
	want, third := 0, 0
	for i, fp := range vals[:600] {
		if fp%mod == 0 {
			want++
			if i < 10 {
				third++
			}
		}
	}
	if len(g.pairs) != want+third || want == 0 {
		t.Fatalf("%d pairs, want %d", len(g.pairs), want+third)
	}
	n2 := 0
	for _, p := range g.pairs {
		if p.at[0].job != 0 || p.at[1].job == 0 || p.at[0].key != p.at[1].key {
			t.Fatalf("pair places %+v", p.at)
		}
		if p.at[1].job == 2 {
			n2++
		}
	}
	if n2 != third {
		t.Errorf("%d pairs with the third column, want %d", n2, third)
	}
	// One column only: a second row of it is kept (repeats within a
	// column are compared too).
	g1 := newVerifyGroup("phone", 1000)
	g1.add(7, verifyPlace{job: 0, col: 0, key: 1})
	g1.add(7, verifyPlace{job: 0, col: 0, key: 2})
	g1.add(7, verifyPlace{job: 0, col: 0, key: 3})
	g1.finish()
	if len(g1.pairs) != 1 || g1.pairs[0].at[1].key != 2 {
		t.Errorf("same-column pairs %+v", g1.pairs)
	}
	// What is kept does not depend on the order places arrive in.
	places := []verifyPlace{{0, 0, 9}, {1, 1, 5}, {0, 0, 3}, {2, 0, 7}, {1, 1, 2}, {0, 0, 4}}
	var got [][]verifyPair
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {3, 0, 4, 1, 5, 2}} {
		g := newVerifyGroup("phone", 1000)
		for _, i := range order {
			g.add(7, places[i])
		}
		g.finish()
		got = append(got, g.pairs)
	}
	want0 := []verifyPair{{at: [2]verifyPlace{{0, 0, 3}, {1, 1, 2}}}, {at: [2]verifyPlace{{0, 0, 3}, {2, 0, 7}}}}
	for i, ps := range got {
		if !slices.Equal(ps, want0) {
			t.Errorf("order %d: pairs %+v, want %+v", i, ps, want0)
		}
	}
}

func TestVerifyReportHoldsNoValue(t *testing.T) {
	ok := &VerifyReport{Tables: []VerifyTable{{Table: "t", Rows: 3, Checks: []string{"row_count"}}}, Failures: []VerifyFailure{}, Duration: time.Second}
	if !ok.OK() || !strings.Contains(ok.Summary(), "passed") {
		t.Errorf("ok report: %v %q", ok.OK(), ok.Summary())
	}
	var nilRep *VerifyReport
	if nilRep.OK() {
		t.Error("a nil report is OK")
	}
	bad := &VerifyReport{Tables: ok.Tables}
	for i := 0; i < 7; i++ {
		bad.Failures = append(bad.Failures, VerifyFailure{Table: "t", Column: "c", Check: VerifyCheckUnchanged, Detail: "1 of 3 compared values equal their original (hash)"})
	}
	sum := bad.Summary()
	if bad.OK() || !strings.Contains(sum, "REFUSED") || !strings.Contains(sum, "t.c: unchanged: 1 of 3") || !strings.Contains(sum, "2 more") {
		t.Errorf("summary:\n%s", sum)
	}
	if n := strings.Count(sum, "\n"); n > 7 {
		t.Errorf("summary has %d lines", n+1)
	}
	js, err := json.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"tables"`, `"failures"`, `"duration_ns"`, `"check":"unchanged"`, `"rows":3`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("json lacks %s: %s", k, js)
		}
	}
}
