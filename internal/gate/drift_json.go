package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// driftMostlyJSON reports whether most sampled values of a text column are
// JSON objects or arrays (a document stored as text).
func driftMostlyJSON(vals []string) bool {
	if len(vals) == 0 {
		return false
	}
	k := 0
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Valid([]byte(v)) {
			k++
		}
	}
	return k*2 > len(vals)
}

// Bounds on the JSON walk: documents are sampled, not trusted.
const (
	driftJSONMaxDepth = 32
	driftJSONMaxPaths = 500
)

// driftJSONPath is what the walk learnt about one path of a column's
// documents.
type driftJSONPath struct {
	path    string
	key     string // the last key on the path
	person  bool   // an enclosing key (or the table) is about people
	strings int    // string leaves
	numbers int    // number leaves
	vals    piiValueStats
}

var driftJSONIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

type driftJSONWalker struct {
	paths map[string]*driftJSONPath
}

func (w *driftJSONWalker) walk(v any, path, key string, person bool, depth int) {
	if depth > driftJSONMaxDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			var p string
			switch {
			case driftJSONIdent.MatchString(k):
				p = path + "." + k
			case !strings.ContainsAny(k, `'"]`):
				p = path + "['" + k + "']"
			default:
				continue // not expressible as a rules path
			}
			w.walk(c, p, k, person || piiPersonTable(k), depth+1)
		}
	case []any:
		for _, c := range x {
			w.walk(c, path+"[*]", key, person, depth+1)
		}
	case string:
		if p := w.at(path, key, person); p != nil {
			p.strings++
			if strings.TrimSpace(x) != "" {
				p.vals.add(x)
			}
		}
	case json.Number:
		if p := w.at(path, key, person); p != nil {
			p.numbers++
			p.vals.add(x.String())
		}
	}
}

func (w *driftJSONWalker) at(path, key string, person bool) *driftJSONPath {
	if p, ok := w.paths[path]; ok {
		p.person = p.person || person
		return p
	}
	if key == "" || len(w.paths) >= driftJSONMaxPaths {
		return nil
	}
	p := &driftJSONPath{path: path, key: key, person: person}
	w.paths[path] = p
	return p
}

// jsonColumn walks the sampled documents key by key and flags the paths
// whose key name or values look personal. All findings of a column share
// one suggestion: a json rule with a nested rule per flagged path.
func (d *drifter) jsonColumn(t *schema.Table, col *schema.Column, vals []string) ([]DriftFinding, *patchAdd) {
	w := &driftJSONWalker{paths: map[string]*driftJSONPath{}}
	person := piiPersonTable(t.Name)
	for _, v := range vals {
		dec := json.NewDecoder(bytes.NewReader([]byte(v)))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			continue
		}
		w.walk(doc, "$", "", person, 0)
	}
	keys := make([]string, 0, len(w.paths))
	for k := range w.paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type flagged struct {
		path    string
		reasons []string
		rule    patchRule
	}
	var fl []flagged
	for _, k := range keys {
		p := w.paths[k]
		var reasons []string
		cat := piiNone
		if c, k := p.vals.best(); c != piiNone {
			cat = c
			reasons = append(reasons, fmt.Sprintf("%d of %d sampled values look like %s", k, p.vals.n, piiValueWhat[c]))
		}
		nm, ok := piiMatchName(p.key, p.person)
		if ok && (p.strings > 0 || piiNumericOK[nm.cat]) {
			reasons = append([]string{fmt.Sprintf("key name looks like %q (%s)", nm.token, nm.cat)}, reasons...)
			if cat == piiNone || nm.cat == piiName {
				cat = nm.cat
			}
		}
		if cat == piiNone {
			continue
		}
		jp := p.vals.jp*2 > p.vals.n && p.vals.n > 0
		r, ok := driftNestedRule(cat, nm, jp, d.rules.Locale)
		if !ok {
			continue
		}
		fl = append(fl, flagged{path: p.path, reasons: reasons, rule: r})
	}
	if len(fl) == 0 {
		return nil, nil
	}
	paths := make([]patchPathRule, len(fl))
	for i, f := range fl {
		paths[i] = patchPathRule{path: f.path, rule: f.rule}
	}
	target := transform.Target{Column: col, Unique: t.UniqueColumn(col.Name)}
	cands := []patchRule{{name: "json", paths: paths}}
	cands = append(cands, driftFallbacks(target)...)
	sug := driftFirstFit(cands, target, d.rules.Locale)
	var out []DriftFinding
	var comments []string
	for _, f := range fl {
		out = append(out, DriftFinding{Table: d.display(t), Column: col.Name + " " + f.path, Reasons: f.reasons, Suggest: sug})
		comments = append(comments, f.path+": "+strings.Join(f.reasons, ", "))
	}
	var add *patchAdd
	if sug != "" {
		add = &patchAdd{table: t.TableName, column: col.Name, rule: sug, comment: strings.Join(comments, "; ")}
	}
	return out, add
}

// driftNestedRule is the rule for one JSON path; it is bound inside the
// json transformer to an unbounded text value.
func driftNestedRule(cat piiCategory, nm piiNameMatch, jp bool, locale string) (patchRule, bool) {
	col := &schema.Column{Name: "json", Kind: schema.KindText, Nullable: true, Charset: "utf8mb4"}
	tg := transform.Target{Column: col}
	cands := driftCandidates(cat, nm, jp, tg, locale)
	cands = append(cands, patchRule{name: "hash"}, patchRule{name: "nullify"})
	for _, c := range cands {
		if c.name == "date_shift" {
			continue // a JSON value's text may not be a date
		}
		if driftFits(c, tg, locale) {
			return c, true
		}
	}
	return patchRule{}, false
}
