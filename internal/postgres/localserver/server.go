// Package localserver is the PostgreSQL engine's server for the local
// provider (internal/local drives it through local.Server): the control
// database, the copies' databases, pg_dump | psql and the snapshot copy,
// the database-rename switch and the staging roles, on an ordinary
// PostgreSQL server. It is part of the engine's home (internal/postgres)
// and uses the engine's SQL; a package of its own only because it speaks
// the pipeline's types (internal/refresh), which the engine package can't
// import (refresh and the gates' tests open engines).
// docs/local-postgres.md describes the design; the files split it by
// concern:
//
//	server.go    connections, control DB, databases, lock, ping
//	owner.go     identity, staging ownership, markers
//	restore.go   create like the source; pg_dump | psql
//	stream.go    the masking copy (one exported snapshot, COPY in parallel)
//	switch.go    the rename switch and its recovery
//	users.go     staging roles, production logins
//	preserve.go  preserved rows
//	history.go   the run history and the source's row estimates
package localserver

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/dsn"
	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
)

var _ local.Server = (*pgServer)(nil)

// pgServer is the local provider's server on PostgreSQL. Every database
// operation on the staging server runs on a short-lived admin connection to
// the control DB: it is never renamed or dropped, so restage's own sessions
// never stand in the way of a rename or a drop. docs/local-postgres.md
// describes the whole design.
type pgServer struct {
	cfg     local.Config
	log     *slog.Logger
	src     dsn.DSN
	stg     dsn.DSN
	srcConn *pgx.ConnConfig // the production source, read only
	stgConn *pgx.ConnConfig // admin login on the staging server
	staging string          // the stable staging name

	// testHook, when set, runs between the steps of Switch; an error it
	// returns fails the switch at that point (tests inject failures).
	testHook func(step string) error

	mu         sync.Mutex
	controlOK  bool                   // the control table is known to exist
	lockConns  map[*pgx.Conn]struct{} // sessions holding run locks
	closedDown bool
	// srcName is the source database's name on the staging server when
	// preflight found them to be one cluster (owner.go).
	srcName      string
	identityDone bool // source and staging were compared by the servers
}

// parseOwn is the engine's ParseDSN for a connection string that must be
// PostgreSQL's.
func parseOwn(s string) (dsn.DSN, error) {
	d, ok, err := postgres.ParseDSN(s)
	if !ok && err == nil {
		return dsn.DSN{}, errors.New("not a " + postgres.DSNForms)
	}
	return d, err
}

// pgSessionParams apply to every connection restage opens.
var pgSessionParams = map[string]string{"application_name": "restage"}

// New returns the local provider's server for PostgreSQL (internal/
// engines registers it). It does not connect: the first method that needs
// the server does.
func New(cfg local.Config) (local.Server, error) { return newServer(cfg) }

func newServer(cfg local.Config) (*pgServer, error) {
	if err := cfg.Validate(parseOwn); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	src, err := parseOwn(cfg.SourceDSN)
	if err != nil {
		return nil, fmt.Errorf("source DSN: %w", err)
	}
	stg, err := parseOwn(cfg.StagingDSN)
	if err != nil {
		return nil, fmt.Errorf("staging DSN: %w", err)
	}
	srcConn, err := pgx.ParseConfig(cfg.SourceDSN)
	if err != nil {
		return nil, errors.New("source DSN can't be parsed (details withheld: it may hold a password)")
	}
	stgConn, err := pgx.ParseConfig(cfg.StagingDSN)
	if err != nil {
		return nil, errors.New("staging DSN can't be parsed (details withheld: it may hold a password)")
	}
	for k, v := range pgSessionParams {
		srcConn.RuntimeParams[k] = v
		stgConn.RuntimeParams[k] = v
	}
	// Belt and braces: nothing restage runs on the source may write.
	srcConn.RuntimeParams["default_transaction_read_only"] = "on"

	var errs []error
	switch cfg.ControlDB {
	case stg.Database:
		errs = append(errs, fmt.Errorf("control DB %q is the staging database", cfg.ControlDB))
	case cfg.Adopt:
		errs = append(errs, fmt.Errorf("control DB %q is the adopted database", cfg.ControlDB))
	}
	ctl := stg
	ctl.Database = cfg.ControlDB
	if dsn.SameDatabase(src, ctl) {
		errs = append(errs, fmt.Errorf("control DB %q is the production source database", cfg.ControlDB))
	}
	if strings.HasPrefix(stg.Database, "restage_"+cfg.Target+"_") {
		errs = append(errs, fmt.Errorf("staging name %q is inside restage's own names for target %q", stg.Database, cfg.Target))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &pgServer{
		cfg:       cfg,
		log:       cfg.Log.With("target", cfg.Target, "engine", dsn.Postgres),
		src:       src,
		stg:       stg,
		srcConn:   srcConn,
		stgConn:   stgConn,
		staging:   stg.Database,
		lockConns: map[*pgx.Conn]struct{}{},
	}, nil
}

// Close closes the sessions that hold run locks (releasing them).
func (p *pgServer) Close() error {
	p.mu.Lock()
	conns := p.lockConns
	p.lockConns = map[*pgx.Conn]struct{}{}
	p.closedDown = true
	p.mu.Unlock()
	for c := range conns {
		pgClose(c)
	}
	return nil
}

// ---- connections ----

// connect opens an admin session on the staging server to database db.
func (p *pgServer) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cfg := p.stgConn.Copy()
	cfg.Database = db
	return pgConnect(ctx, cfg)
}

