package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/testdb"
)

// newDB returns a fresh database with setup applied and an engine on it.
func newDB(t *testing.T, setup string) (*Engine, *pgx.Conn, string) {
	t.Helper()
	dsn, _ := testdb.Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if setup != "" {
		if _, err := c.Exec(ctx, setup); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	e, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, c, dsn
}

func one[T any](t *testing.T, c *pgx.Conn, q string, args ...any) T {
	t.Helper()
	var v T
	if err := c.QueryRow(context.Background(), q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func hasICU(t *testing.T, c *pgx.Conn) bool {
	return one[int64](t, c, "SELECT count(*) FROM pg_collation WHERE collprovider = 'i'") > 0
}

func TestOpenKeepsPasswordOutOfErrors(t *testing.T) {
	dsn, _ := testdb.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("test server DSN is not a URL")
	}
	const canary = "canary-pw-7f3a9"
	u.User = url.UserPassword(u.User.Username(), canary)
	for _, d := range []string{u.String(), "postgres://restage:" + canary + "@127.0.0.1:5432/x?sslmode=bogus%", "host=127.0.0.1 password=" + canary + " port=notaport"} {
		_, err := Open(context.Background(), d)
		if err == nil {
			t.Fatalf("Open with a wrong password succeeded")
		}
		if strings.Contains(err.Error(), canary) {
			t.Errorf("error contains the password: %v", err)
		}
	}
}

const kindsSQL = `
CREATE EXTENSION citext;
CREATE DOMAIN short_name AS varchar(20) NOT NULL;
CREATE DOMAIN shorter_name AS short_name;
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE kinds (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  t text NOT NULL, vc varchar(45), ch char(3), ci citext, nm name,
  i2 smallint, i4 integer, i8 bigint,
  dec numeric(10,2), decu numeric,
  f4 real, f8 double precision,
  b boolean, d date, ts timestamp(3), tstz timestamptz, tm time, tmtz timetz(2),
  j json, jb jsonb, bin bytea, u uuid, e mood, arr text[], dom shorter_name,
  gen int GENERATED ALWAYS AS (i4 * 2) STORED,
  ser serial,
  inet_col inet
);
ALTER TABLE kinds DROP COLUMN inet_col;
CREATE SCHEMA other;
CREATE TABLE other.parent (a int, b int, name text, code text, PRIMARY KEY (a, b), UNIQUE (name));
CREATE UNIQUE INDEX parent_code_lower ON other.parent (lower(code));
CREATE UNIQUE INDEX parent_code_partial ON other.parent (code) WHERE code <> '';
CREATE UNIQUE INDEX parent_code_incl ON other.parent (code) INCLUDE (name);
CREATE TABLE other.child (id int PRIMARY KEY, a int, b int,
  CONSTRAINT child_parent_fk FOREIGN KEY (a, b) REFERENCES other.parent ON DELETE CASCADE);
CREATE FUNCTION other.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER child_noop BEFORE UPDATE ON other.child FOR EACH ROW EXECUTE FUNCTION other.noop();
CREATE TABLE measurements (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE base (id int, note text);
CREATE TABLE derived (extra text) INHERITS (base);
INSERT INTO derived SELECT g, 'n', 'x' FROM generate_series(1, 1000) g;
ANALYZE derived;
`

func TestIntrospect(t *testing.T) {
	e, c, _ := newDB(t, kindsSQL)
	ctx := context.Background()
	icu := hasICU(t, c)
	if icu {
		if _, err := c.Exec(ctx, `CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
ALTER TABLE kinds ADD COLUMN cs text COLLATE ci`); err != nil {
			t.Fatal(err)
		}
	}
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range s.Tables {
		got = append(got, tb.TableName.String())
	}
	want := []string{"other.child", "other.parent", "public.base", "public.derived", "public.kinds", "public.measurements", "public.measurements_2024"}
	if !slices.Equal(got, want) {
		t.Fatalf("tables = %v, want %v", got, want)
	}
	if s.DefaultSchema != "public" || s.Table("kinds") == nil || s.Table("other.parent") == nil {
		t.Errorf("name lookup failed: default %q", s.DefaultSchema)
	}

	k := s.Table("kinds")
	type col struct {
		Kind                          schema.Kind
		DataType                      string
		MaxLength, Precision, Scale   int
		IntBits                       int
		Nullable, Generated, Identity bool
		PadSpace, CI                  bool
	}
	cols := map[string]col{
		"id":   {Kind: schema.KindInt, DataType: "integer", IntBits: 32, Identity: true},
		"t":    {Kind: schema.KindText, DataType: "text"},
		"vc":   {Kind: schema.KindText, DataType: "character varying(45)", MaxLength: 45, Nullable: true},
		"ch":   {Kind: schema.KindText, DataType: "character(3)", MaxLength: 3, Nullable: true, PadSpace: true},
		"ci":   {Kind: schema.KindText, DataType: "citext", Nullable: true, CI: true},
		"nm":   {Kind: schema.KindText, DataType: "name", Nullable: true},
		"i2":   {Kind: schema.KindInt, DataType: "smallint", IntBits: 16, Nullable: true},
		"i4":   {Kind: schema.KindInt, DataType: "integer", IntBits: 32, Nullable: true},
		"i8":   {Kind: schema.KindInt, DataType: "bigint", IntBits: 64, Nullable: true},
		"dec":  {Kind: schema.KindDecimal, DataType: "numeric(10,2)", Precision: 10, Scale: 2, Nullable: true},
		"decu": {Kind: schema.KindDecimal, DataType: "numeric", Nullable: true},
		"f4":   {Kind: schema.KindFloat, DataType: "real", Nullable: true},
		"f8":   {Kind: schema.KindFloat, DataType: "double precision", Nullable: true},
		"b":    {Kind: schema.KindBool, DataType: "boolean", Nullable: true},
		"d":    {Kind: schema.KindDate, DataType: "date", Nullable: true},
		"ts":   {Kind: schema.KindDateTime, DataType: "timestamp(3) without time zone", Scale: 3, Nullable: true},
		"tstz": {Kind: schema.KindDateTime, DataType: "timestamp with time zone", Scale: 6, Nullable: true},
		"tm":   {Kind: schema.KindTime, DataType: "time without time zone", Scale: 6, Nullable: true},
		"tmtz": {Kind: schema.KindTime, DataType: "time(2) with time zone", Scale: 2, Nullable: true},
		"j":    {Kind: schema.KindJSON, DataType: "json", Nullable: true},
		"jb":   {Kind: schema.KindJSON, DataType: "jsonb", Nullable: true},
		"bin":  {Kind: schema.KindBinary, DataType: "bytea", Nullable: true},
		"u":    {Kind: schema.KindOther, DataType: "uuid", Nullable: true},
		"e":    {Kind: schema.KindOther, DataType: "mood", Nullable: true},
		"arr":  {Kind: schema.KindOther, DataType: "text[]", Nullable: true},
		"dom":  {Kind: schema.KindText, DataType: "shorter_name", MaxLength: 20}, // NOT NULL from the domain
		"gen":  {Kind: schema.KindInt, DataType: "integer", IntBits: 32, Nullable: true, Generated: true},
		"ser":  {Kind: schema.KindInt, DataType: "integer", IntBits: 32, Identity: true},
	}
	if icu {
		cols["cs"] = col{Kind: schema.KindText, DataType: "text", Nullable: true, CI: true}
	}
	var order []string
	for _, c := range k.Columns {
		order = append(order, c.Name)
		w, ok := cols[c.Name]
		if !ok {
			t.Errorf("unexpected column %q", c.Name)
			continue
		}
		g := col{c.Kind, c.DataType, c.MaxLength, c.Precision, c.Scale, c.IntBits, c.Nullable, c.Generated, c.Identity, c.PadSpace, c.CaseInsensitive}
		if g != w {
			t.Errorf("column %s = %+v, want %+v", c.Name, g, w)
		}
		if (c.Kind == schema.KindText || c.Kind == schema.KindJSON) && c.Charset != "UTF8" {
			t.Errorf("column %s charset = %q, want UTF8", c.Name, c.Charset)
		}
	}
	if len(order) != len(cols) || order[0] != "id" || order[1] != "t" || order[len(order)-1] != map[bool]string{true: "cs", false: "ser"}[icu] {
		t.Errorf("column order = %v", order)
	}
	if icu && k.Column("cs").Collation != "ci" {
		t.Errorf("cs collation = %q, want ci", k.Column("cs").Collation)
	}
	if got := k.Column("t").Collation; got != "default" {
		t.Errorf("t collation = %q, want default", got)
	}

	p := s.Table("other.parent")
	if !slices.Equal(p.PrimaryKey, []string{"a", "b"}) {
		t.Errorf("parent PK = %v", p.PrimaryKey)
	}
	wantU := []schema.Index{{Name: "parent_code_incl", Columns: []string{"code"}}, {Name: "parent_name_key", Columns: []string{"name"}}}
	if !reflect.DeepEqual(p.Uniques, wantU) {
		t.Errorf("parent uniques = %+v, want %+v", p.Uniques, wantU)
	}
	ch := s.Table("other.child")
	wantFK := []schema.ForeignKey{{Name: "child_parent_fk", Columns: []string{"a", "b"}, RefTable: schema.TableName{Schema: "other", Name: "parent"}, RefColumns: []string{"a", "b"}, OnDelete: "CASCADE"}}
	if !reflect.DeepEqual(ch.ForeignKeys, wantFK) {
		t.Errorf("child FKs = %+v, want %+v", ch.ForeignKeys, wantFK)
	}
	if !slices.Equal(ch.Triggers, []string{"child_noop"}) {
		t.Errorf("child triggers = %v", ch.Triggers)
	}
	if rb := s.ReferencedBy(p.TableName); len(rb) != 1 || rb[0] != ch {
		t.Errorf("ReferencedBy(parent) = %v", rb)
	}

	m, m24 := s.Table("measurements"), s.Table("measurements_2024")
	if !m.Partitioned || m.Parent != nil || m24.Partitioned || m24.Parent == nil || *m24.Parent != m.TableName {
		t.Errorf("partitioning: parent %+v, partition %+v", m, m24)
	}
	d := s.Table("derived")
	if d.Parent == nil || *d.Parent != s.Table("base").TableName {
		t.Errorf("derived parent = %v", d.Parent)
	}
	if len(d.Columns) != 3 || d.Columns[2].Name != "extra" {
		t.Errorf("derived columns: %d", len(d.Columns))
	}
	if d.EstimatedRows != 1000 {
		t.Errorf("derived EstimatedRows = %d, want 1000", d.EstimatedRows)
	}
}

func TestTruncate(t *testing.T) {
	e, c, _ := newDB(t, `
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE);
CREATE TABLE other (id int);
CREATE TABLE m (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE m1 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE FUNCTION log_trunc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO other VALUES (-1); RETURN NULL; END $$;
CREATE TRIGGER a_trunc AFTER TRUNCATE ON a EXECUTE FUNCTION log_trunc();
INSERT INTO a SELECT generate_series(1, 10);
INSERT INTO b SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO other SELECT generate_series(1, 5);
INSERT INTO m VALUES (1, '2024-05-01');`)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counts := func() string {
		return one[string](t, c, `SELECT format('%s/%s/%s/%s', (SELECT count(*) FROM a), (SELECT count(*) FROM b), (SELECT count(*) FROM other), (SELECT count(*) FROM m))`)
	}
	if err := e.Truncate(ctx, []*schema.Table{s.Table("a")}); err == nil {
		t.Fatal("truncating a without b (which references it) succeeded")
	}
	if got := counts(); got != "10/10/5/1" {
		t.Fatalf("after a refused truncate: counts = %s, want 10/10/5/1", got)
	}
	if err := e.Truncate(ctx, []*schema.Table{s.Table("a"), s.Table("b"), s.Table("m"), s.Table("m1")}); err != nil {
		t.Fatal(err)
	}
	if got := counts(); got != "0/0/5/0" {
		t.Fatalf("counts = %s, want 0/0/5/0 (other untouched, TRUNCATE trigger silent)", got)
	}
}

// markAll masks every range of job with fn on nWorkers workers in parallel.
func markAll(t *testing.T, e *Engine, job *mask.TableJob, size, nWorkers int, fn mask.RowFunc) (ranges int, rows int64) {
	t.Helper()
	return enginetest.MaskAll(t, e, job, size, nWorkers, fn)
}

// TestChunksCoverEveryRowOnce appends "x" to a column through every range:
// a row read twice (or never) shows as "xx" (or "").
func TestChunksCoverEveryRowOnce(t *testing.T) {
	e, c, _ := newDB(t, `
CREATE TABLE single (id int PRIMARY KEY, v text);
INSERT INTO single SELECT g, '' FROM generate_series(1, 5000) g;
CREATE TABLE composite (a int, b text, v text, PRIMARY KEY (a, b));
INSERT INTO composite SELECT g % 7, 'k' || g, '' FROM generate_series(1, 5000) g;
CREATE TABLE nokey (id int, v text) WITH (fillfactor = 100);
INSERT INTO nokey SELECT g, '' FROM generate_series(1, 20000) g;
CREATE TABLE fresh_nokey (id int, v text) WITH (autovacuum_enabled = false);
INSERT INTO fresh_nokey SELECT g, '' FROM generate_series(1, 20000) g;
ANALYZE single, composite, nokey;`)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table   string
		key     []string
		workers int
	}{
		{"single", []string{"id"}, 1},
		{"single", []string{"id"}, 3},
		{"composite", []string{"a", "b"}, 2},
		{"nokey", nil, 1},
		{"nokey", nil, 3},
		{"fresh_nokey", nil, 2},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.table, tc.workers), func(t *testing.T) {
			tb := s.Table(tc.table)
			job := &mask.TableJob{Table: tb, Key: tc.key, Read: []string{"v", "id"}, Write: []string{"v"}}
			if tc.table == "composite" {
				job.Read = []string{"v", "a"}
			}
			seen := map[string]int{}
			ranges, rows := markAll(t, e, job, 997, tc.workers, func(in, out []mask.Value) error {
				seen[in[1].S]++
				out[0] = mask.Value{S: in[0].S + "x"}
				return nil
			})
			total := one[int64](t, c, "SELECT count(*) FROM "+tc.table)
			if ranges < 5 {
				t.Errorf("%d ranges, want several", ranges)
			}
			if rows != total {
				t.Errorf("MaskRange read %d rows, table has %d", rows, total)
			}
			if bad := one[int64](t, c, "SELECT count(*) FROM "+tc.table+" WHERE v <> repeat('x', $1)", 1); bad != 0 {
				t.Errorf("%d rows not masked exactly once", bad)
			}
			if tc.table != "composite" && len(seen) != int(total) {
				t.Errorf("fn saw %d distinct ids, want %d", len(seen), total)
			}
			// Reset for the next subtest.
			if _, err := c.Exec(ctx, "UPDATE "+tc.table+" SET v = ''"); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A partitioned parent has no rows of its own.
	if _, err := c.Exec(ctx, `CREATE TABLE p (id int PRIMARY KEY) PARTITION BY RANGE (id)`); err != nil {
		t.Fatal(err)
	}
	rs, err := e.Chunks(ctx, &mask.TableJob{Table: &schema.Table{TableName: schema.TableName{Schema: "public", Name: "p"}, Partitioned: true}, Key: []string{"id"}}, 10)
	if err != nil || len(rs) != 0 {
		t.Errorf("Chunks(partitioned) = %v, %v; want no ranges", rs, err)
	}
}

const peopleSQL = `
CREATE TABLE people (id int PRIMARY KEY, name text, email varchar(40) UNIQUE, note text, n int, at timestamptz, data jsonb);
CREATE TABLE audit (n int);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit VALUES (1); NEW.note := 'touched'; RETURN NEW; END $$;
CREATE TRIGGER people_touch BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO people SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'name ' || g END, 'e' || g || '@x.test',
  'note ' || g, g, '2024-01-01'::timestamptz + g * interval '1 minute', jsonb_build_object('k', g)
FROM generate_series(1, 3000) g;`

func TestMaskRangeWritesOnlyMaskedColumns(t *testing.T) {
	e, c, _ := newDB(t, peopleSQL)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firing, err := e.Prepare(ctx, []*schema.Table{s.Table("people")})
	if err != nil || len(firing) != 0 {
		t.Fatalf("Prepare = %v, %v; want no firing triggers (superuser)", firing, err)
	}
	const others = `SELECT md5(string_agg(format('%s|%s|%s|%s|%s|%s', id, email, note, n, at, data), ',' ORDER BY id)) FROM people`
	before := one[string](t, c, others)
	names := one[string](t, c, `SELECT md5(string_agg(coalesce(upper(name), 'NULL'), ',' ORDER BY id)) FROM people`)

	job := &mask.TableJob{Table: s.Table("people"), Key: []string{"id"}, Read: []string{"name", "email"}, Write: []string{"name"}}
	_, rows := markAll(t, e, job, 500, 2, func(in, out []mask.Value) error {
		if in[1].Null {
			return errors.New("seed column missing")
		}
		out[0] = mask.Value{S: strings.ToUpper(in[0].S), Null: in[0].Null}
		return nil
	})
	if rows != 3000 {
		t.Errorf("rows = %d, want 3000", rows)
	}
	if got := one[string](t, c, others); got != before {
		t.Error("columns outside Write changed")
	}
	if got := one[string](t, c, `SELECT md5(string_agg(coalesce(name, 'NULL'), ',' ORDER BY id)) FROM people`); got != names {
		t.Error("name is not the upper-cased original (NULL kept)")
	}
	if n := one[int64](t, c, "SELECT count(*) FROM audit"); n != 0 {
		t.Errorf("trigger fired %d times", n)
	}
	if err := e.Finish(ctx, []*schema.Table{s.Table("people")}); err != nil {
		t.Fatal(err)
	}
}

func TestMaskRangeNonTextKinds(t *testing.T) {
	e, c, _ := newDB(t, `CREATE TABLE k (id uuid PRIMARY KEY, n numeric(6,2), at timestamptz, j jsonb, b bytea, vc varchar(4));
INSERT INTO k SELECT md5(g::text)::uuid, g / 7.0, '2024-01-01'::timestamptz + g * interval '1 hour', jsonb_build_object('g', g), '\x01'::bytea, 'ab'
FROM generate_series(1, 300) g;`)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	job := &mask.TableJob{Table: s.Table("k"), Key: []string{"id"}, Read: []string{"n", "at", "j", "b"}, Write: []string{"n", "at", "j", "b"}}
	markAll(t, e, job, 64, 2, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "1.50"}
		out[1] = mask.Value{S: "2000-02-03 04:05:06+00"}
		out[2] = mask.Value{S: `{"masked": true}`}
		out[3] = mask.Value{Null: true}
		return nil
	})
	if got := one[string](t, c, `SELECT format('%s|%s|%s|%s|%s', count(DISTINCT n), min(n), min(at AT TIME ZONE 'UTC'), min(j::text), count(b)) FROM k`); got != `1|1.50|2000-02-03 04:05:06|{"masked": true}|0` {
		t.Errorf("after masking: %s", got)
	}

	// Too long for varchar(4): fails, not cut short.
	job = &mask.TableJob{Table: s.Table("k"), Key: []string{"id"}, Read: []string{"vc"}, Write: []string{"vc"}}
	w, err := e.Worker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	_, err = w.MaskRange(ctx, job, mask.Range{}, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "toolong"}
		return nil
	})
	if err == nil {
		t.Error("a value too long for varchar(4) was accepted")
	}
	if n := one[int64](t, c, `SELECT count(*) FROM k WHERE vc <> 'ab'`); n != 0 {
		t.Errorf("%d rows changed by a failed range", n)
	}
}

