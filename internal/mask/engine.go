package mask

import (
	"context"

	"github.com/restage/restage/internal/schema"
)

// Value is one column value in its text form, the way the server prints it
// (PostgreSQL: col::text; MySQL: the text protocol). Null marks SQL NULL.
type Value struct {
	S    string
	Null bool
}

// Range is a half-open key range (Lo, Hi] over a table's key columns, values
// in text form. A nil Lo means "from the start"; a nil Hi means "to the end".
// For tables without a usable key the engine defines its own positions
// (PostgreSQL: ctid pages); the planner treats them as opaque.
type Range struct {
	Lo, Hi []string
}

// TableJob tells a worker what to read and write for one table.
type TableJob struct {
	Table *schema.Table
	// Key are the columns rows are addressed by: the primary key, else a
	// unique index over NOT NULL columns; empty when the table has neither.
	Key []string
	// Read are the columns read for each row, in this order: the masked
	// columns first (same order as Write), then seed-only columns.
	Read []string
	// Write are the masked columns, written back in this order.
	Write []string
	// Pin are ON UPDATE CURRENT_TIMESTAMP columns not in Write: the UPDATE
	// sets them to themselves so they keep their value.
	Pin []string
	// Observed is set by Run when an Observer takes the verification
	// baseline in the masking pass: the worker then appends the row's Key
	// values (text form) to the RowFunc's in, after the Read values, and
	// calls the RowFunc for every row it reads, also for a keyless table's
	// duplicate rows (their result is the same and is not written again).
	Observed bool
}

// RowFunc computes the masked values of one row: in has one value per
// TableJob.Read column (then one per Key column if TableJob.Observed), out one per TableJob.Write column (pre-sized; the
// function fills it). It must not retain in or out.
type RowFunc func(in, out []Value) error

// Engine is one database server flavour, opened on one database. Every
// method is safe for concurrent use; Workers are not.
type Engine interface {
	// Introspect describes every base table of the database.
	Introspect(ctx context.Context) (*schema.Schema, error)
	// Truncate empties the tables. The set must be closed under foreign
	// keys (the planner ensures every referencing table is in it); no ON
	// DELETE action fires on a table outside the set and no row outside it
	// changes. Partitions/children of a listed parent are listed too.
	Truncate(ctx context.Context, tables []*schema.Table) error
	// Chunks splits the table's rows into ranges of about size rows each,
	// in key order, covering every row exactly once.
	Chunks(ctx context.Context, job *TableJob, size int) ([]Range, error)
	// Worker opens a dedicated connection for masking.
	Worker(ctx context.Context) (Worker, error)
	// Prepare runs once before masking: e.g. disable or drop user triggers
	// on the tables where the engine allows it. It returns the triggers that
	// will fire anyway (reported, not an error).
	Prepare(ctx context.Context, tables []*schema.Table) (firing []string, err error)
	// Finish runs once after masking (also after a failure, to restore what
	// Prepare changed): restore triggers, refresh statistics so they hold no
	// original values, vacuum where it pays. masked is nil after a failure.
	Finish(ctx context.Context, masked []*schema.Table) error
	// Close releases the engine's connections.
	Close() error
}

// Worker masks ranges of rows over one connection.
type Worker interface {
	// MaskRange reads the rows of job.Table in r, calls fn for each, and
	// writes the results back set-based in one transaction. It returns the
	// number of rows read. Errors never contain row values.
	MaskRange(ctx context.Context, job *TableJob, r Range, fn RowFunc) (rows int64, err error)
	Close() error
}

// Reader is read-only SQL access for the safety gates (drift detection,
// verification). Both engines implement it next to Engine.
// What differs between engines is behind its methods, so the gates name
// no engine.
type Reader interface {
	// QuoteIdent quotes one identifier.
	QuoteIdent(name string) string
	// From renders a table for a FROM clause, restricted to its own rows
	// (PostgreSQL: ONLY, so an inheritance parent excludes its children).
	From(t schema.TableName) string
	// Text renders an already quoted column reference as text in a SELECT
	// list, the same text form MaskRange reads.
	Text(col string) string
	// Query runs a read-only query and calls fn with each row's values in
	// text form (fn must not retain row). Errors never contain values.
	Query(ctx context.Context, query string, fn func(row []Value) error) error
	// BinaryValue turns the text form Query gives for a binary column
	// back into the column's bytes (PostgreSQL: bytea's hex form \x…;
	// MySQL: the bytes themselves).
	BinaryValue(text string) string
	// TableSample is what follows a table in FROM to read about percent
	// of its rows, picked cheaply (whole pages), spread over the table and
	// the same on every run (PostgreSQL: TABLESAMPLE SYSTEM … REPEATABLE
	// (0)); "" when the engine has no such sampling and the caller reads
	// from the start.
	TableSample(percent float64) string
	// StatisticsValues returns every value the server's planner statistics
	// hold for column col of t ("" for every column of t): most common
	// values, histogram bounds, min and max — where an original value could
	// survive masking. NULLs are left out.
	StatisticsValues(ctx context.Context, s *schema.Schema, t *schema.Table, col string) ([]string, error)
}

// Execer runs one statement of the rules file's post-mask SQL on the copy.
// Errors never contain values.
type Execer interface {
	Exec(ctx context.Context, stmt string) error
}

// IndexDeferrer is an optional Engine capability: drop the secondary
// indexes that cover masked columns before masking and build them again
// (one sorted build per table) in Finish, instead of paying index
// maintenance row by row. Finish must rebuild them after a failure too; a
// unique index that no longer holds fails Finish (fail closed).
type IndexDeferrer interface {
	DeferIndexes(ctx context.Context, jobs []*TableJob) (deferred []string, err error)
}
