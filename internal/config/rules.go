package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/restage/restage/internal/transform"
)

// RulesVersion is the only rules-file format version this build reads.
const RulesVersion = 1

// DefaultLocale is the locale fakes use when the rules file names none.
const DefaultLocale = "en"

// Locales are the values the file-level locale accepts.
var Locales = []string{"en", "ja"}

// Rules is one parsed and validated rules file: how to mask one database.
// Names are as written; resolving them against the live schema (default
// schema, partitions, column existence and types) is the planner's job.
type Rules struct {
	Path     string
	Version  int
	Locale   string // file-level default for fakes; DefaultLocale when unset
	Truncate []TableRef
	Tables   []*TableRules // in file order
	// PostMaskSQL runs on the new DB after masking and before
	// verification (e.g. neutralise webhooks or API keys stored in
	// tables), in file order.
	PostMaskSQL []Statement
	// Links declare columns that repeat another table's column through a
	// foreign key (orders.customer_email follows users.email via
	// orders.user_id): the linked column is masked with the followed
	// column's rule and the verification gate checks that rows which
	// matched before still match. A check, never a copy.
	Links []Link
}

// Link is one entry of links: Column follows Follows through Via, each
// "table.column" (or "schema.table.column"); Via is a column of Column's
// table.
type Link struct {
	Column, Follows, Via string
	Line                 int
}

// Statement is one post-mask SQL statement with its line.
type Statement struct {
	SQL  string
	Line int
}

// TableRef names a table, with the line it was named on.
type TableRef struct {
	Name string
	Line int
}

// TableRules are the column rules of one table.
type TableRules struct {
	Name    string // "name" or "schema.name"
	Line    int
	Columns []*ColumnRule // in file order
	// Strategy is how the table is masked: StrategyAuto (the planner
	// chooses from statistics), StrategyRewrite or StrategyUpdate.
	Strategy Strategy
	// StrategyLine is the line of the strategy key (0 when unset).
	StrategyLine int
}

// Strategy is how a table's masked rows reach the copy.
type Strategy string

const (
	// StrategyAuto lets the planner choose from the table's statistics.
	StrategyAuto Strategy = ""
	// StrategyRewrite writes the table anew (no dead row versions) where
	// the engine can keep everything about it identical.
	StrategyRewrite Strategy = "rewrite"
	// StrategyUpdate updates the masked rows in place.
	StrategyUpdate Strategy = "update"
)

// ColumnRule is the rule for one column.
type ColumnRule struct {
	Column      string
	Line        int
	Transformer transform.Transformer
	Name        string   // transformer name; "keep" for keep
	Seed        []string // columns of the same row whose values seed the fake; nil when unseeded
	Reason      string   // why the column is kept, if the file says
	// SeedOf names the table whose rows the seed identifies (seed_of),
	// overriding what the planner derives from keys.
	SeedOf string
	// Loose is `consistent: false`: the output is fitted to this column
	// (cut to its length) instead of being the one form every column
	// gets; the column leaves the gate's consistency groups.
	Loose bool
}

// RulesError lists every problem found in a rules file.
type RulesError struct {
	Problems []Problem
}

// Problem is one thing wrong in a rules file. Msg never contains a value
// from the file that could be personal data (a fixed value, a pattern).
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Error returns one "file:line: message" per problem, one per line.
func (e *RulesError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// MaxRulesBytes bounds a rules file. A rules file is written by hand (a
// few lines per table); the YAML parser's tree takes some 30 times the
// file's size, so a file far larger than any schema needs (the wrong file,
// a generated dump) is refused before it is parsed instead of taking
// hundreds of megabytes.
const MaxRulesBytes = 2 << 20

// maxProblems bounds the problems listed: past it, the first ones are
// what to fix.
const maxProblems = 100

// ReadRulesFile reads the rules file at path, refusing one larger than
// MaxRulesBytes without reading it whole.
func ReadRulesFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxRulesBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxRulesBytes {
		size := int64(len(data))
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		return nil, tooLarge(path, size)
	}
	return data, nil
}

