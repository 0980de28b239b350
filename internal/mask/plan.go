// Package mask turns a rules file and a live schema into a masking plan and
// runs it with a bounded pool of workers, one connection each.
package mask

import (
	"errors"
	"fmt"
	"sort"
	"strings"

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
}

// TablePlan is the masking of one table.
type TablePlan struct {
	Job TableJob
	// Rules are the rules behind Job.Write, in the same order.
	Rules []*config.ColumnRule
	// FollowsParent is set when the rules come from a parent table.
	FollowsParent *schema.TableName

	funcs    []transform.Func // per Write column; nil for nullify
	seedIdx  [][]int          // per Write column: indexes into Job.Read, nil = value seeds
	nullOnly []bool
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

	// Masking.
	ruled := map[schema.TableName]bool{}
	for _, tr := range rules.Tables {
		if t := s.Table(tr.Name); t != nil {
			ruled[t.TableName] = true
		}
	}
	firstLine := map[schema.TableName]int{}
	for _, tr := range rules.Tables {
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
		tp, errs := planTable(t, tr)
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
			ctp, errs := planTable(child, tr)
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

func planTable(t *schema.Table, tr *config.TableRules) (*TablePlan, []lineErr) {
	var errs []lineErr
	tp := &TablePlan{Job: TableJob{Table: t, Key: rowKey(t)}}
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
		fn, err := cr.Transformer.Bind(transform.Target{Column: col, Unique: t.UniqueColumn(col.Name)})
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
		seeds = append(seeds, seedRef{len(tp.funcs) - 1, cr.Seed})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(tp.Job.Write) == 0 {
		return nil, nil
	}
	tp.Job.Read = append([]string(nil), tp.Job.Write...)
	tp.seedIdx = make([][]int, len(tp.funcs))
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
// Masker.
func (tp *TablePlan) RowFunc(m *transform.Masker) RowFunc {
	var seedVals []string
	var seedNulls []bool
	return func(in, out []Value) error {
		for i, fn := range tp.funcs {
			if tp.nullOnly[i] || in[i].Null {
				out[i] = Value{Null: true}
				continue
			}
			input := transform.Input{Value: in[i].S}
			if idx := tp.seedIdx[i]; idx != nil {
				seedVals, seedNulls = seedVals[:0], seedNulls[:0]
				for _, j := range idx {
					seedVals = append(seedVals, in[j].S)
					seedNulls = append(seedNulls, in[j].Null)
				}
				input.Seed = transform.SeedOf(seedVals, seedNulls)
			}
			s, null, err := fn(m, input)
			if err != nil {
				return fmt.Errorf("%w: %s.%s (%s): %v", ErrValue, tp.Job.Table.TableName, tp.Job.Write[i], tp.Rules[i].Name, err)
			}
			out[i] = Value{S: s, Null: null}
		}
		return nil
	}
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
		b.WriteString("\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}
