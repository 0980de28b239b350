package mysql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	mysqldrv "github.com/go-sql-driver/mysql"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
)

var (
	_ mask.Rewriter      = (*Engine)(nil)
	_ mask.TableRewriter = (*worker)(nil)
)

// A rewrite builds the masked table next to the original and swaps it in:
// CREATE TABLE new LIKE t, every row of t read once, masked and inserted
// into new with multi-row INSERTs (from as many connections as there are
// row functions), then one atomic RENAME TABLE t TO old, new TO t and DROP
// TABLE old. Compared with the keyless update path (a value map and an
// UPDATE … JOIN that looks every row up) the server only appends rows.
//
// What binds to the table by name survives the swap by itself: grants
// (mysql.tables_priv, columns_priv), views, the triggers Prepare dropped
// and Finish creates again, the indexes DeferIndexes dropped and Finish
// adds again. What binds to the table object does not, and blocks a
// rewrite (rewriteBlocker): foreign keys of other tables (or of the table
// itself) that reference it, partitions, system versioning. The table's own
// foreign keys, which CREATE TABLE … LIKE doesn't copy and whose names are
// unique in the schema, move: dropped from the original and added to the
// new table (with foreign_key_checks off: masking never writes a key
// column, so the rows still satisfy them) just before the swap, and added
// back to the original if anything fails before it. A table is only
// rewritten when its columns' values survive the trip through the
// client's text form exactly, and the schema-identity check compares SHOW
// CREATE TABLE of both tables before the swap.

// rewriteSample is how many rows RewriteFacts reads to estimate the share
// of rows masking changes (MySQL keeps no NULL fractions by default).
const rewriteSample = 10000

// A batch is what the reader hands to one masking goroutine at a time:
// at most rewriteBatchRows rows and about rewriteBatchBytes of memory
// (values plus the slices holding them, rowOverhead), so that memory stays
// bounded on wide rows while narrow rows travel in large batches. Each
// worker holds a batch, its masked arguments and the INSERT built from
// them (about four times the batch), and as many batches again wait in
// the channel: at 10,000 rows / 2 MiB of values a 1M-row table peaked at
// 126 MiB RSS with 4 workers (make bench).
const (
	rewriteBatchRows  = 10000
	rewriteBatchBytes = 1 << 20
)

// rowOverhead is the memory of one batched row besides its values: the
// row's slice header and one slice header per column.
func rowOverhead(width int) int { return 24 * (width + 1) }

// roundTripTypes are the column types whose values the text protocol
// prints in a form that, written back in the same session, is the same
// value. FLOAT (printed with fewer digits than stored on MariaDB), BIT,
// spatial and other types are left out.
var roundTripTypes = map[string]bool{
	"tinyint": true, "smallint": true, "mediumint": true, "int": true, "bigint": true,
	"decimal": true, "double": true,
	"char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true,
	"binary": true, "varbinary": true, "tinyblob": true, "blob": true, "mediumblob": true, "longblob": true,
	"date": true, "time": true, "datetime": true, "timestamp": true, "year": true,
	"enum": true, "set": true, "json": true,
}

// roundTripCharsets are the character sets whose every character converts
// to utf8mb4 (the connection's character set) and back to itself.
var roundTripCharsets = map[string]bool{
	"utf8mb4": true, "utf8mb3": true, "utf8": true, "latin1": true, "ascii": true, "binary": true,
}