func tooLarge(path string, size int64) error {
	return &RulesError{Problems: []Problem{{File: path, Line: 1,
		Msg: fmt.Sprintf("rules file is %.1f MiB; restage reads at most %d MiB (a rules file is written by hand: is this the right file?)", float64(size)/(1<<20), MaxRulesBytes>>20)}}}
}

// LoadRules reads and parses the rules file at path.
func LoadRules(path string) (*Rules, error) {
	data, err := ReadRulesFile(path)
	if err != nil {
		return nil, fmt.Errorf("load rules: %w", err)
	}
	return ParseRules(path, data)
}

// ParseRules parses and validates a rules file; path is used in messages
// only. Every problem is reported at once (the first hundred), as a
// *RulesError.
func ParseRules(path string, data []byte) (*Rules, error) {
	if len(data) > MaxRulesBytes {
		return nil, tooLarge(path, int64(len(data)))
	}
	p := &rulesParser{file: path, rules: &Rules{Path: path, Locale: DefaultLocale}}
	p.parse(data)
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		if n := len(p.problems); n > maxProblems {
			p.problems = append(p.problems[:maxProblems:maxProblems], Problem{File: path, Line: p.problems[maxProblems].Line,
				Msg: fmt.Sprintf("… and %d more problems from here on; fix the ones above first", n-maxProblems)})
		}
		return nil, &RulesError{Problems: p.problems}
	}
	return p.rules, nil
}

// Keys a column mapping reserves; every other key is a transformer parameter.
const (
	keyTransformer = "transformer"
	keySeed        = "seed"
	keyKeep        = "keep"
	keyConsistent  = "consistent"
	keySeedOf      = "seed_of"
	// keepReason is keep's parameter for the reason, which {keep: REASON}
	// sets.
	keepReason = "reason"
)

var topLevelKeys = []string{"version", "locale", "truncate", "tables", "post_mask_sql", "links"}

type rulesParser struct {
	file     string
	rules    *Rules
	problems []Problem
	// values counts parameter nodes converted, against alias bombs.
	values int
}

// maxParamValues bounds the parameter values (aliases expanded) a file
// may hold.
const maxParamValues = 100000

func (p *rulesParser) errorf(line int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// yamlLineErr matches the line yaml.v3 puts in its syntax errors.
var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *rulesParser) parse(data []byte) {
	if len(bytes.TrimSpace(data)) == 0 {
		p.errorf(1, "rules file is empty")
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // comments only
			p.errorf(1, "rules file is empty")
		} else {
			p.yamlError(err)
		}
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(extra.Line, "a rules file holds one YAML document, found another")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.errorf(doc.Line, "rules file is empty")
		return
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errorf(root.Line, "rules file must be a mapping with version, locale, truncate and tables, got %s", describe(root))
		return
	}

	entries := p.mapping(root, "")
	var versionSeen bool
	var truncate, tables *yaml.Node
	for _, e := range entries {
		switch e.key {
		case "version":
			versionSeen = true
			p.version(e.value)
		case "locale":
			p.locale(e.value)
		case "truncate":
			truncate = e.value
		case "tables":
			tables = e.value
		case "post_mask_sql":
			p.postMaskSQL(e.value)
		case "links":
			p.links(e.value)
		default:
			p.errorf(e.line, "unknown key %q (valid: %s)", e.key, strings.Join(topLevelKeys, ", "))
		}
	}
	if !versionSeen {
		p.errorf(root.Line, "version is missing: add \"version: %d\"", RulesVersion)
	}
	// The locale must be known before transformers are parsed, and the
	// truncate list before tables are checked against it.
	truncated := map[string]int{}
	if truncate != nil {
		p.truncate(truncate, truncated)
	}
	if tables != nil {
		p.tables(tables, truncated)
	}
}

