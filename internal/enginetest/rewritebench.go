package enginetest

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
)

// RewriteBench is what BenchRewriteVsUpdate needs of an engine.
type RewriteBench struct {
	// RowsEnv names the environment variable that sets the table's row
	// count (default 100,000).
	RowsEnv string
	// TestDB returns the DSN of a fresh test database.
	TestDB func(testing.TB) (dsn, name string)
	// Open opens the engine on a DSN.
	Open func(ctx context.Context, dsn string) (mask.Engine, error)
	// Reset drops and builds the table people with n rows — id primary
	// key, email unique, name, phone, city (indexed), note — and
	// refreshes its statistics.
	Reset func(b *testing.B, e mask.Engine, n int)
	// Size is people's table + index size with fresh statistics.
	Size func(b *testing.B, e mask.Engine) int64
}

// BenchRewriteVsUpdate masks the generated table with each strategy, the
// table built again before every iteration, and reports rows/s and the
// table's size after masking relative to before.
func BenchRewriteVsUpdate(b *testing.B, rb RewriteBench) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv(rb.RowsEnv)); err == nil && v > 0 {
		n = v
	}
	for _, strategy := range []config.Strategy{config.StrategyRewrite, config.StrategyUpdate} {
		b.Run(string(strategy), func(b *testing.B) {
			ctx := context.Background()
			dsn, _ := rb.TestDB(b)
			e, err := rb.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			rules, err := config.ParseRules("rules.yaml", []byte(`version: 1
tables:
  people:
    strategy: `+string(strategy)+`
    columns:
      email: {transformer: email, seed: [id]}
      name: {transformer: full_name, seed: [id]}
      phone: phone
      note: nullify
`))
			if err != nil {
				b.Fatal(err)
			}
			var ratio float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				rb.Reset(b, e, n)
				before := rb.Size(b, e)
				s, err := e.Introspect(ctx)
				if err != nil {
					b.Fatal(err)
				}
				p, err := mask.NewPlan(rules, s)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := mask.Run(ctx, e, p, Key, mask.Options{Workers: 2})
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := rep.Tables[0].Strategy; got != string(strategy) {
					b.Fatalf("strategy %s (%s), want %s", got, rep.Tables[0].StrategyWhy, strategy)
				}
				ratio = float64(rb.Size(b, e)) / float64(before)
				b.StartTimer()
			}
			b.ReportMetric(ratio, "size-after/before")
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
