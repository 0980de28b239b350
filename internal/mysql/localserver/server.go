// Package localserver is the MySQL/MariaDB engine's server for the local
// provider (internal/local drives it through local.Server): the control
// store's SQL, the schemas, the copy from the source, the RENAME TABLE
// switch and the staging logins, on an ordinary MySQL or MariaDB server.
// It is part of the engine's home (internal/mysql) and uses the engine's
// SQL; a package of its own only because it speaks the pipeline's types
// (internal/refresh), which the engine package can't import (refresh and
// the gates' tests open engines). docs/local-mysql.md describes the
// design; the files split it by concern:
//
//	server.go   connections, control store, databases, lock, ping
//	owner.go    identity, staging ownership, markers
//	restore.go  create like the source; mariadb-dump | mariadb copy
//	stream.go   the masking copy (mysql.TransformDump on the dump)
//	switch.go   the RENAME TABLE switch, its rollback and its recovery
//	users.go    staging users, production logins, preserve
//	history.go  the run history and the source's row estimates
package localserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/local"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

var _ local.Server = (*mysqlServer)(nil)

// Control DB states (the state column of mysqlControlTable).
const (
	myStateCreating  = string(lifecycle.Creating)
	myStateReady     = string(lifecycle.Ready)
	myStateLive      = string(lifecycle.Live)
	myStatePrevious  = string(lifecycle.Previous)
	myStateRetired   = string(lifecycle.Retired)
	myStateDiscarded = string(lifecycle.Discarded)
)

// mysqlControlTable records every database restage creates on the staging
// server. origin is non-empty only for a holding schema that received the
// tables of a hand-made staging DB: that data is not restage's, so it is
// deleted only when the configuration adopts origin.
const mysqlControlTable = "mysql_databases"

// mysqlServer is the local provider's server on a MySQL/MariaDB staging
// server.
type mysqlServer struct {
	cfg         local.Config
	log         *slog.Logger
	stg         *mysql.Config // admin login on the staging server; local.DBName = the staging name
	src         *mysql.Config // the production source
	stagingName string
	sourceName  string
	// sameServer: source and staging are one server, so the source
	// database must never be touched by name.
	sameServer bool
	endpoint   string // staging host:port
	admin      *sql.DB
	ctl        string // quoted control table: `db`.`mysql_databases`

	mu       sync.Mutex
	ctlReady bool
	// Learnt from the servers by preflight (owner.go).
	lctn          int  // @@lower_case_table_names of the staging server
	comments      bool // the server keeps database comments (markers)
	commentsKnown bool
	identityDone  bool // source and staging were compared by the servers

	// failAt, when set (tests), makes the named Switch step fail.
	failAt func(step string) error
}

// New returns the local provider's server for a MySQL/MariaDB staging
// server (internal/engines registers it). It does not connect: the first
// method that needs the server does.
func New(cfg local.Config) (local.Server, error) { return newServer(cfg) }

func newServer(cfg local.Config) (*mysqlServer, error) {
	if err := cfg.Validate(parseOwn); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	stg, err := mysqlParse(cfg.StagingDSN)
	if err != nil {
		return nil, fmt.Errorf("staging DSN: %w", err)
	}
	src, err := mysqlParse(cfg.SourceDSN)
	if err != nil {
		return nil, fmt.Errorf("source DSN: %w", err)
	}
	sd, _ := parseOwn(cfg.StagingDSN)
	pd, _ := parseOwn(cfg.SourceDSN)
	for _, n := range []string{stg.DBName, cfg.ControlDB} {
		if len(n) > 64 {
			return nil, fmt.Errorf("database name %q is longer than 64 characters", n)
		}
	}
	p := &mysqlServer{
		cfg:         cfg,
		log:         cfg.Log,
		stg:         stg,
		src:         src,
		stagingName: stg.DBName,
		sourceName:  src.DBName,
		endpoint:    net.JoinHostPort(sd.Host, sd.Port),
		ctl:         mysqlQuote(cfg.ControlDB) + "." + mysqlQuote(mysqlControlTable),
	}
	pd.Database = sd.Database
	p.sameServer = dsn.SameDatabase(sd, pd)
	if cfg.ControlDB == p.stagingName || (p.sameServer && cfg.ControlDB == p.sourceName) {
		return nil, fmt.Errorf("control DB %q must be neither the staging nor the source database", cfg.ControlDB)
	}
	admin := stg.Clone()
	admin.DBName = ""
	conn, err := mysql.NewConnector(admin)
	if err != nil {
		return nil, errors.New("staging DSN: invalid connection settings")
	}
	p.admin = sql.OpenDB(conn)
	return p, nil
}