func (p *rulesParser) yamlError(err error) {
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.errorf(line, "invalid YAML: %s", m[2])
		return
	}
	p.errorf(1, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
}

func (p *rulesParser) version(n *yaml.Node) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		p.errorf(n.Line, "version must be an integer, got %s", describe(n))
		return
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v != RulesVersion {
		p.errorf(n.Line, "unsupported version %s: this restage reads version %d", n.Value, RulesVersion)
		return
	}
	p.rules.Version = v
}

func (p *rulesParser) locale(n *yaml.Node) {
	s, ok := p.str(n, "locale")
	if !ok {
		return
	}
	if !slices.Contains(Locales, s) {
		p.errorf(n.Line, "unknown locale (valid: %s)", strings.Join(Locales, ", "))
		return
	}
	p.rules.Locale = s
}

func (p *rulesParser) postMaskSQL(n *yaml.Node) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "post_mask_sql must be a list of SQL statements, got %s", describe(n))
		return
	}
	for _, item := range n.Content {
		stmt, ok := p.str(item, "SQL statement")
		if !ok {
			continue
		}
		if strings.TrimSpace(stmt) == "" {
			p.errorf(item.Line, "post_mask_sql: empty statement")
			continue
		}
		p.rules.PostMaskSQL = append(p.rules.PostMaskSQL, Statement{SQL: stmt, Line: item.Line})
	}
}

func (p *rulesParser) truncate(n *yaml.Node, seen map[string]int) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "truncate must be a list of table names, got %s", describe(n))
		return
	}
	for _, item := range n.Content {
		name, ok := p.str(item, "table name")
		if !ok || !p.tableName(item.Line, name) {
			continue
		}
		if first, dup := seen[name]; dup {
			p.errorf(item.Line, "table %s is listed twice in truncate (first at line %d)", name, first)
			continue
		}
		seen[name] = item.Line
		p.rules.Truncate = append(p.rules.Truncate, TableRef{Name: name, Line: item.Line})
	}
}

func (p *rulesParser) tables(n *yaml.Node, truncated map[string]int) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n.Line, "tables must be a mapping of table name to its rules, got %s", describe(n))
		return
	}
	for _, e := range p.mapping(n, "table") {
		if !p.tableName(e.line, e.key) {
			continue
		}
		t := p.table(e)
		if tl, ok := truncated[e.key]; ok {
			p.errorf(e.line, "table %s is both truncated (line %d) and masked: truncate it or mask it", e.key, tl)
			continue
		}
		if t != nil {
			p.rules.Tables = append(p.rules.Tables, t)
		}
	}
}

func (p *rulesParser) table(e entry) *TableRules {
	v := resolve(e.value)
	if isNull(v) {
		p.errorf(e.line, "table %s has no rules: give it columns", e.key)
		return nil
	}
	if v.Kind != yaml.MappingNode {
		p.errorf(v.Line, "table %s must be a mapping with columns, got %s", e.key, describe(v))
		return nil
	}
	t := &TableRules{Name: e.key, Line: e.line}
	var columns *yaml.Node
	for _, te := range p.mapping(v, "") {
		switch te.key {
		case "columns":
			columns = te.value
		case "truncate":
			p.errorf(te.line, "table %s: to empty a table, list it under the top-level truncate instead", e.key)
		case "strategy":
			p.strategy(t, te)
		default:
			p.errorf(te.line, "table %s: unknown key %q (valid: columns, strategy)", e.key, te.key)
		}
	}
	if columns == nil {
		p.errorf(e.line, "table %s has no columns", e.key)
		return nil
	}
	columns = resolve(columns)
	if isNull(columns) || (columns.Kind == yaml.MappingNode && len(columns.Content) == 0) {
		p.errorf(columns.Line, "table %s has no columns", e.key)
		return nil
	}
	if columns.Kind != yaml.MappingNode {
		p.errorf(columns.Line, "table %s: columns must be a mapping of column name to rule, got %s", e.key, describe(columns))
		return nil
	}
	for _, ce := range p.mapping(columns, "column") {
		if c := p.column(e.key, ce); c != nil {
			t.Columns = append(t.Columns, c)
		}
	}
	return t
}

