// Package postgres is restage's PostgreSQL engine (pgx/v5): introspection
// from pg_catalog, truncation, key- or ctid-range chunking and set-based
// masking (COPY into a temp table + UPDATE … FROM).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

var (
	_ mask.Engine = (*Engine)(nil)
	_ mask.Worker = (*worker)(nil)
)

// Engine is one PostgreSQL database. Its methods are safe for concurrent
// use; each call borrows a connection from a small idle list.
type Engine struct {
	cfg  *pgx.ConnConfig
	pool *connPool

	// deferred are the indexes DeferIndexes dropped; Finish rebuilds them.
	deferred pgDeferred

	// exp holds the transaction whose exported snapshot ctid-range jobs read
	// under (see Chunks); closed by Finish and Close.
	expMu sync.Mutex
	exp   *exporter

	// rewritten are the tables RewriteTable wrote anew (Finish analyzes
	// them without a VACUUM).
	rwMu      sync.Mutex
	rewritten map[schema.TableName]bool
}

func (e *Engine) markRewritten(t schema.TableName) {
	e.rwMu.Lock()
	defer e.rwMu.Unlock()
	if e.rewritten == nil {
		e.rewritten = map[schema.TableName]bool{}
	}
	e.rewritten[t] = true
}

func (e *Engine) wasRewritten(t schema.TableName) bool {
	e.rwMu.Lock()
	defer e.rwMu.Unlock()
	return e.rewritten[t]
}

// sessionParams pin how values print as text, so masked output does not
// depend on the server's or the login's defaults.
var sessionParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"TimeZone":           "UTC",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"application_name":   "restage",
}

// Open connects to the database dsn names (a URL or keyword/value string)
// and checks that it answers. Errors never contain the password.
func Open(ctx context.Context, dsn string) (*Engine, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN; pgx's redaction is best effort.
		return nil, errors.New("open postgres: the DSN can't be parsed (details withheld: it may hold a password)")
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	e := &Engine{cfg: cfg, pool: &connPool{cfg: cfg, max: 8}}
	c, err := e.pool.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	e.pool.put(c)
	return e, nil
}

// Close closes the engine's idle connections and the snapshot exporter.
func (e *Engine) Close() error {
	e.closeExporter()
	e.pool.close()
	return nil
}

// connect opens a connection; errors have the password scrubbed.
func connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, redactPassword(scrub(err), cfg.Password)
	}
	return c, nil
}

func redactPassword(err error, password string) error {
	if err == nil || password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// connPool is a minimal connection pool: pgxpool needs
// github.com/jackc/puddle/v2, which go.mod does not carry. The engine's
// own calls are few and short (introspection, truncation, chunking,
// statistics); masking runs on the workers' dedicated connections.
type connPool struct {
	cfg    *pgx.ConnConfig
	max    int // idle connections kept
	mu     sync.Mutex
	idle   []*pgx.Conn
	closed bool
}

var errClosed = errors.New("postgres engine is closed")

func (p *connPool) get(ctx context.Context) (*pgx.Conn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errClosed
	}
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	return connect(ctx, p.cfg)
}

// put returns a connection; one that is broken or still inside a
// transaction is closed instead.
func (p *connPool) put(c *pgx.Conn) {
	if c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		closeConn(c)
		return
	}
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.max {
		p.mu.Unlock()
		closeConn(c)
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		closeConn(c)
	}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// with runs f on a pooled connection.
func (e *Engine) with(ctx context.Context, f func(*pgx.Conn) error) error {
	c, err := e.pool.get(ctx)
	if err != nil {
		return err
	}
	defer e.pool.put(c)
	return f(c)
}

// Error is a PostgreSQL error with every part that can carry a row value
// removed: the server quotes offending values in Detail ("Key (email)=(…)
// already exists."), Where (COPY context lines) and some messages
// (`invalid input syntax for type integer: "…"`). It keeps the SQLSTATE and
// the names of the objects involved. It deliberately does not unwrap to the
// *pgconn.PgError.
type Error struct {
	Code       string // SQLSTATE
	Message    string // quoted values replaced by "…"
	Schema     string
	Table      string
	Column     string
	Constraint string
	DataType   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (SQLSTATE %s)", e.Message, e.Code)
}

