package awsprov

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/testdb"
)

// testCA is a self-signed CA that signs one server certificate.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a server certificate and key (PEM) for ip.
func (ca *testCA) issue(t *testing.T, ip string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestTLSVerified (a private PostgreSQL server with a certificate from a
// self-signed CA): by default restage verifies the server certificate and
// host name — it connects with the right CA and refuses a certificate
// from another CA or for another host name; only the explicit opt-out
// connects without verifying.
func TestTLSVerified(t *testing.T) {
	inst := testdb.StartPostgres(t)
	ca, other := newTestCA(t, "restage test CA"), newTestCA(t, "some other CA")
	certPEM, keyPEM := ca.issue(t, "127.0.0.1")
	// The server reads its certificate and key as its own OS user.
	fi, err := os.Stat(inst.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	for name, b := range map[string][]byte{"server.crt": certPEM, "server.key": keyPEM} {
		p := filepath.Join(inst.DataDir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, inst.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	for _, q := range []string{"ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	caFile, otherFile := filepath.Join(t.TempDir(), "ca.pem"), filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(otherFile, other.pem, 0o644); err != nil {
		t.Fatal(err)
	}

	connect := func(mode, ca, host string) error {
		p := &Provider{cfg: Config{DBName: "postgres", TLS: mode, TLSCAFile: ca}, log: slog.New(slog.DiscardHandler)}
		d, err := p.dsnFor(&rds.DB{ID: "restage-shop-1", Engine: rds.Postgres, Endpoint: host, Port: int32(inst.Port)}, inst.AdminUser, inst.AdminPassword)
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return ping(cctx, "postgres", d)
	}
	// The reload is asynchronous: wait until the server speaks TLS.
	deadline := time.Now().Add(30 * time.Second)
	for connect("", caFile, "127.0.0.1") != nil && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if err := connect("", caFile, "127.0.0.1"); err != nil {
		t.Fatalf("default mode with the right CA: %v", err)
	}
	if err := connect("", otherFile, "127.0.0.1"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("default mode with another CA: %v, want a certificate error", err)
	}
	if err := connect(TLSVerify, caFile, "localhost"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a certificate for 127.0.0.1 reached as localhost: %v, want a host name error", err)
	}
	if err := connect(TLSOn, otherFile, "127.0.0.1"); err != nil {
		t.Errorf("explicit opt-out: %v", err)
	}
	// A password never appears in the errors.
	if err := connect("", otherFile, "127.0.0.1"); err != nil && strings.Contains(err.Error(), inst.AdminPassword) {
		t.Error("password in the error")
	}
}

// TestTLSDSN: without a mode the DSNs ask for full verification (MySQL:
// the registered CA config, which go-sql-driver checks against the host
// it dials; PostgreSQL: verify-full with the bundle); the opt-out asks
// for encryption only.
func TestTLSDSN(t *testing.T) {
	for _, c := range []struct {
		mode   string
		engine rds.Engine
		want   string
	}{
		{"", rds.MySQL, "tls=restage-ca-"},
		{"", rds.AuroraPostgreSQL, "sslmode=verify-full"},
		{TLSOn, rds.MariaDB, "tls=skip-verify"},
		{TLSOn, rds.Postgres, "sslmode=require"},
	} {
		p := &Provider{cfg: Config{DBName: "shop", TLS: c.mode, TLSCAFile: "/etc/restage/rds-ca.pem"}}
		d, err := p.dsnFor(&rds.DB{ID: "x", Engine: c.engine, Endpoint: "x.rds.test", Port: 1}, "u", "p")
		if err != nil || !strings.Contains(d, c.want) {
			t.Errorf("%s %q: %q, %v; want %s", c.engine, c.mode, d, err, c.want)
		}
	}
}

// fakeMySQLTLS listens on 127.0.0.1 and speaks just enough of the MySQL
// protocol to reach the TLS handshake: a v10 greeting offering SSL, the
// client's SSL request, then TLS with cert. What the client does after
// the handshake is not answered (the connection closes).
func fakeMySQLTLS(t *testing.T, certPEM, keyPEM []byte) string {
	t.Helper()
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				caps := uint32(0x1 | 0x200 | 0x800 | 0x2000 | 0x8000 | 0x80000) // long password, 4.1, SSL, transactions, secure conn, plugin auth
				p := []byte{0x0a}
				p = append(p, "8.0.0-fake\x00"...)
				p = append(p, 1, 0, 0, 0)
				p = append(p, "abcdefgh"...)
				p = append(p, 0, byte(caps), byte(caps>>8), 33, 2, 0, byte(caps>>16), byte(caps>>24), 21)
				p = append(p, make([]byte, 10)...)
				p = append(p, "ijklmnopqrst\x00"...)
				p = append(p, "mysql_native_password\x00"...)
				hdr := []byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), 0}
				if _, err := c.Write(append(hdr, p...)); err != nil {
					return
				}
				req := make([]byte, 4+32) // the client's SSL request
				if _, err := io.ReadFull(c, req); err != nil {
					return
				}
				s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
				_ = s.Handshake()
				s.Close()
			}(c)
		}
	}()
	return ln.Addr().String()
}

// TestTLSVerifiedMySQL: the MySQL DSN verifies the certificate and the
// host name by default (go-sql-driver with the registered RDS CA config),
// against a listener speaking the MySQL greeting and TLS; the explicit
// opt-out does not verify.
func TestTLSVerifiedMySQL(t *testing.T) {
	ca, other := newTestCA(t, "restage test CA"), newTestCA(t, "some other CA")
	certPEM, keyPEM := ca.issue(t, "127.0.0.1")
	addr := fakeMySQLTLS(t, certPEM, keyPEM)
	host, port, _ := net.SplitHostPort(addr)
	portN, _ := strconv.Atoi(port)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile, otherFile := write("ca.pem", ca.pem), write("other.pem", other.pem)
	connect := func(mode, ca, endpoint string) error {
		if mode != TLSOn {
			// What New does for a verifying provider.
			if err := engines.PrepareTLS(ca); err != nil {
				t.Fatal(err)
			}
		}
		p := &Provider{cfg: Config{DBName: "shop", TLS: mode, TLSCAFile: ca}}
		d, err := p.dsnFor(&rds.DB{ID: "restage-shop-1", Engine: rds.MySQL, Endpoint: endpoint, Port: int32(portN)}, "u", "secret-pw")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		return ping(ctx, "mysql", d)
	}
	isCertErr := func(err error) bool {
		return err != nil && (strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "x509"))
	}
	// Past the handshake the fake says nothing: an error, but not a
	// certificate error.
	if err := connect("", caFile, host); err == nil || isCertErr(err) {
		t.Errorf("default mode with the right CA: %v, want past the TLS handshake", err)
	}
	if err := connect("", otherFile, host); !isCertErr(err) {
		t.Errorf("default mode with another CA: %v, want a certificate error", err)
	}
	if err := connect(TLSVerify, caFile, "localhost"); !isCertErr(err) {
		t.Errorf("a certificate for 127.0.0.1 reached as localhost: %v, want a host name error", err)
	}
	if err := connect(TLSOn, otherFile, host); err == nil || isCertErr(err) {
		t.Errorf("explicit opt-out: %v, want past the TLS handshake", err)
	}
}
