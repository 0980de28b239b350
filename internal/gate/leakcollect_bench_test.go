package gate

import (
	"fmt"
	"testing"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/transform"
)

// BenchmarkLeakCollect is the capture's CPU per row of distinct originals
// (one e-mail, phone, IP and full name each), the worst case: nothing
// repeats, so every value is fingerprinted and kept.
func BenchmarkLeakCollect(b *testing.B) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	src := &leakSource{kinds: []string{LeakEmail, LeakPhone, LeakIP, LeakName}}
	const n = 1 << 14
	rows := make([][]mask.Value, n)
	for i := range rows {
		rows[i] = []mask.Value{
			{S: fmt.Sprintf("Aiko.Akiyama%d@Example.co.jp", i)},
			{S: fmt.Sprintf("090-%04d-%04d", i%10000, i/7)},
			{S: fmt.Sprintf("203.%d.%d.%d", i%200, (i/200)%250, 1+i%250)},
			{S: fmt.Sprintf("秋山 愛子%d", i)},
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base := newLeakBaseline(key, LeakOptions{})
		c := base.collector()
		for _, r := range rows {
			c.row(src, r)
		}
		base.merge(c)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}

// BenchmarkLeakSeal sorts and dedups half a million fingerprints, a third
// of them repeats: the serial step after the masking pass.
func BenchmarkLeakSeal(b *testing.B) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	base := newLeakBaseline(key, LeakOptions{})
	var fps []uint64
	for i := range 500_000 {
		fps = append(fps, base.fingerprint(LeakEmail, fmt.Sprint(i%333_333)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base.fps[LeakEmail] = append(base.fps[LeakEmail][:0], fps...)
		base.compact(LeakEmail)
	}
}
