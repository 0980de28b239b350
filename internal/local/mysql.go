package local

// The MySQL/MariaDB server of the local provider (provider.go drives it).
// docs/local-mysql.md describes the design; the files split it by concern:
//
//	mysql.go          connections, control store, databases, lock, ping
//	mysql_owner.go    identity, staging ownership, markers
//	mysql_restore.go  create like the source; mariadb-dump | mariadb copy
//	mysql_switch.go   the RENAME TABLE switch and its rollback
//	mysql_users.go    staging users, production logins, preserve

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
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/lifecycle"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

var _ server = (*mysqlServer)(nil)

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
	cfg         Config
	log         *slog.Logger
	stg         *mysql.Config // admin login on the staging server; DBName = the staging name
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
	// Learnt from the servers by preflight (mysql_owner.go).
	lctn          int  // @@lower_case_table_names of the staging server
	comments      bool // the server keeps database comments (markers)
	commentsKnown bool
	identityDone  bool // source and staging were compared by the servers

	// failAt, when set (tests), makes the named Switch step fail.
	failAt func(step string) error
}

// newMySQL returns the local provider for a MySQL/MariaDB staging server.
// It does not connect: the first method that needs the server does.
func newMySQL(cfg Config) (*mysqlServer, error) {
	if err := cfg.Validate(); err != nil {
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
	sd, _ := engines.ParseDSN(cfg.StagingDSN)
	pd, _ := engines.ParseDSN(cfg.SourceDSN)
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

// mysqlParse turns any DSN form engines.ParseDSN accepts into a driver config for
// restage's own sessions: text protocol with client-side interpolation (so
// statements like CREATE USER … IDENTIFIED BY ? work), no multi-statements.
func mysqlParse(s string) (*mysql.Config, error) {
	d, err := engines.ParseDSN(s)
	if err != nil {
		return nil, err
	}
	if d.Engine != dsn.MySQL {
		return nil, fmt.Errorf("not a MySQL DSN")
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

// dbFor describes a database on the staging server.
func (p *mysqlServer) dbFor(name, runID string) *refresh.DB {
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

// protected reports why a database must never be dropped by restage, or "".
func (p *mysqlServer) protected(name string) string {
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
	if why := p.protected(name); why != "" {
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

func (p *mysqlServer) record(ctx context.Context, q mysqlQuerier, r record) error {
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

func (p *mysqlServer) lookup(ctx context.Context, q mysqlQuerier, name string) (record, bool, error) {
	var r record
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
func (p *mysqlServer) records(ctx context.Context, states ...string) ([]record, error) {
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
	var out []record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.Name, &r.Target, &r.RunID, &r.State, &r.Origin); err != nil {
			return nil, fmt.Errorf("list control DB records: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ---- the control store (provider.go's server) ----

func (p *mysqlServer) ctlEnsure(ctx context.Context) error { return p.ensureControl(ctx) }

func (p *mysqlServer) ctlLookup(ctx context.Context, name string) (record, bool, error) {
	return p.lookup(ctx, p.admin, name)
}

func (p *mysqlServer) ctlInsert(ctx context.Context, r record) error {
	return p.record(ctx, p.admin, r)
}

func (p *mysqlServer) ctlSetState(ctx context.Context, name, state string) error {
	return p.setState(ctx, p.admin, name, state)
}

func (p *mysqlServer) ctlList(ctx context.Context, states ...string) ([]record, error) {
	return p.records(ctx, states...)
}

// dbState reports whether a schema exists; MySQL has no database
// identity beyond its name (oid 0).
func (p *mysqlServer) dbState(ctx context.Context, name string) (bool, int64, error) {
	ok, err := p.schemaExists(ctx, p.admin, name)
	return ok, 0, err
}

func (p *mysqlServer) dropDB(ctx context.Context, name string) error { return p.dropSchema(ctx, name) }

func (p *mysqlServer) recoverMarkers(ctx context.Context) error { return p.recoverFromMarkers(ctx) }

// ---- lock ----

// tryLock takes GET_LOCK('restage:<target>', 0) on a session of its own,
// held until release: the server frees the lock when that session ends,
// so a killed run never leaves it behind.
func (p *mysqlServer) tryLock(ctx context.Context, runID string) (func(), error) {
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

// ping logs in to db with its admin DSN and runs SELECT 1.
func (p *mysqlServer) ping(ctx context.Context, db *refresh.DB) error {
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