// ServerCode names the error by its SQLSTATE, for notices.
func (e *Error) ServerCode() string { return "SQLSTATE " + e.Code }

// SQLState returns the SQLSTATE code, like pgconn.PgError.
func (e *Error) SQLState() string { return e.Code }

// scrub replaces a *pgconn.PgError anywhere in err's chain with an *Error.
// Other errors pass through.
func scrub(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	e := &Error{
		Code:       pe.Code,
		Schema:     pe.SchemaName,
		Table:      pe.TableName,
		Column:     pe.ColumnName,
		Constraint: pe.ConstraintName,
		DataType:   pe.DataTypeName,
	}
	switch {
	case raisedByUser(pe):
		// RAISE in a function or DO block (post-mask SQL, a trigger): the
		// message, detail and hint are whatever the code put there, with
		// any SQLSTATE it chose. Only the code and the names stay.
		e.Message = "error raised by user code"
		if pe.TableName != "" {
			e.Message += fmt.Sprintf(" on table %q", pe.TableName)
		}
	case pe.Code == "23505":
		e.Message = fmt.Sprintf("duplicate key value violates unique constraint %q", pe.ConstraintName)
	case pe.Code == "23503":
		e.Message = fmt.Sprintf("insert or update on table %q violates foreign key constraint %q", pe.TableName, pe.ConstraintName)
	case pe.Code == "23502":
		e.Message = fmt.Sprintf("null value in column %q of relation %q violates not-null constraint", pe.ColumnName, pe.TableName)
	case pe.Code == "23514":
		e.Message = fmt.Sprintf("new row for relation %q violates check constraint %q", pe.TableName, pe.ConstraintName)
	case pe.Code == "23P01":
		e.Message = fmt.Sprintf("conflicting key value violates exclusion constraint %q", pe.ConstraintName)
	default:
		if strings.HasPrefix(pe.Code, "42") {
			// Syntax error or access rule violation: the message quotes SQL
			// text and object names, which restage writes without values.
			e.Message = pe.Message
			break
		}
		e.Message = scrubMessage(pe.Message, pe.SchemaName, pe.TableName, pe.ColumnName, pe.ConstraintName, pe.DataTypeName)
	}
	return e
}

// raisedByUser tells a RAISE from PL/pgSQL (whatever SQLSTATE it chose)
// from an error the server itself wrote: the server reports the C routine
// that raised the error, and for RAISE that is PL/pgSQL's exec_stmt_raise.
// An error without routine information is treated as user text too.
func raisedByUser(pe *pgconn.PgError) bool {
	return pe.Routine == "exec_stmt_raise" || pe.Routine == "" || strings.HasPrefix(pe.Code, "P0")
}

// scrubMessage replaces every double-quoted part of a server message with
// "…", except the names of the objects the server reported separately.
func scrubMessage(msg string, names ...string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '"')
		if i < 0 {
			b.WriteString(msg)
			break
		}
		j := strings.IndexByte(msg[i+1:], '"')
		if j < 0 {
			// An unbalanced quote: drop the rest rather than guess.
			b.WriteString(msg[:i])
			b.WriteString(`"…"`)
			break
		}
		quoted := msg[i+1 : i+1+j]
		b.WriteString(msg[:i+1])
		if quoted != "" && contains(names, quoted) {
			b.WriteString(quoted)
		} else {
			b.WriteString("…")
		}
		b.WriteByte('"')
		msg = msg[i+1+j+1:]
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Scrub turns a PostgreSQL error into one that holds no row value (see
// Error); other errors pass through. It is the PostgreSQL engine's one
// scrubber: every package that talks to PostgreSQL (the local provider,
// row copies, the AWS provider) uses it.
func Scrub(err error) error { return scrub(err) }

// ScrubMessage scrubs text that quotes server messages (psql or pg_dump
// output): every double-quoted part becomes "…", except the names listed.
func ScrubMessage(msg string, keep ...string) string { return scrubMessage(msg, keep...) }
