// Package mask turns a rules file and a live schema into a masking plan and
// runs it with a bounded pool of workers, one connection each.
package mask

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// Plan is what a run will do, resolved against the live schema before any
// row is touched.
type Plan struct {
	// Truncate is the closed set of tables to empty, children included.
	Truncate []*schema.Table
	// Jobs are the tables to mask, biggest first.
	Jobs []*TablePlan
	// Notes explain what the plan derived (children following parents).
	Notes []string
	// Links are the rules' links, resolved: the verification gate checks
	// that rows whose linked value equalled the followed one still do.
	Links []Link
	// redraws remembers the entities redrawn at row level in their own
	// table (see redrawRegistry).
	redraws *redrawRegistry
}

// redrawRegistry holds, for every seeded entity redrawn at row level in
// the table its seed identifies (a seed that is the table's primary key),
// the attempt it was drawn with. Tables whose seed identifies a row of
// that table (a foreign key, seed_of, a link) start from the same attempt,
// so Invoice's copy of a customer's e-mail stays the customer's even when
// the customer's row redrew its person because a first name collided.
// Only redrawn entities are held (a collision is rare: about one entity in
// a hundred), and the owner tables are masked first (TablePlan.Owner).
type redrawRegistry struct {
	mu sync.RWMutex
	m  map[string]int
}

func (r *redrawRegistry) get(k string) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[k]
}

func (r *redrawRegistry) set(k string, attempt int) {
	r.mu.Lock()
	r.m[k] = attempt
	r.mu.Unlock()
}

// Link is a resolved rules link: Table.Column follows
// Follows.FollowsColumn, Table.Via referencing Follows.Ref.
type Link struct {
	Table         *schema.Table
	Column        string
	Follows       *schema.Table
	FollowsColumn string
	Via           string
	Ref           string
}

// String names the link's columns (never values).
func (l Link) String() string {
	return fmt.Sprintf("%s.%s follows %s.%s via %s", l.Table.TableName, l.Column, l.Follows.TableName, l.FollowsColumn, l.Via)
}

// TablePlan is the masking of one table.
type TablePlan struct {
	Job TableJob
	// Rules are the rules behind Job.Write, in the same order.
	Rules []*config.ColumnRule
	// FollowsParent is set when the rules come from a parent table.
	FollowsParent *schema.TableName
	// Requested is the rules' strategy for the table (auto when unset).
	Requested config.Strategy
	// Strategy is how Run masks the table (rewrite or update) and
	// StrategyWhy the reason; both set by Run before any row is touched.
	Strategy    config.Strategy
	StrategyWhy string

	funcs    []transform.Func // per Write column; nil for nullify
	seedIdx  [][]int          // per Write column: indexes into Job.Read, nil = value seeds
	seedNS   []string         // per Write column: the seed's namespace ("" = by value)
	nullOnly []bool
	// redraw groups the Write columns of one seeded entity (same seed,
	// same namespace, same transform.Entity): they share their draw, so a
	// collision in one redraws them all (row-level redraw).
	redraw [][]int
	// Owner is set when a redraw group's seed identifies this table's own
	// rows and another table's group refers to them: Run masks such tables
	// first, so the others can start from the attempts they recorded.
	Owner    bool
	redraws  *redrawRegistry
	ownGroup []bool // per redraw group: its namespace is this table
	// SeedNamespaces are, per Write column, the table whose rows its seed
	// identifies ("" when unseeded or keyed by value), and SeedColumns its
	// seed columns in the order they are encoded (transform.SeedFor), for
	// the gate.
	SeedNamespaces []string
	SeedColumns    [][]string
}

// PlanError lists every problem found while checking rules against the
// schema. It never contains a data value.
type PlanError struct {
	Problems []string
}

func (e *PlanError) Error() string {
	return "rules do not fit the database:\n  " + strings.Join(e.Problems, "\n  ")
}