// connectSource opens a read-only session on the production source.
func (p *pgServer) connectSource(ctx context.Context) (*pgx.Conn, error) {
	return pgConnect(ctx, p.srcConn.Copy())
}

func pgConnect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, pgRedact(pgScrub(err), cfg.Password)
	}
	return c, nil
}

func pgClose(c *pgx.Conn) {
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// pgCleanupCtx is a context for undoing a step: it survives the run's
// cancellation but not forever.
func pgCleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

// adminDSN is the staging DSN pointed at database name.
func (p *pgServer) adminDSN(name string) string {
	u, err := url.Parse(p.cfg.StagingDSN)
	if err != nil {
		return ""
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String()
}

func (p *pgServer) DBFor(name, runID string) *refresh.DB {
	return &refresh.DB{
		Name:     name,
		RunID:    runID,
		Engine:   dsn.Postgres,
		Endpoint: net.JoinHostPort(p.stg.Host, p.stg.Port) + "/" + name,
		AdminDSN: p.adminDSN(name),
	}
}

// isSource reports whether database name on the staging server is the
// production source.
func (p *pgServer) isSource(name string) bool {
	p.mu.Lock()
	src := p.srcName
	p.mu.Unlock()
	if src != "" && name == src {
		return true
	}
	d := p.stg
	d.Database = name
	return dsn.SameDatabase(p.src, d)
}

// ---- control DB ----

// pgControlTable records every database restage creates (or renames out
// of the staging name). name is the database's current name while it is
// not live; a live DB keeps its restage name here and is found by db_oid.
const pgControlTable = "restage_databases"

const pgControlDDL = `CREATE TABLE IF NOT EXISTS ` + pgControlTable + ` (
	name          text PRIMARY KEY,
	target        text NOT NULL,
	run_id        text NOT NULL DEFAULT '',
	state         text NOT NULL CHECK (state IN ('creating', 'ready', 'live', 'previous', 'retired', 'discarded')),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	db_oid        bigint,
	original_name text
)`

// control opens an admin session on the control DB, creating the database
// and its table when missing.
func (p *pgServer) control(ctx context.Context) (*pgx.Conn, error) {
	c, err := p.connect(ctx, p.cfg.ControlDB)
	if pgCode(err) == "3D000" { // invalid_catalog_name: no control DB yet
		if err := p.createControlDB(ctx); err != nil {
			return nil, err
		}
		c, err = p.connect(ctx, p.cfg.ControlDB)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to control DB %s: %w", p.cfg.ControlDB, err)
	}
	p.mu.Lock()
	ok := p.controlOK
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	for _, t := range []struct{ name, ddl string }{{pgControlTable, pgControlDDL}, {pgIntentTable, pgIntentDDL}} {
		var exists bool
		if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t.name).Scan(&exists); err != nil {
			pgClose(c)
			return nil, fmt.Errorf("control DB %s: %w", p.cfg.ControlDB, pgScrub(err))
		}
		if exists {
			continue
		}
		// Two first runs racing on CREATE TABLE IF NOT EXISTS can still
		// collide in the catalog; the loser's table exists all the same.
		if _, err := c.Exec(ctx, t.ddl); err != nil && pgCode(err) != "23505" && pgCode(err) != "42P07" {
			pgClose(c)
			return nil, fmt.Errorf("create table %s in %s: %w", t.name, p.cfg.ControlDB, pgScrub(err))
		}
	}
	p.mu.Lock()
	p.controlOK = true
	p.mu.Unlock()
	return c, nil
}

func (p *pgServer) createControlDB(ctx context.Context) error {
	var c *pgx.Conn
	var err error
	for _, maint := range []string{"postgres", "template1"} {
		if c, err = p.connect(ctx, maint); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create control DB %s: connect to a maintenance database: %w", p.cfg.ControlDB, err)
	}
	defer pgClose(c)
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgIdent(p.cfg.ControlDB))
	if err != nil && pgCode(err) != "42P04" { // duplicate_database: another run won
		return fmt.Errorf("create control DB %s: %w", p.cfg.ControlDB, pgScrub(err))
	}
	p.log.Info("created control database", "step", "prepare", "db", p.cfg.ControlDB)
	return nil
}

