package dsn

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, engine, target string
	}{
		{"postgres://u:secretpw@db.example:6432/app?sslmode=disable", Postgres, "db.example:6432/app"},
		{"postgresql://u@localhost/app", Postgres, "localhost:5432/app"},
		{"u:secretpw@tcp(127.0.0.1:3307)/shop", MySQL, "127.0.0.1:3307/shop"},
		{"mysql://u:secretpw@db:3306/shop?parseTime=false", MySQL, "db:3306/shop"},
		{"mysql://u:secretpw@db/shop", MySQL, "db:3306/shop"},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.in, err)
		}
		if d.Engine != tt.engine || d.Target() != tt.target {
			t.Errorf("Parse(%q) = %s %s, want %s %s", tt.in, d.Engine, d.Target(), tt.engine, tt.target)
		}
		if strings.Contains(d.Target(), "secretpw") {
			t.Errorf("target %q leaks the password", d.Target())
		}
	}
}

func TestParseErrorsHidePassword(t *testing.T) {
	for _, in := range []string{"", "postgres://u:secretpw@host", "u:secretpw@tcp(h:1)/", "garbage secretpw"} {
		_, err := Parse(in)
		if err == nil {
			t.Errorf("Parse(%q): want error", in)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("Parse error %q leaks the password", err)
		}
	}
}

func TestSameDatabase(t *testing.T) {
	a, _ := Parse("postgres://u@localhost:5432/prod")
	b, _ := Parse("postgres://v:pw@127.0.0.1/prod")
	c, _ := Parse("postgres://v:pw@127.0.0.1/staging")
	if !SameDatabase(a, b) {
		t.Error("localhost and 127.0.0.1 with the same db: want same")
	}
	if SameDatabase(a, c) {
		t.Error("different databases: want different")
	}
}
