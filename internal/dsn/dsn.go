// Package dsn recognises database connection strings, tells which engine
// they are for, and names their target as host:port/dbname without the
// password, for confirmations, logs and errors.
package dsn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
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

// Parse recognises postgres:// and postgresql:// URLs, mysql:// URLs and
// go-sql-driver DSNs (user:pass@tcp(host:port)/db). Errors never contain
// the password.
func Parse(s string) (DSN, error) {
	switch {
	case s == "":
		return DSN{}, errors.New("empty connection string")
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return DSN{}, errors.New("postgres connection string is not a valid URL")
		}
		d := DSN{Engine: Postgres, Driver: s, Host: u.Hostname(), Port: u.Port(), Database: strings.TrimPrefix(u.Path, "/"), User: u.User.Username()}
		if d.Host == "" {
			d.Host = "localhost"
		}
		if d.Port == "" {
			d.Port = "5432"
		}
		if d.Database == "" {
			return DSN{}, errors.New("postgres connection string names no database")
		}
		return d, nil
	case strings.HasPrefix(s, "mysql://"):
		u, err := url.Parse(s)
		if err != nil {
			return DSN{}, errors.New("mysql connection string is not a valid URL")
		}
		cfg := mysql.NewConfig()
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Net = "tcp"
		port := u.Port()
		if port == "" {
			port = "3306"
		}
		cfg.Addr = net.JoinHostPort(u.Hostname(), port)
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		if q := u.Query(); len(q) > 0 {
			cfg.Params = map[string]string{}
			for k := range q {
				cfg.Params[k] = q.Get(k)
			}
		}
		return fromMySQL(cfg)
	default:
		cfg, err := mysql.ParseDSN(s)
		if err != nil {
			return DSN{}, fmt.Errorf("not a postgres:// URL, mysql:// URL or MySQL DSN (user:pass@tcp(host:port)/db)")
		}
		return fromMySQL(cfg)
	}
}

func fromMySQL(cfg *mysql.Config) (DSN, error) {
	if cfg.DBName == "" {
		return DSN{}, errors.New("mysql connection string names no database")
	}
	d := DSN{Engine: MySQL, Driver: cfg.FormatDSN(), Database: cfg.DBName, User: cfg.User}
	switch cfg.Net {
	case "unix":
		d.Host, d.Port = "localhost", "socket"
	default:
		h, p, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			h, p = cfg.Addr, "3306"
		}
		d.Host, d.Port = h, p
	}
	return d, nil
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