// strategy parses a table's strategy: rewrite or update.
func (p *rulesParser) strategy(t *TableRules, te entry) {
	v := resolve(te.value)
	if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!str" {
		p.errorf(te.line, "table %s: strategy must be rewrite or update, got %s", t.Name, describe(v))
		return
	}
	switch Strategy(v.Value) {
	case StrategyRewrite, StrategyUpdate:
		t.Strategy, t.StrategyLine = Strategy(v.Value), te.line
	default:
		p.errorf(te.line, "table %s: strategy must be rewrite or update, got %q", t.Name, v.Value)
	}
}

// column parses one column rule: a transformer name, or a mapping with
// transformer, seed, keep and the transformer's parameters.
func (p *rulesParser) column(table string, e entry) *ColumnRule {
	where := table + "." + e.key
	c := &ColumnRule{Column: e.key, Line: e.line}
	v := resolve(e.value)
	switch {
	case isNull(v):
		p.errorf(e.line, "%s: no rule: name a transformer, or keep", where)
		return nil
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
		if !p.parseTransformer(c, where, v.Value, v.Line, nil, nil) {
			return nil
		}
		return c
	case v.Kind != yaml.MappingNode:
		p.errorf(v.Line, "%s: rule must be a transformer name or a mapping, got %s", where, describe(v))
		return nil
	}

	before := len(p.problems)
	var nameNode, seedNode, keepNode, consistentNode, seedOfNode *yaml.Node
	params := map[string]any{}
	paramLines := map[string]int{}
	for _, pe := range p.mapping(v, "parameter") {
		switch pe.key {
		case keyTransformer:
			nameNode = resolve(pe.value)
		case keySeed:
			seedNode = resolve(pe.value)
		case keyKeep:
			keepNode = resolve(pe.value)
		case keyConsistent:
			consistentNode = resolve(pe.value)
		case keySeedOf:
			seedOfNode = resolve(pe.value)
		default:
			params[pe.key] = p.value(pe.value, where+": parameter "+pe.key)
			paramLines[pe.key] = pe.line
		}
	}

	name, nameLine := "", e.line
	switch {
	case keepNode != nil && nameNode != nil:
		p.errorf(nameNode.Line, "%s: keep and transformer exclude each other", where)
	case keepNode != nil:
		name, nameLine = "keep", keepNode.Line
		switch {
		case keepNode.Kind == yaml.ScalarNode && keepNode.ShortTag() == "!!str" && strings.TrimSpace(keepNode.Value) != "":
			params[keepReason] = keepNode.Value
		case keepNode.Kind == yaml.ScalarNode && keepNode.ShortTag() == "!!bool" && keepNode.Value == "true":
		default:
			p.errorf(keepNode.Line, "%s: keep must be a reason (text) or true, got %s", where, describe(keepNode))
		}
		for _, k := range slices.Sorted(maps.Keys(paramLines)) {
			p.errorf(paramLines[k], "%s: a kept column takes no parameters, found %q", where, k)
		}
	case nameNode == nil:
		p.errorf(e.line, "%s: no transformer: add \"transformer: NAME\", or keep", where)
	case nameNode.Kind != yaml.ScalarNode || nameNode.ShortTag() != "!!str":
		p.errorf(nameNode.Line, "%s: transformer must be a name, got %s", where, describe(nameNode))
	default:
		name, nameLine = nameNode.Value, nameNode.Line
	}
	if seedNode != nil {
		c.Seed = p.seed(seedNode, where, e.key)
	}
	if consistentNode != nil {
		if consistentNode.Kind != yaml.ScalarNode || consistentNode.ShortTag() != "!!bool" {
			p.errorf(consistentNode.Line, "%s: consistent must be true or false, got %s", where, describe(consistentNode))
		} else {
			c.Loose = consistentNode.Value == "false"
		}
	}
	if seedOfNode != nil {
		if s, ok := p.str(seedOfNode, where+": seed_of"); ok && p.tableName(seedOfNode.Line, s) {
			c.SeedOf = s
		}
		if seedNode == nil {
			p.errorf(seedOfNode.Line, "%s: seed_of names what the seed identifies: add seed", where)
		}
	}
	if len(p.problems) > before || !p.parseTransformer(c, where, name, nameLine, params, paramLines) {
		return nil
	}
	if transform.IsKeep(c.Transformer) {
		c.Reason, _ = params[keepReason].(string)
	}
	if seedNode != nil && transform.IsKeep(c.Transformer) {
		p.errorf(seedNode.Line, "%s: a kept column takes no seed", where)
		return nil
	}
	if seedNode != nil && transform.Nullifies(c.Transformer) {
		p.errorf(seedNode.Line, "%s: seed has no effect with %s", where, c.Name)
		return nil
	}
	return c
}

