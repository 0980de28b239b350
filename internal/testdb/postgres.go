package testdb

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres creates a fresh, uniquely named database on the PostgreSQL test
// server (EnvPostgres, default DefaultPostgres) and drops it (WITH (FORCE))
// when the test ends. It returns a URL DSN for the new database and its
// name. An unreachable server skips the test (fails it under CI=true).
func Postgres(t testing.TB) (dsn, name string) {
	t.Helper()
	admin := env(EnvPostgres, DefaultPostgres)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		Unavailable(t, "postgres", err)
		return "", ""
	}
	defer conn.Close(context.Background())

	name = UniqueName(t)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	dsn, err = withDatabase(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, name
}

// withDatabase points an admin DSN (URL or keyword/value form) at database
// name.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", fmt.Errorf("parse %s (password withheld)", EnvPostgres)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Later keywords override earlier ones.
	return admin + " dbname=" + name, nil
}

// LoadSakilaPostgres loads the Sakila sample (postgres-schema.sql, then
// postgres-data.sql from SakilaDir) into the database dsn names, with psql.
// The password goes through PGPASSWORD, never on the command line.
func LoadSakilaPostgres(t testing.TB, dsn string) {
	t.Helper()
	target, password := splitPassword(dsn)
	dir := SakilaDir(t)
	for _, f := range []string{"postgres-schema.sql", "postgres-data.sql"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", target, "-f", filepath.Join(dir, f))
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGOPTIONS=--client-min-messages=warning")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = &out
		err := cmd.Run()
		cancel()
		if err != nil {
			msg := out.String()
			if password != "" {
				msg = strings.ReplaceAll(msg, password, "xxxxx")
			}
			if len(msg) > 2000 {
				msg = msg[:2000] + "..."
			}
			t.Fatalf("load %s: %v\n%s", f, err, msg)
		}
	}
}

// splitPassword removes the password from a DSN and returns it separately.
// Keyword/value DSNs are handled for unquoted passwords only.
func splitPassword(dsn string) (withoutPassword, password string) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil || u.User == nil {
			return dsn, ""
		}
		password, _ = u.User.Password()
		u.User = url.User(u.User.Username())
		return u.String(), password
	}
	var kept []string
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			password = v
			continue
		}
		kept = append(kept, f)
	}
	return strings.Join(kept, " "), password
}
