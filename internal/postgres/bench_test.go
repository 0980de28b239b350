package postgres

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

// TestMeasure masks a large table and logs the time of each step. It runs
// only when RESTAGE_PG_MEASURE_ROWS is set (e.g. 1000000).
func TestMeasure(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RESTAGE_PG_MEASURE_ROWS"))
	if n == 0 {
		t.Skip("set RESTAGE_PG_MEASURE_ROWS to run")
	}
	workers, _ := strconv.Atoi(os.Getenv("RESTAGE_PG_MEASURE_WORKERS"))
	workers = max(workers, 1)
	e, c, _ := newDB(t, `
CREATE TABLE big (id bigint PRIMARY KEY, name text, email text, note text, n int);
INSERT INTO big SELECT g, 'name ' || g, 'user' || g || '@example.com', repeat('x', 50), g FROM generate_series(1, `+strconv.Itoa(n)+`) g;
CREATE TABLE bignokey AS SELECT * FROM big;`)
	ctx := context.Background()
	if _, err := c.Exec(ctx, "VACUUM ANALYZE big, bignokey"); err != nil {
		t.Fatal(err)
	}
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fn := func(in, out []mask.Value) error {
		out[0] = mask.Value{S: strings.ToUpper(in[0].S)}
		out[1] = mask.Value{S: "m" + in[1].S}
		return nil
	}
	for _, tc := range []struct {
		table string
		key   []string
	}{{"big", []string{"id"}}, {"bignokey", nil}} {
		job := &mask.TableJob{Table: s.Table(tc.table), Key: tc.key, Read: []string{"name", "email"}, Write: []string{"name", "email"}}
		start := time.Now()
		rs, err := e.Chunks(ctx, job, 10000)
		if err != nil {
			t.Fatal(err)
		}
		chunked := time.Since(start)
		start = time.Now()
		_, rows := markAll(t, e, job, 10000, workers, fn)
		masked := time.Since(start)
		size := one[string](t, c, "SELECT pg_size_pretty(pg_table_size('"+tc.table+"'))")
		start = time.Now()
		if err := e.Finish(ctx, []*schema.Table{s.Table(tc.table)}); err != nil {
			t.Fatal(err)
		}
		finished := time.Since(start)
		t.Logf("%s: %d rows, %d ranges: Chunks %v, mask %v (%d workers, %.0f rows/s), table %s, Finish (VACUUM ANALYZE) %v",
			tc.table, rows, len(rs), chunked.Round(time.Millisecond), masked.Round(time.Millisecond), workers, float64(rows)/masked.Seconds(), size, finished.Round(time.Millisecond))
	}
}
