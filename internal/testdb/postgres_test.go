package testdb

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgresCreatesAndDrops(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn, n := Postgres(t)
		name = n
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		var got string
		if err := c.QueryRow(context.Background(), "SELECT current_database()").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("connected to %q, want %q", got, n)
		}
	})
	if name == "" {
		t.Skip("inner test skipped")
	}
	c, err := pgx.Connect(context.Background(), env(EnvPostgres, DefaultPostgres))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after the test", name)
	}
}

func TestSplitPassword(t *testing.T) {
	for _, tc := range []struct{ in, want, pw string }{
		{"postgres://u:s3cret@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?sslmode=disable", "s3cret"},
		{"postgres://u@h/db", "postgres://u@h/db", ""},
		{"host=h user=u password=s3cret dbname=db", "host=h user=u dbname=db", "s3cret"},
	} {
		got, pw := splitPassword(tc.in)
		if got != tc.want || pw != tc.pw {
			t.Errorf("splitPassword(%q) = %q, %q; want %q, %q", tc.in, got, pw, tc.want, tc.pw)
		}
		if tc.pw != "" && strings.Contains(got, tc.pw) {
			t.Errorf("password left in %q", got)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	got, err := withDatabase("postgres://u:p@h:5432/postgres?sslmode=disable", "x")
	if err != nil || got != "postgres://u:p@h:5432/x?sslmode=disable" {
		t.Errorf("withDatabase(URL) = %q, %v", got, err)
	}
	got, _ = withDatabase("host=h dbname=postgres", "x")
	if got != "host=h dbname=postgres dbname=x" {
		t.Errorf("withDatabase(keywords) = %q", got)
	}
}
