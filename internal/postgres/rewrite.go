package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restage/restage/internal/mask"
)

var (
	_ mask.Rewriter      = (*Engine)(nil)
	_ mask.TableRewriter = (*worker)(nil)
)

// A rewrite keeps the table's relation (its OID) and replaces its
// storage: the masked rows are copied into a temporary table, the table
// is truncated (a new, empty file for it and each of its indexes) and the
// rows are inserted back in key order, all in one transaction. Everything
// that binds to the table by OID — views, policies, triggers, grants,
// comments, owned sequences and identity, replica identity, statistics
// objects, publications — stays bound without being recreated; only the
// foreign keys of other tables that reference it are dropped for the
// TRUNCATE and added back (NOT VALID, then VALIDATE). The alternative,
// building a second table and swapping it in, writes the data once
// instead of twice but has to recreate every one of those dependencies
// exactly; this way what can differ afterwards is small enough to check
// completely (tableIdentity), in the same transaction, before it commits.

// RewriteFacts reads, for each job, what blocks a rewrite, the share of
// rows masking changes (from pg_stats: the largest non-NULL share among
// the masked columns), the row estimate, the estimated rows of tables
// whose foreign keys reference it, and the sessions connected to the
// database other than restage's own (application_name restage, same
// login).
func (e *Engine) RewriteFacts(ctx context.Context, jobs []*mask.TableJob) ([]mask.RewriteFacts, error) {
	out := make([]mask.RewriteFacts, len(jobs))
	err := e.with(ctx, func(c *pgx.Conn) error {
		others, err := otherSessions(ctx, c)
		if err != nil {
			return err
		}
		replica, err := canReplicaRole(ctx, c)
		if err != nil {
			return err
		}
		for i, job := range jobs {
			f := &out[i]
			f.OtherSessions = others
			name := qname(job.Table.TableName)
			if f.Blocker, err = rewriteBlocker(ctx, c, name, replica, job.Write); err != nil {
				return fmt.Errorf("check %s: %w", job.Table.TableName, err)
			}
			err = c.QueryRow(ctx, `SELECT greatest(c.reltuples, 0)::int8,
  coalesce((SELECT sum(greatest(r.reltuples, 0))::int8 FROM pg_constraint f JOIN pg_class r ON r.oid = f.conrelid
            WHERE f.contype = 'f' AND f.confrelid = c.oid AND f.conrelid <> c.oid), 0),
  coalesce((SELECT CASE WHEN count(*) = cardinality($2::text[]) THEN max(1 - s.null_frac) END FROM pg_stats s
            WHERE s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = ANY ($2::text[]) AND NOT s.inherited), -1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::regclass`, name, job.Write).
				Scan(&f.Rows, &f.ReferencingRows, &f.Changed)
			if err != nil {
				return fmt.Errorf("statistics of %s: %w", job.Table.TableName, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rewrite facts: %w", scrub(err))
	}
	return out, nil
}

// otherSessions counts the client sessions on the database that are not
// restage's own (application_name restage, same login). A session whose
// client just closed (an earlier step's admin session) stays listed until
// its backend has exited: up to a second is given for that.
func otherSessions(ctx context.Context, c *pgx.Conn) (int, error) {
	var n int
	for i := 0; ; i++ {
		err := c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND NOT (coalesce(application_name, '') = 'restage' AND usename = current_user)`).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("count sessions: %w", err)
		}
		if n == 0 || i == 10 {
			return n, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// canReplicaRole: whether the login may set session_replication_role
// (user triggers then stay quiet on the rewrite's TRUNCATE and INSERT).
func canReplicaRole(ctx context.Context, c *pgx.Conn) (bool, error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only probe
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		if hasCode(err, "42501") {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// rewriteBlocker says why the table can't be rewritten keeping it
// identical ("" when it can): what a TRUNCATE + INSERT would treat
// differently from the UPDATE in place, or what it needs that the login
// may lack.
func rewriteBlocker(ctx context.Context, c *pgx.Conn, name string, replica bool, masked []string) (string, error) {
	var reasons []*string
	if err := c.QueryRow(ctx, blockerSQL, name, replica, masked).Scan(&reasons); err != nil {
		return "", err
	}
	for _, r := range reasons {
		if r != nil {
			return *r, nil
		}
	}
	return "", nil
}

// blockerSQL lists the reasons in order of checking, NULL where a check
// passes. $1 the table, $2 whether the login may set
// session_replication_role, $3 the masked columns. A partition of a
// partitioned table that is not itself a partition can be rewritten.
const blockerSQL = `WITH t AS (SELECT c.* FROM pg_class c WHERE c.oid = $1::regclass),
me AS (SELECT r.rolsuper OR r.rolbypassrls AS bypass FROM pg_roles r WHERE r.rolname = current_user)
SELECT ARRAY[
  CASE WHEN t.relkind <> 'r' THEN 'not an ordinary table' END,
  CASE WHEN NOT t.relispartition AND EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = t.oid OR h.inhparent = t.oid)
       THEN 'part of an inheritance tree' END,
  (SELECT 'a partition of a partition' FROM pg_inherits h JOIN pg_class pc ON pc.oid = h.inhparent
    WHERE t.relispartition AND h.inhrelid = t.oid AND pc.relispartition),
  -- A partition's rows go back into the partition itself: a masked
  -- column in a partition key could send them elsewhere.
  (SELECT format('a masked column is in the partition key of %s', h.inhparent::regclass)
    FROM pg_inherits h JOIN pg_partitioned_table p ON p.partrelid = h.inhparent
    WHERE t.relispartition AND h.inhrelid = t.oid
      AND (0 = ANY (p.partattrs::int2[]) OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = h.inhparent
             AND a.attnum = ANY (p.partattrs::int2[]) AND a.attname = ANY ($3::text[])))
    LIMIT 1),
  (SELECT format('rule %I rewrites statements on it', r.rulename) FROM pg_rewrite r WHERE r.ev_class = t.oid ORDER BY r.rulename LIMIT 1),
  (SELECT format('trigger %I fires even with session_replication_role = replica', g.tgname) FROM pg_trigger g
    WHERE g.tgrelid = t.oid AND NOT g.tgisinternal AND g.tgenabled IN ('A', 'R') ORDER BY g.tgname LIMIT 1),
  (SELECT format('trigger %I would fire (the login can''t set session_replication_role)', g.tgname) FROM pg_trigger g
    WHERE NOT $2 AND g.tgrelid = t.oid AND NOT g.tgisinternal AND g.tgenabled <> 'D' ORDER BY g.tgname LIMIT 1),
  CASE WHEN NOT $2 THEN 'the login can''t set session_replication_role' END,
  CASE WHEN t.relrowsecurity AND NOT (SELECT bypass FROM me) THEN 'row-level security applies to the login' END,
  CASE WHEN NOT pg_has_role(current_user, t.relowner, 'USAGE') THEN 'the login does not own it' END,
  (SELECT format('index %I is not valid', i.relname) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = t.oid AND NOT (x.indisvalid AND x.indisready AND x.indislive) ORDER BY i.relname LIMIT 1),
  (SELECT format('foreign key %I of %s references it from a partitioned table or a partition', f.conname, f.conrelid::regclass)
    FROM pg_constraint f JOIN pg_class r ON r.oid = f.conrelid
    WHERE f.contype = 'f' AND f.confrelid = t.oid AND f.conrelid <> t.oid AND (f.conparentid <> 0 OR r.relkind = 'p' OR r.relispartition)
    ORDER BY f.conname LIMIT 1),
  (SELECT format('foreign key %I of %s has disabled triggers (adding it back would enable them)', f.conname, f.conrelid::regclass)
    FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = t.oid AND f.conrelid <> t.oid
      AND EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgconstraint = f.oid AND g.tgenabled <> 'O')
    ORDER BY f.conname LIMIT 1),
  (SELECT format('foreign key %I of %s references it and the login does not own %s', f.conname, f.conrelid::regclass, f.conrelid::regclass)
    FROM pg_constraint f JOIN pg_class r ON r.oid = f.conrelid
    WHERE f.contype = 'f' AND f.confrelid = t.oid AND f.conrelid <> t.oid AND NOT pg_has_role(current_user, r.relowner, 'USAGE')
    ORDER BY f.conname LIMIT 1)
]::text[] FROM t`

// inboundFK is a foreign key of another table that references the
// rewritten one, with what it takes to add it back exactly.
type inboundFK struct {
	table, name, def string // table: regclass text, already quoted
	validated        bool
	comment          string // COMMENT ON CONSTRAINT …, "" without a comment
}

// RewriteTable masks every row of job.Table by writing the table anew in
// one transaction (see the comment at the top of this file). The table
// is locked against writes first (lockForRewrite), so the rows read are
// the rows replaced. Before committing, the table's catalog description is
// compared with the one taken before: any difference rolls everything
// back and fails the run.
func (w *worker) RewriteTable(ctx context.Context, job *mask.TableJob, fns []mask.RowFunc) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(fns) == 0 {
		return 0, fmt.Errorf("rewrite %s: no row function", job.Table.TableName)
	}
	n, err := w.rewrite(ctx, job, fns)
	if err != nil {
		return n, fmt.Errorf("rewrite %s: %w", job.Table.TableName, scrub(err))
	}
	if w.e != nil {
		w.e.markRewritten(job.Table.TableName)
	}
	return n, nil
}

// ErrIdentity is returned (wrapped) by RewriteTable when the rewritten
// table's catalog description differs from the original's.
var ErrIdentity = errors.New("the rewritten table differs from the original in the catalog")

func (w *worker) rewrite(ctx context.Context, job *mask.TableJob, fns []mask.RowFunc) (int64, error) {
	if !w.replica {
		// RewriteFacts blocks the table for such a login.
		return 0, errors.New("the worker's login can't set session_replication_role")
	}
	name := qname(job.Table.TableName)
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after Commit
	if err := lockForRewrite(ctx, tx, name); err != nil {
		return 0, err
	}
	before, err := tableIdentity(ctx, tx, name)
	if err != nil {
		return 0, err
	}

	// The columns written back: every stored column but the generated
	// ones, which the INSERT computes again (as the UPDATE would).
	rows, _ := tx.Query(ctx, `SELECT a.attname::text FROM pg_attribute a
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum`, name)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("columns: %w", err)
	}
	qcols := make([]string, len(cols))
	for i, c := range cols {
		qcols[i] = qcol(c)
	}
	var pos []int
	for _, c := range job.Write {
		i := slices.Index(cols, c)
		if i < 0 {
			return 0, fmt.Errorf("masked column %q is not a stored column", c)
		}
		pos = append(pos, i)
	}
	sel := make([]string, 0, len(cols)+len(job.Read)+len(job.Key))
	for _, c := range qcols {
		sel = append(sel, "t."+c)
	}
	for _, r := range job.Read {
		sel = append(sel, "t."+qcol(r)+"::text")
	}
	nread := len(job.Read)
	var order []string
	for _, k := range job.Key {
		order = append(order, "t."+qcol(k))
		if job.Observed {
			sel = append(sel, "t."+qcol(k)+"::text")
			nread++
		}
	}
	out := "COPY (SELECT " + strings.Join(sel, ", ") + " FROM ONLY " + name + " AS t"
	if len(order) > 0 {
		// Key order: the key's index, filled as the rows go back in,
		// comes out as compact as a fresh build.
		out += " ORDER BY " + strings.Join(order, ", ")
	}
	out += ") TO STDOUT"

	w.tmps++
	stage := fmt.Sprintf("restage_rewrite_%d", w.tmps)
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ON COMMIT DROP AS SELECT "+strings.Join(qcols, ", ")+" FROM ONLY "+name+" WITH NO DATA"); err != nil {
		return 0, fmt.Errorf("create stage: %w", err)
	}
	n, err := w.copyThrough(ctx, out, "COPY pg_temp."+stage+" ("+strings.Join(qcols, ", ")+") FROM STDIN", len(cols), pos, nread, fns)
	if err != nil {
		return n, err
	}

	fks, err := inboundFKs(ctx, tx, name)
	if err != nil {
		return n, err
	}
	for _, f := range fks {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+f.table+" DROP CONSTRAINT "+qcol(f.name)); err != nil {
			return n, fmt.Errorf("drop foreign key %s of %s: %w", f.name, f.table, err)
		}
	}
	if _, err := tx.Exec(ctx, "TRUNCATE ONLY "+name); err != nil {
		return n, fmt.Errorf("truncate: %w", err)
	}
	// OVERRIDING SYSTEM VALUE: identity columns GENERATED ALWAYS keep
	// their values. The stage's rows come back in key order (a temporary
	// table is scanned by one process, in insertion order).
	tag, err := tx.Exec(ctx, "INSERT INTO "+name+" ("+strings.Join(qcols, ", ")+") OVERRIDING SYSTEM VALUE SELECT "+strings.Join(qcols, ", ")+" FROM pg_temp."+stage)
	if err != nil {
		return n, fmt.Errorf("insert: %w", err)
	}
	if tag.RowsAffected() != n {
		return n, fmt.Errorf("inserted %d rows, want %d", tag.RowsAffected(), n)
	}
	if err := reindexAllButKey(ctx, tx, name, job.Key); err != nil {
		return n, err
	}
	for _, f := range fks {
		add := "ALTER TABLE " + f.table + " ADD CONSTRAINT " + qcol(f.name) + " " + f.def
		if f.validated {
			add += " NOT VALID"
		}
		if _, err := tx.Exec(ctx, add); err != nil {
			return n, fmt.Errorf("add foreign key %s of %s back: %w", f.name, f.table, err)
		}
		if f.validated {
			if _, err := tx.Exec(ctx, "ALTER TABLE "+f.table+" VALIDATE CONSTRAINT "+qcol(f.name)); err != nil {
				return n, fmt.Errorf("validate foreign key %s of %s: %w", f.name, f.table, err)
			}
		}
		if f.comment != "" {
			if _, err := tx.Exec(ctx, f.comment); err != nil {
				return n, fmt.Errorf("comment on foreign key %s of %s: %w", f.name, f.table, err)
			}
		}
	}
	after, err := tableIdentity(ctx, tx, name)
	if err != nil {
		return n, err
	}
	if d := identityDiff(before, after); d != "" {
		return n, fmt.Errorf("%w (%s); rolled back, the table is unchanged", ErrIdentity, d)
	}
	return n, tx.Commit(ctx)
}

// lockForRewrite locks the table and every table whose foreign key
// references it in SHARE ROW EXCLUSIVE mode, in OID order, before
// anything else: writers wait, readers (the rewrite's own reading
// connection) don't, and as the mode conflicts with itself two rewrites
// whose tables reference each other (store ↔ staff) take turns instead
// of deadlocking when each later needs the other's table exclusively.
func lockForRewrite(ctx context.Context, tx pgx.Tx, name string) error {
	rows, _ := tx.Query(ctx, `SELECT 'ONLY ' || c.oid::regclass::text FROM pg_class c
WHERE c.oid = $1::regclass OR c.oid IN (SELECT f.conrelid FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = $1::regclass)
ORDER BY c.oid`, name)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	// regclass output: already quoted as needed.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// copyThrough streams out (a COPY … TO STDOUT on a connection of its own)
// through the row function into in (a COPY … FROM STDIN on the worker's
// connection, inside its transaction). Every row read must be written.
func (w *worker) copyThrough(ctx context.Context, out, in string, ncols int, pos []int, nread int, fns []mask.RowFunc) (int64, error) {
	src, err := connect(ctx, w.cfg)
	if err != nil {
		return 0, fmt.Errorf("open reader: %w", err)
	}
	defer closeConn(src)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	var readTag pgconn.CommandTag
	readDone := make(chan error, 1)
	go func() {
		tag, err := src.PgConn().CopyTo(ctx, w1, out)
		readTag = tag
		w1.CloseWithError(err)
		readDone <- err
	}()
	var transformed int64
	xDone := make(chan error, 1)
	go func() {
		n, err := TransformCopyParallel(r1, w2, ncols, pos, nread, fns)
		transformed = n
		if err != nil {
			r1.CloseWithError(errRewriteAborted)
		}
		w2.CloseWithError(err)
		xDone <- err
	}()
	tag, loadErr := w.conn.PgConn().CopyFrom(ctx, r2, in)
	if loadErr != nil {
		cancel()
		r1.CloseWithError(errRewriteAborted)
		r2.CloseWithError(errRewriteAborted)
	}
	readErr, xErr := <-readDone, <-xDone
	var pe *pgconn.PgError
	switch {
	case xErr != nil && !errors.Is(xErr, errRewriteAborted):
		return 0, xErr
	case errors.As(readErr, &pe):
		return 0, fmt.Errorf("read: %w", readErr)
	case errors.As(loadErr, &pe):
		return 0, fmt.Errorf("load stage: %w", loadErr)
	case readErr != nil:
		return 0, fmt.Errorf("read: %w", readErr)
	case loadErr != nil:
		return 0, fmt.Errorf("load stage: %w", loadErr)
	}
	read, wrote := readTag.RowsAffected(), tag.RowsAffected()
	if read != wrote || transformed != read {
		return 0, fmt.Errorf("read %d rows, masked %d, wrote %d", read, transformed, wrote)
	}
	return wrote, nil
}

var errRewriteAborted = errors.New("rewrite aborted")

func inboundFKs(ctx context.Context, tx pgx.Tx, name string) ([]inboundFK, error) {
	rows, _ := tx.Query(ctx, `SELECT f.conrelid::regclass::text, f.conname::text, pg_get_constraintdef(f.oid), f.convalidated,
  CASE WHEN obj_description(f.oid, 'pg_constraint') IS NOT NULL
       THEN format('COMMENT ON CONSTRAINT %I ON %s IS %L', f.conname, f.conrelid::regclass, obj_description(f.oid, 'pg_constraint')) ELSE '' END
FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = $1::regclass AND f.conrelid <> f.confrelid
ORDER BY 1, 2`, name)
	fks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (inboundFK, error) {
		var f inboundFK
		err := r.Scan(&f.table, &f.name, &f.def, &f.validated, &f.comment)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("foreign keys referencing it: %w", err)
	}
	return fks, nil
}

// reindexAllButKey builds every index of the table again except the one
// over the key, which the rows filled in key order: the others were
// filled in an order of their own and are looser than a fresh build.
func reindexAllButKey(ctx context.Context, tx pgx.Tx, name string, key []string) error {
	rows, _ := tx.Query(ctx, `SELECT x.indexrelid::regclass::text
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
WHERE x.indrelid = $1::regclass
  AND NOT (x.indisunique AND am.amname = 'btree' AND x.indexprs IS NULL AND x.indpred IS NULL
           AND ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, o)
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o) = $2::text[])
ORDER BY 1`, name, append([]string{}, key...))
	idx, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("indexes: %w", err)
	}
	for _, i := range idx {
		// i is regclass output: already quoted as needed.
		if _, err := tx.Exec(ctx, "REINDEX INDEX "+i); err != nil {
			return fmt.Errorf("reindex %s: %w", i, err)
		}
	}
	return nil
}