// parseOwn is the engine's ParseDSN for a connection string that must be
// MySQL's.
func parseOwn(s string) (dsn.DSN, error) {
	d, ok, err := mysqlengine.ParseDSN(s)
	if !ok && err == nil {
		return dsn.DSN{}, errors.New("not a " + mysqlengine.DSNForms)
	}
	return d, err
}

// mysqlParse turns any DSN form ParseDSN accepts into a driver config for
// restage's own sessions: text protocol with client-side interpolation (so
// statements like CREATE USER … IDENTIFIED BY ? work), no multi-statements.
func mysqlParse(s string) (*mysql.Config, error) {
	d, err := parseOwn(s)
	if err != nil {
		return nil, err
	}
	cfg, err := mysql.ParseDSN(d.Driver)
	if err != nil {
		return nil, errors.New("invalid MySQL DSN")
	}
	cfg.ParseTime = false
	cfg.MultiStatements = false
	cfg.InterpolateParams = true
	return cfg, nil
}

// mysqlQuote quotes an identifier (the engine's quoting).
func mysqlQuote(name string) string { return mysqlengine.Quote(name) }

// mysqlRedact keeps a driver error but removes a password should a message
// ever echo it.
func mysqlRedact(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "[redacted]"))
}

// mysqlScrub is the MySQL engine's one scrubber (mysql.Scrub): a server
// error keeps its number, SQLSTATE and object names, never a row value.
func mysqlScrub(err error) error { return mysqlengine.Scrub(err) }

// DBFor describes a database on the staging server.
func (p *mysqlServer) DBFor(name, runID string) *refresh.DB {
	c := p.stg.Clone()
	c.DBName = name
	return &refresh.DB{
		Name:     name,
		RunID:    runID,
		Engine:   dsn.MySQL,
		Endpoint: p.endpoint + "/" + name,
		AdminDSN: c.FormatDSN(),
	}
}

// Protected reports why a database must never be dropped by restage, or "".
func (p *mysqlServer) Protected(name string) string {
	switch {
	case name == "":
		return "empty name"
	case p.sameServer && mysqlengine.SameName(p.lctn, name, p.sourceName):
		return "it is the production source"
	case mysqlengine.SameName(p.lctn, name, p.stagingName):
		return "it is the stable staging name"
	case mysqlengine.SameName(p.lctn, name, p.cfg.ControlDB):
		return "it is the control DB"
	}
	switch strings.ToLower(name) {
	case "mysql", "sys", "information_schema", "performance_schema":
		return "it is a system schema"
	}
	return ""
}

// dropSchema drops a database restage is allowed to delete (see protected).
func (p *mysqlServer) dropSchema(ctx context.Context, name string) error {
	if why := p.Protected(name); why != "" {
		return fmt.Errorf("refusing to drop %s: %s: %w", name, why, refresh.ErrNotOurs)
	}
	if _, err := p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+mysqlQuote(name)); err != nil {
		return fmt.Errorf("drop database %s: %w", name, mysqlScrub(err))
	}
	p.revokeSchemaGrants(ctx, name)
	return nil
}

