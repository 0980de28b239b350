package gate

import (
	"os"
	"strconv"
	"testing"

	"github.com/restage/restage/internal/testdb/jpshop"
	"github.com/restage/restage/internal/transform"
)

func BenchmarkLeakScan(b *testing.B) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	base := newLeakBaseline(key, LeakOptions{})
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		base.fps[k] = append(base.fps[k], base.fingerprint(k, "x"))
	}
	sc := &leakScanner{b: base}
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
// (RESTAGE_JPSHOP_ROWS, default 400,000 rows) on each engine twice per
// iteration, each time on a fresh load: once without the leak scan and
// once with it (its baseline captured in the masking pass, as a run does,
// then the scan). leakscan-% is what the scan adds to the masking time:
// (masking with capture - masking without + scan) / masking without.
// capture-cpu-ms is the workers' time inside the capture, summed over
// workers (it includes time the workers were preempted). replay-ms is the
// capture's work alone on one goroutine over the same originals in memory,
// and bound-% = (replay + scan) / masking without: what the scan would add
// if its capture overlapped nothing.
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
				plain := leakRunWith(b, f.flavor, jpshop.RulesYAML, false, size, false)
				r := leakRunWith(b, f.flavor, jpshop.RulesYAML, false, size, true)
				if !r.report.OK() {
					b.Fatalf("leak scan: %s", r.report.Summary())
				}
				if plain.strategies != r.strategies {
					b.Logf("strategies differ: without the scan %s; with it %s", plain.strategies, r.strategies)
				}
				added := r.mask - plain.mask + r.report.Duration
				b.ReportMetric(float64(plain.mask.Milliseconds()), "mask-ms")
				b.ReportMetric(float64(r.mask.Milliseconds()), "mask+capture-ms")
				b.ReportMetric(float64(r.capture.Milliseconds()), "capture-cpu-ms")
				b.ReportMetric(float64(r.report.Duration.Milliseconds()), "scan-ms")
				b.ReportMetric(100*float64(added)/float64(plain.mask), "leakscan-%")
				b.ReportMetric(float64(r.captureCPU.Milliseconds()), "replay-ms")
				// An upper bound that the shared machine's noise does not
				// move much: the capture as if it ran alone after masking.
				b.ReportMetric(100*float64(r.captureCPU+r.report.Duration)/float64(plain.mask), "bound-%")
			}
		})
	}
}