// RewriteFacts reads, for each job, what blocks a rewrite, the share of
// rows masking changes (the largest non-NULL share among the masked
// columns in the first rows of the table), the row estimate and the
// sessions connected to the database other than restage's own.
// ReferencingRows stays 0: a table that foreign keys reference is blocked.
func (e *Engine) RewriteFacts(ctx context.Context, jobs []*mask.TableJob) ([]mask.RewriteFacts, error) {
	out := make([]mask.RewriteFacts, len(jobs))
	others, canSee, err := e.otherSessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("rewrite facts: %w", scrub(err))
	}
	for i, job := range jobs {
		f := &out[i]
		f.OtherSessions = others
		f.Changed = -1
		if !canSee {
			f.Blocker = "the login lacks the PROCESS privilege, so other sessions on the database can't be seen"
		} else if f.Blocker, err = e.rewriteBlocker(ctx, job.Table.Name); err != nil {
			return nil, fmt.Errorf("rewrite facts: check %s: %w", job.Table.Name, scrub(err))
		}
		if f.Blocker != "" || len(job.Write) == 0 {
			continue
		}
		var est sql.NullInt64
		if err := e.db.QueryRowContext(ctx, `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
			e.dbName, job.Table.Name).Scan(&est); err != nil {
			return nil, fmt.Errorf("rewrite facts: statistics of %s: %w", job.Table.Name, scrub(err))
		}
		sums := make([]string, len(job.Write))
		for k, c := range job.Write {
			sums[k] = "COALESCE(SUM(" + quote(c) + " IS NOT NULL), 0)"
		}
		vals := make([]int64, 1+len(job.Write))
		dest := make([]any, len(vals))
		for k := range vals {
			dest[k] = &vals[k]
		}
		q := "SELECT COUNT(*), " + strings.Join(sums, ", ") + " FROM (SELECT " + quoteList("", job.Write) + " FROM " + quote(job.Table.Name) +
			" LIMIT " + strconv.Itoa(rewriteSample) + ") s"
		if err := e.db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
			return nil, fmt.Errorf("rewrite facts: sample %s: %w", job.Table.Name, scrub(err))
		}
		f.Rows = max(est.Int64, vals[0])
		if vals[0] > 0 {
			f.Changed = float64(slices.Max(vals[1:])) / float64(vals[0])
		}
	}
	return out, nil
}

// otherSessions counts the sessions whose default database is this one
// and that are not connections of this Engine (recorded as they open,
// see trackingConnector). canSee is false when the login lacks the
// PROCESS privilege: the process list then shows only its own sessions.
// A session whose client just closed stays listed until the server has
// noticed: up to a second is given for that.
func (e *Engine) otherSessions(ctx context.Context) (n int, canSee bool, err error) {
	err = e.db.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'PROCESS'
  AND GRANTEE = CONCAT('''', SUBSTRING(CURRENT_USER(), 1, CHAR_LENGTH(CURRENT_USER()) - CHAR_LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1),
                       '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')`).Scan(&canSee)
	if err != nil {
		return 0, false, fmt.Errorf("check the PROCESS privilege: %w", err)
	}
	for i := 0; ; i++ {
		var ids []int64
		err := e.each(ctx, `SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()`, func(r *sql.Rows) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		}, e.dbName)
		if err != nil {
			return 0, false, fmt.Errorf("count sessions: %w", err)
		}
		n = 0
		e.ownMu.Lock()
		for _, id := range ids {
			if !e.own[id] {
				n++
			}
		}
		e.ownMu.Unlock()
		if n == 0 || i == 10 {
			return n, canSee, nil
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// trackingConnector records the server's id of every connection the
// Engine opens, so that otherSessions can tell restage's own sessions
// from anyone else's (MySQL has no application_name).
type trackingConnector struct {
	driver.Connector
	e *Engine
}

func (c *trackingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	id, err := connectionID(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read the connection id: %w", err)
	}
	c.e.ownMu.Lock()
	if c.e.own == nil {
		c.e.own = map[int64]bool{}
	}
	c.e.own[id] = true
	c.e.ownMu.Unlock()
	return conn, nil
}

func connectionID(ctx context.Context, conn driver.Conn) (int64, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return 0, errors.New("the driver can't query")
	}
	rows, err := q.QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	dest := make([]driver.Value, 1)
	if err := rows.Next(dest); err != nil {
		return 0, err
	}
	switch v := dest[0].(type) {
	case int64:
		return v, nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("unexpected connection id type %T", dest[0])
}

// fixedZones are time zones without daylight saving time: a TIMESTAMP
// read and written back in them is the same instant.
var fixedZone = regexp.MustCompile(`^(?i:[+-]\d\d?:\d\d|utc|gmt|etc/utc|universal|zulu)$`)

// rewriteBlocker says why the table can't be rewritten keeping it and its
// rows identical ("" when it can).
func (e *Engine) rewriteBlocker(ctx context.Context, table string) (string, error) {
	var reasons []sql.NullString
	row := e.db.QueryRowContext(ctx, e.flavor.rewriteBlockerSQL(), e.dbName, table)
	var r [6]sql.NullString
	if err := row.Scan(&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]); err != nil {
		return "", err
	}
	reasons = r[:]
	for _, r := range reasons {
		if r.Valid && r.String != "" {
			return r.String, nil
		}
	}
	// Every stored value must survive the text round trip.
	var bad string
	err := e.each(ctx, `SELECT COLUMN_NAME, DATA_TYPE, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, func(r *sql.Rows) error {
		var col, typ, cs string
		if err := r.Scan(&col, &typ, &cs); err != nil {
			return err
		}
		switch {
		case bad != "":
		case !roundTripTypes[strings.ToLower(typ)]:
			bad = fmt.Sprintf("column %s has type %s, whose values may not survive the client's text form exactly", col, typ)
		case cs != "" && !roundTripCharsets[strings.ToLower(cs)]:
			bad = fmt.Sprintf("column %s has character set %s, whose values may not survive a conversion to utf8mb4 and back", col, cs)
		case strings.EqualFold(typ, "timestamp"):
			var zone, system string
			if err := e.db.QueryRowContext(ctx, "SELECT @@session.time_zone, @@system_time_zone").Scan(&zone, &system); err != nil {
				return err
			}
			if strings.EqualFold(zone, "SYSTEM") {
				zone = system
			}
			if !fixedZone.MatchString(zone) {
				bad = fmt.Sprintf("column %s is a TIMESTAMP and the session time zone %s may have daylight saving time (a repeated hour reads back ambiguously)", col, zone)
			}
		}
		return nil
	}, e.dbName, table)
	return bad, err
}

// rewriteBlockerSQL returns one row of reasons (NULL where a check
// passes), in order of checking; args: schema, table. MySQL 8 names CHECK
// constraints per schema, so CREATE TABLE … LIKE can't copy their names:
// such a table is blocked there. MariaDB's system-versioned tables keep
// their history in the table itself.
func (f Flavor) rewriteBlockerSQL() string {
	check := `NULL`
	versioned := `NULL`
	if f == MySQL8 {
		check = `(SELECT CONCAT('check constraint ', c.CONSTRAINT_NAME, ' has a schema-wide name a copy of the table can''t take')
    FROM information_schema.TABLE_CONSTRAINTS c WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.CONSTRAINT_TYPE = 'CHECK'
    ORDER BY c.CONSTRAINT_NAME LIMIT 1)`
	} else {
		versioned = `CASE WHEN t.TABLE_TYPE = 'SYSTEM VERSIONED' THEN 'system-versioned (its history would be lost)' END`
	}
	return `SELECT
  CASE WHEN t.TABLE_TYPE NOT IN ('BASE TABLE', 'SYSTEM VERSIONED') THEN 'not an ordinary table' END,
  ` + versioned + `,
  CASE WHEN COALESCE(t.ENGINE, '') <> 'InnoDB' THEN CONCAT('storage engine ', COALESCE(t.ENGINE, 'unknown'), ' (only InnoDB tables are rewritten)') END,
  CASE WHEN LOWER(COALESCE(t.CREATE_OPTIONS, '')) LIKE '%partitioned%' THEN 'partitioned' END,
  (SELECT CONCAT('foreign key ', r.CONSTRAINT_NAME, ' of ', r.CONSTRAINT_SCHEMA, '.', r.TABLE_NAME, ' references it')
    FROM information_schema.REFERENTIAL_CONSTRAINTS r
    WHERE r.UNIQUE_CONSTRAINT_SCHEMA = t.TABLE_SCHEMA AND r.REFERENCED_TABLE_NAME = t.TABLE_NAME
    ORDER BY r.CONSTRAINT_SCHEMA, r.TABLE_NAME, r.CONSTRAINT_NAME LIMIT 1),
  ` + check + `
FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?`
}

// ErrIdentity is returned (wrapped) by RewriteTable when the new table's
// SHOW CREATE TABLE differs from the original's.
var ErrIdentity = errors.New("the rewritten table differs from the original in SHOW CREATE TABLE")

// autoIncrement finds the AUTO_INCREMENT table option of SHOW CREATE TABLE.
var autoIncrement = regexp.MustCompile(`\) ENGINE=\S+ (?:.*? )?AUTO_INCREMENT=(\d+)`)

// rewriteSQLMode is the writers' session sql_mode: the session's own
// without NO_ZERO_DATE and NO_ZERO_IN_DATE, with NO_AUTO_VALUE_ON_ZERO.
const rewriteSQLMode = `SET SESSION sql_mode = CONCAT_WS(',', NULLIF(TRIM(BOTH ',' FROM
  REPLACE(REPLACE(CONCAT(',', @@session.sql_mode, ','), ',NO_ZERO_DATE,', ','), ',NO_ZERO_IN_DATE,', ',')), ''), 'NO_AUTO_VALUE_ON_ZERO')`

// RewriteTable masks every row of job.Table by building the masked table
// next to it and swapping it in (see the comment at the top of this
// file). On any error before the swap the new table is dropped and the
// original is unchanged.
func (w *worker) RewriteTable(ctx context.Context, job *mask.TableJob, fns []mask.RowFunc) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if len(fns) == 0 {
		return 0, fmt.Errorf("rewrite %s: no row function", job.Table.Name)
	}
	n, err := w.rewrite(ctx, job, fns)
	if err != nil {
		return n, fmt.Errorf("rewrite %s: %w", job.Table.Name, scrubKeepingContext(err))
	}
	return n, nil
}

// scrubKeepingContext scrubs a server error wrapped as "step: …error"
// keeping the steps' words (Scrub alone returns the server error only).
func scrubKeepingContext(err error) error {
	var me *mysqldrv.MySQLError
	if errors.As(err, &me) {
		if msg, raw := err.Error(), me.Error(); strings.HasSuffix(msg, raw) && !strings.Contains(msg[:len(msg)-len(raw)], "'") {
			return fmt.Errorf("%s%w", msg[:len(msg)-len(raw)], scrub(me))
		}
	}
	return scrub(err)
}

func (w *worker) rewrite(ctx context.Context, job *mask.TableJob, fns []mask.RowFunc) (_ int64, rerr error) {
	e, t := w.e, job.Table
	// Prepare has dropped the table's triggers (Finish creates them again
	// on whatever table then has the name); any still there would move to
	// the old table with the RENAME and be dropped with it.
	var triggers int
	if err := w.conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?`,
		e.dbName, t.Name).Scan(&triggers); err != nil {
		return 0, fmt.Errorf("list triggers: %w", err)
	}
	if triggers > 0 {
		return 0, errors.New("the table has triggers")
	}
	before, err := showCreateTable(ctx, w.conn, t.Name)
	if err != nil {
		return 0, err
	}
	suffix := make([]byte, 6)
	if _, err := rand.Read(suffix); err != nil {
		return 0, err
	}
	newName, oldName := "restage_rw_new_"+hex.EncodeToString(suffix), "restage_rw_old_"+hex.EncodeToString(suffix)

	// The columns written: every stored column (generated ones are
	// computed again, as the UPDATE would leave them).
	var cols []string
	err = e.each(ctx, `SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
		func(r *sql.Rows) error {
			var c, extra string
			if err := r.Scan(&c, &extra); err != nil {
				return err
			}
			if x := strings.ToUpper(extra); !strings.Contains(x, "VIRTUAL GENERATED") && !strings.Contains(x, "STORED GENERATED") {
				cols = append(cols, c)
			}
			return nil
		}, e.dbName, t.Name)
	if err != nil {
		return 0, fmt.Errorf("columns: %w", err)
	}
	colDefs, err := columns(t, cols)
	if err != nil {
		return 0, err
	}
	writeAt := make([]int, len(cols)) // index into job.Write, -1 when unmasked
	for i, c := range cols {
		writeAt[i] = slices.Index(job.Write, c)
	}
	for _, c := range job.Write {
		if !slices.Contains(cols, c) {
			return 0, fmt.Errorf("masked column %s is not a stored column", c)
		}
	}

	if _, err := w.conn.ExecContext(ctx, "CREATE TABLE "+quote(newName)+" LIKE "+quote(t.Name)); err != nil {
		return 0, fmt.Errorf("create the new table: %w", err)
	}
	swapped := false
	var fkAdds []string // the original's foreign keys, once dropped from it
	defer func() {
		if swapped {
			return
		}
		bg := context.WithoutCancel(ctx)
		_, _ = w.conn.ExecContext(bg, "DROP TABLE IF EXISTS "+quote(newName))
		if len(fkAdds) > 0 {
			if _, err := w.conn.ExecContext(bg, "ALTER TABLE "+quote(t.Name)+" "+strings.Join(fkAdds, ", ")); err != nil {
				rerr = errors.Join(rerr, fmt.Errorf("add the foreign keys back to the original (%s): %w", strings.Join(fkAdds, ", "), err))
			}
		}
	}()

	// Secondary B-tree indexes are built after the load, sorted, in their
	// original order (SHOW CREATE TABLE lists them in it); explicitly, so
	// that MariaDB doesn't take an index it created for a foreign key for
	// its own and replace it when the key is added. Without a primary key
	// the unique ones stay: InnoDB may cluster the rows on one.
	hasPK := strings.Contains(before, "\n  PRIMARY KEY (")
	var drops, adds []string
	for _, line := range strings.Split(before, "\n") {
		m := indexLine.FindStringSubmatch(line)
		if m == nil || (!hasPK && m[1] == "UNIQUE KEY") {
			continue
		}
		drops = append(drops, "DROP INDEX "+quote(strings.ReplaceAll(m[2], "``", "`")))
		adds = append(adds, "ADD "+strings.TrimSuffix(strings.TrimSpace(line), ","))
	}
	if len(drops) > 0 {
		if _, err := w.conn.ExecContext(ctx, "ALTER TABLE "+quote(newName)+" "+strings.Join(drops, ", ")); err != nil {
			return 0, fmt.Errorf("defer the new table's indexes: %w", err)
		}
	}
	n, err := w.loadMasked(ctx, job, fns, newName, cols, colDefs, writeAt)
	if err != nil {
		return n, err
	}
	if len(adds) > 0 {
		if _, err := w.conn.ExecContext(ctx, "ALTER TABLE "+quote(newName)+" "+strings.Join(adds, ", ")); err != nil {
			return n, fmt.Errorf("build indexes: %w", err)
		}
	}
	if m := autoIncrement.FindStringSubmatch(before); m != nil {
		if _, err := w.conn.ExecContext(ctx, "ALTER TABLE "+quote(newName)+" AUTO_INCREMENT = "+m[1]); err != nil {
			return n, fmt.Errorf("set AUTO_INCREMENT: %w", err)
		}
	}
	now, err := showCreateTable(ctx, w.conn, t.Name)
	if err != nil {
		return n, err
	}
	if now != before {
		return n, fmt.Errorf("%w (the original changed during the rewrite); the original is unchanged", ErrIdentity)
	}
	fks := ownForeignKeys(before)
	built, err := showCreateTable(ctx, w.conn, newName)
	if err != nil {
		return n, err
	}
	built = strings.Replace(built, "CREATE TABLE "+quote(newName), "CREATE TABLE "+quote(t.Name), 1)
	if d := firstDiff(withoutForeignKeys(before), built); d != "" {
		return n, fmt.Errorf("%w (%s); the original is unchanged", ErrIdentity, d)
	}
	if len(fks) > 0 {
		var fkDrops, moved []string
		for _, fk := range fks {
			fkDrops = append(fkDrops, "DROP FOREIGN KEY "+quote(fk.name))
			moved = append(moved, "ADD "+fk.def)
		}
		if _, err := w.conn.ExecContext(ctx, "ALTER TABLE "+quote(t.Name)+" "+strings.Join(fkDrops, ", ")); err != nil {
			return n, fmt.Errorf("move foreign keys: %w", err)
		}
		fkAdds = moved
		if _, err := w.conn.ExecContext(ctx, "ALTER TABLE "+quote(newName)+" "+strings.Join(moved, ", ")); err != nil {
			return n, fmt.Errorf("move foreign keys: %w", err)
		}
		if built, err = showCreateTable(ctx, w.conn, newName); err != nil {
			return n, err
		}
		built = strings.Replace(built, "CREATE TABLE "+quote(newName), "CREATE TABLE "+quote(t.Name), 1)
		if d := firstDiff(before, built); d != "" {
			return n, fmt.Errorf("%w (%s); the original is unchanged", ErrIdentity, d)
		}
	}
	statsCols, err := w.statsColumns(ctx, t.Name)
	if err != nil {
		return n, err
	}
	if _, err := w.conn.ExecContext(ctx, "RENAME TABLE "+quote(t.Name)+" TO "+quote(oldName)+", "+quote(newName)+" TO "+quote(t.Name)); err != nil {
		return n, fmt.Errorf("swap: %w", err)
	}
	swapped = true
	if _, err := w.conn.ExecContext(ctx, "DROP TABLE "+quote(oldName)); err != nil {
		return n, fmt.Errorf("drop the original (now %s): %w", oldName, err)
	}
	// A RENAME may rename foreign keys whose names follow the server's
	// pattern for the old name: the swapped-in table is checked once more
	// (nothing can be undone now, but the run fails).
	if after, err := showCreateTable(ctx, w.conn, t.Name); err != nil {
		return n, err
	} else if d := firstDiff(before, after); d != "" {
		return n, fmt.Errorf("%w after the swap (%s)", ErrIdentity, d)
	}
	// Value statistics go with the old table; those of the unmasked
	// columns are computed again (Finish refreshes the masked ones).
	var keep []string
	for _, c := range statsCols {
		if !slices.Contains(job.Write, c) {
			keep = append(keep, c)
		}
	}
	if len(keep) > 0 {
		if err := e.analyze(ctx, e.flavor.refreshStatsSQL(t.Name, keep)); err != nil {
			return n, fmt.Errorf("statistics of unmasked columns: %w", err)
		}
	}
	return n, nil
}

