package gate

import (
	"slices"
	"sort"
)

// Deterministic samples of fingerprints. A sample keeps the items whose
// fingerprint is 0 modulo mod, mod a power of two, the smallest one for
// which at most max items remain. Fingerprints are keyed HMACs, so "mod
// 2^k == 0" is a uniform 1-in-2^k sample that does not depend on the order
// rows arrive in, and capture and verification pick the same rows.

// verifySampled reports whether fp is in a sample taken with mod.
func verifySampled(fp, mod uint64) bool { return fp&(mod-1) == 0 }

// verifyRows maps row-key fingerprints to the fingerprints of a row's
// masked columns: 8 bytes per key and 8 per value, in two flat slices
// sorted by key after finish.
type verifyRows struct {
	max  int
	n    int    // values per row
	mod  uint64 // sampling modulus, a power of two
	keys []uint64
	fps  []uint64 // row-major, len(keys)*n
}

func newVerifyRows(n int, max int64) *verifyRows {
	return &verifyRows{max: int(max), n: n, mod: 1}
}

// sampled reports whether a row with this key fingerprint is (still) kept.
func (r *verifyRows) sampled(key uint64) bool { return verifySampled(key, r.mod) }

// add keeps the row if its key is sampled, raising the modulus when more
// than max rows are held. fps is copied.
func (r *verifyRows) add(key uint64, fps []uint64) {
	if !r.sampled(key) {
		return
	}
	r.keys = append(r.keys, key)
	r.fps = append(r.fps, fps...)
	for len(r.keys) > r.max {
		r.mod <<= 1
		w := 0
		for i, k := range r.keys {
			if verifySampled(k, r.mod) {
				r.keys[w] = k
				copy(r.fps[w*r.n:(w+1)*r.n], r.fps[i*r.n:(i+1)*r.n])
				w++
			}
		}
		r.keys, r.fps = r.keys[:w], r.fps[:w*r.n]
	}
}

// finish sorts by key and releases spare capacity.
func (r *verifyRows) finish() {
	sort.Sort(verifyRowSorter{r})
	r.keys = slices.Clip(r.keys)
	r.fps = slices.Clip(r.fps)
}

type verifyRowSorter struct{ r *verifyRows }

func (s verifyRowSorter) Len() int           { return len(s.r.keys) }
func (s verifyRowSorter) Less(i, j int) bool { return s.r.keys[i] < s.r.keys[j] }
func (s verifyRowSorter) Swap(i, j int) {
	r := s.r
	r.keys[i], r.keys[j] = r.keys[j], r.keys[i]
	for c := 0; c < r.n; c++ {
		r.fps[i*r.n+c], r.fps[j*r.n+c] = r.fps[j*r.n+c], r.fps[i*r.n+c]
	}
}

// lookup returns the rows held for key: usually one; several only if two
// keys share a 64-bit fingerprint, and then every one of them is compared
// (fail closed).
func (r *verifyRows) lookup(key uint64) (first, count int) {
	first = sort.Search(len(r.keys), func(i int) bool { return r.keys[i] >= key })
	for first+count < len(r.keys) && r.keys[first+count] == key {
		count++
	}
	return first, count
}

// value is the fingerprint of column c in held row i.
func (r *verifyRows) value(i, c int) uint64 { return r.fps[i*r.n+c] }

// bytes is the memory held, roughly.
func (r *verifyRows) bytes() int64 { return int64(cap(r.keys)+cap(r.fps)) * 8 }

// verifySet is a sample of distinct fingerprints (keyless tables: the
// original values of one column, compared as a set).
type verifySet struct {
	max   int
	mod   uint64
	fps   []uint64
	dirty int // appended since the last compaction
}

func newVerifySet(max int64) *verifySet { return &verifySet{max: int(max), mod: 1} }

func (s *verifySet) add(fp uint64) {
	if !verifySampled(fp, s.mod) {
		return
	}
	s.fps = append(s.fps, fp)
	s.dirty++
	if len(s.fps) > 2*s.max+1024 {
		s.compact()
	}
}

// compact sorts and deduplicates, then raises the modulus until at most
// max distinct fingerprints remain.
func (s *verifySet) compact() {
	if s.dirty > 0 {
		slices.Sort(s.fps)
		s.fps = slices.Compact(s.fps)
		s.dirty = 0
	}
	for len(s.fps) > s.max {
		s.mod <<= 1
		s.fps = slices.DeleteFunc(s.fps, func(fp uint64) bool { return !verifySampled(fp, s.mod) })
	}
}

