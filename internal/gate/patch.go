package gate

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

// patchAdd is one rule the patch adds.
type patchAdd struct {
	table   schema.TableName
	column  string
	rule    string // YAML flow value
	comment string // why; never a value
}

// patchRenames are names the rules spell otherwise than the database
// (another case, another naming convention), keyed by the rules file's
// spelling: the patch rewrites them in place.
type patchRenames struct {
	tables  map[string]string            // table as written → the database's name
	columns map[string]map[string]string // table as written → column as written → the database's
	seeds   map[string]map[string]string // table as written → seed column as written → the database's
	trunc   map[string]string            // truncate entry as written → the database's name
}

func (r *patchRenames) empty() bool {
	return len(r.tables) == 0 && len(r.columns) == 0 && len(r.seeds) == 0 && len(r.trunc) == 0
}

func patchRenameAdd(m *map[string]map[string]string, table, from, to string) {
	if *m == nil {
		*m = map[string]map[string]string{}
	}
	if (*m)[table] == nil {
		(*m)[table] = map[string]string{}
	}
	(*m)[table][from] = to
}

func (r *patchRenames) column(table, from, to string) { patchRenameAdd(&r.columns, table, from, to) }
func (r *patchRenames) seed(table, from, to string)   { patchRenameAdd(&r.seeds, table, from, to) }
func (r *patchRenames) truncate(from, to string) {
	if r.trunc == nil {
		r.trunc = map[string]string{}
	}
	r.trunc[from] = to
}

// patchEdit replaces one name (a key or a list item) where the YAML parser
// found it.
type patchEdit struct {
	col  int // 1-based, in characters, as yaml.v3 counts
	node *yaml.Node
	to   string
}

// patchRenameEdits finds every name the renames rewrite.
func patchRenameEdits(root *yaml.Node, r patchRenames) map[int][]patchEdit {
	edits := map[int][]patchEdit{}
	add := func(n *yaml.Node, to string) {
		edits[n.Line] = append(edits[n.Line], patchEdit{col: n.Column, node: n, to: to})
	}
	if r.empty() {
		return edits
	}
	if _, tr := patchMapGet(root, "truncate"); tr != nil && tr.Kind == yaml.SequenceNode {
		for _, it := range tr.Content {
			if to, ok := r.trunc[it.Value]; ok && it.Kind == yaml.ScalarNode {
				add(it, to)
			}
		}
	}
	_, tables := patchMapGet(root, "tables")
	if tables == nil || tables.Kind != yaml.MappingNode {
		return edits
	}
	for i := 0; i+1 < len(tables.Content); i += 2 {
		tk, tv := tables.Content[i], tables.Content[i+1]
		if to, ok := r.tables[tk.Value]; ok {
			add(tk, to)
		}
		_, cols := patchMapGet(tv, "columns")
		if cols == nil || cols.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(cols.Content); j += 2 {
			ck, cv := cols.Content[j], cols.Content[j+1]
			if to, ok := r.columns[tk.Value][ck.Value]; ok {
				add(ck, to)
			}
			_, seed := patchMapGet(cv, "seed")
			if seed == nil {
				continue
			}
			items := []*yaml.Node{seed}
			if seed.Kind == yaml.SequenceNode {
				items = seed.Content
			}
			for _, it := range items {
				if to, ok := r.seeds[tk.Value][it.Value]; ok && it.Kind == yaml.ScalarNode {
					add(it, to)
				}
			}
		}
	}
	return edits
}

// patchApplyEdits rewrites one line's names, right to left so that earlier
// columns stay valid.
func patchApplyEdits(line string, edits []patchEdit) (string, error) {
	sort.Slice(edits, func(i, j int) bool { return edits[i].col > edits[j].col })
	rs := []rune(line)
	for _, e := range edits {
		at := e.col - 1
		v := []rune(e.node.Value)
		end := at + len(v)
		switch {
		case e.node.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			// Only a quoted name without escapes is rewritten: its text
			// is the value between the quotes.
			end = at + len(v) + 2
			if end > len(rs) || string(rs[at+1:end-1]) != e.node.Value || rs[at] != rs[end-1] {
				return "", fmt.Errorf("the name on line %d is quoted with escapes: rename it by hand", e.node.Line)
			}
		case at < 0 || end > len(rs) || string(rs[at:end]) != e.node.Value:
			return "", fmt.Errorf("the name on line %d is not where the parser put it: rename it by hand", e.node.Line)
		}
		rs = append(rs[:at:at], append([]rune(patchKey(e.to)), rs[end:]...)...)
	}
	return string(rs), nil
}

// patchContext is the number of unchanged lines around each change.
const patchContext = 3

