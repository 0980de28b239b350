package mysql

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/go-sql-driver/mysql"

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