// links parses the top-level links list.
func (p *rulesParser) links(n *yaml.Node) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "links must be a list of {column, follows, via}, got %s", describe(n))
		return
	}
	for _, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.MappingNode {
			p.errorf(item.Line, "a link must be a mapping with column, follows and via, got %s", describe(item))
			continue
		}
		l := Link{Line: item.Line}
		for _, e := range p.mapping(item, "") {
			var dst *string
			switch e.key {
			case "column":
				dst = &l.Column
			case "follows":
				dst = &l.Follows
			case "via":
				dst = &l.Via
			default:
				p.errorf(e.line, "link: unknown key %q (valid: column, follows, via)", e.key)
				continue
			}
			if s, ok := p.str(e.value, "link "+e.key); ok {
				if _, _, ok := SplitColumn(s); !ok {
					p.errorf(e.line, "link %s: %q is not table.column", e.key, s)
					continue
				}
				*dst = s
			}
		}
		switch {
		case l.Column == "" || l.Follows == "" || l.Via == "":
			p.errorf(item.Line, "a link needs column, follows and via")
			continue
		}
		ct, _, _ := SplitColumn(l.Column)
		vt, _, _ := SplitColumn(l.Via)
		if ct != vt {
			p.errorf(item.Line, "link: via must be a column of the linked column's table %s", ct)
			continue
		}
		if l.Column == l.Follows {
			p.errorf(item.Line, "link: a column cannot follow itself")
			continue
		}
		p.rules.Links = append(p.rules.Links, l)
	}
}