// patchLines splits a text into lines without their newlines; eol is
// false when the last line has none.
func patchLines(text []byte) (lines []string, eol bool) {
	s := string(text)
	if s == "" {
		return nil, true
	}
	eol = strings.HasSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n"), eol
}

func patchIndent(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// patchBlockEnd returns the last line (1-based) of the block a key on
// line keyLine at indentation indent opens: the lines after it that are
// blank or indented deeper. Trailing blank lines are not part of it.
func patchBlockEnd(lines []string, keyLine, indent int) int {
	last := keyLine
	for i := keyLine + 1; i <= len(lines); i++ {
		l := lines[i-1]
		if strings.TrimSpace(l) == "" {
			continue
		}
		if patchIndent(l) <= indent {
			break
		}
		last = i
	}
	return last
}

func patchMapGet(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// patchMake writes the unified diff that adds the rules to the rules file:
// into a table's existing columns block when the file has the table
// (spelt either way, or in a spelling the renames correct), else as a new
// entry under tables (which is created when missing). Added lines take the
// file's indentation. Names the renames list are rewritten in place.
func patchMake(path string, text []byte, s *schema.Schema, adds []patchAdd, renames patchRenames) (string, error) {
	lines, eol := patchLines(text)
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return "", fmt.Errorf("read the rules file: %v", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "", errors.New("the rules file is not a mapping")
	}
	root := doc.Content[0]
	if root.Style&yaml.FlowStyle != 0 {
		return "", errors.New("the rules file is written in YAML flow style ({...}): add the rules by hand")
	}
	tablesKey, tables := patchMapGet(root, "tables")
	changes := map[int]string{}
	for ln, es := range patchRenameEdits(root, renames) {
		c, err := patchApplyEdits(lines[ln-1], es)
		if err != nil {
			return "", err
		}
		changes[ln] = c
	}

	// Group by table, in order.
	var order []schema.TableName
	byTable := map[schema.TableName][]patchAdd{}
	for _, a := range adds {
		if _, ok := byTable[a.table]; !ok {
			order = append(order, a.table)
		}
		byTable[a.table] = append(byTable[a.table], a)
	}

	inserts := map[int][]string{} // after line N (0 = before the first)
	step := 2                     // indentation step of the file, from its first table
	if tables != nil && tables.Kind == yaml.MappingNode && len(tables.Content) >= 2 {
		if ck, _ := patchMapGet(tables.Content[1], "columns"); ck != nil && ck.Column > tables.Content[0].Column {
			step = ck.Column - tables.Content[0].Column
		}
	}
	var newTables []schema.TableName
	for _, tn := range order {
		var colsKey, cols *yaml.Node
		if tables != nil && tables.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(tables.Content); i += 2 {
				name := tables.Content[i].Value
				if to, ok := renames.tables[name]; ok {
					name = to
				}
				if t := s.Table(name); t != nil && t.TableName == tn {
					colsKey, cols = patchMapGet(tables.Content[i+1], "columns")
					if cols == nil || tables.Content[i+1].Style&yaml.FlowStyle != 0 {
						return "", fmt.Errorf("table %s is written in YAML flow style: add the rules by hand", tn)
					}
					break
				}
			}
		}
		if cols == nil {
			newTables = append(newTables, tn)
			continue
		}
		if cols.Kind != yaml.MappingNode || cols.Style&yaml.FlowStyle != 0 || len(cols.Content) == 0 {
			return "", fmt.Errorf("the columns of table %s are written in YAML flow style: add the rules by hand", tn)
		}
		indent := strings.Repeat(" ", cols.Content[0].Column-1)
		at := patchBlockEnd(lines, colsKey.Line, colsKey.Column-1)
		for _, a := range byTable[tn] {
			inserts[at] = append(inserts[at], patchRuleLine(indent, a))
		}
	}
	if len(newTables) > 0 {
		var at, tIndent int
		var head []string
		switch {
		case tablesKey == nil:
			at = len(lines)
			head = []string{"tables:"}
		case tables.Kind == yaml.ScalarNode && tables.ShortTag() == "!!null" && tables.Value == "":
			at = patchBlockEnd(lines, tablesKey.Line, tablesKey.Column-1)
			tIndent = tablesKey.Column - 1 + 2
		case tables.Kind == yaml.MappingNode && tables.Style&yaml.FlowStyle == 0 && len(tables.Content) > 0:
			at = patchBlockEnd(lines, tablesKey.Line, tablesKey.Column-1)
			tIndent = tables.Content[0].Column - 1
		default:
			return "", errors.New("tables is written in YAML flow style: add the rules by hand")
		}
		if tablesKey == nil {
			tIndent = step
		}
		ins := head
		for _, tn := range newTables {
			name := tn.Name
			if tn.Schema != "" && tn.Schema != s.DefaultSchema {
				name = tn.String()
			}
			ins = append(ins,
				strings.Repeat(" ", tIndent)+patchKey(name)+":",
				strings.Repeat(" ", tIndent+step)+"columns:")
			for _, a := range byTable[tn] {
				ins = append(ins, patchRuleLine(strings.Repeat(" ", tIndent+2*step), a))
			}
		}
		inserts[at] = append(inserts[at], ins...)
	}
	diff := patchDiff(path, lines, eol, inserts, changes)

	// The patch must give a rules file that parses: check it here, not at
	// the user's next run.
	fixed, err := patchApply(text, diff)
	if err != nil {
		return "", fmt.Errorf("the patch does not apply (a bug): %v", err)
	}
	if _, err := config.ParseRules(path, fixed); err != nil {
		return "", fmt.Errorf("the patched rules file would not parse (a bug): %v", err)
	}
	return diff, nil
}

var patchPlainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.$-]*$`)

// patchKey renders a table or column name as a mapping key: plain when
// YAML reads it back as the same text, else double-quoted.
func patchKey(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n":
		return strconv.Quote(s)
	}
	if patchPlainKey.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// patchRuleLine is "  column: rule  # reason".
func patchRuleLine(indent string, a patchAdd) string {
	comment := strings.Join(strings.Fields(a.comment), " ")
	return indent + patchKey(a.column) + ": " + a.rule + "  # " + comment
}

// patchDiff renders insertions (after line N) and changed lines as a
// unified diff with patchContext lines of context, the way diff -u does.
func patchDiff(path string, lines []string, eol bool, inserts map[int][]string, changes map[int]string) string {
	n := len(lines)
	type hunk struct {
		lo, hi int // original lines, 1-based inclusive
	}
	var hunks []hunk
	var at []int // insertion points and changed lines, as spans
	span := map[int][2]int{}
	for p := range inserts {
		at = append(at, 2*p+1) // between p and p+1
		span[2*p+1] = [2]int{max(1, p-patchContext+1), min(n, p+patchContext)}
	}
	for l := range changes {
		at = append(at, 2*l)
		span[2*l] = [2]int{max(1, l-patchContext), min(n, l+patchContext)}
	}
	sort.Ints(at)
	for _, k := range at {
		lo, hi := span[k][0], span[k][1]
		if j := len(hunks) - 1; j >= 0 && lo <= hunks[j].hi+1 {
			hunks[j].hi = max(hunks[j].hi, hi)
			continue
		}
		hunks = append(hunks, hunk{lo: lo, hi: hi})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", path, path)
	offset := 0
	for _, h := range hunks {
		added := len(inserts[h.lo-1])
		for i := h.lo; i <= h.hi; i++ {
			added += len(inserts[i])
		}
		oldLen := h.hi - h.lo + 1
		fmt.Fprintf(&b, "@@ -%s +%s @@\n", patchRange(h.lo, oldLen), patchRange(h.lo+offset, oldLen+added))
		for _, l := range inserts[h.lo-1] {
			b.WriteString("+" + l + "\n")
		}
		for i := h.lo; i <= h.hi; i++ {
			ins := inserts[i]
			noEOL := i == n && !eol
			c, changed := changes[i]
			switch {
			case changed && noEOL && len(ins) == 0:
				b.WriteString("-" + lines[i-1] + "\n\\ No newline at end of file\n+" + c + "\n\\ No newline at end of file\n")
			case changed && noEOL:
				b.WriteString("-" + lines[i-1] + "\n\\ No newline at end of file\n+" + c + "\n")
			case changed:
				b.WriteString("-" + lines[i-1] + "\n+" + c + "\n")
			case noEOL && len(ins) > 0:
				b.WriteString("-" + lines[i-1] + "\n\\ No newline at end of file\n+" + lines[i-1] + "\n")
			case noEOL:
				b.WriteString(" " + lines[i-1] + "\n\\ No newline at end of file\n")
			default:
				b.WriteString(" " + lines[i-1] + "\n")
			}
			for _, l := range ins {
				b.WriteString("+" + l + "\n")
			}
		}
		offset += added
	}
	return b.String()
}

func patchRange(start, n int) string {
	if n == 1 {
		return strconv.Itoa(start)
	}
	if n == 0 {
		start--
	}
	return strconv.Itoa(start) + "," + strconv.Itoa(n)
}

// PatchApply returns the rules file with the report's patch applied: what
// `restage check --fix` writes. It fails when the file has changed since
// the check in the places the patch touches.
func PatchApply(rulesText []byte, rep *DriftReport) ([]byte, error) {
	if rep == nil || rep.Patch == "" {
		return bytes.Clone(rulesText), nil
	}
	return patchApply(rulesText, rep.Patch)
}

// patchApply applies a unified diff (one file) to text, checking every
// context and removed line.
func patchApply(text []byte, diff string) ([]byte, error) {
	orig, eol := patchLines(text)
	dl, _ := patchLines([]byte(diff))
	var out []string
	pos := 0 // next original line to copy (0-based)
	newEOL := true
	i := 0
	for i < len(dl) && !strings.HasPrefix(dl[i], "@@") {
		i++
	}
	if i == len(dl) {
		return nil, errors.New("patch has no hunks")
	}
	for i < len(dl) {
		var oldStart, oldLen, newStart, newLen int
		if err := patchHunkHeader(dl[i], &oldStart, &oldLen, &newStart, &newLen); err != nil {
			return nil, err
		}
		i++
		var old, neu []string
		oldNoEOL, newNoEOL := false, false
		var prev byte // kind of the previous body line: ' ', '-' or '+'
		for i < len(dl) && !strings.HasPrefix(dl[i], "@@") {
			l := dl[i]
			i++
			switch {
			case strings.HasPrefix(l, "\\"):
				// "\ No newline at end of file" applies to the line before.
				oldNoEOL = oldNoEOL || prev == ' ' || prev == '-'
				newNoEOL = newNoEOL || prev == ' ' || prev == '+'
			case l == "" || l[0] == ' ':
				c := ""
				if l != "" {
					c = l[1:]
				}
				old, neu = append(old, c), append(neu, c)
				prev = ' '
			case l[0] == '-':
				old = append(old, l[1:])
				prev = '-'
			case l[0] == '+':
				neu = append(neu, l[1:])
				prev = '+'
			default:
				return nil, fmt.Errorf("bad patch line %d", i)
			}
		}
		if len(old) != oldLen || len(neu) != newLen {
			return nil, errors.New("patch hunk line counts do not match its header")
		}
		start := oldStart - 1
		if oldLen == 0 {
			start = oldStart
		}
		if start < pos || start+oldLen > len(orig) {
			return nil, errors.New("patch does not fit the rules file: it changed since the check, run the check again")
		}
		for k, l := range old {
			if orig[start+k] != l {
				return nil, errors.New("patch does not fit the rules file: it changed since the check, run the check again")
			}
		}
		if oldNoEOL && (eol || start+oldLen != len(orig)) {
			return nil, errors.New("patch does not fit the rules file: it changed since the check, run the check again")
		}
		out = append(out, orig[pos:start]...)
		out = append(out, neu...)
		pos = start + oldLen
		newEOL = !newNoEOL
	}
	if pos < len(orig) {
		out = append(out, orig[pos:]...)
		newEOL = eol
	}
	if len(out) == 0 {
		return []byte{}, nil
	}
	res := strings.Join(out, "\n")
	if newEOL {
		res += "\n"
	}
	return []byte(res), nil
}

func patchHunkHeader(l string, oldStart, oldLen, newStart, newLen *int) error {
	bad := errors.New("bad patch hunk header")
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return bad
	}
	parse := func(s string, start, n *int) error {
		a, b, ok := strings.Cut(s, ",")
		var err error
		if *start, err = strconv.Atoi(a); err != nil {
			return bad
		}
		*n = 1
		if ok {
			if *n, err = strconv.Atoi(b); err != nil {
				return bad
			}
		}
		return nil
	}
	if err := parse(f[1][1:], oldStart, oldLen); err != nil {
		return err
	}
	return parse(f[2][1:], newStart, newLen)
}

// PatchCommand is the shell command that applies a rules patch saved as
// patchFile to the rules file at rulesPath. It names the rules file
// instead of relying on the diff's header with -p0, which GNU patch
// refuses for an absolute path or one with ".." ("Ignoring potentially
// dangerous file name").
func PatchCommand(rulesPath, patchFile string) string {
	if rulesPath == "" {
		rulesPath = "rules.yaml"
	}
	return "patch " + shellQuote(rulesPath) + " < " + shellQuote(patchFile)
}

// PatchCommand is the command applying the report's patch saved as file.
func (r *DriftReport) PatchCommand(file string) string { return PatchCommand(r.path, file) }

var shellPlain = regexp.MustCompile(`^[A-Za-z0-9_./@%+=:,-]+$`)

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellPlain.MatchString(s) && !strings.HasPrefix(s, "-") {
		return s
	}
	if strings.HasPrefix(s, "-") && shellPlain.MatchString(s) {
		return "./" + s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
