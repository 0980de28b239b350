// Package enginetest is the conformance suite every masking engine must
// pass. Each engine's package runs it against a real server:
//
//	func TestConformance(t *testing.T) { enginetest.Run(t, harness) }
package enginetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// Harness adapts the suite to one engine.
type Harness struct {
	// Open creates a fresh, empty, uniquely named database and returns the
	// engine opened on it and a plain connection to it for setup and
	// checks. Both are closed/dropped by the harness at cleanup.
	Open func(t *testing.T) (mask.Engine, *sql.DB)
	// Column types that differ between engines.
	DateTime string // "DATETIME" / "TIMESTAMP"
	JSON     string // "JSON" / "JSONB"
	Binary   string // "VARBINARY(16)" / "BYTEA"
	// Schema is where a table created without one lands: "public" on
	// PostgreSQL, "" where the database is the schema.
	Schema string
	// Param is the first bind parameter in the driver's SQL: "?" / "$1".
	Param string
}

// Key is the suite's masking key.
var Key, _ = transform.NewKey([]byte("conformance-suite-key-0123456789abcdef"))

// Run runs every conformance test.
func Run(t *testing.T, h Harness) {
	t.Run("Introspect", func(t *testing.T) { testIntrospect(t, h) })
	t.Run("Truncate", func(t *testing.T) { testTruncate(t, h) })
	t.Run("Chunks", func(t *testing.T) { testChunks(t, h) })
	t.Run("Mask", func(t *testing.T) { testMask(t, h) })
	t.Run("MaskNoKey", func(t *testing.T) { testMaskNoKey(t, h) })
	t.Run("Cancel", func(t *testing.T) { testCancel(t, h) })
	t.Run("Reader", func(t *testing.T) { testReader(t, h) })
	t.Run("Rewrite", func(t *testing.T) { Rewrite(t, h) })
}