func TestErrorsHoldNoValues(t *testing.T) {
	const canary = "canary-7c1d"
	e, _, _ := newDB(t, `CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, n int);
INSERT INTO u VALUES (1, '`+canary+`@x.test', 1), (2, 'b@x.test', 2);`)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.Worker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, tc := range []struct {
		col, code string
		out       string
	}{
		{"email", "23505", canary + "@x.test"},
		{"n", "22P02", canary},
	} {
		job := &mask.TableJob{Table: s.Table("u"), Key: []string{"id"}, Read: []string{tc.col}, Write: []string{tc.col}}
		_, err := w.MaskRange(ctx, job, mask.Range{}, func(in, out []mask.Value) error {
			out[0] = mask.Value{S: tc.out}
			return nil
		})
		var pe *Error
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.col)
		case strings.Contains(err.Error(), canary):
			t.Errorf("%s: error holds the value: %v", tc.col, err)
		case !errors.As(err, &pe) || pe.Code != tc.code:
			t.Errorf("%s: error %v, want SQLSTATE %s", tc.col, err, tc.code)
		default:
			t.Logf("%s: %v", tc.col, err)
		}
	}
	if got, want := scrubMessage(`invalid input syntax for type integer: "secret"`, "u"), `invalid input syntax for type integer: "…"`; got != want {
		t.Errorf("scrubMessage = %q, want %q", got, want)
	}
	if got, want := scrubMessage(`relation "u" has "a" and "x`, "u"), `relation "u" has "…" and "…"`; got != want {
		t.Errorf("scrubMessage = %q, want %q", got, want)
	}
}

