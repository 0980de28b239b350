package gate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/transform"
)

// VerifyCheckLinks is the check of the rules' links: every row whose
// linked column equalled the followed column of the row its via column
// references still equals it after masking.
const VerifyCheckLinks = "links"

// verifyLink is the baseline of one link (plan.Links): keyed fingerprints
// only. The followed table is sampled by the fingerprint of its key (the
// value via holds), the linked rows that matched by their row key, so
// memory stays bounded by MaxRowsPerTable whatever the table sizes.
type verifyLink struct {
	link    mask.Link
	keyCols []string // the linked table's row key; empty: counted instead
	max     int
	mod     uint64            // sample of followed keys
	follow  map[uint64]uint64 // followed key fp → column fp (0: NULL)
	rowMod  uint64            // sample of linked rows (keyed tables)
	pairs   []verifyLinkPair  // linked rows that matched, sorted by row
	matched int64             // keyless: sampled rows that matched
}

type verifyLinkPair struct{ row, ref uint64 }

func newVerifyLink(l mask.Link, keyCols []string, max int64) *verifyLink {
	return &verifyLink{link: l, keyCols: keyCols, max: int(max), mod: 1, rowMod: 1, follow: map[uint64]uint64{}}
}

// refFP fingerprints a key value as the two ends of a foreign key compare
// it: folded, so a case-insensitive key still meets its row.
func verifyRefFP(m *transform.Masker, v string) uint64 {
	return verifyNonZero(m.Fingerprint(nil, transform.FoldKey(v)))
}

func (l *verifyLink) followQuery(rd mask.Reader) string {
	return "SELECT " + rd.Text(rd.QuoteIdent(l.link.Ref)) + ", " + rd.Text(rd.QuoteIdent(l.link.FollowsColumn)) +
		" FROM " + rd.From(l.link.Follows.TableName)
}

func (l *verifyLink) linkedQuery(rd mask.Reader) string {
	var cols []string
	for _, k := range l.keyCols {
		cols = append(cols, rd.Text(rd.QuoteIdent(k)))
	}
	cols = append(cols, rd.Text(rd.QuoteIdent(l.link.Via)), rd.Text(rd.QuoteIdent(l.link.Column)))
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + rd.From(l.link.Table.TableName)
}

// readFollowed maps the sampled followed keys to their column's
// fingerprint; capture builds the sample, verify (keep set) refills it.
func (l *verifyLink) readFollowed(ctx context.Context, rd mask.Reader, m *transform.Masker, capture bool) (map[uint64]uint64, error) {
	out := l.follow
	if !capture {
		out = make(map[uint64]uint64, len(l.follow))
	}
	err := rd.Query(ctx, l.followQuery(rd), func(row []mask.Value) error {
		if row[0].Null {
			return nil
		}
		k := verifyRefFP(m, row[0].S)
		if !verifySampled(k, l.mod) {
			return nil
		}
		if !capture {
			if _, ok := l.follow[k]; !ok {
				return nil
			}
		}
		var fp uint64
		if !row[1].Null {
			fp = verifyNonZero(m.Fingerprint(nil, row[1].S))
		}
		out[k] = fp
		for capture && len(out) > l.max {
			l.mod <<= 1
			for k := range out {
				if !verifySampled(k, l.mod) {
					delete(out, k)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", l.link.Follows.TableName, err)
	}
	return out, nil
}

// capture runs before masking.
func (l *verifyLink) capture(ctx context.Context, rd mask.Reader, m *transform.Masker) error {
	if _, err := l.readFollowed(ctx, rd, m, true); err != nil {
		return err
	}
	nk := len(l.keyCols)
	keyBuf := make([]string, 0, nk)
	err := rd.Query(ctx, l.linkedQuery(rd), func(row []mask.Value) error {
		via, v := row[nk], row[nk+1]
		if via.Null || v.Null {
			return nil
		}
		ref := verifyRefFP(m, via.S)
		if !verifySampled(ref, l.mod) {
			return nil
		}
		want, ok := l.follow[ref]
		if !ok || want == 0 || verifyNonZero(m.Fingerprint(nil, v.S)) != want {
			return nil // differed before (or no such row): not checked
		}
		if nk == 0 {
			l.matched++
			return nil
		}
		row0 := verifyKeyFP(m, row, nk, keyBuf)
		if !verifySampled(row0, l.rowMod) {
			return nil
		}
		l.pairs = append(l.pairs, verifyLinkPair{row0, ref})
		for len(l.pairs) > l.max {
			l.rowMod <<= 1
			l.pairs = slices.DeleteFunc(l.pairs, func(p verifyLinkPair) bool { return !verifySampled(p.row, l.rowMod) })
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", l.link.Table.TableName, err)
	}
	slices.SortFunc(l.pairs, func(a, b verifyLinkPair) int {
		switch {
		case a.row < b.row:
			return -1
		case a.row > b.row:
			return 1
		}
		return 0
	})
	return nil
}

// verify runs after masking: broken counts the rows that matched before
// and no longer do, checked how many were looked at.
func (l *verifyLink) verify(ctx context.Context, rd mask.Reader, m *transform.Masker) (broken, checked int64, err error) {
	masked, err := l.readFollowed(ctx, rd, m, false)
	if err != nil {
		return 0, 0, err
	}
	nk := len(l.keyCols)
	keyBuf := make([]string, 0, nk)
	var after int64
	err = rd.Query(ctx, l.linkedQuery(rd), func(row []mask.Value) error {
		via, v := row[nk], row[nk+1]
		if nk == 0 {
			if via.Null || v.Null {
				return nil
			}
			ref := verifyRefFP(m, via.S)
			if want, ok := masked[ref]; ok && want != 0 && verifyNonZero(m.Fingerprint(nil, v.S)) == want {
				after++
			}
			return nil
		}
		row0 := verifyKeyFP(m, row, nk, keyBuf)
		if !verifySampled(row0, l.rowMod) {
			return nil
		}
		i, found := slices.BinarySearchFunc(l.pairs, row0, func(p verifyLinkPair, k uint64) int {
			switch {
			case p.row < k:
				return -1
			case p.row > k:
				return 1
			}
			return 0
		})
		if !found {
			return nil
		}
		for ; i < len(l.pairs) && l.pairs[i].row == row0; i++ {
			checked++
			want := masked[l.pairs[i].ref]
			if v.Null || via.Null || want == 0 || verifyRefFP(m, via.S) != l.pairs[i].ref ||
				verifyNonZero(m.Fingerprint(nil, v.S)) != want {
				broken++
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", l.link.Table.TableName, err)
	}
	if nk == 0 {
		checked = l.matched
		if after < l.matched {
			broken = l.matched - after
		}
	}
	return broken, checked, nil
}

func (l *verifyLink) bytes() int64 {
	return int64(len(l.follow))*48 + int64(cap(l.pairs))*16
}
