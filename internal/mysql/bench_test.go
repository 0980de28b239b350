package mysql

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
)

// TestMaskThroughput measures masking speed on a generated table. It runs
// only when RESTAGE_MYSQL_BENCH_ROWS is set (e.g. 200000).
func TestMaskThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RESTAGE_MYSQL_BENCH_ROWS"))
	if n == 0 {
		t.Skip("set RESTAGE_MYSQL_BENCH_ROWS to measure")
	}
	workers := 2
	if w, _ := strconv.Atoi(os.Getenv("RESTAGE_MYSQL_BENCH_WORKERS")); w > 0 {
		workers = w
	}
	chunk := 10000
	if c, _ := strconv.Atoi(os.Getenv("RESTAGE_MYSQL_BENCH_CHUNK")); c > 0 {
		chunk = c
	}
	e, _ := open(t,
		`CREATE TABLE big (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(60), note VARCHAR(100), n INT,
			upd TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, UNIQUE KEY (email))`,
		`CREATE TABLE bignk (name VARCHAR(40), email VARCHAR(60), note VARCHAR(100), n INT)`,
	)
	for start := 0; start < n; start += 5000 {
		var vals []string
		for i := start; i < min(n, start+5000); i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'name %d', 'user%d@example.org', 'some note text %d', %d)", i, i, i, i%1000, i))
		}
		exec(t, e, "INSERT INTO big (id, name, email, note, n) VALUES "+strings.Join(vals, ","))
	}
	exec(t, e, "INSERT INTO bignk SELECT name, email, note, n FROM big")
	s := introspect(t, e)
	fn := func(in, out []mask.Value) error {
		for i := range out {
			out[i] = mask.Value{S: "x" + in[i].S, Null: in[i].Null}
		}
		return nil
	}
	run := func(job *mask.TableJob) {
		start := time.Now()
		ranges, rows := enginetest.MaskAll(t, e, job, chunk, workers, fn)
		d := time.Since(start)
		t.Logf("%s: %d rows, %d workers, %d ranges of %d: %v, %.0f rows/s",
			job.Table.Name, rows, workers, ranges, chunk, d.Round(time.Millisecond), float64(rows)/d.Seconds())
	}
	run(&mask.TableJob{Table: s.Table("big"), Key: []string{"id"}, Read: []string{"name", "email", "n"}, Write: []string{"name", "email"}, Pin: []string{"upd"}})
	run(&mask.TableJob{Table: s.Table("bignk"), Read: []string{"name", "email", "n"}, Write: []string{"name", "email"}})
}