// SplitColumn splits "table.column" or "schema.table.column" into table
// ("table" or "schema.table") and column.
func SplitColumn(s string) (table, column string, ok bool) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 || strings.Count(s, ".") > 2 || strings.TrimSpace(s) != s {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// parseTransformer resolves the transformer name and parameters into c.
func (p *rulesParser) parseTransformer(c *ColumnRule, where, name string, line int, params map[string]any, paramLines map[string]int) bool {
	names := transform.Names()
	if !slices.Contains(names, name) {
		hint := ""
		if near := nearest(name, names); near != "" {
			hint = fmt.Sprintf(", did you mean %q?", near)
		}
		p.errorf(line, "%s: unknown transformer%s (valid: %s)", where, hint, strings.Join(names, ", "))
		return false
	}
	tr, err := transform.Parse(name, params, transform.Options{Locale: p.rules.Locale})
	if err != nil {
		var pe *transform.ParamError
		if errors.As(err, &pe) {
			if l, ok := paramLines[paramRoot(pe.Param)]; ok {
				line = l
			}
		}
		p.errorf(line, "%s: %s: %v", where, name, err)
		return false
	}
	c.Transformer = tr
	c.Name = tr.Name()
	if transform.IsKeep(tr) {
		c.Name = "keep"
	}
	return true
}

// paramRoot is the top-level parameter a ParamError.Param names: "paths",
// also for "paths[0].transformer" or "paths.0".
func paramRoot(param string) string {
	if i := strings.IndexAny(param, ".["); i >= 0 {
		return param[:i]
	}
	return param
}

func (p *rulesParser) seed(n *yaml.Node, where, column string) []string {
	var items []*yaml.Node
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		items = []*yaml.Node{n}
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	default:
		p.errorf(n.Line, "%s: seed must be a list of column names, got %s", where, describe(n))
		return nil
	}
	if len(items) == 0 {
		p.errorf(n.Line, "%s: seed is empty: name the columns, or drop seed", where)
		return nil
	}
	seen := map[string]bool{}
	seed := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := p.str(it, where+": seed column")
		switch {
		case !ok:
		case s == column:
			p.errorf(it.Line, "%s: seed names the column itself: seed it by other columns of the row, or drop seed", where)
		case seen[s]:
			p.errorf(it.Line, "%s: seed names column %q twice", where, s)
		default:
			seen[s] = true
			seed = append(seed, s)
		}
	}
	return seed
}

// value converts a parameter's node into plain Go values: map[string]any,
// []any, string, int, float64, bool or nil; dates stay text. Problems are
// recorded; values never appear in messages.
func (p *rulesParser) value(n *yaml.Node, what string) any {
	n = resolve(n)
	if p.values++; p.values == maxParamValues {
		p.errorf(n.Line, "%s: too many parameter values (more than %d, aliases expanded)", what, maxParamValues)
	}
	if p.values >= maxParamValues {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, e := range p.mapping(n, "key") {
			m[e.key] = p.value(e.value, what+"."+e.key)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, it := range n.Content {
			s = append(s, p.value(it, what))
		}
		return s
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			return n.Value
		case "!!null":
			return nil
		case "!!int":
			var i int
			if err := n.Decode(&i); err != nil {
				p.errorf(n.Line, "%s: integer out of range", what)
			}
			return i
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				p.errorf(n.Line, "%s: not a number", what)
			}
			return f
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				p.errorf(n.Line, "%s: not a boolean", what)
			}
			return b
		}
	}
	p.errorf(n.Line, "%s: unsupported YAML value (%s)", what, describe(n))
	return nil
}

// entry is one key of a mapping.
type entry struct {
	key   string
	line  int
	value *yaml.Node
}

