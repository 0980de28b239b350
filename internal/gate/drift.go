// Package gate holds restage's safety gates: the schema-drift gate, which
// refuses to mask a database whose personal-looking columns the rules
// don't cover, and the verification gate, which checks the masked copy.
package gate

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// DriftDefaultSampleRows is the number of non-NULL, non-blank values read
// per column when DriftOptions.SampleRows is 0.
const DriftDefaultSampleRows = 200

// DriftOptions tune the drift gate.
type DriftOptions struct {
	// SampleRows is how many values per column are read to recognise
	// personal data by content; 0 means DriftDefaultSampleRows.
	SampleRows int
}

// DriftFinding is one column (or JSON path inside a column) that looks like
// personal data and that no rule covers.
type DriftFinding struct {
	Table string `json:"table"`
	// Column is "col", or for a path inside a JSON document "col $.path".
	Column string `json:"column"`
	// Reasons say why it looks personal; they never hold a value.
	Reasons []string `json:"reasons"`
	// Suggest is the suggested rule as a YAML flow value ("phone",
	// "{transformer: hash, length: 20}"), checked against the column; ""
	// when no transformer fits and the column needs a decision by hand.
	Suggest string `json:"suggest,omitempty"`
}

// DriftStale is a rule that names a table or column the database doesn't
// have. Column is "" for a whole table.
type DriftStale struct {
	Table  string `json:"table"`
	Column string `json:"column,omitempty"`
	Line   int    `json:"line"`
}

// DriftKept is a column the rules keep on purpose.
type DriftKept struct {
	Table  string `json:"table"`
	Column string `json:"column"`
	Reason string `json:"reason,omitempty"`
}

// DriftReport is the drift gate's verdict. It never holds a data value.
type DriftReport struct {
	Unclassified []DriftFinding `json:"unclassified"`
	Stale        []DriftStale   `json:"stale"`
	Kept         []DriftKept    `json:"kept"`
	// Covered counts the columns masked by a rule (their own table's or a
	// parent's) or emptied with a truncated table.
	Covered int `json:"covered"`
	// Patch is a unified diff against the rules file adding the suggested
	// rule of every unclassified column; "" when there is none.
	Patch string `json:"patch,omitempty"`

	path     string // the rules file, for messages
	patchErr string // why no patch could be made, if so
}

// OK reports whether the gate passes: nothing unclassified, nothing stale.
func (r *DriftReport) OK() bool { return len(r.Unclassified) == 0 && len(r.Stale) == 0 }

// Summary renders the report for people: the verdict, every unclassified
// column with its reasons and suggestion, every stale rule, the kept
// columns, and how to apply the patch.
func (r *DriftReport) Summary() string {
	var b strings.Builder
	verdict := "passed"
	if !r.OK() {
		verdict = "REFUSED"
	}
	fmt.Fprintf(&b, "drift gate %s: %d unclassified, %d stale, %d kept, %d covered\n",
		verdict, len(r.Unclassified), len(r.Stale), len(r.Kept), r.Covered)
	if len(r.Unclassified) > 0 {
		b.WriteString("columns that look personal but have no rule:\n")
		for _, f := range r.Unclassified {
			fmt.Fprintf(&b, "  %s.%s: %s\n", f.Table, f.Column, strings.Join(f.Reasons, "; "))
			if f.Suggest != "" {
				fmt.Fprintf(&b, "      suggest: %s\n", f.Suggest)
			} else {
				b.WriteString("      no transformer fits this column: add a rule by hand (or keep it, with a reason)\n")
			}
		}
	}
	if len(r.Stale) > 0 {
		b.WriteString("rules naming what the database doesn't have (remove or fix them):\n")
		for _, s := range r.Stale {
			what := "table " + s.Table
			if s.Column != "" {
				what = "column " + s.Table + "." + s.Column
			}
			fmt.Fprintf(&b, "  %s:%d: %s does not exist\n", r.path, s.Line, what)
		}
	}
	if len(r.Kept) > 0 {
		b.WriteString("kept on purpose:\n")
		for _, k := range r.Kept {
			reason := k.Reason
			if reason == "" {
				reason = "(no reason given)"
			}
			fmt.Fprintf(&b, "  %s.%s: %s\n", k.Table, k.Column, reason)
		}
	}
	switch {
	case r.Patch != "":
		apply := "patch -p0 < FILE"
		if filepath.IsAbs(r.path) {
			apply = "patch " + r.path + " < FILE"
		}
		fmt.Fprintf(&b, "the rules patch adds the suggested rules: review it, save it as FILE and apply with: %s (or run restage check --fix)\n", apply)
	case r.patchErr != "":
		fmt.Fprintf(&b, "no rules patch: %s\n", r.patchErr)
	}
	return b.String()
}

