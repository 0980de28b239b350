package engines

import (
	"context"
	"strings"
	"testing"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
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
