// Package mysql is restage's MySQL/MariaDB engine: schema introspection,
// truncation, key-range chunking and set-based masking over
// github.com/go-sql-driver/mysql.
//
// All queries go over the text protocol (interpolateParams=true): values
// then come back exactly as the server prints them, which is the form
// mask.Value promises, and the driver escapes every argument it splices
// into a statement.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/mask"
)

var _ mask.Engine = (*Engine)(nil)

// Engine is one MySQL or MariaDB database. It is safe for concurrent use.
type Engine struct {
	db      *sql.DB
	dbName  string
	version string
	flavor  Flavor
	// maxPacket is the server's max_allowed_packet: bulk INSERTs stay
	// well below it.
	maxPacket int

	mu    sync.Mutex
	saved []savedTrigger // triggers Prepare dropped, in creation order
	// deferred are the indexes DeferIndexes dropped; Finish rebuilds them.
	deferred []deferredIndex

	ownMu sync.Mutex
	own   map[int64]bool // server ids of this Engine's connections (trackingConnector)
}

// Open connects to the database the DSN names (go-sql-driver format) and
// pings it. Errors never contain the password.
func Open(ctx context.Context, dsn string) (*Engine, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's parse errors can quote the DSN: say only what failed.
		return nil, errors.New("open mysql: invalid dsn")
	}
	if cfg.DBName == "" {
		return nil, errors.New("open mysql: the dsn names no database")
	}
	cfg.ParseTime = false
	cfg.MultiStatements = false
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	// Fail rather than silently truncate or zero a value that doesn't fit.
	cfg.Params["sql_mode"] = "CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES')"
	if cfg.Collation == "" {
		cfg.Collation = "utf8mb4_general_ci"
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("open mysql %s: %w", cfg.Addr, redact(err, cfg.Passwd))
	}
	e := &Engine{dbName: cfg.DBName}
	db := sql.OpenDB(&trackingConnector{Connector: conn, e: e})
	e.db = db
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open mysql %s/%s: %w", cfg.Addr, cfg.DBName, redact(err, cfg.Passwd))
	}
	if err := db.QueryRowContext(ctx, "SELECT VERSION(), @@max_allowed_packet").Scan(&e.version, &e.maxPacket); err != nil {
		db.Close()
		return nil, fmt.Errorf("open mysql %s/%s: %w", cfg.Addr, cfg.DBName, redact(err, cfg.Passwd))
	}
	e.flavor = FlavorOf(e.version)
	return e, nil
}

// redact removes a password from an error message, should a driver ever
// echo it.
func redact(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "[redacted]"))
}

// Close closes the connection pool.
func (e *Engine) Close() error { return e.db.Close() }

// DB returns the engine's connection pool (for tests and post-mask SQL).
func (e *Engine) DB() *sql.DB { return e.db }

// MariaDB reports whether the server is MariaDB rather than MySQL 8.
func (e *Engine) MariaDB() bool { return e.flavor == MariaDB }

// ServerFlavor is the server's flavor (MariaDB or MySQL 8).
func (e *Engine) ServerFlavor() Flavor { return e.flavor }

// Quote quotes an identifier with backticks: the MySQL family's one
// identifier quoting (providers use it too).
func Quote(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func quote(name string) string { return Quote(name) }

// quoteList quotes names, prefixing each with prefix (e.g. "t.").
func quoteList(prefix string, names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix)
		b.WriteString(quote(n))
	}
	return b.String()
}