const pgRecordCols = `name, target, run_id, state, coalesce(db_oid, 0), coalesce(original_name, '')`

func pgScanRecords(rows pgx.Rows) ([]local.ControlRecord, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (local.ControlRecord, error) {
		var rec local.ControlRecord
		err := r.Scan(&rec.Name, &rec.Target, &rec.RunID, &rec.State, &rec.OID, &rec.Origin)
		return rec, err
	})
}

// pgQuerier is what both *pgx.Conn and pgx.Tx offer.
type pgQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgLookup returns the control row for name, nil if there is none.
func pgLookup(ctx context.Context, q pgQuerier, name string) (*local.ControlRecord, error) {
	rows, err := q.Query(ctx, "SELECT "+pgRecordCols+" FROM "+pgControlTable+" WHERE name = $1", name)
	if err != nil {
		return nil, pgScrub(err)
	}
	recs, err := pgScanRecords(rows)
	if err != nil || len(recs) == 0 {
		return nil, pgScrub(err)
	}
	return &recs[0], nil
}

func pgSetState(ctx context.Context, q pgQuerier, name, state string) error {
	_, err := q.Exec(ctx, "UPDATE "+pgControlTable+" SET state = $2, updated_at = clock_timestamp() WHERE name = $1", name, state)
	return pgScrub(err)
}

// pgDBOID returns the OID of database name, 0 if there is none.
func pgDBOID(ctx context.Context, q pgQuerier, name string) (int64, error) {
	oid, _, err := postgres.DatabaseState(ctx, q, name)
	return oid, err
}

// ---- lock ----

// pgLockKey is the advisory lock key of a target: FNV-1a 64 of
// "restage:"+target, a stable function of the name alone.
func pgLockKey(target string) int64 {
	h := fnv.New64a()
	h.Write([]byte("restage:" + target))
	return int64(h.Sum64())
}

// TryLock takes a session-level advisory lock on a dedicated session to
// the control DB. The server releases it when that session ends, so a killed
// process can't leave it behind.
func (p *pgServer) TryLock(ctx context.Context, runID string) (func(), error) {
	c, err := p.control(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock target %s: %w", p.cfg.Target, err)
	}
	// Name the holder, so that a refused run (and an operator) can see it.
	if _, err := c.Exec(ctx, "SELECT set_config('application_name', $1, false)", pgAppName("restage lock "+p.cfg.Target+" "+runID)); err != nil {
		pgClose(c)
		return nil, fmt.Errorf("lock target %s: %w", p.cfg.Target, pgScrub(err))
	}
	key := pgLockKey(p.cfg.Target)
	got, err := postgres.TryLock(ctx, c, key)
	if err != nil {
		pgClose(c)
		return nil, fmt.Errorf("lock target %s: %w", p.cfg.Target, err)
	}
	if !got {
		holder := p.lockHolder(ctx, c, key)
		pgClose(c)
		return nil, fmt.Errorf("lock target %s%s: %w", p.cfg.Target, holder, refresh.ErrLocked)
	}
	p.mu.Lock()
	if p.closedDown {
		p.mu.Unlock()
		pgClose(c)
		return nil, fmt.Errorf("lock target %s: provider is closed", p.cfg.Target)
	}
	p.lockConns[c] = struct{}{}
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			_, mine := p.lockConns[c]
			delete(p.lockConns, c)
			p.mu.Unlock()
			if mine {
				// Unlock first: the server ends a closed session
				// asynchronously, and the next run should not have to wait.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = postgres.Unlock(ctx, c, key)
				cancel()
				pgClose(c)
			}
		})
	}, nil
}

// lockHolder describes the session holding key, best effort.
func (p *pgServer) lockHolder(ctx context.Context, c *pgx.Conn, key int64) string {
	pid, app, ok := postgres.LockHolder(ctx, c, key)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (held by backend %d %q)", pid, app)
}

