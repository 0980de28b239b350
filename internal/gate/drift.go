// Package gate holds restage's safety gates: the schema-drift gate, which
// refuses to mask a database whose personal-looking columns the rules
// don't cover, and the verification gate, which checks the masked copy.
package gate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
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
	// Suggest is the database's name the rule most likely means ("did you
	// mean"), if any.
	Suggest string `json:"suggest,omitempty"`

	hint string
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
	// styles are the rules' and the database's naming conventions when
	// rules were found spelling names in the other one.
	styles [2]string
	// renames is set when the patch renames names (not only adds rules).
	renames bool
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
			hint := ""
			if s.hint != "" {
				hint = ": " + s.hint
			}
			fmt.Fprintf(&b, "  %s:%d: %s does not exist%s\n", r.path, s.Line, what, hint)
		}
		if r.styles[0] != "" {
			fmt.Fprintf(&b, "  these rules spell names in %s", r.styles[0])
			if e := config.StyleEngine(r.styles[0]); e != "" {
				fmt.Fprintf(&b, ", the way the %s copy of this schema does", e)
			}
			fmt.Fprintf(&b, "; this database spells them in %s: restage check --fix renames them\n", r.styles[1])
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
		what := "adds the suggested rules"
		if r.renames {
			what = "renames the misspelt names and adds the suggested rules"
		}
		fmt.Fprintf(&b, "the rules patch %s: review it, save it as FILE and apply with: %s (or run restage check --fix)\n", what, r.PatchCommand("FILE"))
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
	if len(d.adds) > 0 || !d.renames.empty() {
		path := rules.Path
		if path == "" {
			path = "rules.yaml"
		}
		p, err := patchMake(path, rulesText, s, d.adds, d.renames)
		if err != nil {
			d.rep.patchErr = err.Error()
		} else {
			d.rep.Patch = p
			d.rep.renames = !d.renames.empty()
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
	colName   map[*config.ColumnRule]string // the column a rule means, when spelt otherwise
	renames   patchRenames
	adds      []patchAdd
}

// resolve finds the truncated tables (with their children) and each
// table's own rules, and reports rules naming what doesn't exist. A name
// that is the database's in another case or another naming convention
// (customer for Customer, first_name for FirstName) is reported with what
// it means, and the rules behind it count for that table or column, so
// that the patch renames it instead of adding a second block.
func (d *drifter) resolve() {
	d.truncated = map[schema.TableName]bool{}
	d.colName = map[*config.ColumnRule]string{}
	d.renames = patchRenames{tables: map[string]string{}, columns: map[string]map[string]string{}}
	var tableNames []string
	for _, t := range d.s.Tables {
		tableNames = append(tableNames, d.display(t))
	}
	// lookup resolves a rules file's table name, through a rename when
	// the name is the database's in another spelling.
	lookup := func(name string) (*schema.Table, config.NameSuggestion, bool) {
		if t := d.s.Table(name); t != nil {
			return t, config.NameSuggestion{}, true
		}
		sug, ok := config.SuggestName(name, tableNames)
		if !ok {
			return nil, sug, false
		}
		return d.s.Table(sug.Name), sug, false
	}
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
	listed := map[string]bool{}
	for _, ref := range d.rules.Truncate {
		listed[ref.Name] = true
	}
	for _, ref := range d.rules.Truncate {
		t, sug, exact := lookup(ref.Name)
		if !exact {
			d.stale(DriftStale{Table: ref.Name, Line: ref.Line}, sug)
			if t == nil || listed[sug.Name] || !d.respelt(ref.Name, sug) {
				continue
			}
			d.renames.truncate(ref.Name, sug.Name)
		}
		trunc(t)
	}
	d.own = map[schema.TableName]*config.TableRules{}
	// Blocks naming a table exactly come first: a misspelt block beside
	// a correct one is only reported, never renamed into a duplicate.
	for _, tr := range d.rules.Tables {
		if t := d.s.Table(tr.Name); t != nil {
			if _, dup := d.own[t.TableName]; !dup {
				d.own[t.TableName] = tr
			}
		}
	}
	for _, tr := range d.rules.Tables {
		t, sug, exact := lookup(tr.Name)
		if !exact {
			d.stale(DriftStale{Table: tr.Name, Line: tr.Line}, sug)
			if t == nil || !d.respelt(tr.Name, sug) || d.own[t.TableName] != nil {
				continue
			}
			d.own[t.TableName] = tr
			d.renames.tables[tr.Name] = sug.Name
		} else if d.own[t.TableName] != tr {
			continue
		}
		var colNames []string
		for _, c := range t.Columns {
			colNames = append(colNames, c.Name)
		}
		written := map[string]bool{}
		for _, cr := range tr.Columns {
			written[cr.Column] = true
		}
		for _, cr := range tr.Columns {
			d.colName[cr] = cr.Column
			if t.Column(cr.Column) == nil {
				sug, ok := config.SuggestName(cr.Column, colNames)
				d.stale(DriftStale{Table: tr.Name, Column: cr.Column, Line: cr.Line}, sug)
				if ok && !written[sug.Name] && d.respelt(cr.Column, sug) {
					d.colName[cr] = sug.Name
					d.renames.column(tr.Name, cr.Column, sug.Name)
				}
			}
			for _, sc := range cr.Seed {
				if t.Column(sc) == nil {
					sug, ok := config.SuggestName(sc, colNames)
					d.stale(DriftStale{Table: tr.Name, Column: sc, Line: cr.Line}, sug)
					if ok && d.respelt(sc, sug) {
						d.renames.seed(tr.Name, sc, sug.Name)
					}
				}
			}
		}
	}
}

// respelt reports whether a suggestion is the same name in another case
// or convention (safe to rename), not a guess at a misspelling.
func (d *drifter) respelt(name string, sug config.NameSuggestion) bool {
	return sug.Name != "" && patchFold(name) == patchFold(sug.Name)
}

// stale records a rule naming what the database doesn't have, with what
// it probably meant.
func (d *drifter) stale(s DriftStale, sug config.NameSuggestion) {
	if sug.Name != "" {
		s.Suggest = sug.Name
		s.hint = sug.Hint()
		if sug.RuleStyle != "" {
			d.rep.styles = [2]string{sug.RuleStyle, sug.DBStyle}
		}
	}
	d.rep.Stale = append(d.rep.Stale, s)
}

// patchFold folds a name the way config.SuggestName compares spellings.
func patchFold(s string) string {
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
}

// ruleFor returns the rule covering a column: the table's own, else the
// nearest ancestor's (partitions and inheritance children follow their
// parent). A rule naming the column in another spelling counts.
func (d *drifter) ruleFor(t *schema.Table, column string) (rule *config.ColumnRule, own bool) {
	for cur, first := t, true; cur != nil; first = false {
		if tr := d.own[cur.TableName]; tr != nil {
			for _, cr := range tr.Columns {
				if cr.Column == column || d.colName[cr] == column {
					return cr, first
				}
			}
		}
		if cur.Parent == nil {
			break
		}
		cur = d.s.Lookup(*cur.Parent)
	}
	// A linked column is masked with the rule of the column it follows.
	for _, l := range d.rules.Links {
		ct, cc, _ := config.SplitColumn(l.Column)
		if cc != column || d.s.Table(ct) != t {
			continue
		}
		ft, fc, _ := config.SplitColumn(l.Follows)
		if f := d.s.Table(ft); f != nil && d.own[f.TableName] != nil {
			for _, cr := range d.own[f.TableName].Columns {
				if cr.Column == fc {
					return cr, true
				}
			}
		}
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
	var quasi piiQuasiMatch
	if nameCat == piiNone {
		if q, ok := piiMatchQuasi(col.Name, col.Kind); ok && d.quasiContext(t, q) {
			quasi = q
			reasons = append(reasons, fmt.Sprintf("name looks like %q: a %s, a quasi-identifier that beside this table's personal columns narrows down who a row is about", q.token, q.kind))
		}
	}
	valCat, jp, inText := piiNone, false, false
	switch col.Kind {
	case schema.KindText, schema.KindJSON, schema.KindOther:
		vals, err := d.sampleValues(ctx, t, col)
		if err != nil {
			return nil, nil, err
		}
		mostlyJSON := col.Kind == schema.KindJSON || driftMostlyJSON(vals)
		if mostlyJSON {
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
		} else if col.Kind == schema.KindText && !mostlyJSON {
			// Free text: notes, messages, remarks holding an e-mail
			// address or a phone number somewhere inside.
			var ts piiTextStats
			for _, v := range vals {
				ts.add(v)
			}
			if ts.flagged() {
				inText = true
				jp = ts.jp*2 >= ts.hits
				reasons = append(reasons, ts.reason())
			}
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
	if nameCat == piiNone && valCat == piiNone && !inText && quasi.kind == piiQuasiNone {
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
	var sug string
	switch {
	case cat != piiNone:
		// A person's name and e-mail in a table about people follow the
		// row's key, so that the patched rules keep them one person.
		var seed []string
		if (cat == piiName || cat == piiEmail) && piiPersonTable(t.Name) {
			seed = t.PrimaryKey
		}
		sug = driftSuggestSeeded(cat, nm, jp, target, d.rules.Locale, seed)
	case inText:
		sug = driftSuggestText(jp, target, d.rules.Locale)
	default:
		sug = driftSuggestQuasi(quasi, target, d.rules.Locale)
	}
	f := DriftFinding{Table: d.display(t), Column: col.Name, Reasons: reasons, Suggest: sug}
	var add *patchAdd
	if sug != "" {
		add = &patchAdd{table: t.TableName, column: col.Name, rule: sug, comment: strings.Join(reasons, "; ")}
	}
	return []DriftFinding{f}, add, nil
}

// quasiContext reports whether a quasi-identifier matters in this table:
// the table is about people or holds personal columns (a name, an e-mail,
// a phone number, an address, a birth date). A "state" counts only beside
// an address or a city: elsewhere it is an order's or a job's state.
func (d *drifter) quasiContext(t *schema.Table, q piiQuasiMatch) bool {
	personal, address := piiPersonTable(t.Name), false
	for _, c := range t.Columns {
		if m, ok := piiMatchName(c.Name, piiPersonTable(t.Name)); ok {
			switch m.cat {
			case piiName, piiEmail, piiPhone, piiBirth, piiGovID:
				personal = true
			case piiAddress, piiZip:
				personal, address = true, true
			}
		}
		if o, ok := piiMatchQuasi(c.Name, c.Kind); ok && o.kind == piiQuasiCity {
			address = true
		}
	}
	if piiQuasiNeedsAddress(q) {
		return address
	}
	return personal
}

// driftSampleRanges is how many key ranges a sample is spread over.
const driftSampleRanges = 8

// sampleValues reads up to d.sample non-NULL, non-blank values of the
// column, from the table and (for a parent) its partitions/children.
func (d *drifter) sampleValues(ctx context.Context, t *schema.Table, col *schema.Column) ([]string, error) {
	var out []string
	tables := append([]*schema.Table{t}, driftDescendants(d.s, t)...)
	for _, src := range tables {
		if len(out) >= d.sample {
			break
		}
		if src.Partitioned || src.Column(col.Name) == nil {
			continue
		}
		var err error
		if out, err = d.sampleTable(ctx, src, col, out, d.sample-len(out)); err != nil {
			return nil, fmt.Errorf("sample %s.%s: %w", src.TableName, col.Name, err)
		}
	}
	return out, nil
}

// sampleTable appends up to n values of one table's column to out, read
// across the whole table rather than from its first rows (where a column
// added last year is empty, or holds only the oldest, cleanest data): over
// driftSampleRanges ranges of an integer primary key (index range scans on
// both engines), else with TABLESAMPLE on PostgreSQL; a table with neither
// (MySQL without an integer key) is read from the start.
func (d *drifter) sampleTable(ctx context.Context, src *schema.Table, col *schema.Column, out []string, n int) ([]string, error) {
	q := d.rd.QuoteIdent(col.Name)
	where := q + " IS NOT NULL"
	if col.Kind == schema.KindText {
		where += " AND " + q + " <> ''"
	}
	collect := func(row []mask.Value) error {
		if len(row) == 1 && !row[0].Null && strings.TrimSpace(row[0].S) != "" {
			out = append(out, row[0].S)
		}
		return nil
	}
	from := d.rd.From(src.TableName)
	if ranges, key, err := d.keyRanges(ctx, src); err != nil {
		return nil, err
	} else if ranges != nil {
		per := (n + len(ranges) - 1) / len(ranges)
		k := d.rd.QuoteIdent(key)
		for _, r := range ranges {
			query := fmt.Sprintf("SELECT %s FROM %s WHERE %s AND %s >= %d AND %s <= %d ORDER BY %s LIMIT %d",
				d.rd.Text(q), from, where, k, r[0], k, r[1], k, per)
			if err := d.rd.Query(ctx, query, collect); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	pct := min(100, 100*float64(driftSampleOver*n)/float64(max(1, src.EstimatedRows)))
	if sample := d.rd.TableSample(pct); sample != "" && src.EstimatedRows > int64(driftSampleOver*n) {
		// Page sampling (where the engine has it) is cheap and spread over
		// the table, but it returns pages in order, so a LIMIT would keep
		// the first pages only: aim at driftSampleOver times the values
		// wanted (enough pages for a steady share), and keep n of them
		// with a reservoir, seeded the same every time.
		res := driftReservoir{n: n, r: rand.New(rand.NewPCG(1, 2))}
		query := fmt.Sprintf("SELECT %s FROM %s %s WHERE %s LIMIT %d",
			d.rd.Text(q), from, sample, where, 2*driftSampleOver*n)
		err := d.rd.Query(ctx, query, func(row []mask.Value) error {
			if len(row) == 1 && !row[0].Null && strings.TrimSpace(row[0].S) != "" {
				res.add(row[0].S)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(res.vals) >= n/2 {
			return append(out, res.vals...), nil
		}
		// Too few sampled pages held values: read from the start.
	}
	query := fmt.Sprintf("SELECT %s FROM %s WHERE %s LIMIT %d", d.rd.Text(q), from, where, n)
	if err := d.rd.Query(ctx, query, collect); err != nil {
		return nil, err
	}
	return out, nil
}

// driftSampleOver is how many rows per wanted value page sampling aims at.
const driftSampleOver = 20

// driftReservoir keeps a uniform sample of n of the values added
// (Algorithm R), holding no more than n.
type driftReservoir struct {
	n, seen int
	vals    []string
	r       *rand.Rand
}

func (res *driftReservoir) add(v string) {
	res.seen++
	if len(res.vals) < res.n {
		res.vals = append(res.vals, v)
		return
	}
	if j := res.r.IntN(res.seen); j < res.n {
		res.vals[j] = v
	}
}

// keyRanges splits a table with a one-column integer primary key into
// driftSampleRanges contiguous key ranges [lo, hi]; nil when the table has
// no such key or too few key values to split.
func (d *drifter) keyRanges(ctx context.Context, t *schema.Table) ([][2]int64, string, error) {
	if len(t.PrimaryKey) != 1 {
		return nil, "", nil
	}
	key := t.PrimaryKey[0]
	if c := t.Column(key); c == nil || c.Kind != schema.KindInt {
		return nil, "", nil
	}
	k := d.rd.QuoteIdent(key)
	var lo, hi int64
	var ok bool
	query := fmt.Sprintf("SELECT %s, %s FROM %s", d.rd.Text("MIN("+k+")"), d.rd.Text("MAX("+k+")"), d.rd.From(t.TableName))
	err := d.rd.Query(ctx, query, func(row []mask.Value) error {
		if len(row) != 2 || row[0].Null || row[1].Null {
			return nil
		}
		var e1, e2 error
		lo, e1 = strconv.ParseInt(row[0].S, 10, 64)
		hi, e2 = strconv.ParseInt(row[1].S, 10, 64)
		ok = e1 == nil && e2 == nil
		return nil
	})
	if err != nil || !ok {
		return nil, "", err
	}
	span := uint64(hi) - uint64(lo)
	if hi < lo || span < driftSampleRanges || span > 1<<62 {
		return nil, "", nil
	}
	step := span / driftSampleRanges
	out := make([][2]int64, driftSampleRanges)
	for i := range out {
		a := lo + int64(step*uint64(i))
		b := a + int64(step) - 1
		if i == len(out)-1 {
			b = hi
		}
		out[i] = [2]int64{a, b}
	}
	return out, key, nil
}

func driftDescendants(s *schema.Schema, t *schema.Table) []*schema.Table {
	var out []*schema.Table
	for _, c := range s.Children(t.TableName) {
		out = append(out, c)
		out = append(out, driftDescendants(s, c)...)
	}
	return out
}