// loadMasked reads every row of job.Table on a connection of its own (one
// consistent snapshot) and inserts the masked rows into table from one
// connection per row function, each masking its batches with its own
// function.
func (w *worker) loadMasked(ctx context.Context, job *mask.TableJob, fns []mask.RowFunc, table string, cols []string, colDefs []*schema.Column, writeAt []int) (int64, error) {
	e := w.e
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	reader, err := e.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("open reader: %w", err)
	}
	defer reader.Close()
	conns := []*sql.Conn{w.conn}
	defer func() {
		for _, c := range conns[1:] {
			// Session settings changed: never back to the pool.
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
			c.Close()
		}
	}()
	for len(conns) < len(fns) {
		c, err := e.db.Conn(ctx)
		if err != nil {
			return 0, fmt.Errorf("open writer: %w", err)
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, "SET SESSION foreign_key_checks = 0, unique_checks = 0"); err != nil {
			return 0, fmt.Errorf("open writer: %w", err)
		}
	}
	for _, c := range conns {
		// An explicit 0 in an AUTO_INCREMENT column is a value, not a
		// request for the next one; a zero date the table holds goes back
		// as it is (an UPDATE in place never writes an unmasked column,
		// so NO_ZERO_DATE never sees it there either). Strict mode stays.
		if _, err := c.ExecContext(ctx, rewriteSQLMode); err != nil {
			return 0, fmt.Errorf("session mode: %w", err)
		}
	}

	sel := quoteList("t.", cols)
	if len(job.Read) > 0 {
		sel += ", " + quoteList("t.", job.Read)
	}
	nin := len(job.Read)
	if job.Observed && len(job.Key) > 0 {
		sel += ", " + quoteList("t.", job.Key)
		nin += len(job.Key)
	}
	if _, err := reader.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer reader.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck // read-only

	batches := make(chan [][][]byte, len(fns))
	type result struct {
		n   int64
		err error
	}
	results := make(chan result, len(fns))
	for i, fn := range fns {
		go func() {
			n, err := w.maskBatches(ctx, conns[i], fn, batches, table, cols, colDefs, writeAt, len(job.Write), nin)
			if err != nil {
				cancel(err)
			}
			results <- result{n, err}
		}()
	}
	read, readErr := readBatches(ctx, reader, "SELECT "+sel+" FROM "+quote(job.Table.Name)+" t", len(cols)+nin, batches)
	close(batches)
	var wrote int64
	var errs []error
	for range fns {
		r := <-results
		wrote += r.n
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	if len(errs) > 0 {
		return wrote, errors.Join(errs...)
	}
	if readErr != nil {
		return wrote, fmt.Errorf("read: %w", readErr)
	}
	if read != wrote {
		return wrote, fmt.Errorf("read %d rows, wrote %d", read, wrote)
	}
	return wrote, nil
}