// TestStatisticsHoldNoOriginals: pg_statistic keeps most-common values and
// histogram bounds of the data; Finish must rebuild them from masked rows,
// for the table and for its inheritance parent's inherited statistics.
func TestStatisticsHoldNoOriginals(t *testing.T) {
	e, c, _ := newDB(t, `
CREATE TABLE base (id int, city text, name text);
CREATE TABLE cust (PRIMARY KEY (id)) INHERITS (base);
INSERT INTO cust SELECT g, (ARRAY['Tokyo','Osaka','Nagoya','Sapporo','Fukuoka'])[1 + g % 5], 'person-' || g FROM generate_series(1, 20000) g;
ANALYZE base; ANALYZE cust;
-- ANALYZE skips a column set to STATISTICS 0 and keeps its old statistics.
ALTER TABLE cust ALTER COLUMN city SET STATISTICS 0;`)
	ctx := context.Background()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const stats = `SELECT coalesce(string_agg(concat(most_common_vals::text, histogram_bounds::text), ' '), '') FROM pg_stats WHERE tablename IN ('cust', 'base') AND attname IN ('city', 'name')`
	leaks := func() bool {
		st := one[string](t, c, stats)
		return strings.Contains(st, "Tokyo") || strings.Contains(st, "person-")
	}
	if !leaks() {
		t.Fatal("setup: statistics hold no original values to begin with")
	}
	job := &mask.TableJob{Table: s.Table("cust"), Key: []string{"id"}, Read: []string{"city", "name", "id"}, Write: []string{"city", "name"}}
	markAll(t, e, job, 5000, 2, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: fmt.Sprintf("city-%d", len(in[0].S))}
		out[1] = mask.Value{S: "masked-" + in[2].S}
		return nil
	})
	if err := e.Finish(ctx, []*schema.Table{s.Table("cust")}); err != nil {
		t.Fatal(err)
	}
	if leaks() {
		t.Errorf("statistics still hold original values: %.300s", one[string](t, c, stats))
	}
	if n := one[int64](t, c, `SELECT attstattarget FROM pg_attribute WHERE attrelid = 'cust'::regclass AND attname = 'city'`); n != 0 {
		t.Errorf("city statistics target = %d, want 0 restored", n)
	}
	if n := one[int64](t, c, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'cust'`); n != 0 {
		t.Logf("n_dead_tup after Finish = %d (stats collector lag possible)", n)
	}
}

func TestSakila(t *testing.T) {
	type db struct{ dsn, name string }
	var dbs [2]db
	for i := range dbs {
		dbs[i].dsn, dbs[i].name = testdb.Postgres(t)
	}
	if dbs[0].name == dbs[1].name {
		t.Fatal("two databases share a name")
	}
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			testdb.LoadSakilaPostgres(t, dbs[i].dsn)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	ctx := context.Background()
	for _, d := range dbs {
		e, err := Open(ctx, d.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		s, err := e.Introspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p1 := s.Table("payment_p2007_01")
		if p1 == nil || p1.Parent == nil || p1.Parent.Name != "payment" || len(p1.PrimaryKey) != 0 {
			t.Fatalf("payment_p2007_01 = %+v", p1)
		}
		if f := s.Table("film"); f == nil || !slices.Contains(f.Triggers, "film_fulltext_trigger") {
			t.Errorf("film triggers missing")
		}
		if y := s.Table("film").Column("release_year"); y == nil || y.Kind != schema.KindInt || y.DataType != "year" {
			t.Errorf("film.release_year (domain year over integer) = %+v", y)
		}
		if r := s.Table("film").Column("rating"); r == nil || r.Kind != schema.KindOther {
			t.Errorf("film.rating (enum) = %+v", r)
		}
		if got := len(s.Table("customer").ForeignKeys); got == 0 {
			t.Errorf("customer has no foreign keys")
		}
		total := int64(0)
		for _, tb := range s.Tables {
			total += tb.EstimatedRows
		}
		t.Logf("%s: %d tables, ~%d rows", d.name, len(s.Tables), total)
	}

	// Mask a keyless inheritance child through the ctid path; the parent's
	// own rows stay untouched.
	e, err := Open(ctx, dbs[0].dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, dbs[0].dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// The sample loads every payment (of 2005-2006) into the parent: move a
	// month into a child.
	if _, err := c.Exec(ctx, `WITH m AS (DELETE FROM ONLY payment WHERE payment_date >= '2005-07-01' AND payment_date < '2005-08-01' RETURNING *)
INSERT INTO payment_p2007_03 SELECT payment_id, customer_id, staff_id, rental_id, amount, '2007-03-15' FROM m`); err != nil {
		t.Fatal(err)
	}
	sum := `SELECT md5(string_agg(format('%s|%s|%s', payment_id, amount, payment_date), ',' ORDER BY payment_id)) FROM ONLY payment`
	before := one[string](t, c, sum)
	job := &mask.TableJob{Table: s.Table("payment_p2007_03"), Read: []string{"amount"}, Write: []string{"amount"}}
	ranges, rows := markAll(t, e, job, 300, 2, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "0.01"}
		return nil
	})
	want := one[int64](t, c, "SELECT count(*) FROM ONLY payment_p2007_03")
	if rows != want || ranges < 2 {
		t.Errorf("masked %d rows in %d ranges, want %d rows in several", rows, ranges, want)
	}
	if n := one[int64](t, c, "SELECT count(*) FROM payment_p2007_03 WHERE amount <> 0.01"); n != 0 {
		t.Errorf("%d rows not masked", n)
	}
	if one[string](t, c, sum) != before {
		t.Error("the parent's own rows changed")
	}
	if err := e.Finish(ctx, []*schema.Table{s.Table("payment_p2007_03")}); err != nil {
		t.Fatal(err)
	}
}

// TestUnprivilegedLogin: a login that may not set session_replication_role
// still masks, and Prepare reports the triggers that fire.
func TestUnprivilegedLogin(t *testing.T) {
	_, admin, dsn := newDB(t, peopleSQL)
	ctx := context.Background()
	role := testdb.UniqueName(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skip("test server DSN is not a URL")
	}
	setup := fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD 'pw';
ALTER TABLE people OWNER TO %[1]s; ALTER TABLE audit OWNER TO %[1]s;`, pgx.Identifier{role}.Sanitize())
	if _, err := admin.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The role's sessions end asynchronously, dropping their temp
		// tables as they go; REASSIGN OWNED can trip over a temp table
		// vanishing under it, so wait for them and retry.
		ctx := context.Background()
		for i := 0; i < 50; i++ {
			var n int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role).Scan(&n); err != nil || n == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		q := fmt.Sprintf("REASSIGN OWNED BY %[1]s TO CURRENT_USER; DROP OWNED BY %[1]s; DROP ROLE %[1]s", pgx.Identifier{role}.Sanitize())
		var err error
		for i := 0; i < 5; i++ {
			if _, err = admin.Exec(ctx, q); err == nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("drop role: %v", err)
	})
	u.User = url.UserPassword(role, "pw")
	e, err := Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, err := e.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firing, err := e.Prepare(ctx, []*schema.Table{s.Table("people")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(firing, []string{"people_touch on people"}) {
		t.Errorf("firing = %q, want [people_touch on people]", firing)
	}
	job := &mask.TableJob{Table: s.Table("people"), Key: []string{"id"}, Read: []string{"n"}, Write: []string{"n"}}
	_, rows := markAll(t, e, job, 1000, 1, func(in, out []mask.Value) error {
		out[0] = mask.Value{S: "0"}
		return nil
	})
	if rows != 3000 {
		t.Errorf("rows = %d, want 3000", rows)
	}
	if n := one[int64](t, admin, "SELECT count(*) FROM audit"); n != 3000 {
		t.Errorf("trigger fired %d times, want 3000 (reported as firing)", n)
	}
}
