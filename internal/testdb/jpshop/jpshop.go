// Package jpshop builds a Japanese e-commerce database for tests and
// benchmarks, generated in code and deterministic: the same size gives the
// same rows on MariaDB and PostgreSQL, every time. (MySQL 8 has no INET6
// or UUID type; the fixture does not target it.)
//
// It holds what masking has to get right on a real shop schema: users
// with a UNIQUE e-mail; orders and an event log that repeat that e-mail
// (mostly byte-identical, a few in another case or another address); JSON
// profiles with personal keys; a generated column derived from the masked
// e-mail; an event log without a primary key; an ON UPDATE (MariaDB) /
// trigger-maintained (PostgreSQL) timestamp; IPv4 and IPv6 addresses, in a
// native type and in text; card numbers with separators; a UUID; and free
// text (gift messages, support tickets) holding names, phone numbers and
// e-mail addresses. RulesYAML masks it.
//
// The people are made up from small name lists written for this package;
// the e-mail domains are example.* names reserved for documentation.
package jpshop

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// RulesYAML masks the fixture (rules file syntax of docs/rules.md).
//
//go:embed rules.yaml
var RulesYAML string

// Flavor selects the SQL dialect.
type Flavor int

const (
	MariaDB Flavor = iota
	Postgres
)

// Tables lists the fixture's tables in creation order.
var Tables = []string{
	"users", "user_profiles", "addresses", "products", "orders", "order_items",
	"payments", "events", "login_history", "support_tickets",
}

