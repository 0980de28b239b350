package testdb

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQL creates a fresh, uniquely named database on the MySQL/MariaDB test
// server (EnvMySQL, default DefaultMySQL), drops it when the test ends and
// returns a DSN for it (parseTime=false, multiStatements=false) and its
// name. An unreachable server skips the test (fails it under CI=true).
func MySQL(t testing.TB) (dsn, name string) {
	t.Helper()
	return MySQLOn(t, env(EnvMySQL, DefaultMySQL))
}

// EnvMySQL8 names an optional MySQL 8 server (Aurora MySQL 3 and RDS
// MySQL 8.0 are MySQL 8; only MariaDB can be installed on restage's CI
// machines). When it is set, the MySQL engine's conformance suite and
// scrubber corpus run against it too; docs/local-mysql.md says how to
// start one.
const EnvMySQL8 = "RESTAGE_TEST_MYSQL8_DSN"

// MySQL8 is MySQL on the server EnvMySQL8 names; it skips the test when the
// variable is unset, also under CI=true (no MySQL 8 server can run there).
func MySQL8(t testing.TB) (dsn, name string) {
	t.Helper()
	admin := os.Getenv(EnvMySQL8)
	if admin == "" {
		t.Skipf("%s is not set: no MySQL 8 server to test against (see docs/local-mysql.md)", EnvMySQL8)
	}
	return MySQLOn(t, admin)
}

// MySQLOn is MySQL on the server adminDSN names.
func MySQLOn(t testing.TB, adminDSN string) (dsn, name string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		t.Fatalf("parse the MySQL test server DSN: %v", err)
	}
	cfg.DBName = ""
	cfg.ParseTime = false
	cfg.MultiStatements = false
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open mysql admin connection: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		Unavailable(t, "mysql", err)
	}

	name = UniqueName(t)
	if len(name) > 64 { // MySQL identifiers are at most 64 characters
		name = name[:64]
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	dropDSN := cfg.FormatDSN() // before cfg.DBName is set below
	t.Cleanup(func() {
		db, err := sql.Open("mysql", dropDSN)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})

	cfg.DBName = name
	return cfg.FormatDSN(), name
}

var (
	sakilaDrop   = regexp.MustCompile(`(?mi)^\s*DROP SCHEMA IF EXISTS sakila;\s*$`)
	sakilaCreate = regexp.MustCompile(`(?mi)^\s*CREATE SCHEMA sakila;\s*$`)
	sakilaUse    = regexp.MustCompile(`(?mi)^\s*USE sakila;\s*$`)
	sakilaQual   = regexp.MustCompile(`\bsakila\.`)
)

// rewriteSakila points a Sakila MySQL script at the database name instead
// of the hard-coded `sakila` schema: the schema is never dropped or created
// (MySQL made it), USE and qualified names (in views) name the target.
func rewriteSakila(script []byte, name string) []byte {
	q := "`" + strings.ReplaceAll(name, "`", "``") + "`"
	script = sakilaDrop.ReplaceAll(script, nil)
	script = sakilaCreate.ReplaceAll(script, nil)
	script = sakilaUse.ReplaceAll(script, []byte("USE "+strings.ReplaceAll(q, "$", "$$")+";"))
	return sakilaQual.ReplaceAll(script, []byte(strings.ReplaceAll(q, "$", "$$")+"."))
}

// LoadSakilaMySQL loads the Sakila sample (schema, then data) into the
// database named by dsn with the mariadb (or mysql) command-line client,
// which understands the scripts' DELIMITER lines. The password reaches the
// client through MYSQL_PWD, never its command line.
func LoadSakilaMySQL(t testing.TB, dsn string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	if cfg.DBName == "" {
		t.Fatal("LoadSakilaMySQL: the dsn names no database")
	}
	client, err := exec.LookPath("mariadb")
	if err != nil {
		if client, err = exec.LookPath("mysql"); err != nil {
			t.Skip("neither the mariadb nor the mysql client is installed")
		}
	}
	args := []string{"--no-defaults", "--batch", "--default-character-set=utf8mb4"}
	if cfg.User != "" {
		args = append(args, "--user="+cfg.User)
	}
	switch cfg.Net {
	case "unix":
		args = append(args, "--socket="+cfg.Addr)
	default:
		host, port := cfg.Addr, "3306"
		if i := strings.LastIndexByte(cfg.Addr, ':'); i >= 0 {
			host, port = cfg.Addr[:i], cfg.Addr[i+1:]
		}
		host = strings.Trim(host, "[]")
		args = append(args, "--protocol=TCP", "--host="+host, "--port="+port)
	}
	args = append(args, cfg.DBName)

	dir := SakilaDir(t)
	for _, f := range []string{"mysql-schema.sql", "mysql-data.sql"} {
		script, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("read sakila %s: %v", f, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, client, args...)
		cmd.Env = append(os.Environ(), "MYSQL_PWD="+cfg.Passwd)
		cmd.Stdin = bytes.NewReader(rewriteSakila(script, cfg.DBName))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err = cmd.Run()
		cancel()
		if err != nil {
			t.Fatalf("load sakila %s into %s: %v\n%s", f, cfg.DBName, err, tail(out.String(), 2000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}
