package mysql

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/engine"
)

// tlsConfigName is the go-sql-driver TLS config name that verifies
// against caFile (the driver takes TLS configs by name and fills in
// ServerName from the host it dials). RegisterCA registers it.
func tlsConfigName(caFile string) string {
	h := sha256.Sum256([]byte(caFile))
	return "restage-ca-" + hex.EncodeToString(h[:6])
}

// RegisterCA registers the CA bundle in caFile with the driver, for the
// DSNs of TLSVerify endpoints; call it before using them.
func RegisterCA(caFile string) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("TLS CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("TLS CA file %s: no PEM certificates in it", caFile)
	}
	return mysql.RegisterTLSConfig(tlsConfigName(caFile), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
}

// DSN is the go-sql-driver connection string for e.
func DSN(e engine.Endpoint) (string, error) {
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net = e.User, e.Password, "tcp"
	c.Addr = net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	c.DBName = e.Database
	switch e.TLS {
	case engine.TLSOff:
	case engine.TLSOn:
		c.TLSConfig = "skip-verify"
	case engine.TLSVerify:
		c.TLSConfig = tlsConfigName(e.CAFile)
	default:
		return "", fmt.Errorf("TLS mode %q: want off, on or verify", e.TLS)
	}
	return c.FormatDSN(), nil
}

// DSNForms names the connection strings ParseDSN takes, for an error that
// lists every engine's.
const DSNForms = "mysql:// URL or MySQL DSN (user:pass@tcp(host:port)/db)"

// ParseDSN recognises a mysql:// URL or a go-sql-driver DSN
// (user:pass@tcp(host:port)/db); ok is false when s is neither. Errors
// never contain the password.
func ParseDSN(s string) (d dsn.DSN, ok bool, err error) {
	if strings.HasPrefix(s, "mysql://") {
		u, err := url.Parse(s)
		if err != nil {
			return dsn.DSN{}, true, errors.New("mysql connection string is not a valid URL")
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
		d, err := fromConfig(cfg)
		return d, true, err
	}
	cfg, perr := mysql.ParseDSN(s)
	if perr != nil {
		return dsn.DSN{}, false, nil
	}
	d, err = fromConfig(cfg)
	return d, true, err
}

func fromConfig(cfg *mysql.Config) (dsn.DSN, error) {
	if cfg.DBName == "" {
		return dsn.DSN{}, errors.New("mysql connection string names no database")
	}
	d := dsn.DSN{Engine: dsn.MySQL, Driver: cfg.FormatDSN(), Database: cfg.DBName, User: cfg.User}
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