// NewPlan checks rules against the schema and builds the plan. All problems
// are reported at once in a *PlanError.
func NewPlan(rules *config.Rules, s *schema.Schema) (*Plan, error) {
	p := &Plan{}
	var problems []string
	bad := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", rules.Path, line, fmt.Sprintf(format, args...)))
	}

	// Truncation: resolve, add children, require referencing tables.
	truncSet := map[schema.TableName]*schema.Table{}
	var addTrunc func(t *schema.Table, via *schema.Table)
	addTrunc = func(t *schema.Table, via *schema.Table) {
		if _, ok := truncSet[t.TableName]; ok {
			return
		}
		truncSet[t.TableName] = t
		if via != nil {
			p.Notes = append(p.Notes, fmt.Sprintf("truncate %s: follows its parent %s", t.TableName, via.TableName))
		}
		for _, c := range s.Children(t.TableName) {
			addTrunc(c, t)
		}
	}
	truncLine := map[schema.TableName]int{}
	for _, ref := range rules.Truncate {
		t := s.Table(ref.Name)
		if t == nil {
			bad(ref.Line, "truncate: table %q does not exist%s", ref.Name, tableHint(s, ref.Name))
			continue
		}
		truncLine[t.TableName] = ref.Line
		addTrunc(t, nil)
	}
	for _, ref := range rules.Truncate {
		t := s.Table(ref.Name)
		if t == nil {
			continue
		}
		var missing []string
		for _, child := range append([]*schema.Table{t}, s.Children(t.TableName)...) {
			for _, r := range s.ReferencedBy(child.TableName) {
				if _, ok := truncSet[r.TableName]; !ok && !contains(missing, r.TableName.String()) {
					missing = append(missing, r.TableName.String())
				}
			}
		}
		if len(missing) > 0 {
			bad(ref.Line, "truncate: table %s is referenced by %s, which must be truncated too (add them to truncate)", t.TableName, strings.Join(missing, ", "))
		}
	}
	for _, t := range s.Tables {
		if tt, ok := truncSet[t.TableName]; ok {
			p.Truncate = append(p.Truncate, tt)
		}
	}

	// Links: the linked column gets the followed column's rule.
	tables, links := planLinks(rules, s, bad)
	p.Links = links
	for _, l := range links {
		p.Notes = append(p.Notes, fmt.Sprintf("mask %s.%s: follows %s.%s via %s (link: checked by the verification gate)", l.Table.TableName, l.Column, l.Follows.TableName, l.FollowsColumn, l.Via))
	}

	// Masking.
	ruled := map[schema.TableName]bool{}
	for _, tr := range tables {
		if t := s.Table(tr.Name); t != nil {
			ruled[t.TableName] = true
		}
	}
	firstLine := map[schema.TableName]int{}
	for _, tr := range tables {
		t := s.Table(tr.Name)
		if t == nil {
			bad(tr.Line, "table %q does not exist%s", tr.Name, tableHint(s, tr.Name))
			continue
		}
		if l, dup := firstLine[t.TableName]; dup {
			bad(tr.Line, "table %s already has rules at line %d (two spellings of one table)", t.TableName, l)
			continue
		}
		firstLine[t.TableName] = tr.Line
		if _, ok := truncSet[t.TableName]; ok {
			bad(tr.Line, "table %s is truncated (directly or through its parent) and also has column rules", t.TableName)
			continue
		}
		if t.Parent != nil && ruled[*t.Parent] {
			bad(tr.Line, "table %s follows the rules of its parent %s; remove its own rules", t.TableName, t.Parent)
			continue
		}
		tp, errs := planTable(s, t, tr)
		for _, e := range errs {
			bad(e.line, "%s", e.msg)
		}
		if tp == nil {
			continue
		}
		if !t.Partitioned {
			p.Jobs = append(p.Jobs, tp)
		}
		for _, child := range descendants(s, t) {
			if ruled[child.TableName] {
				continue
			}
			ctp, errs := planTable(s, child, tr)
			for _, e := range errs {
				bad(e.line, "%s (partition/child %s)", e.msg, child.TableName)
			}
			if ctp == nil || child.Partitioned {
				continue
			}
			parent := t.TableName
			ctp.FollowsParent = &parent
			p.Jobs = append(p.Jobs, ctp)
			p.Notes = append(p.Notes, fmt.Sprintf("mask %s: follows the rules of its parent %s", child.TableName, t.TableName))
		}
	}
	if len(problems) > 0 {
		return nil, &PlanError{Problems: problems}
	}
	p.redraws = &redrawRegistry{m: map[string]int{}}
	referenced := map[string]bool{}
	for _, j := range p.Jobs {
		j.redraws = p.redraws
		j.ownGroup = make([]bool, len(j.redraw))
		for gi, g := range j.redraw {
			ns := transform.FoldKey(j.seedNS[g[0]])
			if ns == transform.FoldKey(j.Job.Table.Name) {
				j.ownGroup[gi] = true
			} else if ns != "" {
				referenced[ns] = true
			}
		}
	}
	for _, j := range p.Jobs {
		for gi := range j.redraw {
			if j.ownGroup[gi] && referenced[transform.FoldKey(j.Job.Table.Name)] {
				j.Owner = true
			}
		}
	}
	sort.SliceStable(p.Jobs, func(i, j int) bool {
		return p.Jobs[i].Job.Table.EstimatedRows > p.Jobs[j].Job.Table.EstimatedRows
	})
	return p, nil
}

