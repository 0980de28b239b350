package mysql_test

import (
	"database/sql"
	"errors"
	"testing"

	drv "github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/testdb"
)

// TestScrubCorpus provokes every server error class that can carry a row
// value, with a planted personal value, and checks the engine's one
// scrubber removes the value and keeps the error number and the names.
func TestScrubCorpus(t *testing.T) { scrubCorpus(t, testdb.MySQL) }

// TestScrubCorpusMySQL8 runs the corpus against a MySQL 8 server when
// RESTAGE_TEST_MYSQL8_DSN names one (skipped otherwise). Some cases expect
// MariaDB's error numbers (4025 for CHECK and JSON); MySQL 8 says 3819 and
// 3140 there, which the golden file pins.
func TestScrubCorpusMySQL8(t *testing.T) {
	testdb.MySQL8(t)
	scrubCorpus(t, testdb.MySQL8)
}

func scrubCorpus(t *testing.T, create func(testing.TB) (string, string)) {
	const p = enginetest.Planted
	lit := "'" + p + "'"
	signal := func(errno, text string) []string {
		return []string{"CREATE TABLE person (id INT, email VARCHAR(80))", "INSERT INTO person VALUES (1, " + lit + ")",
			"CREATE TRIGGER person_guard BEFORE UPDATE ON person FOR EACH ROW BEGIN DECLARE m VARCHAR(200) DEFAULT " + text +
				"; SIGNAL SQLSTATE '" + map[bool]string{true: "45000", false: "23000"}[errno == ""] + "' SET " +
				map[bool]string{true: "", false: "MYSQL_ERRNO = " + errno + ", "}[errno == ""] + "MESSAGE_TEXT = m; END"}
	}
	enginetest.ScrubCorpus(t, enginetest.ScrubHarness{
		Open: func(t *testing.T) (mask.Execer, *sql.DB) {
			eng, db := openFresh(t, create)
			db.SetMaxOpenConns(1)
			return eng, db
		},
		Scrub: mysql.Scrub,
		Raw: func(err error) string {
			var me *drv.MySQLError
			if errors.As(err, &me) {
				return me.Message
			}
			return err.Error()
		},
		Cases: []enginetest.ScrubCase{
			{
				Name:    "duplicate key",
				Setup:   []string{"CREATE TABLE customer (id INT PRIMARY KEY, email VARCHAR(80), UNIQUE KEY customer_email_key (email))", "INSERT INTO customer VALUES (1, " + lit + ")"},
				Provoke: "INSERT INTO customer VALUES (2, " + lit + ")",
				Carries: true, Code: "1062", Names: []string{"customer_email_key"},
			},
			{
				Name:    "check",
				Setup:   []string{"CREATE TABLE contact (id INT, email VARCHAR(80), CONSTRAINT contact_email_check CHECK (email NOT LIKE '%@example.org'))"},
				Provoke: "INSERT INTO contact VALUES (1, " + lit + ")",
				Code:    "4025|3819", Names: []string{"contact_email_check"},
			},
			{
				Name:    "not null",
				Setup:   []string{"CREATE TABLE person (id INT, name VARCHAR(20) NOT NULL, email VARCHAR(80))"},
				Provoke: "INSERT INTO person VALUES (1, NULL, " + lit + ")",
				Code:    "1048", Names: []string{"name"},
			},
			{
				Name: "foreign key",
				Setup: []string{"CREATE TABLE account (email VARCHAR(80) PRIMARY KEY)",
					"CREATE TABLE orders (id INT, email VARCHAR(80), CONSTRAINT orders_email_fkey FOREIGN KEY (email) REFERENCES account (email))"},
				Provoke: "INSERT INTO orders VALUES (1, " + lit + ")",
				Code:    "1452", Names: []string{"orders_email_fkey", "orders"},
			},
			{
				Name:    "value too long",
				Setup:   []string{"CREATE TABLE short (code VARCHAR(5))"},
				Provoke: "INSERT INTO short VALUES (" + lit + ")",
				Code:    "1406", Names: []string{"code"},
			},
			{
				Name:    "incorrect value",
				Setup:   []string{"CREATE TABLE person (id INT, email VARCHAR(80))", "INSERT INTO person VALUES (1, " + lit + ")"},
				Provoke: "INSERT INTO person (id) SELECT email FROM person", // a post-mask statement gone wrong
				Carries: true, Code: "1366", Names: []string{"id"},
			},
			{
				Name:    "truncated incorrect value",
				Setup:   []string{"CREATE TABLE person (id INT, email VARCHAR(80))", "INSERT INTO person VALUES (1, " + lit + ")"},
				Provoke: "UPDATE person SET id = id + email",
				Carries: true, Code: "1292",
			},
			{
				Name:    "out of range",
				Setup:   []string{"CREATE TABLE phone (n INT, digits VARCHAR(20))", "INSERT INTO phone VALUES (1, '" + enginetest.PlantedNumber + "')"},
				Provoke: "UPDATE phone SET n = CAST(digits AS SIGNED)",
				Code:    "1264", Names: []string{"n"},
			},
			{
				Name:    "invalid json",
				Setup:   []string{"CREATE TABLE profile (doc JSON, raw TEXT)", "INSERT INTO profile VALUES (NULL, '{\"email\": " + p + "}')"},
				Provoke: "UPDATE profile SET doc = raw",
				Code:    "4025|3140", Names: []string{"profile"},
			},
			{
				Name:    "signal",
				Setup:   signal("", "CONCAT('refusing ', OLD.email)"),
				Provoke: "UPDATE person SET email = 'x'",
				Carries: true, Code: "1644",
			},
			{
				Name:    "signal dressed as a server error",
				Setup:   signal("1406", "CONCAT('Data too long for column ', OLD.email)"),
				Provoke: "UPDATE person SET email = 'x'",
				Carries: true, Code: "1406",
			},
		},
	})
}
