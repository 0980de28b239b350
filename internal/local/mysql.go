package local

// The MySQL/MariaDB side of the local provider. docs/local-mysql.md
// describes the design; the files split it by concern:
//
//	mysql.go          provider, connections, control DB, lock, ready,
//	                  sweep, retire, discard
//	mysql_restore.go  mariadb-dump | mariadb copy into restage_<target>_<run>
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

var _ refresh.Provider = (*mysqlProvider)(nil)

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

// mysqlProvider is the local provider on a MySQL/MariaDB staging server.
type mysqlProvider struct {
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
	preflighted   onceOK
	identityDone  bool // source and staging were compared by the servers

	// failAt, when set (tests), makes the named Switch step fail.
	failAt func(step string) error
}

// newMySQL returns the local provider for a MySQL/MariaDB staging server.
// It does not connect: the first method that needs the server does.
func newMySQL(cfg Config) (refresh.Provider, error) {
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
	p := &mysqlProvider{
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
func (p *mysqlProvider) dbFor(name, runID string) *refresh.DB {
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
func (p *mysqlProvider) protected(name string) string {
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
func (p *mysqlProvider) dropSchema(ctx context.Context, name string) error {
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
func (p *mysqlProvider) revokeSchemaGrants(ctx context.Context, name string) {
	adm, err := p.adminOps(ctx)
	if err == nil {
		err = adm.Forget(ctx, name)
	}
	if err != nil {
		p.log.Warn("revoke grants on dropped database", "step", "cleanup", "target", p.cfg.Target, "db", name, "error", err.Error())
	}
}

// schemaExists reports whether a database exists on the staging server.
func (p *mysqlProvider) schemaExists(ctx context.Context, q mysqlQuerier, name string) (bool, error) {
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
func (p *mysqlProvider) ensureControl(ctx context.Context) error {
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

// myRecord is one row of the control table.
type myRecord struct {
	Name, Target, RunID, State, Origin string
}

// ours reports whether restage may delete the database: the one
// ownership rule, owner.check (ownership.go).
func (p *mysqlProvider) ours(r myRecord) bool { return p.owner().check(r.claim()) == nil }

func (p *mysqlProvider) record(ctx context.Context, q mysqlQuerier, r myRecord) error {
	_, err := q.ExecContext(ctx, "INSERT INTO "+p.ctl+" (name, target, run_id, state, origin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
		r.Name, r.Target, r.RunID, r.State, r.Origin)
	if err != nil {
		return fmt.Errorf("record %s in control DB: %w", r.Name, mysqlScrub(err))
	}
	return nil
}

func (p *mysqlProvider) setState(ctx context.Context, q mysqlQuerier, name, state string) error {
	if _, err := q.ExecContext(ctx, "UPDATE "+p.ctl+" SET state = ?, updated_at = UTC_TIMESTAMP(6) WHERE name = ?", state, name); err != nil {
		return fmt.Errorf("mark %s %s in control DB: %w", name, state, mysqlScrub(err))
	}
	return nil
}

func (p *mysqlProvider) lookup(ctx context.Context, q mysqlQuerier, name string) (myRecord, bool, error) {
	var r myRecord
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
func (p *mysqlProvider) records(ctx context.Context, states ...string) ([]myRecord, error) {
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
	var out []myRecord
	for rows.Next() {
		var r myRecord
		if err := rows.Scan(&r.Name, &r.Target, &r.RunID, &r.State, &r.Origin); err != nil {
			return nil, fmt.Errorf("list control DB records: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ---- lock ----

// Lock takes GET_LOCK('restage:<target>', 0) on a session of its own,
// held until release: the server frees the lock when that session ends,
// so a killed run never leaves it behind.
func (p *mysqlProvider) Lock(ctx context.Context, runID string) (func(), error) {
	if err := p.preflighted.do(ctx, p.preflight); err != nil {
		return nil, fmt.Errorf("prepare %s: %w", p.cfg.Target, err)
	}
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
	p.log.Info("lock taken", "step", "lock", "target", p.cfg.Target, "run", runID)
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

// ---- ready, credentials ----

// Ready logs in to db with its admin DSN and runs SELECT 1, retrying with
// exponential backoff (100 ms doubling to 5 s) for at most two minutes.
func (p *mysqlProvider) Ready(ctx context.Context, db *refresh.DB) error {
	cfg, err := mysql.ParseDSN(db.AdminDSN)
	if err != nil {
		return fmt.Errorf("ready %s: invalid admin DSN", db.Endpoint)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("ready %s: invalid admin DSN", db.Endpoint)
	}
	h := sql.OpenDB(conn)
	defer h.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 10*time.Second)
		var one int
		err = h.QueryRowContext(actx, "SELECT 1").Scan(&one)
		acancel()
		if err == nil {
			return nil
		}
		p.log.Info("not ready yet", "step", "ready", "target", p.cfg.Target, "db", db.Name, "attempt", attempt, "error", mysqlRedact(err, cfg.Passwd))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("ready %s: %w (last error: %v)", db.Endpoint, ctx.Err(), mysqlRedact(err, cfg.Passwd))
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Credentials has nothing to do: local servers keep their logins.
func (p *mysqlProvider) Credentials(context.Context, *refresh.DB) (string, error) {
	return "no-op: local servers keep their logins", nil
}

// ---- sweep, retire, discard ----

// Sweep first finishes a swap a killed run left half done (from its intent
// record), then drops this target's recorded leftovers: DBs of runs that
// never switched (creating, ready) and previous DBs beyond KeepLast. Live
// DBs, unrecorded DBs and hand-made data that is not adopted stay.
func (p *mysqlProvider) Sweep(ctx context.Context) ([]string, error) {
	if err := p.ensureControl(ctx); err != nil {
		return nil, err
	}
	if _, err := p.finishSwap(ctx); err != nil {
		// Nothing else is safe to remove while staging is half swapped.
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	if err := p.recoverFromMarkers(ctx); err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	var dropped []string
	var errs []error
	left, err := p.records(ctx, myStateCreating, myStateReady)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	for _, r := range left {
		if !p.ours(r) {
			continue
		}
		if err := p.dropSchema(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.setState(ctx, p.admin, r.Name, myStateDiscarded); err != nil {
			errs = append(errs, err)
		}
		dropped = append(dropped, r.Name)
	}
	old, err := p.pruneList(ctx, p.cfg.KeepLast)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range old {
		if err := p.dropSchema(ctx, r.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.setState(ctx, p.admin, r.Name, myStateRetired); err != nil {
			errs = append(errs, err)
		}
		dropped = append(dropped, r.Name)
	}
	for _, n := range dropped {
		p.log.Info("swept", "step", "sweep", "target", p.cfg.Target, "db", n)
	}
	if err := errors.Join(errs...); err != nil {
		return dropped, fmt.Errorf("sweep %s: %w", p.cfg.Target, err)
	}
	return dropped, nil
}

// pruneList returns the previous DBs restage may delete beyond the keep
// most recent ones.
func (p *mysqlProvider) pruneList(ctx context.Context, keep int) ([]myRecord, error) {
	prev, err := p.records(ctx, myStatePrevious)
	if err != nil {
		return nil, err
	}
	var ours []myRecord
	for _, r := range prev {
		if p.ours(r) {
			ours = append(ours, r)
		}
	}
	if len(ours) <= keep {
		return nil, nil
	}
	return ours[keep:], nil
}

// Retire drops a previous staging DB restage created for this target (or
// the hand-made one the configuration adopts), or with KeepLast N the
// previous DBs beyond the N most recent. Anything else is ErrNotOurs.
func (p *mysqlProvider) Retire(ctx context.Context, prev *refresh.DB) error {
	if prev == nil {
		return nil
	}
	if err := p.ensureControl(ctx); err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	if why := p.protected(prev.Name); why != "" {
		return fmt.Errorf("retire %s: %s: %w", prev.Name, why, refresh.ErrNotOurs)
	}
	r, ok, err := p.lookup(ctx, p.admin, prev.Name)
	if err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	c := claim{Name: prev.Name}
	if ok {
		c = r.claim()
	}
	if err := p.owner().check(c); err != nil {
		return fmt.Errorf("retire: %w", err)
	}
	if ok && r.State == myStateLive {
		return fmt.Errorf("retire %s: it is live behind the staging name", prev.Name)
	}
	if p.cfg.KeepLast > 0 && ok {
		old, err := p.pruneList(ctx, p.cfg.KeepLast)
		if err != nil {
			return fmt.Errorf("retire %s: %w", prev.Name, err)
		}
		var errs []error
		for _, o := range old {
			if err := p.dropSchema(ctx, o.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, p.setState(ctx, p.admin, o.Name, myStateRetired))
			p.log.Info("retired", "step", "retire", "target", p.cfg.Target, "db", o.Name)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("retire %s: %w", prev.Name, err)
		}
		return nil
	}
	if err := p.dropSchema(ctx, prev.Name); err != nil {
		return fmt.Errorf("retire %s: %w", prev.Name, err)
	}
	if ok {
		if err := p.setState(ctx, p.admin, prev.Name, myStateRetired); err != nil {
			return fmt.Errorf("retire %s: %w", prev.Name, err)
		}
	}
	p.log.Info("retired", "step", "retire", "target", p.cfg.Target, "db", prev.Name)
	return nil
}

// Discard drops a DB a run created and marks it discarded. Idempotent; a
// DB the control DB does not attribute to a run of this target is refused.
func (p *mysqlProvider) Discard(ctx context.Context, db *refresh.DB) error {
	if db == nil {
		return nil
	}
	if err := p.ensureControl(ctx); err != nil {
		return fmt.Errorf("discard %s: %w", db.Name, err)
	}
	r, ok, err := p.lookup(ctx, p.admin, db.Name)
	if err != nil {
		return fmt.Errorf("discard %s: %w", db.Name, err)
	}
	if !ok || r.RunID == "" {
		return fmt.Errorf("discard %s: %w", db.Name, refresh.ErrNotOurs)
	}
	if err := p.owner().check(r.claim()); err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	if r.State == myStateLive {
		return fmt.Errorf("discard %s: it is live behind the staging name", db.Name)
	}
	if err := p.dropSchema(ctx, db.Name); err != nil {
		return fmt.Errorf("discard %s: %w", db.Name, err)
	}
	if r.State != myStateDiscarded && r.State != myStateRetired {
		if err := p.setState(ctx, p.admin, db.Name, myStateDiscarded); err != nil {
			return fmt.Errorf("discard %s: %w", db.Name, err)
		}
	}
	return nil
}

// Close closes the provider's connections.
func (p *mysqlProvider) Close() error { return p.admin.Close() }