func descendants(s *schema.Schema, t *schema.Table) []*schema.Table {
	var out []*schema.Table
	for _, c := range s.Children(t.TableName) {
		out = append(out, c)
		out = append(out, descendants(s, c)...)
	}
	return out
}

type lineErr struct {
	line int
	msg  string
}

func planTable(s *schema.Schema, t *schema.Table, tr *config.TableRules) (*TablePlan, []lineErr) {
	var errs []lineErr
	tp := &TablePlan{Job: TableJob{Table: t, Key: rowKey(t)}, Requested: tr.Strategy}
	fkCols := map[string]bool{}
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			fkCols[c] = true
		}
	}
	seen := map[string]bool{}
	type seedRef struct {
		rule int
		cols []string
		ns   string
	}
	var seeds []seedRef
	for _, cr := range tr.Columns {
		col := t.Column(cr.Column)
		if col == nil {
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s does not exist%s", t.TableName, cr.Column, columnHint(t, cr.Column))})
			continue
		}
		for _, sc := range cr.Seed {
			if t.Column(sc) == nil {
				errs = append(errs, lineErr{cr.Line, fmt.Sprintf("seed column %s.%s does not exist%s", t.TableName, sc, columnHint(t, sc))})
			}
		}
		ns, seedCols := seedNamespace(s, t, cr)
		if cr.SeedOf != "" && s.Table(cr.SeedOf) == nil {
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s: seed_of: table %q does not exist", t.TableName, cr.Column, cr.SeedOf)})
		}
		if transform.IsKeep(cr.Transformer) {
			continue
		}
		switch {
		case col.Generated:
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s is generated and can't be written", t.TableName, col.Name)})
			continue
		case contains(t.PrimaryKey, col.Name):
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s is part of the primary key; masking it would break row identity and references", t.TableName, col.Name)})
			continue
		case fkCols[col.Name]:
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s is part of a foreign key; masking it would break references", t.TableName, col.Name)})
			continue
		}
		fn, err := cr.Transformer.Bind(transform.Target{Column: col, Unique: t.UniqueColumn(col.Name), Loose: cr.Loose})
		if err != nil {
			errs = append(errs, lineErr{cr.Line, fmt.Sprintf("column %s.%s (%s): %s: %v", t.TableName, col.Name, col.DataType, cr.Name, err)})
			continue
		}
		if seen[col.Name] {
			continue
		}
		seen[col.Name] = true
		tp.Job.Write = append(tp.Job.Write, col.Name)
		tp.Rules = append(tp.Rules, cr)
		tp.funcs = append(tp.funcs, fn)
		tp.nullOnly = append(tp.nullOnly, transform.Nullifies(cr.Transformer))
		seeds = append(seeds, seedRef{len(tp.funcs) - 1, seedCols, ns})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(tp.Job.Write) == 0 {
		return nil, nil
	}
	tp.Job.Read = append([]string(nil), tp.Job.Write...)
	tp.seedIdx = make([][]int, len(tp.funcs))
	tp.seedNS = make([]string, len(tp.funcs))
	tp.SeedNamespaces = tp.seedNS
	tp.SeedColumns = make([][]string, len(tp.funcs))
	groupOf := map[string]int{}
	for _, sr := range seeds {
		if len(sr.cols) == 0 {
			continue
		}
		idx := make([]int, len(sr.cols))
		for i, c := range sr.cols {
			j := indexOf(tp.Job.Read, c)
			if j < 0 {
				tp.Job.Read = append(tp.Job.Read, c)
				j = len(tp.Job.Read) - 1
			}
			idx[i] = j
		}
		tp.seedIdx[sr.rule] = idx
		tp.seedNS[sr.rule] = sr.ns
		tp.SeedColumns[sr.rule] = sr.cols
		if e := transform.Entity(tp.Rules[sr.rule].Transformer); e != "" {
			k := fmt.Sprint(e, "\x00", sr.ns, "\x00", idx)
			g, ok := groupOf[k]
			if !ok {
				g = len(tp.redraw)
				groupOf[k] = g
				tp.redraw = append(tp.redraw, nil)
			}
			tp.redraw[g] = append(tp.redraw[g], sr.rule)
		}
	}
	for _, c := range t.Columns {
		if c.OnUpdate && !contains(tp.Job.Write, c.Name) {
			tp.Job.Pin = append(tp.Job.Pin, c.Name)
		}
	}
	return tp, nil
}

