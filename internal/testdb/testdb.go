// Package testdb gives each test its own databases on the real test servers.
// Names are unique per test and process, so packages running in parallel
// never share a database. Servers are reached through environment variables
// with local defaults; when a server is unreachable a test skips, except
// under CI=true, where it fails.
package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Environment variables naming the test servers (admin DSNs: the user must
// be able to create and drop databases).
const (
	EnvMySQL    = "RESTAGE_TEST_MYSQL_DSN"
	EnvPostgres = "RESTAGE_TEST_POSTGRES_DSN"
)

// Defaults match what .ci/run prepares.
const (
	DefaultMySQL    = "restage:restage@tcp(127.0.0.1:3306)/"
	DefaultPostgres = "postgres://restage:restage@127.0.0.1:5432/postgres?sslmode=disable"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Unavailable skips the test, or fails it under CI=true, when a server
// can't be reached.
func Unavailable(t testing.TB, server string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s test server unavailable (CI=true, so this fails): %v", server, err)
	}
	t.Skipf("%s test server unavailable: %v", server, err)
}

// UniqueName returns a fresh database name: restage_t_<test>_<random>,
// at most 63 characters, lower case letters, digits and underscores.
func UniqueName(t testing.TB) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, t.Name())
	if len(base) > 40 {
		base = base[:40]
	}
	return "restage_t_" + base + "_" + hex.EncodeToString(b[:])
}

// SakilaDir is the Sakila sample directory the tests load: testdata/sakila
// inside the repository (see its NOTICE). RESTAGE_SAKILA_DIR overrides it.
func SakilaDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("RESTAGE_SAKILA_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	d := filepath.Join(root, "testdata", "sakila")
	if _, err := os.Stat(d); err != nil {
		t.Fatalf("sakila test data not found at %s (set RESTAGE_SAKILA_DIR): %v", d, err)
	}
	return d
}