// mapping returns the entries of a mapping node in order, reporting
// duplicate and non-text keys (which are left out). what names the keys in
// messages ("table", "column"); "" for fixed-vocabulary mappings.
func (p *rulesParser) mapping(n *yaml.Node, what string) []entry {
	seen := map[string]int{}
	out := make([]entry, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.ShortTag() == "!!merge" {
			p.errorf(k.Line, "merge keys (<<) are not supported: write the keys out, or use an alias for the whole value")
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" || k.Value == "" {
			p.errorf(k.Line, "a key must be a name, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			label := "key"
			if what != "" {
				label = what
			}
			p.errorf(k.Line, "duplicate %s %q (first at line %d)", label, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{key: k.Value, line: k.Line, value: n.Content[i+1]})
	}
	return out
}

// str reads a text scalar.
func (p *rulesParser) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || n.Value == "" {
		p.errorf(n.Line, "%s must be text, got %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

// tableName checks the shape of "name" or "schema.name".
func (p *rulesParser) tableName(line int, name string) bool {
	parts := strings.Split(name, ".")
	if len(parts) > 2 || slices.Contains(parts, "") || strings.TrimSpace(name) != name {
		p.errorf(line, "bad table name %q: use \"name\" or \"schema.name\"", name)
		return false
	}
	return true
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's YAML type for messages, never its value.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "text"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return n.ShortTag()
	}
	return "an alias"
}

// nearest returns the valid name within two edits of name, if any. The
// misspelt name itself is never repeated in a message: a value typed where
// a transformer name goes may be personal data.
func nearest(name string, valid []string) string {
	best, bestDist := "", 3
	for _, v := range valid {
		if d := editDistance(name, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, with a transposition counting
// as two edits.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// NameSuggestion is what a rule most likely meant by a table or column
// name the database doesn't have.
type NameSuggestion struct {
	// Name is the database's spelling.
	Name string
	// RuleStyle and DBStyle are set when the two spell the same words in
	// different conventions ("snake_case" and "PascalCase": FirstName and
	// first_name), as rules written for the same application's database
	// on the other engine do.
	RuleStyle, DBStyle string
}

// SuggestName finds the name among valid that a rule's name most likely
// means: the same letters in another case (customer → Customer), the same
// words in another naming convention (first_name → FirstName). ok is
// false when no name, or more than one, matches. Misspellings are left
// alone: a dropped address2 is not a misspelt address.
func SuggestName(name string, valid []string) (s NameSuggestion, ok bool) {
	pick := func(match func(v string) bool) (string, bool) {
		found := ""
		for _, v := range valid {
			if v != name && match(v) {
				if found != "" && found != v {
					return "", false // ambiguous: say nothing
				}
				found = v
			}
		}
		return found, found != ""
	}
	if v, ok := pick(func(v string) bool { return strings.EqualFold(v, name) }); ok {
		return NameSuggestion{Name: v}, true
	}
	key := nameWords(name)
	if v, ok := pick(func(v string) bool { return nameWords(v) == key }); ok {
		s := NameSuggestion{Name: v}
		if rs, ds := NameStyle(name), NameStyle(v); rs != ds && rs != "" && ds != "" {
			s.RuleStyle, s.DBStyle = rs, ds
		}
		return s, true
	}
	return NameSuggestion{}, false
}

// nameWords folds a name to its letters and digits in lower case, so that
// FirstName, first_name and FIRST_NAME compare equal.
func nameWords(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r != '_' && r != '-' && r != ' ' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NameStyle names the convention a multi-word identifier is written in:
// "snake_case" (first_name, FIRST_NAME), "PascalCase" (FirstName),
// "camelCase" (firstName); "" for a single word, where it can't tell.
func NameStyle(s string) string {
	hasUpper, hasLower := false, false
	for _, r := range s {
		hasUpper = hasUpper || unicode.IsUpper(r)
		hasLower = hasLower || unicode.IsLower(r)
	}
	first, _ := utf8.DecodeRuneInString(s)
	switch {
	case strings.Contains(s, "_"):
		return "snake_case"
	case hasUpper && hasLower && unicode.IsUpper(first) && strings.IndexFunc(s[1:], unicode.IsUpper) >= 0:
		return "PascalCase"
	case hasUpper && hasLower && unicode.IsLower(first):
		return "camelCase"
	}
	return ""
}

// Hint renders the suggestion for a message about a missing name:
// "did you mean `Customer`?", with the naming conventions when they
// differ.
func (s NameSuggestion) Hint() string {
	h := "did you mean `" + s.Name + "`?"
	if s.RuleStyle != "" {
		h += fmt.Sprintf(" (the rule spells it in %s, the database in %s)", s.RuleStyle, s.DBStyle)
	}
	return h
}

// StyleEngine says which engine's schemas a naming convention is typical
// of, for telling a user that rules were written for the same application
// on the other engine: PascalCase for MySQL/MariaDB schemas ported from
// SQL Server (Chinook, AdventureWorks), snake_case for PostgreSQL, where
// unquoted names fold to lower case.
func StyleEngine(style string) string {
	switch style {
	case "snake_case":
		return "PostgreSQL"
	case "PascalCase", "camelCase":
		return "MySQL/MariaDB"
	}
	return ""
}
