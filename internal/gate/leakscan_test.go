package gate

import (
	"context"
	"database/sql"
	"hash/maphash"
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
	m := transform.NewMasker(key)
	b := &LeakBaseline{key: key, seed: maphash.MakeSeed(), fps: map[string][]leakFP{}, mod: map[string]uint64{LeakEmail: 1, LeakPhone: 1, LeakName: 1, LeakIP: 1}}
	add := func(kind, norm string) {
		b.fps[kind] = append(b.fps[kind], b.fingerprint(m, kind, norm))
		b.compact(kind)
	}
	add(LeakEmail, "aiko.akiyama@example.jp")
	add(LeakPhone, "09012345678")
	add(LeakName, "秋山愛子")
	add(LeakName, "aiko akiyama")
	add(LeakIP, "203.0.113.7")
	add(LeakIP, "2400:1:2::3")
	add(LeakIP, "10.0.0.1") // as if captured: a candidate must still not match it
	sc := &leakScanner{m: m, b: b}
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
	bytes         int64
}

func leakRun(t testing.TB, f jpshop.Flavor, rules string, plant bool, size int) leakResult {
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
	// The baseline is taken in the masking pass (LeakCapturer, as the run
	// does); the separate read (LeakCapture) must give the same one.
	want, err := LeakCapture(ctx, eng, plan, key, LeakOptions{})
	if err != nil {
		t.Fatal(err)
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
// (the screening hashes are seeded per baseline).
func leakBaselineEqual(t testing.TB, got, want *LeakBaseline) {
	t.Helper()
	for _, k := range []string{LeakEmail, LeakPhone, LeakName, LeakIP} {
		hs := func(b *LeakBaseline) []uint64 {
			var out []uint64
			for _, f := range b.fps[k] {
				out = append(out, f.h)
			}
			slices.Sort(out)
			return slices.Compact(out)
		}
		g, w := hs(got), hs(want)
		if !slices.Equal(g, w) || got.mod[k] != want.mod[k] {
			t.Errorf("%s: the masking pass captured %d originals (modulus %d), the separate read %d (modulus %d)", k, len(g), got.mod[k], len(w), want.mod[k])
		}
	}
}