// DDL returns the statements that create the schema.
func DDL(f Flavor) []string {
	if f == Postgres {
		return []string{
			`CREATE TABLE users (
				id BIGINT PRIMARY KEY,
				email VARCHAR(255) NOT NULL UNIQUE,
				email_domain VARCHAR(255) GENERATED ALWAYS AS (split_part(email, '@', 2)) STORED,
				family_name VARCHAR(40) NOT NULL,
				given_name VARCHAR(40) NOT NULL,
				family_kana VARCHAR(40),
				given_kana VARCHAR(40),
				phone VARCHAR(20),
				birth_date DATE,
				postal_code CHAR(8),
				prefecture VARCHAR(10),
				address VARCHAR(200),
				created_at TIMESTAMP NOT NULL,
				updated_at TIMESTAMP NOT NULL DEFAULT now()
			)`,
			`CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN NEW.updated_at := now(); RETURN NEW; END $$`,
			`CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at()`,
			`CREATE TABLE user_profiles (
				user_id BIGINT PRIMARY KEY REFERENCES users(id),
				profile JSONB NOT NULL
			)`,
			`CREATE TABLE addresses (
				id BIGINT PRIMARY KEY,
				user_id BIGINT NOT NULL REFERENCES users(id),
				recipient VARCHAR(80) NOT NULL,
				postal_code CHAR(8) NOT NULL,
				prefecture VARCHAR(10) NOT NULL,
				address VARCHAR(200) NOT NULL,
				phone VARCHAR(20)
			)`,
			`CREATE TABLE products (
				id INT PRIMARY KEY,
				name VARCHAR(100) NOT NULL,
				price INT NOT NULL
			)`,
			`CREATE TABLE orders (
				id BIGINT PRIMARY KEY,
				public_id UUID NOT NULL UNIQUE,
				user_id BIGINT NOT NULL REFERENCES users(id),
				customer_email VARCHAR(255) NOT NULL,
				ship_name VARCHAR(80),
				ship_phone VARCHAR(20),
				gift_message TEXT,
				delivery_note VARCHAR(200),
				total INT NOT NULL,
				ordered_at TIMESTAMP NOT NULL
			)`,
			`CREATE TABLE order_items (
				order_id BIGINT NOT NULL REFERENCES orders(id),
				line_no INT NOT NULL,
				product_id INT NOT NULL REFERENCES products(id),
				quantity INT NOT NULL,
				price INT NOT NULL,
				PRIMARY KEY (order_id, line_no)
			)`,
			`CREATE TABLE payments (
				id BIGINT PRIMARY KEY,
				order_id BIGINT NOT NULL REFERENCES orders(id),
				card_number VARCHAR(25),
				card_holder VARCHAR(80),
				ip_address VARCHAR(45),
				paid_at TIMESTAMP NOT NULL
			)`,
			`CREATE TABLE events (
				user_email VARCHAR(255),
				event_type VARCHAR(30) NOT NULL,
				ip VARCHAR(45),
				detail JSONB,
				occurred_at TIMESTAMP NOT NULL
			)`,
			`CREATE TABLE login_history (
				id BIGINT PRIMARY KEY,
				user_id BIGINT NOT NULL REFERENCES users(id),
				ip INET NOT NULL,
				user_agent VARCHAR(200),
				logged_at TIMESTAMP NOT NULL
			)`,
			`CREATE TABLE support_tickets (
				id BIGINT PRIMARY KEY,
				user_id BIGINT REFERENCES users(id),
				subject VARCHAR(200) NOT NULL,
				body TEXT NOT NULL,
				created_at TIMESTAMP NOT NULL,
				updated_at TIMESTAMP NOT NULL DEFAULT now()
			)`,
			`CREATE TRIGGER tickets_touch BEFORE UPDATE ON support_tickets FOR EACH ROW EXECUTE FUNCTION touch_updated_at()`,
		}
	}
	const tail = ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`
	return []string{
		`CREATE TABLE users (
			id BIGINT PRIMARY KEY,
			email VARCHAR(255) NOT NULL UNIQUE,
			email_domain VARCHAR(255) AS (SUBSTRING_INDEX(email, '@', -1)) STORED,
			family_name VARCHAR(40) NOT NULL,
			given_name VARCHAR(40) NOT NULL,
			family_kana VARCHAR(40),
			given_kana VARCHAR(40),
			phone VARCHAR(20),
			birth_date DATE,
			postal_code CHAR(8),
			prefecture VARCHAR(10),
			address VARCHAR(200),
			created_at DATETIME NOT NULL,
			updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
		)` + tail,
		`CREATE TABLE user_profiles (
			user_id BIGINT PRIMARY KEY,
			profile JSON NOT NULL,
			FOREIGN KEY (user_id) REFERENCES users(id)
		)` + tail,
		`CREATE TABLE addresses (
			id BIGINT PRIMARY KEY,
			user_id BIGINT NOT NULL,
			recipient VARCHAR(80) NOT NULL,
			postal_code CHAR(8) NOT NULL,
			prefecture VARCHAR(10) NOT NULL,
			address VARCHAR(200) NOT NULL,
			phone VARCHAR(20),
			FOREIGN KEY (user_id) REFERENCES users(id)
		)` + tail,
		`CREATE TABLE products (
			id INT PRIMARY KEY,
			name VARCHAR(100) NOT NULL,
			price INT NOT NULL
		)` + tail,
		`CREATE TABLE orders (
			id BIGINT PRIMARY KEY,
			public_id UUID NOT NULL UNIQUE,
			user_id BIGINT NOT NULL,
			customer_email VARCHAR(255) NOT NULL,
			ship_name VARCHAR(80),
			ship_phone VARCHAR(20),
			gift_message TEXT,
			delivery_note VARCHAR(200),
			total INT NOT NULL,
			ordered_at DATETIME NOT NULL,
			FOREIGN KEY (user_id) REFERENCES users(id)
		)` + tail,
		`CREATE TABLE order_items (
			order_id BIGINT NOT NULL,
			line_no INT NOT NULL,
			product_id INT NOT NULL,
			quantity INT NOT NULL,
			price INT NOT NULL,
			PRIMARY KEY (order_id, line_no),
			FOREIGN KEY (order_id) REFERENCES orders(id),
			FOREIGN KEY (product_id) REFERENCES products(id)
		)` + tail,
		`CREATE TABLE payments (
			id BIGINT PRIMARY KEY,
			order_id BIGINT NOT NULL,
			card_number VARCHAR(25),
			card_holder VARCHAR(80),
			ip_address VARCHAR(45),
			paid_at DATETIME NOT NULL,
			FOREIGN KEY (order_id) REFERENCES orders(id)
		)` + tail,
		`CREATE TABLE events (
			user_email VARCHAR(255),
			event_type VARCHAR(30) NOT NULL,
			ip VARCHAR(45),
			detail JSON,
			occurred_at DATETIME NOT NULL
		)` + tail,
		`CREATE TABLE login_history (
			id BIGINT PRIMARY KEY,
			user_id BIGINT NOT NULL,
			ip INET6 NOT NULL,
			user_agent VARCHAR(200),
			logged_at DATETIME NOT NULL,
			FOREIGN KEY (user_id) REFERENCES users(id)
		)` + tail,
		`CREATE TABLE support_tickets (
			id BIGINT PRIMARY KEY,
			user_id BIGINT,
			subject VARCHAR(200) NOT NULL,
			body TEXT NOT NULL,
			created_at DATETIME NOT NULL,
			updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
			FOREIGN KEY (user_id) REFERENCES users(id)
		)` + tail,
		// A trigger-maintained timestamp beside the ON UPDATE one.
		`CREATE TRIGGER tickets_touch BEFORE UPDATE ON support_tickets FOR EACH ROW SET NEW.updated_at = CURRENT_TIMESTAMP`,
	}
}

// Counts returns the number of rows Load writes per table for a size.
func Counts(size int) map[string]int {
	u := users(size)
	return map[string]int{
		"users": u, "user_profiles": u, "addresses": u + u/4, "products": 200,
		"orders": 2 * u, "order_items": 4 * u, "payments": 2 * u, "events": 6 * u,
		"login_history": 2 * u, "support_tickets": u / 4,
	}
}

// users is the number of users for a size (about the total row count).
func users(size int) int {
	n := size / 20
	if n < 10 {
		n = 10
	}
	return n
}

// Person is one generated customer, as Load wrote it.
type Person struct {
	ID                    int64
	Email                 string
	Family, Given         string
	FamilyKana, GivenKana string
	Phone                 string
}

// Load creates the schema and fills it with about size rows (40_000 for
// tests, 400_000 for benchmarks). It returns the customers, so tests can
// look for their originals after masking.
func Load(ctx context.Context, db *sql.DB, f Flavor, size int) ([]Person, error) {
	for _, s := range DDL(f) {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("create jpshop schema: %w", err)
		}
	}
	g := &gen{r: rand.New(rand.NewPCG(12, 2026)), f: f}
	n := users(size)
	people := make([]Person, n)
	w := &writer{db: db, f: f, ctx: ctx}
	base := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range people {
		fam, giv := familyNames[g.r.IntN(len(familyNames))], givenNames[g.r.IntN(len(givenNames))]
		p := Person{
			ID: int64(i + 1), Family: fam.kanji, Given: giv.kanji,
			FamilyKana: fam.kana, GivenKana: giv.kana,
			Phone: g.phone(),
		}
		p.Email = fmt.Sprintf("%s.%s%d@%s", giv.romaji, fam.romaji, i+1, emailDomains[g.r.IntN(len(emailDomains))])
		people[i] = p
		pref := g.r.IntN(len(prefectures))
		w.add("users", []string{"id", "email", "family_name", "given_name", "family_kana", "given_kana", "phone", "birth_date", "postal_code", "prefecture", "address", "created_at"},
			p.ID, p.Email, p.Family, p.Given, p.FamilyKana, p.GivenKana, nullIf(g.r.IntN(20) == 0, p.Phone),
			nullIf(g.r.IntN(10) == 0, base.AddDate(-20-g.r.IntN(50), 0, -g.r.IntN(365)).Format("2006-01-02")),
			g.postal(pref), prefectures[pref].name, g.address(pref), stamp(base.Add(time.Duration(i)*time.Minute)))
		profile := fmt.Sprintf(`{"nickname": %q, "contact": {"email": %q, "tel": %q}, "newsletter": %t, "favorite": %q}`,
			p.GivenKana, p.Email, p.Phone, g.r.IntN(2) == 0, categories[g.r.IntN(len(categories))])
		w.add("user_profiles", []string{"user_id", "profile"}, p.ID, profile)
	}
	addrID := int64(0)
	for i := range people {
		p := &people[i]
		k := 1
		if i%4 == 0 {
			k = 2
		}
		for j := 0; j < k; j++ {
			addrID++
			pref := g.r.IntN(len(prefectures))
			recipient := p.Family + " " + p.Given
			if j == 1 {
				f2 := familyNames[g.r.IntN(len(familyNames))]
				recipient = f2.kanji + " " + givenNames[g.r.IntN(len(givenNames))].kanji
			}
			w.add("addresses", []string{"id", "user_id", "recipient", "postal_code", "prefecture", "address", "phone"},
				addrID, p.ID, recipient, g.postal(pref), prefectures[pref].name, g.address(pref), p.Phone)
		}
	}
	for i := 1; i <= 200; i++ {
		w.add("products", []string{"id", "name", "price"}, i, fmt.Sprintf("%s No.%d", categories[i%len(categories)], i), 300+g.r.IntN(200)*50)
	}
	orderID := int64(0)
	for i := range people {
		p := &people[i]
		for k := 0; k < 2; k++ {
			orderID++
			email := p.Email
			switch g.r.IntN(50) {
			case 0: // typed in another case at checkout
				email = strings.ToUpper(email[:1]) + email[1:]
			case 1: // another address of their own
				email = fmt.Sprintf("%s.%s@%s", strings.ToLower(romajiOf(p.Given)), strings.ToLower(romajiOf(p.Family)), emailDomains[g.r.IntN(len(emailDomains))])
			}
			var gift any
			if g.r.IntN(3) == 0 {
				gift = g.giftMessage(p)
			}
			t := base.Add(time.Duration(orderID) * 7 * time.Minute)
			w.add("orders", []string{"id", "public_id", "user_id", "customer_email", "ship_name", "ship_phone", "gift_message", "delivery_note", "total", "ordered_at"},
				orderID, g.uuid4(), p.ID, email, p.Family+" "+p.Given, p.Phone, gift, deliveryNotes[g.r.IntN(len(deliveryNotes))], 0, stamp(t))
			for line := 1; line <= 2; line++ {
				w.add("order_items", []string{"order_id", "line_no", "product_id", "quantity", "price"},
					orderID, line, 1+g.r.IntN(200), 1+g.r.IntN(3), 300+g.r.IntN(200)*50)
			}
			w.add("payments", []string{"id", "order_id", "card_number", "card_holder", "ip_address", "paid_at"},
				orderID, orderID, g.card(), strings.ToUpper(romajiOf(p.Given)+" "+romajiOf(p.Family)), g.ip(), stamp(t.Add(time.Minute)))
			for e := 0; e < 3; e++ {
				w.add("events", []string{"user_email", "event_type", "ip", "detail", "occurred_at"},
					nullIf(e == 2 && k == 1 && i%7 == 0, p.Email), eventTypes[g.r.IntN(len(eventTypes))], g.ip(),
					fmt.Sprintf(`{"order_id": %d, "email": %q}`, orderID, p.Email), stamp(t.Add(time.Duration(e)*time.Second)))
			}
			w.add("login_history", []string{"id", "user_id", "ip", "user_agent", "logged_at"},
				orderID, p.ID, g.nativeIP(), userAgents[g.r.IntN(len(userAgents))], stamp(t.Add(-time.Hour)))
		}
	}
	for i := 0; i < n/4; i++ {
		p := &people[g.r.IntN(n)]
		w.add("support_tickets", []string{"id", "user_id", "subject", "body", "created_at"},
			int64(i+1), p.ID, ticketSubjects[g.r.IntN(len(ticketSubjects))], g.ticketBody(p), stamp(base.Add(time.Duration(i)*time.Hour)))
	}
	if err := w.flushAll(); err != nil {
		return nil, err
	}
	// Order totals from their items: a derived figure masking must not touch.
	if _, err := db.ExecContext(ctx, `UPDATE orders SET total = (SELECT SUM(quantity * price) FROM order_items WHERE order_items.order_id = orders.id)`); err != nil {
		return nil, fmt.Errorf("jpshop order totals: %w", err)
	}
	return people, nil
}

func stamp(t time.Time) string { return t.Format("2006-01-02 15:04:05") }

func nullIf(null bool, v any) any {
	if null {
		return nil
	}
	return v
}

func romajiOf(kanji string) string {
	for _, n := range familyNames {
		if n.kanji == kanji {
			return n.romaji
		}
	}
	for _, n := range givenNames {
		if n.kanji == kanji {
			return n.romaji
		}
	}
	return "x"
}

type gen struct {
	r *rand.Rand
	f Flavor
}

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

func (g *gen) phone() string {
	switch g.r.IntN(3) {
	case 0:
		return "03-" + g.digits(4) + "-" + g.digits(4)
	case 1:
		return "06-" + g.digits(4) + "-" + g.digits(4)
	}
	return []string{"090", "080", "070"}[g.r.IntN(3)] + "-" + g.digits(4) + "-" + g.digits(4)
}

func (g *gen) postal(pref int) string {
	return strconv.Itoa(prefectures[pref].postal+g.r.IntN(10)) + "-" + g.digits(4)
}

func (g *gen) address(pref int) string {
	p := prefectures[pref]
	s := fmt.Sprintf("%s%s%s%d丁目%d番%d号", p.name, p.cities[g.r.IntN(len(p.cities))], towns[g.r.IntN(len(towns))], 1+g.r.IntN(9), 1+g.r.IntN(30), 1+g.r.IntN(20))
	if g.r.IntN(3) == 0 {
		s += fmt.Sprintf(" %s%d", buildings[g.r.IntN(len(buildings))], 101+g.r.IntN(12)*100+g.r.IntN(8))
	}
	return s
}

func (g *gen) uuid4() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(g.r.IntN(256))
	}
	b[6] = 0x40 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// card returns a Luhn-valid 16-digit number in groups of four, in the
// 4, 5 and 35 (JCB) ranges.
func (g *gen) card() string {
	prefix := []string{"4", "5", "35"}[g.r.IntN(3)]
	d := prefix + g.digits(15-len(prefix))
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 0 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d += strconv.Itoa((10 - sum%10) % 10)
	return d[0:4] + "-" + d[4:8] + "-" + d[8:12] + "-" + d[12:16]
}

// ip returns an IPv4 address two times in three, else an IPv6 one.
func (g *gen) ip() string {
	if g.r.IntN(3) < 2 {
		a := 1 + g.r.IntN(222)
		if a == 127 { // loopback is nobody's address
			a = 128
		}
		return fmt.Sprintf("%d.%d.%d.%d", a, g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
	}
	return fmt.Sprintf("2400:%x:%x:%x::%x", 1+g.r.IntN(0xfff), g.r.IntN(0xffff), g.r.IntN(0xffff), 1+g.r.IntN(0xffff))
}

// nativeIP is ip for an INET6 (MariaDB, which takes IPv4 only in its
// mapped form) or inet (PostgreSQL) column.
func (g *gen) nativeIP() string {
	s := g.ip()
	if g.f == MariaDB && strings.Contains(s, ".") {
		return "::ffff:" + s
	}
	return s
}

func (g *gen) giftMessage(p *Person) string {
	switch g.r.IntN(4) {
	case 0:
		return p.Family + "様\nお誕生日おめでとうございます。\nささやかですがお祝いの品をお送りします。"
	case 1:
		return "いつもありがとう。" + p.Given + "より"
	case 2:
		return "受け取れない場合は " + p.Phone + " までご連絡ください。"
	}
	return "Happy birthday! Questions? Write to " + p.Email
}

func (g *gen) ticketBody(p *Person) string {
	return fmt.Sprintf("%s %s です。\n注文した商品がまだ届きません。\n連絡先: %s / %s\nよろしくお願いします。", p.Family, p.Given, p.Phone, p.Email)
}

// writer batches multi-row INSERTs per table.
type writer struct {
	db   *sql.DB
	f    Flavor
	ctx  context.Context
	bufs map[string]*batch
	err  error
}

type batch struct {
	cols []string
	args []any
	rows int
}

const batchRows = 500

func (w *writer) add(table string, cols []string, vals ...any) {
	if w.err != nil {
		return
	}
	if w.bufs == nil {
		w.bufs = map[string]*batch{}
	}
	b := w.bufs[table]
	if b == nil {
		b = &batch{cols: cols}
		w.bufs[table] = b
	}
	b.args = append(b.args, vals...)
	b.rows++
	if b.rows == batchRows {
		w.err = w.flush(table)
	}
}

// flush writes table's batch, after the batches of the tables before it
// in Tables (its parents), so foreign keys always find their rows.
func (w *writer) flush(table string) error {
	for _, t := range Tables {
		if t == table {
			break
		}
		if err := w.flushOne(t); err != nil {
			return err
		}
	}
	return w.flushOne(table)
}

func (w *writer) flushOne(table string) error {
	b := w.bufs[table]
	if b == nil || b.rows == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("INSERT INTO " + table + " (" + strings.Join(b.cols, ", ") + ") VALUES ")
	n := 0
	for r := 0; r < b.rows; r++ {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range b.cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			n++
			if w.f == Postgres {
				sb.WriteString("$" + strconv.Itoa(n))
				if table == "orders" && b.cols[c] == "public_id" {
					sb.WriteString("::uuid")
				}
			} else {
				sb.WriteByte('?')
			}
		}
		sb.WriteByte(')')
	}
	if _, err := w.db.ExecContext(w.ctx, sb.String(), b.args...); err != nil {
		return fmt.Errorf("insert jpshop %s: %w", table, err)
	}
	b.args, b.rows = b.args[:0], 0
	return nil
}

// flushAll writes what is left, parents before children.
func (w *writer) flushAll() error {
	if w.err != nil {
		return w.err
	}
	for _, t := range Tables {
		if err := w.flush(t); err != nil {
			return err
		}
	}
	return nil
}
