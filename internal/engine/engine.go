// Package engine holds the server-administration contract an engine
// package (internal/mysql, internal/postgres) implements for the providers:
// logins, grants, sessions, the read-as-user check and preserved-row
// copies. A provider decides what to do (which logins to lock, whether a
// shared login is acceptable); the engine knows how, in its own SQL. The
// masking and gate contracts are mask.Engine, mask.Worker, mask.Reader and
// mask.Execer; internal/engines is the one registry that opens either by
// engine kind.
//
// Every method's errors are scrubbed by the engine (no row value) and
// never contain a password the caller passed.
package engine

import (
	"context"
	"errors"
	"log/slog"

	"github.com/restage/restage/internal/preserve"
)

// Login is one login of a server: a MySQL account (User@Host) or a
// PostgreSQL role that can log in (Host is empty).
type Login struct{ User, Host string }

func (l Login) String() string {
	if l.Host == "" {
		return l.User
	}
	return l.User + "@" + l.Host
}

// Access is what a staging user may do in a database.
type Access string

const (
	// Read is SELECT on every table.
	Read Access = "read"
	// Write is SELECT, INSERT, UPDATE, DELETE on every table (and, on
	// PostgreSQL, USAGE and SELECT on every sequence).
	Write Access = "write"
)

// ErrAccess is returned by Grant for an Access other than Read and Write.
var ErrAccess = errors.New("privileges: want read or write")

// RowSpec names rows to copy: Table is "table" or "schema.table"; Where
// selects the rows (nil: every row) and is rendered with bind parameters,
// never pasted into SQL.
type RowSpec struct {
	Table string
	Where *preserve.Predicate
}

// Admin administers one server through an admin session. A provider gets
// one from internal/engines (OpenAdmin, by engine kind) or from the engine
// package's NewAdmin over a session it holds.
type Admin interface {
	// Quote quotes one identifier for this engine's SQL.
	Quote(name string) string

	// System reports the server's own accounts, which a provider never
	// locks (MySQL: mysql.*, mariadb.sys; PostgreSQL: pg_*).
	System(user string) bool

	// Logins lists the logins that can log in now: MySQL accounts that
	// are neither roles nor locked already, PostgreSQL roles with LOGIN.
	Logins(ctx context.Context) ([]Login, error)
	// Accounts lists user's logins (MySQL: one per host; PostgreSQL: the
	// role, whether or not it can log in); none when user does not exist.
	Accounts(ctx context.Context, user string) ([]Login, error)
	// CreateLogin creates user with password, with no privileges, and
	// returns its logins: MySQL creates user@'%' and, when an anonymous
	// ''@'localhost' would win over it for local logins, user@'localhost';
	// PostgreSQL stores a SCRAM-SHA-256 verifier computed in Go, so the
	// password is in no SQL text.
	CreateLogin(ctx context.Context, user, password string) ([]Login, error)
	// ResetLogin, for a server that is restage's own copy only, gives an
	// existing login password, lets it log in again and takes away every
	// role membership it had (MySQL: and every privilege), so that what it
	// can do comes from Grant.
	ResetLogin(ctx context.Context, l Login, password string) error
	// Lock stops l from logging in (MySQL ACCOUNT LOCK, PostgreSQL
	// NOLOGIN) and reads the lock back from the catalog. refused, when not
	// empty, says why the server refused or the lock did not take; err
	// says the check itself failed.
	Lock(ctx context.Context, l Login) (refused string, err error)
	// EndSessions ends every session of users except the caller's own and
	// returns how many it ended. Sessions opened before Lock survive it.
	EndSessions(ctx context.Context, users []string) (int, error)
	// Grant gives l access to database db: MySQL database-level
	// privileges on exactly db (wildcards escaped); PostgreSQL CONNECT on
	// db and, inside the admin session's database (which must be db),
	// USAGE on every schema and the privileges on every table (and
	// sequence, for Write). ErrAccess for an unknown Access.
	Grant(ctx context.Context, l Login, db string, a Access) error
	// Restrict takes from every login the access to db it has without a
	// grant of its own (PostgreSQL: PUBLIC's CONNECT and TEMPORARY; MySQL
	// has none).
	Restrict(ctx context.Context, db string) error
	// Forget removes what the server keeps about database db once it is
	// dropped (MySQL: database-level grants, which outlive their database
	// and would apply to a new one of the same name; PostgreSQL: nothing,
	// its grants go with the database). It tries every grant and returns
	// the failures joined.
	Forget(ctx context.Context, db string) error
	// CanRead says why l can read any of dbs with what it has now (a
	// global privilege, superuser, grants, membership of a role that has
	// them), or "" when it can't. A login the server does not have can't.
	CanRead(ctx context.Context, l Login, dbs ...string) (why string, err error)
	// Readers lists the logins with access to database db on this server
	// (grants on it or in it, global read privileges, superusers;
	// PostgreSQL with PUBLIC CONNECT: logins involved with the database's
	// objects), the servers' own system accounts left out.
	Readers(ctx context.Context, db string) ([]Login, error)
	// ReadAs logs in with dsn (a staging user's, on one database) and
	// reads a row of a table there: nil means the login works and the
	// user can read. PostgreSQL also fails when a table is unreadable.
	ReadAs(ctx context.Context, dsn string) error
	// CopyRows copies the rows specs select from the database fromDSN
	// reads (a read-only, consistent snapshot) into the one intoDSN
	// writes, in one transaction: the columns both tables have (generated
	// ones excluded); rows with the same primary key are replaced (MySQL:
	// deleted, then inserted, foreign key checks off for that session;
	// PostgreSQL: an upsert, since deleting a referenced row would fail
	// or cascade). A table missing from the source copies nothing
	// (logged); one missing from the target, or (PostgreSQL) without a
	// primary key there, is an error. It returns the rows written.
	CopyRows(ctx context.Context, log *slog.Logger, fromDSN, intoDSN string, specs []RowSpec) (int64, error)
	// Close ends the admin session if the Admin opened it.
	Close() error
}

// Commented is a database and its comment, where a provider keeps its
// marker (the database's own record of which run made it, which survives
// a lost control DB and follows the database through renames).
type Commented struct {
	Name    string
	OID     int64 // PostgreSQL's database OID; 0 on MySQL
	Comment string
}

// TLS modes of an Endpoint.
const (
	TLSOff    = "off"    // plain TCP
	TLSOn     = "on"     // encrypted, the server's certificate not verified
	TLSVerify = "verify" // certificate and host name verified against CAFile
)

// Endpoint is where and as whom a provider connects to one database; an
// engine turns it into its driver's connection string.
type Endpoint struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
	TLS      string // TLSOff, TLSOn or TLSVerify
	CAFile   string // the CA bundle TLSVerify verifies against
}
