package gate

import (
	"hash/maphash"
	"testing"

	"github.com/restage/restage/internal/transform"
)

func BenchmarkLeakScan(b *testing.B) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	m := transform.NewMasker(key)
	base := &LeakBaseline{key: key, seed: maphash.MakeSeed(), fps: map[string][]leakFP{}, mod: map[string]uint64{LeakEmail: 1, LeakPhone: 1, LeakName: 1, LeakIP: 1}}
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		base.fps[k] = append(base.fps[k], base.fingerprint(m, k, "x"))
	}
	sc := &leakScanner{m: m, b: base}
	vals := []string{
		`{"email": "aiko.akiyama.5vhykozuqdvaf@example.invalid", "order_id": 12345}`,
		"view_item",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
		`{"contact": {"tel": "090-1234-5678", "email": "a.b.tag@example.invalid"}, "favorite": "お茶", "nickname": "アイコ", "newsletter": true}`,
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, v := range vals {
			sc.scan(v)
		}
	}
}