// revokeSchemaGrants removes database-level grants restage gave on a
// database it just dropped (Users grants on the new DB's own name), so no
// stale grant lingers should the name come back. Best effort: a failure is
// logged, never fatal.
func (p *mysqlServer) revokeSchemaGrants(ctx context.Context, name string) {
	adm, err := p.adminOps(ctx)
	if err == nil {
		err = adm.Forget(ctx, name)
	}
	if err != nil {
		p.log.Warn("revoke grants on dropped database", "step", "cleanup", "target", p.cfg.Target, "db", name, "error", err.Error())
	}
}

// schemaExists reports whether a database exists on the staging server.
func (p *mysqlServer) schemaExists(ctx context.Context, q mysqlQuerier, name string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	return n > 0, mysqlScrub(err)
}

// mysqlQuerier is satisfied by *sql.DB, *sql.Conn and *sql.Tx.
type mysqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ---- control DB ----

// ensureControl creates the control DB and its table if missing.
func (p *mysqlServer) ensureControl(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctlReady {
		return nil
	}
	stmts := []string{
		"CREATE DATABASE IF NOT EXISTS " + mysqlQuote(p.cfg.ControlDB) + " CHARACTER SET utf8mb4",
		"CREATE TABLE IF NOT EXISTS " + p.ctl + ` (
			name       VARCHAR(64) NOT NULL PRIMARY KEY,
			target     VARCHAR(64) NOT NULL,
			run_id     VARCHAR(64) NOT NULL,
			state      VARCHAR(16) NOT NULL,
			origin     VARCHAR(64) NOT NULL DEFAULT '',
			created_at DATETIME(6) NOT NULL,
			updated_at DATETIME(6) NOT NULL,
			KEY target_state (target, state)
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
		// One pending swap per target at most (the run lock serializes
		// swaps); body is the JSON intent record (mySwapIntent).
		"CREATE TABLE IF NOT EXISTS " + p.intentTable() + ` (
			target     VARCHAR(64) NOT NULL PRIMARY KEY,
			new_db     VARCHAR(64) NOT NULL,
			body       LONGTEXT NOT NULL,
			created_at DATETIME(6) NOT NULL
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	}
	for _, s := range stmts {
		if _, err := p.admin.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("control DB %s: %w", p.cfg.ControlDB, mysqlScrub(err))
		}
	}
	p.ctlReady = true
	return nil
}

func (p *mysqlServer) record(ctx context.Context, q mysqlQuerier, r local.ControlRecord) error {
	_, err := q.ExecContext(ctx, "INSERT INTO "+p.ctl+" (name, target, run_id, state, origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
		r.Name, r.Target, r.RunID, r.State, r.Origin)
	if err != nil {
		return fmt.Errorf("record %s in control DB: %w", r.Name, mysqlScrub(err))
	}
	return nil
}

func (p *mysqlServer) setState(ctx context.Context, q mysqlQuerier, name, state string) error {
	if _, err := q.ExecContext(ctx, "UPDATE "+p.ctl+" SET state = ?, updated_at = UTC_TIMESTAMP(6) WHERE name = ?", state, name); err != nil {
		return fmt.Errorf("mark %s %s in control DB: %w", name, state, mysqlScrub(err))
	}
	return nil
}

func (p *mysqlServer) lookup(ctx context.Context, q mysqlQuerier, name string) (local.ControlRecord, bool, error) {
	var r local.ControlRecord
	err := q.QueryRowContext(ctx, "SELECT name, target, run_id, state, origin FROM "+p.ctl+" WHERE name = ?", name).
		Scan(&r.Name, &r.Target, &r.RunID, &r.State, &r.Origin)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("look up %s in control DB: %w", name, mysqlScrub(err))
	}
	return r, true, nil
}

