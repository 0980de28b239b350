package mysql

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// StreamUnsupported is the one place that chooses between the two ways
// of filling the new DB on MySQL/MariaDB: it says why the masking copy
// can't copy with this plan ("" when it can). order is the source's
// tables in the order the dump prints them (SHOW TABLES). The dump's
// snapshot is its own, so what needs a read of the source before masking
// (links) takes the plain copy followed by masking in place; so does a
// table that follows another's row-level redraws but comes first in the
// dump (masking in place masks the owner table first), and a rule that
// reads a generated column (mysqldump leaves them out of its INSERTs) or
// a column the dump prints unlike the server.
func StreamUnsupported(plan *mask.Plan, order []string) string {
	if len(plan.Links) > 0 {
		return "the rules link columns (their check reads the source before masking)"
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	for _, tp := range plan.Jobs {
		for _, c := range append(append([]string{}, tp.Job.Read...), tp.Job.Key...) {
			col := tp.Job.Table.Column(c)
			switch {
			case col == nil || col.Generated:
				return "a rule of " + tp.Job.Table.TableName.Name + " reads a generated column"
			case !myDumpsAsServerPrints(col):
				return "a rule of " + tp.Job.Table.TableName.Name + " reads a " + col.DataType + " column (the dump prints it unlike the server)"
			}
		}
		for _, o := range myFollows(plan, tp) {
			po, ok1 := pos[o]
			pt, ok2 := pos[tp.Job.Table.TableName.Name]
			if !ok1 || !ok2 || po > pt {
				return "the dump prints " + tp.Job.Table.TableName.Name + " before " + o + ", whose row-level redraws it follows"
			}
		}
	}
	return ""
}

// myFollows lists the owner tables (mask.TablePlan.Owner) whose
// row-level redraws tp's seeds follow: their rows must be masked first.
func myFollows(plan *mask.Plan, tp *mask.TablePlan) []string {
	if tp.Owner {
		return nil
	}
	var out []string
	for _, o := range plan.Jobs {
		if !o.Owner {
			continue
		}
		k := transform.FoldKey(o.Job.Table.TableName.Name)
		for _, ns := range tp.SeedNamespaces {
			if ns != "" && transform.FoldKey(ns) == k && !slices.Contains(out, o.Job.Table.TableName.Name) {
				out = append(out, o.Job.Table.TableName.Name)
			}
		}
	}
	return out
}

// myDumpsAsServerPrints reports whether mariadb-dump prints col's values
// as the text protocol does (what the rules' transformers see when
// masking in place): not so for FLOAT and DOUBLE (1.5e30 for 1.5e+30) and
// YEAR (0 for 0000), checked in TestMyDumpValuesOnServer.
func myDumpsAsServerPrints(col *schema.Column) bool {
	return col.Kind != schema.KindFloat && !strings.HasPrefix(strings.ToLower(col.DataType), "year")
}

// myWriteHex reports whether a masked value is written to col as a
// hexadecimal literal (its bytes as they are) rather than a string.
func myWriteHex(col *schema.Column) bool {
	return col.Kind == schema.KindBinary || strings.HasPrefix(strings.ToLower(col.DataType), "bit")
}

// StreamPlan is what TransformDump does to each table's rows.
type StreamPlan struct {
	jobs  map[string]*myStreamJob // masked tables, by name
	empty map[string]bool         // truncated tables
	obs   mask.Observer           // nil: no baselines taken
	key   transform.Key
}

// myStreamJob is one masked table.
type myStreamJob struct {
	idx    int // in plan.Jobs (the observers' job index)
	tp     *mask.TablePlan
	bin    []bool // per Write column: binary (written as a hex literal)
	masked map[string]bool
	// referenced are the column lists other tables' foreign keys refer to.
	referenced [][]string
	// follows are the owner tables masked before this one (myFollows).
	follows []string
}

// NewStreamPlan prepares what TransformDump does with plan's tables: the
// masked tables' row functions under key, the truncated tables' rows
// dropped, the foreign keys of sc (nil: none) that keep an index in place.
// obs, when set, sees every masked row's originals (the gates' baselines).
func NewStreamPlan(plan *mask.Plan, sc *schema.Schema, key transform.Key, obs mask.Observer) *StreamPlan {
	sp := &StreamPlan{jobs: map[string]*myStreamJob{}, empty: map[string]bool{}, obs: obs, key: key}
	for _, t := range plan.Truncate {
		sp.empty[t.TableName.Name] = true
	}
	for i, tp := range plan.Jobs {
		j := &myStreamJob{idx: i, tp: tp, masked: map[string]bool{}}
		for _, w := range tp.Job.Write {
			col := tp.Job.Table.Column(w)
			j.bin = append(j.bin, col != nil && myWriteHex(col))
			j.masked[w] = true
		}
		j.follows = myFollows(plan, tp)
		sp.jobs[tp.Job.Table.TableName.Name] = j
	}
	if sc != nil {
		for _, t := range sc.Tables {
			for _, fk := range t.ForeignKeys {
				if j := sp.jobs[fk.RefTable.Name]; j != nil {
					j.referenced = append(j.referenced, fk.RefColumns)
				}
			}
		}
	}
	return sp
}

// StreamResult is what a transformed dump held.
type StreamResult struct {
	Counts map[string]int64 // rows of every table in the dump, truncated ones included
	Masked map[string]mask.TableStats
	// deferred are the indexes built after their table's rows (table.index).
	Deferred []string
}

// mySeg is one piece of the output, in dump order: text ready to write,
// or a data statement being masked (done is closed when out is set).
type mySeg struct {
	out  []byte
	done chan struct{}
	err  error
}

type myWork struct {
	seg *mySeg
	ins *myInsert
	job *myStreamJob
}

var myBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

func myGetBuf() []byte { return (*myBufs.Get().(*[]byte))[:0] }

func myPutBuf(b []byte) {
	if cap(b) <= 16<<20 {
		myBufs.Put(&b)
	}
}

// TransformDump copies a dump from src to dst: text (DDL, SET, trigger
// and routine definitions) through rewrite, as RewriteDump does;
// data statements of truncated tables dropped, of masked tables masked by
// workers goroutines at once and written back in dump order; all others
// unchanged, byte for byte.
func TransformDump(ctx context.Context, dst io.Writer, src io.Reader, rewrite func([]byte) []byte, sp *StreamPlan, workers int) (*StreamResult, error) {
	workers = max(1, min(workers, runtime.GOMAXPROCS(0)))
	res := &StreamResult{Counts: map[string]int64{}, Masked: map[string]mask.TableStats{}}
	var mu sync.Mutex // guards res.Masked and first
	first := map[string]time.Time{}
	order := make(chan *mySeg, 4*workers)
	work := make(chan myWork, 2*workers)
	g, gctx := errgroup.WithContext(ctx)
	send := func(s *mySeg) error {
		select {
		case order <- s:
			return nil
		case <-gctx.Done():
			return context.Cause(gctx)
		}
	}
	g.Go(func() error {
		defer close(order)
		defer close(work)
		d := newMyDumpReader(src)
		text := myGetBuf()
		flush := func() error {
			if len(text) == 0 {
				return nil
			}
			s := &mySeg{out: text}
			text = myGetBuf()
			return send(s)
		}
		buf := myGetBuf()
		// The CREATE TABLE of a masked table being read, and the index
		// builds waiting for their table's rows (myDeferIndexes).
		var creating *myStreamJob
		var create []byte
		pending := map[string][]byte{}
		// Tables whose CREATE TABLE went by (their rows follow it, before
		// the next table's), and the statements of owner tables in work:
		// a table that follows an owner's redraws waits for them.
		created := map[string]bool{}
		var owners []*mySeg
		for {
			t, ins, err := d.next(buf)
			if err == io.EOF {
				myPutBuf(buf)
				if creating != nil {
					return errors.New("read dump: CREATE TABLE cut short")
				}
				names := make([]string, 0, len(pending))
				for n := range pending {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					text = append(text, pending[n]...)
				}
				return flush()
			}
			if err != nil {
				return fmt.Errorf("read dump: %w", err)
			}
			if ins == nil {
				if creating == nil && bytes.HasPrefix(t, myCreateTablePrefix) {
					name, _, ok := myReadIdent(t[len(myCreateTablePrefix)-1:])
					if ok {
						created[name] = true
					}
					if ok && sp.jobs[name] != nil {
						creating, create = sp.jobs[name], append(create[:0], t...)
						continue
					}
				}
				if creating != nil {
					create = append(create, t...)
					if t[0] != ')' {
						continue
					}
					stmt, alter, names := myDeferIndexes(create, creating.tp.Job.Table, creating.masked, creating.referenced)
					if alter != nil {
						n := creating.tp.Job.Table.TableName.Name
						pending[n] = alter
						for _, ix := range names {
							res.Deferred = append(res.Deferred, n+"."+ix)
						}
					}
					creating, t = nil, stmt
				} else if bytes.HasPrefix(t, myEnableKeysPrefix) && bytes.HasSuffix(t, []byte("` ENABLE KEYS */;\n")) {
					if name, _, ok := myReadIdent(t[len(myEnableKeysPrefix)-1:]); ok && pending[name] != nil {
						t = append(append([]byte{}, t...), pending[name]...)
						delete(pending, name)
					}
				}
				if myEventLine(t) {
					t = myEventEnable.ReplaceAll(t, []byte("${1} DISABLE "))
				}
				text = append(text, rewrite(t)...)
				if len(text) >= 256<<10 {
					if err := flush(); err != nil {
						return err
					}
				}
				continue
			}
			res.Counts[ins.table] += ins.rows
			buf = myGetBuf()
			job := sp.jobs[ins.table]
			switch {
			case sp.empty[ins.table]:
				myPutBuf(ins.stmt)
				continue
			case job == nil:
				if err := flush(); err != nil {
					return err
				}
				if err := send(&mySeg{out: ins.stmt}); err != nil {
					return err
				}
				continue
			}
			mu.Lock()
			if _, ok := first[ins.table]; !ok {
				first[ins.table] = time.Now()
			}
			mu.Unlock()
			if err := flush(); err != nil {
				return err
			}
			for _, o := range job.follows {
				if !created[o] {
					return fmt.Errorf("the dump printed %s before %s, whose row-level redraws it follows", ins.table, o)
				}
			}
			if len(job.follows) > 0 {
				for _, o := range owners {
					select {
					case <-o.done:
					case <-gctx.Done():
						return context.Cause(gctx)
					}
				}
				owners = nil
			}
			s := &mySeg{done: make(chan struct{})}
			if job.tp.Owner {
				owners = append(owners, s)
			}
			if err := send(s); err != nil {
				return err
			}
			select {
			case work <- myWork{seg: s, ins: ins, job: job}:
			case <-gctx.Done():
				return context.Cause(gctx)
			}
		}
	})
	for range workers {
		g.Go(func() error {
			m := transform.NewMasker(sp.key)
			fns := map[int]mask.RowFunc{}
			var x myRowMasker
			for w := range work {
				fn := fns[w.job.idx]
				if fn == nil {
					fn = w.job.tp.RowFunc(m)
					fns[w.job.idx] = fn
				}
				var ro mask.RangeObserver
				if sp.obs != nil {
					ro = sp.obs.Range(w.job.idx, m)
				}
				out, err := x.mask(myGetBuf(), w.ins, w.job, fn, ro)
				if err == nil && ro != nil {
					ro.Done()
				}
				myPutBuf(w.ins.stmt)
				w.seg.out, w.seg.err = out, err
				close(w.seg.done)
				if err != nil {
					return fmt.Errorf("mask %s: %w", w.ins.table, err)
				}
				mu.Lock()
				st := res.Masked[w.ins.table]
				st.Rows += w.ins.rows
				st.Duration = time.Since(first[w.ins.table])
				res.Masked[w.ins.table] = st
				mu.Unlock()
			}
			return nil
		})
	}
	g.Go(func() error {
		for s := range order {
			if s.done != nil {
				select {
				case <-s.done:
				case <-gctx.Done():
					return context.Cause(gctx)
				}
				if s.err != nil {
					return s.err
				}
			}
			if _, err := dst.Write(s.out); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			myPutBuf(s.out)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return res, nil
}

var (
	myCreateTablePrefix = []byte("CREATE TABLE `")
	myEnableKeysPrefix  = []byte("/*!40000 ALTER TABLE `")
)

// myEventLine reports whether a line holds an event definition.
func myEventLine(line []byte) bool {
	return strings.Contains(string(line), "/*!50106 EVENT ")
}

// myRowMasker masks the tuples of one data statement; it reuses its
// buffers from one statement to the next (one per worker).
type myRowMasker struct {
	in, out  []mask.Value
	pos      []int // field index of each Read value, then each Key value
	write    []int // field index of each Write column
	byField  []int // the Write columns in field order
	colsSeen string
}

// mask appends ins with every masked column's value replaced by the row
// function's output to dst. ro, when set, sees each row's Read values
// then its Key values before masking.
func (x *myRowMasker) mask(dst []byte, ins *myInsert, job *myStreamJob, fn mask.RowFunc, ro mask.RangeObserver) ([]byte, error) {
	tj := &job.tp.Job
	if err := x.layout(ins, tj, ro != nil); err != nil {
		return nil, err
	}
	stmt := ins.stmt
	dst = append(dst, stmt[:ins.head]...)
	last := ins.head
	var rows int64
	err := myTuples(stmt, ins.head, func(fields []myField, _, _ int) error {
		if len(fields) != len(ins.cols) {
			return fmt.Errorf("a row has %d values for %d columns", len(fields), len(ins.cols))
		}
		rows++
		x.in = x.in[:0]
		for _, p := range x.pos {
			f := fields[p]
			v, err := myDecode(stmt[f.start:f.end])
			if err != nil {
				return err
			}
			x.in = append(x.in, v)
		}
		if ro != nil {
			ro.Row(x.in)
		}
		if err := fn(x.in, x.out); err != nil {
			return err
		}
		for _, k := range x.byField {
			f := fields[x.write[k]]
			dst = append(dst, stmt[last:f.start]...)
			dst = myAppendLiteral(dst, x.out[k], job.bin[k])
			last = f.end
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rows != ins.rows {
		return nil, fmt.Errorf("read %d rows of %d", rows, ins.rows)
	}
	return append(dst, stmt[last:]...), nil
}

// layout finds the Read, Key and Write columns in the statement's column
// list (kept while the list is the same).
func (x *myRowMasker) layout(ins *myInsert, tj *mask.TableJob, keys bool) error {
	sig := ins.table + "\x00" + strings.Join(ins.cols, "\x00")
	if keys {
		sig += "\x00k"
	}
	if sig == x.colsSeen {
		return nil
	}
	x.colsSeen = ""
	at := make(map[string]int, len(ins.cols))
	for i, c := range ins.cols {
		at[c] = i
	}
	find := func(c string) (int, error) {
		i, ok := at[c]
		if !ok {
			return 0, fmt.Errorf("column %q is not in the dump", c)
		}
		return i, nil
	}
	x.pos, x.write = x.pos[:0], x.write[:0]
	need := tj.Read
	if keys {
		need = append(append([]string{}, tj.Read...), tj.Key...)
	}
	for _, c := range need {
		i, err := find(c)
		if err != nil {
			return err
		}
		x.pos = append(x.pos, i)
	}
	for _, c := range tj.Write {
		i, err := find(c)
		if err != nil {
			return err
		}
		x.write = append(x.write, i)
	}
	x.byField = x.byField[:0]
	for k := range x.write {
		x.byField = append(x.byField, k)
	}
	sort.Slice(x.byField, func(a, b int) bool { return x.write[x.byField[a]] < x.write[x.byField[b]] })
	x.out = make([]mask.Value, len(tj.Write))
	x.colsSeen = sig
	return nil
}

// DumpOrder lists the tables of db's database as mariadb-dump prints
// them: in the order of SHOW TABLES.
func DumpOrder(ctx context.Context, db *sql.DB) ([]string, error) {
	return Strings(ctx, db, "SHOW TABLES")
}

// SameTables checks that database name holds the tables and columns of
// sc (read from the source before the dump started): DDL in between
// would copy what no gate checked.
func SameTables(ctx context.Context, db *sql.DB, name string, sc *schema.Schema) error {
	rows, err := db.QueryContext(ctx, `SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
  JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = ? AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`, name)
	if err != nil {
		return fmt.Errorf("read the copy's tables: %w", Scrub(err))
	}
	defer rows.Close()
	got := map[string][]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return fmt.Errorf("read the copy's tables: %w", Scrub(err))
		}
		got[t] = append(got[t], c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the copy's tables: %w", Scrub(err))
	}
	changed := len(got) != len(sc.Tables)
	for _, t := range sc.Tables {
		var names []string
		for _, c := range t.Columns {
			names = append(names, c.Name)
		}
		if strings.Join(got[t.TableName.Name], "\x00") != strings.Join(names, "\x00") {
			changed = true
		}
	}
	if changed {
		return errors.New("the source's tables changed between the drift gate and the copy (DDL on production); run again")
	}
	return nil
}

// CreateDatabaseSQL is the CREATE DATABASE of the copy name with the
// character set and collation of database source, read on src (the dump
// is run with --no-create-db, so it carries neither). Errors are the
// driver's, unscrubbed.
func CreateDatabaseSQL(ctx context.Context, src *sql.DB, source, name string) (string, error) {
	var charset, collation string
	err := src.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", source).Scan(&charset, &collation)
	if err != nil {
		return "", err
	}
	return "CREATE DATABASE " + Quote(name) + " CHARACTER SET " + charset + " COLLATE " + collation, nil
}