// Drift checks that every column of every table is masked, kept, truncated,
// covered through its parent's rules, or doesn't look personal. It reads
// up to opt.SampleRows values of each unmentioned text, JSON and date
// column through rd (read-only). Rules naming missing tables or columns
// are reported as stale; whether the rules fit the columns otherwise is
// mask.NewPlan's business. rulesText is the rules file as read, which the
// patch is made against. Errors never hold a value.
func Drift(ctx context.Context, rd mask.Reader, s *schema.Schema, rules *config.Rules, rulesText []byte, opt DriftOptions) (*DriftReport, error) {
	n := opt.SampleRows
	if n <= 0 {
		n = DriftDefaultSampleRows
	}
	d := &drifter{rd: rd, s: s, rules: rules, sample: n, now: time.Now(),
		rep: &DriftReport{path: rules.Path, Unclassified: []DriftFinding{}, Stale: []DriftStale{}, Kept: []DriftKept{}}}
	d.resolve()
	for _, t := range s.Tables {
		if err := d.table(ctx, t); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(d.rep.Stale, func(i, j int) bool { return d.rep.Stale[i].Line < d.rep.Stale[j].Line })
	if len(d.adds) > 0 {
		path := rules.Path
		if path == "" {
			path = "rules.yaml"
		}
		p, err := patchMake(path, rulesText, s, d.adds)
		if err != nil {
			d.rep.patchErr = err.Error()
		} else {
			d.rep.Patch = p
		}
	}
	return d.rep, nil
}

// drifter is one run of the drift gate.
type drifter struct {
	rd     mask.Reader
	s      *schema.Schema
	rules  *config.Rules
	sample int
	now    time.Time
	rep    *DriftReport

	truncated map[schema.TableName]bool
	own       map[schema.TableName]*config.TableRules
	adds      []patchAdd
}

// resolve finds the truncated tables (with their children) and each
// table's own rules, and reports rules naming what doesn't exist.
func (d *drifter) resolve() {
	d.truncated = map[schema.TableName]bool{}
	var trunc func(t *schema.Table)
	trunc = func(t *schema.Table) {
		if d.truncated[t.TableName] {
			return
		}
		d.truncated[t.TableName] = true
		for _, c := range d.s.Children(t.TableName) {
			trunc(c)
		}
	}
	for _, ref := range d.rules.Truncate {
		t := d.s.Table(ref.Name)
		if t == nil {
			d.rep.Stale = append(d.rep.Stale, DriftStale{Table: ref.Name, Line: ref.Line})
			continue
		}
		trunc(t)
	}
	d.own = map[schema.TableName]*config.TableRules{}
	for _, tr := range d.rules.Tables {
		t := d.s.Table(tr.Name)
		if t == nil {
			d.rep.Stale = append(d.rep.Stale, DriftStale{Table: tr.Name, Line: tr.Line})
			continue
		}
		if _, dup := d.own[t.TableName]; !dup {
			d.own[t.TableName] = tr
		}
		for _, cr := range tr.Columns {
			if t.Column(cr.Column) == nil {
				d.rep.Stale = append(d.rep.Stale, DriftStale{Table: tr.Name, Column: cr.Column, Line: cr.Line})
			}
			for _, sc := range cr.Seed {
				if t.Column(sc) == nil {
					d.rep.Stale = append(d.rep.Stale, DriftStale{Table: tr.Name, Column: sc, Line: cr.Line})
				}
			}
		}
	}
}

// ruleFor returns the rule covering a column: the table's own, else the
// nearest ancestor's (partitions and inheritance children follow their
// parent).
func (d *drifter) ruleFor(t *schema.Table, column string) (rule *config.ColumnRule, own bool) {
	for cur, first := t, true; cur != nil; first = false {
		if tr := d.own[cur.TableName]; tr != nil {
			for _, cr := range tr.Columns {
				if cr.Column == column {
					return cr, first
				}
			}
		}
		if cur.Parent == nil {
			break
		}
		cur = d.s.Lookup(*cur.Parent)
	}
	return nil, false
}

func (d *drifter) table(ctx context.Context, t *schema.Table) error {
	if d.truncated[t.TableName] {
		d.rep.Covered += len(t.Columns)
		return nil
	}
	var parent *schema.Table
	if t.Parent != nil {
		parent = d.s.Lookup(*t.Parent)
	}
	keyCols := map[string]bool{}
	for _, c := range t.PrimaryKey {
		keyCols[c] = true
	}
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			keyCols[c] = true
		}
	}
	for _, col := range t.Columns {
		if cr, own := d.ruleFor(t, col.Name); cr != nil {
			switch {
			case !transform.IsKeep(cr.Transformer):
				d.rep.Covered++
			case own:
				d.rep.Kept = append(d.rep.Kept, DriftKept{Table: d.display(t), Column: col.Name, Reason: cr.Reason})
			}
			continue
		}
		// A child's column that its parent has too is judged once, on the
		// parent (with the children's rows sampled): a rule for it belongs
		// to the parent.
		if parent != nil && parent.Column(col.Name) != nil {
			continue
		}
		// Keys are identifiers, and the planner refuses to mask them;
		// generated columns are derived from others, which are judged.
		if keyCols[col.Name] || col.Generated {
			continue
		}
		fs, add, err := d.column(ctx, t, col)
		if err != nil {
			return err
		}
		d.rep.Unclassified = append(d.rep.Unclassified, fs...)
		if add != nil {
			d.adds = append(d.adds, *add)
		}
	}
	return nil
}

