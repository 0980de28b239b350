package testdb

import (
	"strings"
	"testing"
)

// Respell replaces the host 127.0.0.1 of a test DSN (key=value, URL or
// go-sql-driver form) with host, in brackets when it is an IPv6 address.
func Respell(t testing.TB, dsn, host string) string {
	t.Helper()
	if !strings.Contains(dsn, "127.0.0.1") {
		t.Fatal("test DSN does not use 127.0.0.1")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return strings.Replace(dsn, "127.0.0.1", host, 1)
}
