package engines

import (
	"context"
	"strings"
	"testing"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/testdb"
)

func TestUnsupportedEngine(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "oracle", "x"); err == nil || !strings.Contains(err.Error(), "unsupported engine") {
		t.Errorf("Open: %v", err)
	}
	if _, err := OpenAdmin(ctx, "oracle", "x"); err == nil || !strings.Contains(err.Error(), "unsupported engine") {
		t.Errorf("OpenAdmin: %v", err)
	}
	if _, err := DSN("oracle", engine.Endpoint{}); err == nil || !strings.Contains(err.Error(), "unsupported engine") {
		t.Errorf("DSN: %v", err)
	}
}

// TestDSN: each engine's connection string carries the endpoint and the
// TLS mode, and refuses a mode it does not know (no silent plain TCP).
func TestDSN(t *testing.T) {
	e := engine.Endpoint{Host: "db.example", Port: 3306, User: "u", Password: "p@ss", Database: "shop", TLS: engine.TLSVerify, CAFile: "/ca.pem"}
	for kind, want := range map[string][]string{
		dsn.MySQL:    {"u:p@ss@tcp(db.example:3306)/shop", "tls=restage-ca-"},
		dsn.Postgres: {"postgres://u:p%40ss@db.example:3306/shop", "sslmode=verify-full", "sslrootcert=%2Fca.pem"},
	} {
		got, err := DSN(kind, e)
		for _, w := range want {
			if err != nil || !strings.Contains(got, w) {
				t.Errorf("%s: %q, %v; want it to contain %q", kind, got, err, w)
			}
		}
		bad := e
		bad.TLS = "maybe"
		if _, err := DSN(kind, bad); err == nil {
			t.Errorf("%s: TLS mode %q accepted", kind, bad.TLS)
		}
	}
}

// Different engines are never one database, and no server is asked.
func TestSameDatabaseAcrossEngines(t *testing.T) {
	same, err := SameDatabase(context.Background(), "u:p@tcp(127.0.0.1:1)/shop", "postgres://u:p@127.0.0.1:1/shop")
	if err != nil || same {
		t.Errorf("SameDatabase(mysql, postgres) = %v, %v; want false", same, err)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, engine, target string
	}{
		{"postgres://u:secretpw@db.example:6432/app?sslmode=disable", dsn.Postgres, "db.example:6432/app"},
		{"postgresql://u@localhost/app", dsn.Postgres, "localhost:5432/app"},
		{"u:secretpw@tcp(127.0.0.1:3307)/shop", dsn.MySQL, "127.0.0.1:3307/shop"},
		{"mysql://u:secretpw@db:3306/shop?parseTime=false", dsn.MySQL, "db:3306/shop"},
		{"mysql://u:secretpw@db/shop", dsn.MySQL, "db:3306/shop"},
	}
	for _, tt := range tests {
		d, err := ParseDSN(tt.in)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", tt.in, err)
		}
		if d.Engine != tt.engine || d.Target() != tt.target {
			t.Errorf("ParseDSN(%q) = %s %s, want %s %s", tt.in, d.Engine, d.Target(), tt.engine, tt.target)
		}
		if strings.Contains(d.Target(), "secretpw") {
			t.Errorf("target %q leaks the password", d.Target())
		}
	}
}

func TestParseErrorsHidePassword(t *testing.T) {
	for _, in := range []string{"", "postgres://u:secretpw@host", "u:secretpw@tcp(h:1)/", "garbage secretpw"} {
		_, err := ParseDSN(in)
		if err == nil {
			t.Errorf("ParseDSN(%q): want error", in)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("ParseDSN error %q leaks the password", err)
		}
	}
}

// An unknown form names every engine's forms, and nothing else.
func TestParseDSNUnknownForm(t *testing.T) {
	_, err := ParseDSN("oracle://u:secretpw@h/db")
	if err == nil {
		t.Fatal("an oracle:// URL was accepted")
	}
	for _, want := range []string{"postgres:// URL", "mysql:// URL", "MySQL DSN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

// TestSameDatabaseAskedOfTheServer: host names can't tell whether two
// connection strings reach one server (an /etc/hosts alias, an IPv4-mapped
// address, 0.0.0.0), so SameDatabase asks the servers.
func TestSameDatabaseAskedOfTheServer(t *testing.T) {
	alias := testdb.HostsAlias(t)
	for _, c := range []struct {
		engine string
		open   func(t testing.TB) (dsn, name string)
	}{{"mysql", testdb.MySQL}, {"postgres", testdb.Postgres}} {
		t.Run(c.engine, func(t *testing.T) {
			src, _ := c.open(t)
			other, _ := c.open(t)
			ctx := context.Background()
			for _, host := range []string{alias, "::ffff:127.0.0.1", "0.0.0.0"} {
				spelled := testdb.Respell(t, src, host)
				a, _ := ParseDSN(src)
				b, _ := ParseDSN(spelled)
				if dsn.SameDatabase(a, b) {
					t.Fatalf("%s: the string comparison already sees it; the test would prove nothing", host)
				}
				same, err := SameDatabase(ctx, src, spelled)
				if err != nil || !same {
					t.Errorf("SameDatabase(source, source via %s) = %v, %v; want true", host, same, err)
				}
			}
			same, err := SameDatabase(ctx, src, testdb.Respell(t, other, alias))
			if err != nil || same {
				t.Errorf("SameDatabase(source, another database via %s) = %v, %v; want false", alias, same, err)
			}
		})
	}
}

// TestNewLocalRefusesBadConfig: the local provider's configuration is
// checked offline, every problem at once, before any server is opened.
func TestNewLocalRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  local.Config
		want []string
	}{
		{"everything", local.Config{Target: "Bad-Target", SourceDSN: "postgres://u:secret1@db:5432/prod",
			StagingDSN: "u:secret2@tcp(db:3306)/stg", KeepLast: -1},
			[]string{`target "Bad-Target"`, "source is postgres but staging is mysql", "keep-last must be ≥ 0"}},
		{"staging is the source", local.Config{Target: "app", SourceDSN: "postgres://u:secret1@db:5432/prod",
			StagingDSN: "postgres://u:secret1@db:5432/prod"},
			[]string{"the staging DSN names the production source database"}},
		{"adopt is the source", local.Config{Target: "app", SourceDSN: "u:secret1@tcp(db:3306)/prod",
			StagingDSN: "u:secret1@tcp(db:3306)/stg", Adopt: "prod"},
			[]string{"adopt names the production source database"}},
		{"unparsable", local.Config{Target: "app", SourceDSN: "nonsense", StagingDSN: "postgres://u:secret2@db:5432/stg"},
			[]string{"source DSN:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewLocal(c.cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a password", err)
			}
		})
	}
}