// readBatches streams the query's rows (copied out of the driver's
// buffers, nil for NULL) in batches to out.
func readBatches(ctx context.Context, conn *sql.Conn, q string, width int, out chan<- [][][]byte) (int64, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, width)
	dest := make([]any, width)
	for i := range raw {
		dest[i] = &raw[i]
	}
	var n int64
	var batch [][][]byte
	size := 0
	// The batch's values and row slices are carved out of shared chunks
	// (a few allocations a batch, not one per value); a batch's chunks go
	// with it and are never written again.
	var arena []byte
	var cells [][]byte
	send := func() error {
		select {
		case out <- batch:
			batch, size, arena, cells = nil, 0, nil, nil
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		if len(cells)+width > cap(cells) {
			cells = make([][]byte, 0, width*256)
		}
		row := cells[len(cells) : len(cells)+width : len(cells)+width]
		cells = cells[:len(cells)+width]
		for i, b := range raw {
			if b == nil {
				row[i] = nil // NULL
				continue
			}
			if len(b) == 0 {
				row[i] = []byte{} // '': not NULL
				continue
			}
			if len(arena)+len(b) > cap(arena) {
				arena = make([]byte, 0, max(64<<10, len(b)))
			}
			start := len(arena)
			arena = append(arena, b...)
			row[i] = arena[start:len(arena):len(arena)]
			size += len(b)
		}
		size += rowOverhead(width)
		batch = append(batch, row)
		n++
		if len(batch) == rewriteBatchRows || size >= rewriteBatchBytes {
			if err := send(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if len(batch) > 0 {
		return n, send()
	}
	return n, nil
}

// maskBatches masks the batches it receives with fn and inserts them into
// table over conn with multi-row INSERTs, one transaction per batch (the
// table is new and no one else sees it: a failure drops it whole).
func (w *worker) maskBatches(ctx context.Context, conn *sql.Conn, fn mask.RowFunc, batches <-chan [][][]byte, table string,
	cols []string, colDefs []*schema.Column, writeAt []int, nw, nin int) (int64, error) {
	in := make([]mask.Value, nin)
	out := make([]mask.Value, nw)
	var n int64
	var vals []any
	for batch := range batches {
		vals = vals[:0]
		for _, row := range batch {
			for i, b := range row[len(cols):] {
				in[i] = mask.Value{S: string(b), Null: b == nil}
			}
			clear(out)
			if err := fn(in, out); err != nil {
				return n, err
			}
			for i, b := range row[:len(cols)] {
				if k := writeAt[i]; k >= 0 {
					vals = append(vals, valueArg(colDefs[i], out[k]))
				} else {
					vals = append(vals, argFor(colDefs[i], b, false))
				}
			}
		}
		// One transaction per batch: a commit (a log flush) per batch
		// rather than per statement.
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return n, fmt.Errorf("insert: %w", err)
		}
		if err := w.insertBatches(ctx, tx, table, cols, nil, vals); err != nil {
			_ = tx.Rollback()
			return n, fmt.Errorf("insert: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return n, fmt.Errorf("insert: %w", err)
		}
		n += int64(len(batch))
	}
	return n, nil
}

// foreignKey is a FOREIGN KEY of the table itself, as SHOW CREATE TABLE
// prints it ("CONSTRAINT `x` FOREIGN KEY (...) REFERENCES ...").
type foreignKey struct{ name, def string }

var fkLine = regexp.MustCompile("^\\s*(CONSTRAINT `((?:[^`]|``)+)` FOREIGN KEY .*?),?$")

func ownForeignKeys(create string) []foreignKey {
	var out []foreignKey
	for _, line := range strings.Split(create, "\n") {
		if m := fkLine.FindStringSubmatch(line); m != nil {
			out = append(out, foreignKey{name: strings.ReplaceAll(m[2], "``", "`"), def: m[1]})
		}
	}
	return out
}

// withoutForeignKeys removes the FOREIGN KEY lines of SHOW CREATE TABLE
// (and the comma they leave behind).
func withoutForeignKeys(create string) string {
	var keep []string
	for _, line := range strings.Split(create, "\n") {
		if !fkLine.MatchString(line) {
			keep = append(keep, line)
		}
	}
	for i := len(keep) - 1; i > 0; i-- {
		if strings.HasPrefix(keep[i], ")") {
			keep[i-1] = strings.TrimSuffix(keep[i-1], ",")
			break
		}
	}
	return strings.Join(keep, "\n")
}

func showCreateTable(ctx context.Context, conn *sql.Conn, table string) (string, error) {
	var s string
	if err := conn.QueryRowContext(ctx, "SHOW CREATE TABLE "+quote(table)).Scan(new(string), &s); err != nil {
		return "", fmt.Errorf("show create table: %w", err)
	}
	return s, nil
}

// firstDiff names the first line where two SHOW CREATE TABLE texts differ
// (definitions only, never a value: a DEFAULT clause is schema), "" when
// they are equal.
func firstDiff(a, b string) string {
	if a == b {
		return ""
	}
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %q, new %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "they differ"
}

// statsColumns lists the columns of table that have value statistics.
func (w *worker) statsColumns(ctx context.Context, table string) ([]string, error) {
	rows, err := w.conn.QueryContext(ctx, w.e.flavor.statsColumnsSQL(), w.e.dbName, table)
	if err != nil {
		return nil, fmt.Errorf("columns with statistics: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