func pgAppName(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// ---- the control store (local.ControlStore) and databases (local.Databases) ----

func (p *pgServer) EnsureControl(ctx context.Context) error {
	c, err := p.control(ctx)
	if err != nil {
		return err
	}
	pgClose(c)
	return nil
}

// withControl runs f on an admin session to the control DB.
func (p *pgServer) withControl(ctx context.Context, f func(c *pgx.Conn) error) error {
	c, err := p.control(ctx)
	if err != nil {
		return err
	}
	defer pgClose(c)
	return f(c)
}

func (p *pgServer) Lookup(ctx context.Context, name string) (r local.ControlRecord, ok bool, err error) {
	err = p.withControl(ctx, func(c *pgx.Conn) error {
		rec, err := pgLookup(ctx, c, name)
		if err != nil {
			return fmt.Errorf("read control DB: %w", err)
		}
		if rec != nil {
			r, ok = *rec, true
		}
		return nil
	})
	return r, ok, err
}

func (p *pgServer) Insert(ctx context.Context, r local.ControlRecord) error {
	return p.withControl(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, "INSERT INTO "+pgControlTable+" (name, target, run_id, state, db_oid, original_name) VALUES ($1, $2, $3, $4, nullif($5, 0), nullif($6, '')) ON CONFLICT (name) DO NOTHING",
			r.Name, r.Target, r.RunID, r.State, r.OID, r.Origin)
		if err != nil {
			return fmt.Errorf("record in control DB: %w", pgScrub(err))
		}
		if tag.RowsAffected() == 0 {
			return errors.New("the control DB records it already (run id reused?)")
		}
		return nil
	})
}

func (p *pgServer) SetState(ctx context.Context, name, state string) error {
	return p.withControl(ctx, func(c *pgx.Conn) error { return pgSetState(ctx, c, name, state) })
}

func (p *pgServer) List(ctx context.Context, states ...string) (recs []local.ControlRecord, err error) {
	err = p.withControl(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT "+pgRecordCols+" FROM "+pgControlTable+
			" WHERE target = $1 AND state = ANY($2) ORDER BY updated_at DESC, name", p.cfg.Target, states)
		if err == nil {
			recs, err = pgScanRecords(rows)
		}
		if err != nil {
			return fmt.Errorf("read control DB: %w", pgScrub(err))
		}
		return nil
	})
	return recs, err
}

// Protected says why restage must never drop or create database name.
func (p *pgServer) Protected(name string) string {
	switch {
	case name == "":
		return "empty name"
	case p.isSource(name):
		return "it is the production source"
	case name == p.staging:
		return "it is the stable staging name"
	case name == p.cfg.ControlDB:
		return "it is the control DB"
	case name == "postgres" || name == "template0" || name == "template1":
		return "it is a system database"
	}
	return ""
}

func (p *pgServer) DBState(ctx context.Context, name string) (exists bool, oid int64, err error) {
	err = p.withControl(ctx, func(c *pgx.Conn) error {
		oid, err = pgDBOID(ctx, c, name)
		return err
	})
	return oid != 0, oid, err
}

// Drop drops database name. FORCE ends sessions on this database only:
// it is restage's own (never production, never the live staging DB).
func (p *pgServer) Drop(ctx context.Context, name string) error {
	return p.withControl(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgIdent(name)+" WITH (FORCE)")
		return pgScrub(err)
	})
}

func (p *pgServer) RecoverMarkers(ctx context.Context) error {
	return p.withControl(ctx, func(c *pgx.Conn) error { return p.recoverFromMarkers(ctx, c) })
}

// Ping logs in to db as the admin and runs SELECT 1.
func (p *pgServer) Ping(ctx context.Context, db *refresh.DB) error {
	c, err := p.connect(ctx, db.Name)
	if err != nil {
		return err
	}
	defer pgClose(c)
	var one int
	return pgScrub(c.QueryRow(ctx, "SELECT 1").Scan(&one))
}

// ---- helpers ----

// pgIdent quotes an identifier (the engine's quoting).
func pgIdent(name string) string { return postgres.Quote(name) }

// pgCode returns the SQLSTATE in err's chain, "" if none.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// pgScrub is the PostgreSQL engine's one scrubber (postgres.Scrub): a
// server error keeps its SQLSTATE and object names, never a row value.
func pgScrub(err error) error { return postgres.Scrub(err) }

// pgRedact replaces secret in err's message, keeping the SQLSTATE.
func pgRedact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	var pe *postgres.Error
	if errors.As(err, &pe) && !strings.Contains(strings.Replace(err.Error(), pe.Error(), "", 1), secret) {
		c := *pe
		c.Message = strings.ReplaceAll(pe.Message, secret, "xxxxx")
		return &c
	}
	msg := strings.ReplaceAll(err.Error(), secret, "xxxxx")
	if code := pgCode(err); code != "" {
		return &postgres.Error{Code: code, Message: msg}
	}
	return errors.New(msg)
}