// rowKey picks the columns rows are addressed by: the primary key, else the
// first unique index over NOT NULL columns.
func rowKey(t *schema.Table) []string {
	if len(t.PrimaryKey) > 0 {
		return t.PrimaryKey
	}
	for _, ix := range t.Uniques {
		ok := true
		for _, c := range ix.Columns {
			if col := t.Column(c); col == nil || col.Nullable {
				ok = false
			}
		}
		if ok {
			return ix.Columns
		}
	}
	return nil
}

// ErrValue wraps a transformer failure; it names table and column only.
var ErrValue = errors.New("masking a value failed")

// RowFunc returns the row function for this table bound to one worker's
// Masker. Columns of one seeded entity (see TablePlan.redraw) are drawn
// together: when any of them would equal its original, the entity is
// redrawn for all of them, so the row stays one person and no column
// shows which value collided.
func (tp *TablePlan) RowFunc(m *transform.Masker) RowFunc {
	var seedVals []string
	var seedNulls []bool
	grouped := make([]bool, len(tp.funcs))
	for _, g := range tp.redraw {
		for _, i := range g {
			grouped[i] = true
		}
	}
	input := func(in []Value, i int) transform.Input {
		input := transform.Input{Value: in[i].S}
		if idx := tp.seedIdx[i]; idx != nil {
			seedVals, seedNulls = seedVals[:0], seedNulls[:0]
			for _, j := range idx {
				seedVals = append(seedVals, in[j].S)
				seedNulls = append(seedNulls, in[j].Null)
			}
			input.Seed = transform.SeedFor(tp.seedNS[i], seedVals, seedNulls)
		}
		return input
	}
	fail := func(i int, err error) error {
		return fmt.Errorf("%w: %s.%s (%s): %v", ErrValue, tp.Job.Table.TableName, tp.Job.Write[i], tp.Rules[i].Name, err)
	}
	return func(in, out []Value) error {
		for i, fn := range tp.funcs {
			if tp.nullOnly[i] || in[i].Null {
				out[i] = Value{Null: true}
				continue
			}
			if grouped[i] {
				continue
			}
			s, null, err := fn(m, input(in, i))
			if err != nil {
				return fail(i, err)
			}
			out[i] = Value{S: s, Null: null}
		}
	groups:
		for gi, g := range tp.redraw {
			// The entity's key in the registry: its seed (namespace
			// included) and entity kind.
			var regKey string
			first := 0
			if tp.redraws != nil {
				regKey = string(input(in, g[0]).Seed) + "\x00" + transform.Entity(tp.Rules[g[0]].Transformer)
				if !tp.ownGroup[gi] {
					first = tp.redraws.get(regKey)
				}
			}
			for attempt := first; attempt < first+maxRowAttempts; attempt++ {
				collided := false
				for _, i := range g {
					if tp.nullOnly[i] || in[i].Null {
						out[i] = Value{Null: true}
						continue
					}
					inp := input(in, i)
					inp.Attempt, inp.NoRedraw = attempt, true
					s, null, err := tp.funcs[i](m, inp)
					if errors.Is(err, transform.ErrSameAsOriginal) {
						collided = true
						break
					}
					if err != nil {
						return fail(i, err)
					}
					out[i] = Value{S: s, Null: null}
				}
				if !collided {
					if attempt > 0 && tp.redraws != nil && tp.ownGroup[gi] {
						tp.redraws.set(regKey, attempt)
					}
					continue groups
				}
			}
			return fail(g[0], errors.New("could not draw a person different from the original in every column"))
		}
		return nil
	}
}