// display is the table's name as a rules file spells it.
func (d *drifter) display(t *schema.Table) string {
	if t.Schema == "" || t.Schema == d.s.DefaultSchema {
		return t.Name
	}
	return t.TableName.String()
}

// column judges one unmentioned column: by name, then by sampled values.
func (d *drifter) column(ctx context.Context, t *schema.Table, col *schema.Column) ([]DriftFinding, *patchAdd, error) {
	var reasons []string
	nameCat := piiNone
	nm, ok := piiMatchName(col.Name, piiPersonTable(t.Name))
	if ok && piiNameKindOK(col.Kind, nm.cat) {
		nameCat = nm.cat
		reasons = append(reasons, fmt.Sprintf("name looks like %q (%s)", nm.token, nm.cat))
	}
	if nameCat == piiNone && col.Kind == schema.KindOther && piiSpatialType(col.DataType) {
		nameCat = piiGeo
		reasons = append(reasons, fmt.Sprintf("type %s holds coordinates (a location)", col.DataType))
	}
	valCat, jp := piiNone, false
	switch col.Kind {
	case schema.KindText, schema.KindJSON, schema.KindOther:
		vals, err := d.sampleValues(ctx, t, col)
		if err != nil {
			return nil, nil, err
		}
		if col.Kind == schema.KindJSON || driftMostlyJSON(vals) {
			if fs, add := d.jsonColumn(t, col, vals); len(fs) > 0 {
				return fs, add, nil
			}
		}
		var st piiValueStats
		for _, v := range vals {
			st.add(v)
		}
		if c, k := st.best(); c != piiNone {
			valCat = c
			jp = st.jp*2 > k
			reasons = append(reasons, fmt.Sprintf("%d of %d sampled values look like %s", k, st.n, piiValueWhat[c]))
		}
	case schema.KindDate:
		if nameCat == piiNone && piiBirthName(col.Name) {
			vals, err := d.sampleValues(ctx, t, col)
			if err != nil {
				return nil, nil, err
			}
			var bs piiBirthStats
			for _, v := range vals {
				bs.add(v, d.now)
			}
			if bs.looksLikeBirth() {
				valCat = piiBirth
				reasons = append(reasons, fmt.Sprintf("%d of %d sampled dates fall between 1900 and ten years ago, over %d different years (dates of birth?)", bs.inRange, bs.n, len(bs.years)))
			}
		}
	}
	if nameCat == piiNone && valCat == piiNone {
		return nil, nil, nil
	}
	cat := valCat
	if cat == piiNone {
		cat = nameCat
	}
	if nameCat == piiName && (valCat == piiNone || valCat == piiName) {
		cat = piiName
	}
	target := transform.Target{Column: col, Unique: t.UniqueColumn(col.Name)}
	sug := driftSuggest(cat, nm, jp, target, d.rules.Locale)
	f := DriftFinding{Table: d.display(t), Column: col.Name, Reasons: reasons, Suggest: sug}
	var add *patchAdd
	if sug != "" {
		add = &patchAdd{table: t.TableName, column: col.Name, rule: sug, comment: strings.Join(reasons, "; ")}
	}
	return []DriftFinding{f}, add, nil
}

// sampleValues reads up to d.sample non-NULL, non-blank values of the
// column, from the table and (for a parent) its partitions/children.
func (d *drifter) sampleValues(ctx context.Context, t *schema.Table, col *schema.Column) ([]string, error) {
	var out []string
	tables := append([]*schema.Table{t}, driftDescendants(d.s, t)...)
	q := d.rd.QuoteIdent(col.Name)
	for _, src := range tables {
		if len(out) >= d.sample {
			break
		}
		if src.Partitioned || src.Column(col.Name) == nil {
			continue
		}
		where := q + " IS NOT NULL"
		if col.Kind == schema.KindText {
			where += " AND " + q + " <> ''"
		}
		query := fmt.Sprintf("SELECT %s FROM %s WHERE %s LIMIT %d", d.rd.Text(q), d.rd.From(src.TableName), where, d.sample-len(out))
		err := d.rd.Query(ctx, query, func(row []mask.Value) error {
			if len(row) == 1 && !row[0].Null && strings.TrimSpace(row[0].S) != "" {
				out = append(out, row[0].S)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sample %s.%s: %w", src.TableName, col.Name, err)
		}
	}
	return out, nil
}

func driftDescendants(s *schema.Schema, t *schema.Table) []*schema.Table {
	var out []*schema.Table
	for _, c := range s.Children(t.TableName) {
		out = append(out, c)
		out = append(out, driftDescendants(s, c)...)
	}
	return out
}