func testReader(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	r, ok := eng.(mask.Reader)
	if !ok {
		t.Fatalf("%T does not implement mask.Reader", eng)
	}
	exec(t, db, peopleDDL(h)...)
	fill(t, db, 20)
	tbl := schema.TableName{Schema: h.Schema, Name: "people"}
	q := fmt.Sprintf("SELECT %s, %s, %s FROM %s", r.Text(r.QuoteIdent("id")), r.Text(r.QuoteIdent("phone")), r.Text(r.QuoteIdent("born")), r.From(tbl))
	seen := map[int]bool{}
	err := r.Query(context.Background(), q, func(row []mask.Value) error {
		var n int
		if _, err := fmt.Sscan(row[0].S, &n); err != nil || seen[n] {
			return fmt.Errorf("bad or repeated id %q", row[0].S)
		}
		seen[n] = true
		if (n%10 == 0) != row[1].Null {
			return fmt.Errorf("row %d: phone null = %v", n, row[1].Null)
		}
		if want := fmt.Sprintf("1980-01-%02d", 1+n%28); row[2].S != want {
			return fmt.Errorf("row %d: born %q, want %q (text form)", n, row[2].S, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 20 {
		t.Errorf("rows = %d, want 20", len(seen))
	}
	if err := r.Query(context.Background(), "SELECT no_such_column FROM "+r.QuoteIdent("people"), func([]mask.Value) error { return nil }); err == nil {
		t.Error("a bad query returned no error")
	}

	// Sampling every page (where the engine samples) reads every row.
	n := 0
	q = fmt.Sprintf("SELECT %s FROM %s %s", r.Text(r.QuoteIdent("id")), r.From(tbl), r.TableSample(100))
	if err := r.Query(context.Background(), q, func([]mask.Value) error { n++; return nil }); err != nil || n != 20 {
		t.Errorf("%s: %d rows, %v; want 20", q, n, err)
	}
	// A binary value's text form turns back into its bytes.
	want := "\x00A\xff\\x"
	exec(t, db, "CREATE TABLE bin (id INT PRIMARY KEY, b "+h.Binary+")")
	if _, err := db.Exec("INSERT INTO bin VALUES (1, "+h.Param+")", []byte(want)); err != nil {
		t.Fatal(err)
	}
	var got []string
	bin := schema.TableName{Schema: h.Schema, Name: "bin"}
	err = r.Query(context.Background(), "SELECT "+r.Text(r.QuoteIdent("b"))+" FROM "+r.From(bin), func(row []mask.Value) error {
		got = append(got, r.BinaryValue(row[0].S))
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("binary value read back as %q, %v; want %q", got, err, want)
	}
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func peopleDDL(h Harness) []string {
	return []string{
		`CREATE TABLE team (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)`,
		fmt.Sprintf(`CREATE TABLE people (
			id INT PRIMARY KEY,
			team_id INT,
			email VARCHAR(100) NOT NULL UNIQUE,
			full_name VARCHAR(60),
			phone VARCHAR(20),
			born DATE,
			salary DECIMAL(10,2),
			note TEXT,
			created %s NOT NULL,
			prefs %s,
			FOREIGN KEY (team_id) REFERENCES team(id)
		)`, h.DateTime, h.JSON),
	}
}

func fill(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	exec(t, db, `INSERT INTO team VALUES (1, 'red'), (2, 'blue')`)
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if b.Len() > 0 {
			b.WriteString(",")
		}
		phone := fmt.Sprintf("'090-%04d-%04d'", i%10000, (i*7)%10000)
		if i%10 == 0 {
			phone = "NULL"
		}
		fmt.Fprintf(&b, "(%d, %d, 'person%d@corp.example', 'Person Number%d', %s, '1980-01-%02d', %d.%02d, 'note %d', '2020-01-01 10:00:00', '{\"mail\":\"person%d@corp.example\",\"n\":%d}')",
			i, 1+i%2, i, i, phone, 1+i%28, 1000+i, i%100, i, i, i)
		if i%500 == 0 || i == n {
			exec(t, db, "INSERT INTO people VALUES "+b.String())
			b.Reset()
		}
	}
}

func testIntrospect(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, peopleDDL(h)...)
	exec(t, db, `CREATE TABLE pair (a INT NOT NULL, b VARCHAR(10) NOT NULL, v VARCHAR(10), PRIMARY KEY (a, b))`)
	s, err := eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := s.Table("people")
	if p == nil {
		t.Fatalf("people not found; tables: %v", names(s))
	}
	want := map[string]schema.Kind{"id": schema.KindInt, "email": schema.KindText, "born": schema.KindDate,
		"salary": schema.KindDecimal, "note": schema.KindText, "created": schema.KindDateTime, "prefs": schema.KindJSON}
	for c, k := range want {
		col := p.Column(c)
		if col == nil {
			t.Errorf("column %s missing", c)
			continue
		}
		if col.Kind != k {
			t.Errorf("%s kind = %v, want %v (type %s)", c, col.Kind, k, col.DataType)
		}
	}
	if c := p.Column("email"); c != nil && (c.MaxLength != 100 || c.Nullable) {
		t.Errorf("email: max length %d nullable %v, want 100 false", c.MaxLength, c.Nullable)
	}
	if c := p.Column("full_name"); c != nil && !c.Nullable {
		t.Errorf("full_name: want nullable")
	}
	if c := p.Column("salary"); c != nil && (c.Precision != 10 || c.Scale != 2) {
		t.Errorf("salary precision/scale = %d/%d, want 10/2", c.Precision, c.Scale)
	}
	if !slices.Equal(p.PrimaryKey, []string{"id"}) {
		t.Errorf("people PK = %v, want [id]", p.PrimaryKey)
	}
	if !p.UniqueColumn("email") || p.UniqueColumn("note") {
		t.Errorf("unique: email %v (want true), note %v (want false)", p.UniqueColumn("email"), p.UniqueColumn("note"))
	}
	if len(p.ForeignKeys) != 1 || p.ForeignKeys[0].RefTable.Name != "team" || !slices.Equal(p.ForeignKeys[0].Columns, []string{"team_id"}) {
		t.Errorf("people FKs = %+v, want one team_id → team", p.ForeignKeys)
	}
	if refs := s.ReferencedBy(s.Table("team").TableName); len(refs) != 1 || refs[0].Name != "people" {
		t.Errorf("team referenced by %v, want [people]", refs)
	}
	if pair := s.Table("pair"); pair == nil || !slices.Equal(pair.PrimaryKey, []string{"a", "b"}) {
		t.Errorf("pair composite PK not found: %+v", pair)
	}
}

func names(s *schema.Schema) []string {
	var out []string
	for _, t := range s.Tables {
		out = append(out, t.TableName.String())
	}
	return out
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func testTruncate(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, peopleDDL(h)...)
	exec(t, db, `CREATE TABLE other (id INT PRIMARY KEY, v VARCHAR(10))`, `INSERT INTO other VALUES (1,'x'),(2,'y')`)
	fill(t, db, 50)
	s, err := eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Truncate(context.Background(), []*schema.Table{s.Table("team"), s.Table("people")}); err != nil {
		t.Fatal(err)
	}
	for tbl, want := range map[string]int64{"team": 0, "people": 0, "other": 2} {
		if got := count(t, db, "SELECT COUNT(*) FROM "+tbl); got != want {
			t.Errorf("%s rows = %d, want %d", tbl, got, want)
		}
	}
}

func testChunks(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, peopleDDL(h)...)
	fill(t, db, 1234)
	s, err := eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	job := &mask.TableJob{Table: s.Table("people"), Key: []string{"id"}, Read: []string{"note"}, Write: []string{"note"}}
	ranges, err := eng.Chunks(context.Background(), job, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ranges) < 12 {
		t.Fatalf("got %d ranges for 1234 rows of 100, want ≥ 12", len(ranges))
	}
	// Every row seen exactly once across ranges.
	w, err := eng.Worker(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := map[string]int{}
	var total int64
	for _, r := range ranges {
		n, err := w.MaskRange(context.Background(), job, r, func(in, out []mask.Value) error {
			seen[in[0].S]++
			out[0] = in[0]
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if total != 1234 || len(seen) != 1234 {
		t.Errorf("rows read = %d, distinct = %d, want 1234 each", total, len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("row %s read %d times", k, n)
		}
	}
}

// snapshot reads a table as text, keyed by its first column.
func snapshot(t *testing.T, db *sql.DB, q string) map[string][]sql.NullString {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string][]sql.NullString{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out[vals[0].String] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const maskRules = `version: 1
tables:
  people:
    columns:
      email: {transformer: email, seed: [id]}
      full_name: {transformer: full_name, seed: [id]}
      phone: {transformer: digits, keep_prefix: 3}
      note: {transformer: nullify}
`

// Plan parses rules (YAML) and plans them against eng's schema; any
// error fails the test.
func Plan(t *testing.T, eng mask.Engine, rules string) *mask.Plan {
	t.Helper()
	r, err := config.ParseRules("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Introspect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := mask.NewPlan(r, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testMask(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, peopleDDL(h)...)
	fill(t, db, 2345)
	q := "SELECT id, team_id, email, full_name, phone, born, salary, note, created, prefs FROM people"
	before := snapshot(t, db, q)
	p := Plan(t, eng, maskRules)
	rep, err := mask.Run(context.Background(), eng, p, Key, mask.Options{Workers: 2, BatchSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2345 {
		t.Errorf("report rows = %d, want 2345", rep.Rows)
	}
	after := snapshot(t, db, q)
	if len(after) != len(before) {
		t.Fatalf("rows after = %d, want %d", len(after), len(before))
	}
	const email, name, phone, note = 2, 3, 4, 7
	emails := map[string]bool{}
	for id, b := range before {
		a := after[id]
		for i := range b {
			switch i {
			case email, name, phone:
				if b[i].Valid != a[i].Valid {
					t.Fatalf("row %s col %d: NULL changed", id, i)
				}
				if b[i].Valid && strings.EqualFold(a[i].String, b[i].String) {
					t.Fatalf("row %s col %d: value not masked", id, i)
				}
			case note:
				if a[i].Valid {
					t.Fatalf("row %s: note not nullified", id)
				}
			default:
				if a[i] != b[i] {
					t.Fatalf("row %s col %d: unlisted column changed", id, i)
				}
			}
		}
		if b[phone].Valid && (len(a[phone].String) != len(b[phone].String) || a[phone].String[:4] != b[phone].String[:4]) {
			t.Fatalf("row %s: phone format not preserved", id)
		}
		if emails[a[email].String] {
			t.Fatalf("duplicate masked email")
		}
		emails[a[email].String] = true
	}
	// The unique index over the masked email is in force again (engines
	// may drop it during masking and build it after).
	var anyEmail string
	for _, a := range after {
		anyEmail = a[email].String
		break
	}
	if _, err := db.Exec(fmt.Sprintf("INSERT INTO people (id, team_id, email, created) VALUES (999999, 1, '%s', '2020-01-01 00:00:00')", anyEmail)); err == nil {
		t.Error("a duplicate email was accepted after masking: the unique index is gone")
	}
	// Deterministic: masking the same originals again in a fresh database
	// gives the same output.
	eng2, db2 := h.Open(t)
	exec(t, db2, peopleDDL(h)...)
	fill(t, db2, 50)
	if _, err := mask.Run(context.Background(), eng2, Plan(t, eng2, maskRules), Key, mask.Options{Workers: 1, BatchSize: 7}); err != nil {
		t.Fatal(err)
	}
	again := snapshot(t, db2, q)
	for id, a := range again {
		if a[email] != after[id][email] || a[name] != after[id][name] {
			t.Fatalf("row %s: masking is not deterministic across runs/batch sizes", id)
		}
	}
}

func testMaskNoKey(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, `CREATE TABLE log (who VARCHAR(100), what VARCHAR(20))`,
		`INSERT INTO log VALUES ('a@x.example','login'),('a@x.example','login'),('b@x.example','logout'),(NULL,'boot'),('A@x.example','login')`)
	before := sortedRows(t, db, "SELECT who, what FROM log")
	p := Plan(t, eng, "version: 1\ntables:\n  log:\n    columns:\n      who: email\n")
	if _, err := mask.Run(context.Background(), eng, p, Key, mask.Options{Workers: 2, BatchSize: 2}); err != nil {
		t.Fatal(err)
	}
	after := sortedRows(t, db, "SELECT who, what FROM log")
	if len(after) != len(before) {
		t.Fatalf("rows after = %d, want %d", len(after), len(before))
	}
	var nulls, masked int
	for _, r := range after {
		switch {
		case !r[0].Valid:
			nulls++
		case strings.HasSuffix(r[0].String, "@x.example"):
			t.Errorf("original value survived: row %v", r[1].String)
		default:
			masked++
		}
	}
	if nulls != 1 || masked != 4 {
		t.Errorf("nulls = %d masked = %d, want 1 and 4", nulls, masked)
	}
	// Equal originals map to equal fakes.
	if n := count(t, db, "SELECT COUNT(DISTINCT who) FROM log WHERE what = 'login'"); n > 2 {
		t.Errorf("distinct masked 'login' emails = %d, want ≤ 2 (two rows share an original)", n)
	}
}

func sortedRows(t *testing.T, db *sql.DB, q string) [][]sql.NullString {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]sql.NullString
	for rows.Next() {
		r := make([]sql.NullString, 2)
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][1].String < out[j][1].String })
	return out
}

func testCancel(t *testing.T, h Harness) {
	eng, db := h.Open(t)
	exec(t, db, peopleDDL(h)...)
	fill(t, db, 3000)
	p := Plan(t, eng, maskRules)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	// Cancel from inside the first batch: the run must stop within a batch.
	done := make(chan error, 1)
	go func() {
		_, err := mask.Run(ctx, &cancelAfter{Engine: eng, cancel: cancel, calls: &calls}, p, Key, mask.Options{Workers: 1, BatchSize: 100})
		done <- err
	}()
	err := <-done
	if err == nil || ctx.Err() == nil {
		t.Fatalf("run after cancel: err = %v, want a cancellation error", err)
	}
	if calls > 2 {
		t.Errorf("ranges started after cancel: %d, want the run to stop within one batch", calls-1)
	}
}

// cancelAfter cancels the context when the first range starts.
type cancelAfter struct {
	mask.Engine
	cancel func()
	calls  *int
}

func (c *cancelAfter) Worker(ctx context.Context) (mask.Worker, error) {
	w, err := c.Engine.Worker(ctx)
	if err != nil {
		return nil, err
	}
	return &cancelWorker{Worker: w, c: c}, nil
}

type cancelWorker struct {
	mask.Worker
	c *cancelAfter
}

func (w *cancelWorker) MaskRange(ctx context.Context, job *mask.TableJob, r mask.Range, fn mask.RowFunc) (int64, error) {
	*w.c.calls++
	w.c.cancel()
	return w.Worker.MaskRange(ctx, job, r, fn)
}
