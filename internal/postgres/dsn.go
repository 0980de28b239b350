package postgres

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

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
