package gate

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/testdb"
	"github.com/restage/restage/internal/testdb/jpshop"
	"github.com/restage/restage/internal/transform"
)

func TestNameForms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"山田 花子", []string{"山田花子"}},
		{"山田　さくら", []string{"山田さくら"}},
		{"Aiko  Yamada", []string{"aiko yamada", "yamada aiko"}},
		{"林", nil}, // one kanji: a common word
		{"Al Li", []string{"al li", "li al"}},
		{"Al B", nil},    // fewer than 4 letters
		{"サトウ タロウ", nil}, // no kanji, no Latin
	} {
		if got := nameForms(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("nameForms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var got []string
	sc := &leakScanner{}
	sc.nameCandidates("お届け先: 山田 花子様。Dear Aiko Yamada!", func(p []byte) bool { got = append(got, string(p)); return true })
	for _, want := range []string{"山田花子", "山田花", "aiko yamada"} {
		if !slices.Contains(got, want) {
			t.Errorf("candidates %q lack %q", got, want)
		}
	}
	if slices.Contains(got, "届") || slices.Contains(got, "お届け先") {
		t.Errorf("candidates %q hold a piece with fewer than 2 kanji", got)
	}
}

func TestLeakScannerFinds(t *testing.T) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	b := newLeakBaseline(key, LeakOptions{})
	add := func(kind, norm string) {
		if kind == LeakIP {
			a, ok := normIP(norm)
			if !ok && norm != "10.0.0.1" {
				t.Fatalf("normIP(%q) refused", norm)
			}
			if !ok { // as if captured anyway
				a = netip.MustParseAddr(norm).As16()
			}
			norm = string(a[:])
		}
		b.fps[kind] = append(b.fps[kind], b.fingerprint(kind, norm))
		b.compact(kind)
	}
	add(LeakEmail, "aiko.akiyama@example.jp")
	add(LeakPhone, "09012345678")
	add(LeakName, "秋山愛子")
	add(LeakName, "aiko akiyama")
	add(LeakIP, "203.0.113.7")
	add(LeakIP, "2400:1:2::3")
	add(LeakIP, "10.0.0.1") // as if captured: a candidate must still not match it
	sc := &leakScanner{b: b}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"連絡は Aiko.Akiyama@Example.JP まで", []string{LeakEmail}},
		{"不在時は090-1234-5678に連絡", []string{LeakPhone}},
		{"TEL ０９０（１２３４）５６７８", []string{LeakPhone}},
		{"秋山 愛子様へ お誕生日おめでとう", []string{LeakName}},
		{"from AIKO AKIYAMA, via 203.0.113.7", []string{LeakName, LeakIP}},
		{"proxy ::ffff:203.0.113.7", []string{LeakIP}},
		{"v6 2400:1:2:0:0:0:0:3 seen", []string{LeakIP}},
		{"秋山さん、愛子さん、12345678", nil},     // no whole name, an order number
		{"proxy 10.0.0.1 and ::1", nil}, // private and loopback: nobody's
		{"aiko.akiyama.x@example.invalid", nil},
	} {
		if got := sc.scan(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("scan(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestLeakScanJPShop plants originals in kept and unmentioned columns of the
// Japanese shop fixture, masks it, and expects the scan to name each
// column with its exact row count; a text rule on the column then passes.
func TestLeakScanJPShop(t *testing.T) {
	for _, f := range []struct {
		name   string
		flavor jpshop.Flavor
	}{{"mariadb", jpshop.MariaDB}, {"postgres", jpshop.Postgres}} {
		t.Run(f.name, func(t *testing.T) {
			rep := leakRun(t, f.flavor, jpshop.RulesYAML, true, 40_000)
			want := map[string]bool{
				"orders.delivery_note/email": true, "support_tickets.subject/name": true,
				"support_tickets.subject/phone": true, "login_history.user_agent/ip": true,
				"user_profiles.profile/phone": true,
			}
			for _, h := range rep.report.Hits {
				tbl := h.Table
				tbl = strings.TrimPrefix(tbl, "public.")
				k := tbl + "." + h.Column + "/" + h.Kind
				if !want[k] {
					t.Errorf("unexpected hit %s (%d rows)", k, h.Rows)
					continue
				}
				if h.Rows != rep.planted[k] {
					t.Errorf("%s: %d rows, want %d", k, h.Rows, rep.planted[k])
				}
				delete(want, k)
			}
			for k := range want {
				t.Errorf("planted %s (%d rows) not found", k, rep.planted[k])
			}
			if rep.report.OK() {
				t.Error("report OK with hits")
			}
			// The same plant with text on the free-text columns passes.
			rules := jpshop.RulesYAML + "  support_tickets:\n    columns:\n      body: text\n      subject: text\n  login_history:\n    columns:\n      ip: ip\n      user_agent: text\n"
			rules = replaceOnce(t, rules, "  support_tickets:\n    columns:\n      body: text\n", "")
			rules = replaceOnce(t, rules, "  login_history:\n    columns:\n      ip: ip\n", "")
			rules = replaceOnce(t, rules, `delivery_note: {keep: "canned delivery instructions chosen from a list"}`, "delivery_note: text")
			rules = replaceOnce(t, rules, "          $.contact.tel: phone\n", "          $.contact.tel: phone\n          $.fax: phone\n")
			clean := leakRun(t, f.flavor, rules, true, 40_000)
			if !clean.report.OK() {
				t.Errorf("with text rules the scan still finds %s", clean.report.Summary())
			}
			t.Logf("%s: capture %v, scan %v over %d rows; masking %v; %d bytes of fingerprints",
				f.name, clean.capture, clean.report.Duration, clean.report.Rows, clean.mask, clean.bytes)
		})
	}
}

func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	i := strings.Index(s, old)
	if i < 0 {
		t.Fatalf("rules lack %q", old)
	}
	return s[:i] + new + s[i+len(old):]
}

type leakResult struct {
	report        *LeakReport
	planted       map[string]int64
	capture, mask time.Duration
	// captureCPU is the capture's work replayed on one goroutine over the
	// originals held in memory (the fastest of three): what it costs
	// without a database, a preempting server or a second worker.
	captureCPU time.Duration
	bytes      int64
	strategies string // each masked table's strategy
}

func strategies(r *mask.Report) string {
	var out []string
	for _, t := range r.Tables {
		if t.Strategy != "" {
			out = append(out, t.Table+"="+t.Strategy)
		}
	}
	return strings.Join(out, " ")
}

func leakRun(t testing.TB, f jpshop.Flavor, rules string, plant bool, size int) leakResult {
	t.Helper()
	return leakRunWith(t, f, rules, plant, size, true)
}

// leakRunWith is leakRun; without scan, it masks with no leak capture and
// scans nothing (the reference for what the leak scan adds).
func leakRunWith(t testing.TB, f jpshop.Flavor, rules string, plant bool, size int, scan bool) leakResult {
	t.Helper()
	ctx := context.Background()
	var (
		eng interface {
			mask.Engine
			mask.Reader
		}
		db  *sql.DB
		err error
	)
	if f == jpshop.Postgres {
		dsn, _ := testdb.Postgres(t)
		e, err2 := postgres.Open(ctx, dsn)
		if err2 != nil {
			t.Fatal(err2)
		}
		t.Cleanup(func() { e.Close() })
		eng = e
		db, err = sql.Open("pgx", dsn)
	} else {
		dsn, _ := testdb.MySQL(t)
		e, err2 := mysql.Open(ctx, dsn)
		if err2 != nil {
			t.Fatal(err2)
		}
		t.Cleanup(func() { e.Close() })
		eng = e
		db, err = sql.Open("mysql", dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := jpshop.Load(ctx, db, f, size); err != nil {
		t.Fatal(err)
	}
	res := leakResult{planted: map[string]int64{}}
	if plant {
		// An original phone under a key the json rule does not mask.
		fax := `UPDATE user_profiles SET profile = JSON_SET(profile, '$.fax', (SELECT phone FROM users WHERE users.id = user_profiles.user_id)) WHERE user_id % 20 = 0 AND user_id IN (SELECT id FROM users WHERE phone IS NOT NULL)`
		if f == jpshop.Postgres {
			fax = `UPDATE user_profiles SET profile = jsonb_set(profile, '{fax}', to_jsonb((SELECT phone FROM users WHERE users.id = user_profiles.user_id))) WHERE user_id % 20 = 0 AND user_id IN (SELECT id FROM users WHERE phone IS NOT NULL)`
		}
		for _, q := range []string{
			fax,
			`UPDATE orders SET delivery_note = (SELECT email FROM users WHERE users.id = orders.user_id) WHERE id % 40 = 0`,
			`UPDATE support_tickets SET subject = (SELECT CONCAT(family_name, ' ', given_name, ' 様') FROM users WHERE users.id = support_tickets.user_id) WHERE id % 10 = 0`,
			`UPDATE support_tickets SET subject = (SELECT CONCAT('TEL ', phone) FROM users WHERE users.id = support_tickets.user_id) WHERE id % 10 = 5 AND EXISTS (SELECT 1 FROM users WHERE users.id = support_tickets.user_id AND phone IS NOT NULL)`,
			`UPDATE login_history SET user_agent = (SELECT CONCAT('via ', ip_address) FROM payments WHERE payments.id = login_history.id) WHERE id % 30 = 0`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for k, q := range map[string]string{
			"orders.delivery_note/email":    `SELECT COUNT(*) FROM orders WHERE id % 40 = 0`,
			"support_tickets.subject/name":  `SELECT COUNT(*) FROM support_tickets WHERE id % 10 = 0`,
			"support_tickets.subject/phone": `SELECT COUNT(*) FROM support_tickets WHERE subject LIKE 'TEL %'`,
			"user_profiles.profile/phone":   `SELECT COUNT(*) FROM users WHERE id % 20 = 0 AND phone IS NOT NULL`,
		} {
			var n int64
			if err := db.QueryRow(q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			res.planted[k] = n
		}
		// Private and loopback addresses are nobody's: only public ones count.
		rows, err := db.Query(`SELECT ip_address FROM payments WHERE id % 30 = 0`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ip string
			if err := rows.Scan(&ip); err != nil {
				t.Fatal(err)
			}
			if _, ok := normIP(ip); ok {
				res.planted["login_history.user_agent/ip"]++
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	r, err := config.ParseRules("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := mask.NewPlan(r, s)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	if !scan {
		mrep, err := mask.Run(ctx, eng, plan, key, mask.Options{Workers: 2, BatchSize: 5000})
		if err != nil {
			t.Fatal(err)
		}
		res.mask = mrep.Duration
		res.strategies = strategies(mrep)
		return res
	}
	// The baseline is taken in the masking pass (LeakCapturer, as the run
	// does); the separate read (LeakCapture) must give the same one.
	want, err := LeakCapture(ctx, eng, plan, key, LeakOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, bench := t.(*testing.B); bench {
		res.captureCPU = leakReplay(t, eng, plan, key)
	}
	capt := NewLeakCapturer(plan, key, LeakOptions{})
	mrep, err := mask.Run(ctx, eng, plan, key, mask.Options{Workers: 2, BatchSize: 5000, Observer: capt})
	if err != nil {
		t.Fatal(err)
	}
	base := capt.Baseline()
	leakBaselineEqual(t, base, want)
	res.capture, res.bytes = base.Duration(), base.Bytes()
	if base.Originals(LeakEmail) == 0 || base.Originals(LeakName) == 0 || base.Originals(LeakPhone) == 0 || base.Originals(LeakIP) == 0 {
		t.Fatalf("baseline holds e-mail %d, name %d, phone %d, ip %d originals", base.Originals(LeakEmail), base.Originals(LeakName), base.Originals(LeakPhone), base.Originals(LeakIP))
	}
	res.mask = mrep.Duration
	res.strategies = strategies(mrep)
	s, err = eng.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res.report, err = LeakScan(ctx, eng, s, plan, base)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// leakBaselineEqual compares two baselines by their keyed fingerprints
// (the same key gives the same ones).
func leakBaselineEqual(t testing.TB, got, want *LeakBaseline) {
	t.Helper()
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		hs := func(b *LeakBaseline) []uint64 {
			out := slices.Clone(b.fps[k])
			slices.Sort(out)
			return slices.Compact(out)
		}
		g, w := hs(got), hs(want)
		if !slices.Equal(g, w) || got.mod[k] != want.mod[k] {
			t.Errorf("%s: the masking pass captured %d originals (modulus %d), the separate read %d (modulus %d)", k, len(g), got.mod[k], len(w), want.mod[k])
		}
	}
}

// TestCollectorNamesEqualNameForms: the collector's allocation-free name
// path keeps exactly the fingerprints of nameForms' forms.
func TestCollectorNamesEqualNameForms(t *testing.T) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	b := newLeakBaseline(key, LeakOptions{})
	for _, in := range []string{
		"", " ", "秋山 愛子", "秋山　愛子", "秋山・愛子", "秋 子", "秋", "アイコ アキヤマ", "Aiko Akiyama", "AIKO  AKIYAMA ",
		"Jo Li", "Jo Lin", "Mary Jane Watson", "Élodie Durand", "Ünal Öztürk", "o'brien sean", "a b c d e f g h i j",
		"秋山 愛子 Aiko", "Aiko 秋", "\t秋山\n愛子\t", "van der Berg Anna", "x1 y2 z3 w4", "山田太郎",
	} {
		fast, slow := b.collector(), b.collector()
		fast.names([]byte(in))
		for _, f := range nameForms(in) {
			slow.add(2, f)
		}
		if !slices.Equal(fast.local[2], slow.local[2]) {
			t.Errorf("%q: the fast path keeps %d forms, nameForms %d (or other ones)", in, len(fast.local[2]), len(slow.local[2]))
		}
	}
}

// leakReplay reads the originals the capture sees into memory and times
// the capture over them on one goroutine, the fastest of three runs.
func leakReplay(t testing.TB, rd mask.Reader, plan *mask.Plan, key transform.Key) time.Duration {
	t.Helper()
	type table struct {
		src  *leakSource
		rows [][]mask.Value
	}
	var tables []table
	for _, src := range leakSources(plan) {
		sel := make([]string, len(src.cols))
		for i, col := range src.cols {
			sel[i] = rd.Text(rd.QuoteIdent(col))
		}
		tb := table{src: src}
		err := rd.Query(context.Background(), "SELECT "+strings.Join(sel, ", ")+" FROM "+rd.From(src.table.TableName), func(row []mask.Value) error {
			tb.rows = append(tb.rows, slices.Clone(row))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tb)
	}
	best := time.Duration(math.MaxInt64)
	for range 3 {
		b := newLeakBaseline(key, LeakOptions{})
		start := time.Now()
		for _, tb := range tables {
			// one collector per range of 5000 rows, as the masking pass
			for i := 0; i < len(tb.rows); i += 5000 {
				c := b.collector()
				for _, row := range tb.rows[i:min(i+5000, len(tb.rows))] {
					c.row(tb.src, row)
				}
				b.merge(c)
			}
		}
		b.seal()
		best = min(best, time.Since(start))
	}
	return best
}

// TestLeakBaselineBounded: under its bound every original is found (the
// bucketed sort included); above it a deterministic sample by fingerprint
// is kept, at most the bound, and each kept original is still found.
func TestLeakBaselineBounded(t *testing.T) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	src := &leakSource{kinds: []string{LeakEmail}}
	capture := func(max, n int) *LeakBaseline {
		b := newLeakBaseline(key, LeakOptions{MaxOriginals: max})
		for i := 0; i < n; i += 5000 {
			c := b.collector()
			for j := i; j < min(i+5000, n); j++ {
				c.row(src, []mask.Value{{S: fmt.Sprintf("user%d@example.jp", j%(n/2+1))}})
			}
			b.merge(c)
		}
		b.seal()
		return b
	}
	b := capture(100_000, 60_000)
	if got := b.Originals(LeakEmail); got != 30_001 {
		t.Fatalf("under the bound: %d originals held, want 30001", got)
	}
	if !slices.IsSorted(b.fps[LeakEmail]) {
		t.Fatal("fingerprints not sorted")
	}
	for j := 0; j <= 30_000; j += 997 {
		if !b.has(LeakEmail, fmt.Sprintf("user%d@example.jp", j)) {
			t.Fatalf("original %d not found", j)
		}
	}
	if b.has(LeakEmail, "user30001@example.jp") {
		t.Fatal("a value never captured is found")
	}
	b = capture(1000, 60_000)
	held, mod := b.Originals(LeakEmail), b.mod[LeakEmail]
	if held > 1000 || held < 250 || mod < 16 {
		t.Fatalf("above the bound: %d held with modulus %d, want ≤ 1000 and a modulus ≥ 16", held, mod)
	}
	found := 0
	for j := 0; j <= 30_000; j++ {
		if b.has(LeakEmail, fmt.Sprintf("user%d@example.jp", j)) {
			found++
		}
	}
	if found != held {
		t.Fatalf("%d originals found, %d held", found, held)
	}
}

// TestLeakCollectorBounded: a collector that sees a whole table (a
// separate read, or a rewrite streaming the table as one range) hands its
// fingerprints over as it goes, and the baseline stays within a quarter
// above its bound between compactions.
func TestLeakCollectorBounded(t *testing.T) {
	key, _ := transform.NewKey([]byte("leak-scan-test-key-0123456789abcdef"))
	src := &leakSource{kinds: []string{LeakEmail}}
	b := newLeakBaseline(key, LeakOptions{MaxOriginals: 50_000})
	c := b.collector()
	most, held := 0, 0
	for j := range 300_000 {
		c.row(src, []mask.Value{{S: fmt.Sprintf("user%d@example.jp", j)}})
		most = max(most, len(c.local[0]))
		held = max(held, len(b.fps[LeakEmail]))
	}
	b.merge(c)
	b.seal()
	if most >= leakFlushAt {
		t.Errorf("the collector held %d fingerprints, want fewer than %d", most, leakFlushAt)
	}
	if limit := 50_000 + 50_000/4 + leakFlushAt; held > limit {
		t.Errorf("the baseline held %d fingerprints while capturing, want at most %d", held, limit)
	}
	if n := b.Originals(LeakEmail); n > 50_000 || n < 12_500 {
		t.Errorf("sealed: %d originals held, want a sample of at most 50,000", n)
	}
}
