package postgres

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
)

// DSN is the postgres:// URL for e.
func DSN(e engine.Endpoint) (string, error) {
	q := url.Values{}
	switch e.TLS {
	case engine.TLSOff:
		q.Set("sslmode", "disable")
	case engine.TLSOn:
		q.Set("sslmode", "require")
	case engine.TLSVerify:
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", e.CAFile)
	default:
		return "", fmt.Errorf("TLS mode %q: want off, on or verify", e.TLS)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(e.User, e.Password),
		Host: net.JoinHostPort(e.Host, strconv.Itoa(e.Port)), Path: "/" + e.Database, RawQuery: q.Encode()}
	return u.String(), nil
}

// DSNForms names the connection strings ParseDSN takes, for an error that
// lists every engine's.
const DSNForms = "postgres:// URL"

// ParseDSN recognises a postgres:// or postgresql:// URL; ok is false
// when s is neither. Errors never contain the password.
func ParseDSN(s string) (d dsn.DSN, ok bool, err error) {
	if !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		return dsn.DSN{}, false, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return dsn.DSN{}, true, errors.New("postgres connection string is not a valid URL")
	}
	d = dsn.DSN{Engine: dsn.Postgres, Driver: s, Host: u.Hostname(), Port: u.Port(), Database: strings.TrimPrefix(u.Path, "/"), User: u.User.Username()}
	if d.Host == "" {
		d.Host = "localhost"
	}
	if d.Port == "" {
		d.Port = "5432"
	}
	if d.Database == "" {
		return dsn.DSN{}, true, errors.New("postgres connection string names no database")
	}
	return d, true, nil
}