func (s *verifySet) finish() {
	s.compact()
	s.fps = slices.Clip(s.fps)
}

// has reports whether fp is a held (sampled) fingerprint; call after
// finish.
func (s *verifySet) has(fp uint64) bool {
	if !verifySampled(fp, s.mod) {
		return false
	}
	_, ok := slices.BinarySearch(s.fps, fp)
	return ok
}

func (s *verifySet) bytes() int64 { return int64(cap(s.fps)) * 8 }

// verifyPlace is where an original value was seen: job, column, row key.
type verifyPlace struct {
	job, col int32
	key      uint64
}

func (p verifyPlace) less(q verifyPlace) bool {
	if p.job != q.job {
		return p.job < q.job
	}
	if p.col != q.col {
		return p.col < q.col
	}
	return p.key < q.key
}

type verifyConsEntry struct {
	n  int32
	at []verifyPlace
}

// verifyConsColumns bounds the columns tracked per original. Per column
// the two least places are kept (least by job, column, row key), not the
// first seen: what is kept does not depend on the order rows arrive in
// (one reader per table before masking, or many masking workers).
const verifyConsColumns = 8

func verifySameCol(p, q verifyPlace) bool { return p.job == q.job && p.col == q.col }

// verifyConsKeep adds p to at (sorted by less; at most two places per
// column, at most verifyConsColumns columns, the least ones).
func verifyConsKeep(at []verifyPlace, p verifyPlace) []verifyPlace {
	n, cols := 0, 0
	for i, q := range at {
		if verifySameCol(p, q) {
			n++
		}
		if i == 0 || !verifySameCol(q, at[i-1]) {
			cols++
		}
	}
	if n == 0 && cols >= verifyConsColumns {
		last := at[len(at)-1]
		if !(p.job < last.job || p.job == last.job && p.col < last.col) {
			return at
		}
		// Drop the greatest column for p's.
		for len(at) > 0 && verifySameCol(at[len(at)-1], last) {
			at = at[:len(at)-1]
		}
	}
	if n == 2 {
		// Keep the two least of this column.
		hi := -1
		for i, q := range at {
			if verifySameCol(p, q) {
				hi = i
			}
		}
		if !p.less(at[hi]) {
			return at
		}
		at = append(at[:hi], at[hi+1:]...)
	}
	i := 0
	for i < len(at) && at[i].less(p) {
		i++
	}
	at = append(at, verifyPlace{})
	copy(at[i+1:], at[i:])
	at[i] = p
	return at
}

// verifyGroup collects, for columns masked by rules with one signature
// (seeded ones: with one seed namespace), a sample of original values
// (exact fingerprints, with the seed for seeded rules) with the places
// each was seen in.
type verifyGroup struct {
	rule    string // rule name, for reports
	max     int
	mod     uint64
	entries map[uint64]verifyConsEntry
	// pairs are the originals seen in two places, after finish: the first
	// place paired with each other one.
	pairs []verifyPair
}

type verifyPair struct {
	at     [2]verifyPlace
	masked [2]uint64
	got    [2]bool
}

func newVerifyGroup(rule string, max int) *verifyGroup {
	return &verifyGroup{rule: rule, max: max, mod: 1, entries: map[uint64]verifyConsEntry{}}
}

func (g *verifyGroup) add(fp uint64, p verifyPlace) {
	if !verifySampled(fp, g.mod) {
		return
	}
	e := g.entries[fp]
	e.n++
	e.at = verifyConsKeep(e.at, p)
	g.entries[fp] = e
	for len(g.entries) > g.max {
		g.mod <<= 1
		for k := range g.entries {
			if !verifySampled(k, g.mod) {
				delete(g.entries, k)
			}
		}
	}
}

// finish keeps the originals seen at least twice, in a stable order.
func (g *verifyGroup) finish() {
	keys := make([]uint64, 0, len(g.entries))
	for k, e := range g.entries {
		if len(e.at) >= 2 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := g.entries[k].at
		// The least place against the least place of each other column;
		// an original in one column only: its two least rows.
		other := false
		for i, q := range at[1:] {
			if !verifySameCol(q, at[0]) && !verifySameCol(q, at[i]) {
				other = true
				g.pairs = append(g.pairs, verifyPair{at: [2]verifyPlace{at[0], q}})
			}
		}
		if !other {
			g.pairs = append(g.pairs, verifyPair{at: [2]verifyPlace{at[0], at[1]}})
		}
	}
	g.entries = nil
}