// maxRowAttempts bounds row-level redraws.
const maxRowAttempts = 50

// seedNamespace decides what a rule's seed identifies: seed_of names it;
// a seed that is the table's primary key identifies a row of this table;
// one that is a foreign key to a table's primary key identifies a row of
// that table; anything else is keyed by value (""). The seed columns come
// back in the key's order, so a foreign key and the primary key it
// references give the same seed.
func seedNamespace(s *schema.Schema, t *schema.Table, cr *config.ColumnRule) (string, []string) {
	if len(cr.Seed) == 0 {
		return "", nil
	}
	if cr.SeedOf != "" {
		if rt := s.Table(cr.SeedOf); rt != nil {
			return rt.Name, cr.Seed
		}
		return cr.SeedOf, cr.Seed
	}
	if sameSet(cr.Seed, t.PrimaryKey) {
		return t.Name, t.PrimaryKey
	}
	for _, fk := range t.ForeignKeys {
		if !sameSet(cr.Seed, fk.Columns) {
			continue
		}
		rt := s.Lookup(fk.RefTable)
		if rt == nil || !slices.Equal(fk.RefColumns, rt.PrimaryKey) {
			continue
		}
		return rt.Name, fk.Columns
	}
	return "", cr.Seed
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// planLinks resolves the rules' links and returns the table rules with
// each linked column given the followed column's rule (seeded through via
// when the followed rule is seeded by its table's primary key).
func planLinks(rules *config.Rules, s *schema.Schema, bad func(int, string, ...any)) ([]*config.TableRules, []Link) {
	if len(rules.Links) == 0 {
		return rules.Tables, nil
	}
	tables := make([]*config.TableRules, len(rules.Tables))
	for i, tr := range rules.Tables {
		cp := *tr
		cp.Columns = slices.Clone(tr.Columns)
		tables[i] = &cp
	}
	ruleOf := func(t *schema.Table, col string) (*config.TableRules, *config.ColumnRule) {
		for _, tr := range tables {
			if s.Table(tr.Name) != t {
				continue
			}
			for _, cr := range tr.Columns {
				if cr.Column == col {
					return tr, cr
				}
			}
			return tr, nil
		}
		return nil, nil
	}
	var links []Link
	for _, l := range rules.Links {
		ctn, cc, _ := config.SplitColumn(l.Column)
		ftn, fc, _ := config.SplitColumn(l.Follows)
		_, vc, _ := config.SplitColumn(l.Via)
		ct, ft := s.Table(ctn), s.Table(ftn)
		switch {
		case ct == nil:
			bad(l.Line, "link: table %q does not exist", ctn)
			continue
		case ft == nil:
			bad(l.Line, "link: table %q does not exist", ftn)
			continue
		case ct.Column(cc) == nil:
			bad(l.Line, "link: column %s.%s does not exist", ct.TableName, cc)
			continue
		case ft.Column(fc) == nil:
			bad(l.Line, "link: column %s.%s does not exist", ft.TableName, fc)
			continue
		case ct.Column(vc) == nil:
			bad(l.Line, "link: via column %s.%s does not exist", ct.TableName, vc)
			continue
		case ct == ft:
			bad(l.Line, "link: %s and the column it follows are in one table", l.Column)
			continue
		}
		// via references the followed table: its foreign key, else the
		// followed table's one-column primary key.
		ref := ""
		for _, fk := range ct.ForeignKeys {
			if len(fk.Columns) == 1 && fk.Columns[0] == vc && s.Lookup(fk.RefTable) == ft {
				ref = fk.RefColumns[0]
			}
		}
		if ref == "" && len(ft.PrimaryKey) == 1 {
			ref = ft.PrimaryKey[0]
		}
		if ref == "" {
			bad(l.Line, "link: %s.%s is not a foreign key to %s and %s has no one-column primary key", ct.TableName, vc, ft.TableName, ft.TableName)
			continue
		}
		_, fr := ruleOf(ft, fc)
		if fr == nil || transform.IsKeep(fr.Transformer) {
			bad(l.Line, "link: %s.%s, which %s.%s follows, has no masking rule", ft.TableName, fc, ct.TableName, cc)
			continue
		}
		rule := *fr
		rule.Column, rule.Line = cc, l.Line
		if len(fr.Seed) > 0 {
			ns, cols := seedNamespace(s, ft, fr)
			if ns != ft.Name || !slices.Equal(cols, []string{ref}) {
				bad(l.Line, "link: the rule of %s.%s is seeded by other than its table's primary key, which %s.%s cannot follow", ft.TableName, fc, ct.TableName, vc)
				continue
			}
			rule.Seed, rule.SeedOf = []string{vc}, ft.Name
		}
		tr, own := ruleOf(ct, cc)
		switch {
		case own != nil && transform.Signature(own.Transformer) != transform.Signature(fr.Transformer):
			bad(own.Line, "column %s.%s follows %s.%s (link at line %d): remove its own rule, it is masked with the followed column's", ct.TableName, cc, ft.TableName, fc, l.Line)
			continue
		case own != nil:
			tr.Columns[slices.Index(tr.Columns, own)] = &rule
		case tr != nil:
			tr.Columns = append(tr.Columns, &rule)
		default:
			tables = append(tables, &config.TableRules{Name: ctn, Line: l.Line, Columns: []*config.ColumnRule{&rule}})
		}
		links = append(links, Link{Table: ct, Column: cc, Follows: ft, FollowsColumn: fc, Via: vc, Ref: ref})
	}
	return tables, links
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// Describe renders the plan for humans (the printed plan before a run).
func (p *Plan) Describe() string {
	var b strings.Builder
	for _, t := range p.Truncate {
		fmt.Fprintf(&b, "truncate %s\n", t.TableName)
	}
	for _, j := range p.Jobs {
		fmt.Fprintf(&b, "mask     %s (~%d rows)", j.Job.Table.TableName, j.Job.Table.EstimatedRows)
		if j.FollowsParent != nil {
			fmt.Fprintf(&b, " [follows parent %s]", j.FollowsParent)
		}
		b.WriteString(":")
		for i, c := range j.Job.Write {
			fmt.Fprintf(&b, " %s=%s", c, j.Rules[i].Name)
		}
		if len(j.Job.Key) == 0 {
			b.WriteString(" (no key: masked by value mapping)")
		}
		if j.Strategy != "" {
			fmt.Fprintf(&b, " [%s: %s]", j.Strategy, j.StrategyWhy)
		}
		b.WriteString("\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}
