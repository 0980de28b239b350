package gate

import (
	"hash/maphash"
	"os"
	"strconv"
	"testing"

	"github.com/restage/restage/internal/testdb/jpshop"
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

// BenchmarkLeakScanJPShop masks the jpshop fixture at benchmark size
// (RESTAGE_JPSHOP_ROWS, default 400,000 rows) on each engine and reports
// the leak scan's capture and scan time against the masking time. The
// capture runs in the masking pass (LeakCapturer): capture-ms is the CPU
// time the workers spent on it, summed over workers, so leakscan-% is an
// upper bound of what the scan adds to the run.
func BenchmarkLeakScanJPShop(b *testing.B) {
	size := 400_000
	if v, err := strconv.Atoi(os.Getenv("RESTAGE_JPSHOP_ROWS")); err == nil && v > 0 {
		size = v
	}
	for _, f := range []struct {
		name   string
		flavor jpshop.Flavor
	}{{"mariadb", jpshop.MariaDB}, {"postgres", jpshop.Postgres}} {
		b.Run(f.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := leakRun(b, f.flavor, jpshop.RulesYAML, false, size)
				if !r.report.OK() {
					b.Fatalf("leak scan: %s", r.report.Summary())
				}
				b.ReportMetric(float64(r.mask.Milliseconds()), "mask-ms")
				b.ReportMetric(float64(r.capture.Milliseconds()), "capture-ms")
				b.ReportMetric(float64((r.capture + r.report.Duration).Milliseconds()), "leakscan-ms")
				b.ReportMetric(100*float64(r.capture+r.report.Duration)/float64(r.mask), "leakscan-%")
			}
		})
	}
}
