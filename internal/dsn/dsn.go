// Package dsn is a parsed database connection string: which engine it is
// for and its target as host:port/dbname without the password, for
// confirmations, logs and errors. Each engine's package parses its own
// forms; engines.ParseDSN asks them all.
package dsn

import (
	"net"
	"strings"
)

// Engine names.
const (
	MySQL    = "mysql"
	Postgres = "postgres"
)

// DSN is a parsed connection string.
type DSN struct {
	Engine string
	// Driver is the connection string in the form the engine's driver takes
	// (go-sql-driver format for MySQL, a URL for PostgreSQL).
	Driver   string
	Host     string
	Port     string
	Database string
	User     string
}

// Target is host:port/dbname: what a destructive command must be confirmed
// with, and what logs name. It never contains a password.
func (d DSN) Target() string {
	return net.JoinHostPort(d.Host, d.Port) + "/" + d.Database
}

// SameDatabase reports whether two DSNs name the same database on the same
// server (host names compared case-insensitively; "localhost" and
// "127.0.0.1" and "::1" are treated as one host).
func SameDatabase(a, b DSN) bool {
	return a.Engine == b.Engine && canonHost(a.Host) == canonHost(b.Host) && a.Port == b.Port && a.Database == b.Database
}

func canonHost(h string) string {
	h = strings.ToLower(h)
	switch h {
	case "localhost", "127.0.0.1", "::1", "":
		return "localhost"
	}
	return h
}
