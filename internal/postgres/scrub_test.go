package postgres_test

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/enginetest"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
)

// TestScrubCorpus provokes every server error class that can carry a row
// value, with a planted personal value, and checks the engine's one
// scrubber removes the value and keeps the SQLSTATE and the names.
func TestScrubCorpus(t *testing.T) {
	const p = enginetest.Planted
	lit := "'" + p + "'"
	enginetest.ScrubCorpus(t, enginetest.ScrubHarness{
		Open: func(t *testing.T) (mask.Execer, *sql.DB) {
			eng, db := openFresh(t)
			return eng, db
		},
		Scrub: postgres.Scrub,
		Raw: func(err error) string {
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return fmt.Sprintf("%s | %s | %s | %s", pe.Message, pe.Detail, pe.Hint, pe.Where)
			}
			return err.Error()
		},
		Cases: []enginetest.ScrubCase{
			{
				Name:    "unique",
				Setup:   []string{"CREATE TABLE customer (id int PRIMARY KEY, email text CONSTRAINT customer_email_key UNIQUE)", "INSERT INTO customer VALUES (1, " + lit + ")"},
				Provoke: "INSERT INTO customer VALUES (2, " + lit + ")",
				Carries: true, Code: "23505", Names: []string{"customer_email_key"},
			},
			{
				Name:    "check",
				Setup:   []string{"CREATE TABLE contact (id int, email text CONSTRAINT contact_email_check CHECK (email NOT LIKE '%@example.org'))"},
				Provoke: "INSERT INTO contact VALUES (1, " + lit + ")",
				Carries: true, Code: "23514", Names: []string{"contact_email_check", "contact"},
			},
			{
				Name:    "not null",
				Setup:   []string{"CREATE TABLE person (id int, name text NOT NULL, email text)"},
				Provoke: "INSERT INTO person VALUES (1, NULL, " + lit + ")",
				Carries: true, Code: "23502", Names: []string{"name", "person"},
			},
			{
				Name: "foreign key",
				Setup: []string{"CREATE TABLE account (email text PRIMARY KEY)",
					"CREATE TABLE orders (id int, email text CONSTRAINT orders_email_fkey REFERENCES account (email))"},
				Provoke: "INSERT INTO orders VALUES (1, " + lit + ")",
				Carries: true, Code: "23503", Names: []string{"orders_email_fkey", "orders"},
			},
			{
				Name:    "exclusion",
				Setup:   []string{"CREATE TABLE slot (email text, CONSTRAINT slot_email_excl EXCLUDE USING btree (email WITH =))", "INSERT INTO slot VALUES (" + lit + ")"},
				Provoke: "INSERT INTO slot VALUES (" + lit + ")",
				Carries: true, Code: "23P01", Names: []string{"slot_email_excl"},
			},
			{
				Name:    "value too long",
				Setup:   []string{"CREATE TABLE short (code varchar(5))"},
				Provoke: "INSERT INTO short VALUES (" + lit + ")",
				Code:    "22001",
			},
			{
				Name:    "invalid input syntax",
				Setup:   []string{"CREATE TABLE person (id int, email text)", "INSERT INTO person VALUES (1, " + lit + ")"},
				Provoke: "UPDATE person SET id = email::int", // a post-mask statement gone wrong
				Carries: true, Code: "22P02",
			},
			{
				Name:    "out of range",
				Setup:   []string{"CREATE TABLE phone (n int, digits text)", "INSERT INTO phone VALUES (1, '" + enginetest.PlantedNumber + "')"},
				Provoke: "UPDATE phone SET n = digits::int",
				Carries: true, Code: "22003",
			},
			{
				Name:    "invalid json",
				Setup:   []string{"CREATE TABLE profile (doc jsonb, raw text)", "INSERT INTO profile VALUES (NULL, '{\"email\": " + p + "}')"},
				Provoke: "UPDATE profile SET doc = raw::jsonb",
				Carries: true, Code: "22P02",
			},
			{
				Name:    "json path",
				Setup:   []string{"CREATE TABLE profile (doc jsonb)", "INSERT INTO profile VALUES ('{\"email\": \"" + p + "\"}')"},
				Provoke: "UPDATE profile SET doc = jsonb_set(doc, '{a}', to_jsonb((doc->>'email')::numeric))",
				Carries: true, Code: "22P02",
			},
			{
				Name: "raised by user code",
				Setup: []string{"CREATE TABLE person (email text)", "INSERT INTO person VALUES (" + lit + ")",
					`CREATE FUNCTION person_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refusing %', OLD.email USING DETAIL = OLD.email, HINT = OLD.email; END $$`,
					"CREATE TRIGGER person_guard BEFORE UPDATE ON person FOR EACH ROW EXECUTE FUNCTION person_guard()"},
				Provoke: "UPDATE person SET email = 'x'",
				Carries: true, Code: "P0001",
			},
			{
				Name: "raised by user code with a server-looking code",
				Setup: []string{"CREATE TABLE person (email text)", "INSERT INTO person VALUES (" + lit + ")",
					`CREATE FUNCTION person_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = 'permission denied for ' || OLD.email; END $$`,
					"CREATE TRIGGER person_guard BEFORE UPDATE ON person FOR EACH ROW EXECUTE FUNCTION person_guard()"},
				Provoke: "UPDATE person SET email = 'x'",
				Carries: true, Code: "42501",
			},
			{
				Name:    "division by zero in a data expression",
				Setup:   []string{"CREATE TABLE person (id int, email text)", "INSERT INTO person VALUES (0, " + lit + ")"},
				Provoke: "UPDATE person SET id = length(email) / id",
				Code:    "22012",
			},
		},
	})
}