// records lists this target's records in the given states, most recently
// updated first.
func (p *mysqlServer) records(ctx context.Context, states ...string) ([]local.ControlRecord, error) {
	q := "SELECT name, target, run_id, state, origin FROM " + p.ctl + " WHERE target = ? AND state IN (?" + strings.Repeat(", ?", len(states)-1) + ") ORDER BY updated_at DESC, name DESC"
	args := []any{p.cfg.Target}
	for _, s := range states {
		args = append(args, s)
	}
	rows, err := p.admin.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list control DB records: %w", mysqlScrub(err))
	}
	defer rows.Close()
	var out []local.ControlRecord
	for rows.Next() {
		var r local.ControlRecord
		if err := rows.Scan(&r.Name, &r.Target, &r.RunID, &r.State, &r.Origin); err != nil {
			return nil, fmt.Errorf("list control DB records: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ---- the control store (local.ControlStore) and databases (local.Databases) ----

func (p *mysqlServer) EnsureControl(ctx context.Context) error { return p.ensureControl(ctx) }

func (p *mysqlServer) Lookup(ctx context.Context, name string) (local.ControlRecord, bool, error) {
	return p.lookup(ctx, p.admin, name)
}

func (p *mysqlServer) Insert(ctx context.Context, r local.ControlRecord) error {
	return p.record(ctx, p.admin, r)
}

func (p *mysqlServer) SetState(ctx context.Context, name, state string) error {
	return p.setState(ctx, p.admin, name, state)
}

func (p *mysqlServer) List(ctx context.Context, states ...string) ([]local.ControlRecord, error) {
	return p.records(ctx, states...)
}

// DBState reports whether a schema exists; MySQL has no database
// identity beyond its name (oid 0).
func (p *mysqlServer) DBState(ctx context.Context, name string) (bool, int64, error) {
	ok, err := p.schemaExists(ctx, p.admin, name)
	return ok, 0, err
}

func (p *mysqlServer) Drop(ctx context.Context, name string) error { return p.dropSchema(ctx, name) }

func (p *mysqlServer) RecoverMarkers(ctx context.Context) error { return p.recoverFromMarkers(ctx) }

// ---- lock ----

// TryLock takes GET_LOCK('restage:<target>', 0) on a session of its own,
// held until release: the server frees the lock when that session ends,
// so a killed run never leaves it behind.
func (p *mysqlServer) TryLock(ctx context.Context, runID string) (func(), error) {
	name := "restage:" + p.cfg.Target
	conn, err := p.admin.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: connect to staging server %s: %w", p.cfg.Target, p.endpoint, mysqlRedact(err, p.stg.Passwd))
	}
	got, holder, err := mysqlengine.TryLock(ctx, conn, name)
	if err != nil {
		mysqlDiscardConn(conn)
		return nil, fmt.Errorf("lock %s: %w", p.cfg.Target, err)
	}
	if !got {
		mysqlDiscardConn(conn)
		if holder != 0 {
			return nil, fmt.Errorf("lock %s on %s (held by connection %d): %w", p.cfg.Target, p.endpoint, holder, refresh.ErrLocked)
		}
		return nil, fmt.Errorf("lock %s on %s: %w", p.cfg.Target, p.endpoint, refresh.ErrLocked)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := mysqlengine.Unlock(ctx, conn, name); err != nil {
				p.log.Warn("release lock (the session is closed instead)", "step", "lock", "target", p.cfg.Target, "error", err)
			}
			mysqlDiscardConn(conn)
		})
	}, nil
}

// mysqlDiscardConn closes a session for good instead of returning it to
// the pool, where it would keep session state (a lock) alive.
func mysqlDiscardConn(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// Ping logs in to db with its admin DSN and runs SELECT 1.
func (p *mysqlServer) Ping(ctx context.Context, db *refresh.DB) error {
	cfg, err := mysql.ParseDSN(db.AdminDSN)
	if err != nil {
		return errors.New("invalid admin DSN")
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return errors.New("invalid admin DSN")
	}
	h := sql.OpenDB(conn)
	defer h.Close()
	var one int
	return mysqlRedact(mysqlScrub(h.QueryRowContext(ctx, "SELECT 1").Scan(&one)), cfg.Passwd)
}

// Close closes the server's connections.
func (p *mysqlServer) Close() error { return p.admin.Close() }
