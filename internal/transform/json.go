package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/restage/restage/internal/schema"
)

var (
	errBadJSON  = errors.New("json: value is not valid json")
	errDeepJSON = errors.New("json: value is nested too deeply")
)

const maxJSONDepth = 10000

type stepKind int

const (
	stepKey   stepKind = iota // .name, ['name']
	stepAny                   // .*, [*]: every member or element
	stepIndex                 // [N]
)

type pathStep struct {
	kind stepKind
	key  string
	idx  int
}

type jsonPath struct {
	src   string
	steps []pathStep
	t     Transformer
}

type jsonT struct {
	paths []jsonPath // in precedence order: the first matching path wins
}

// parseJSONPath parses "$", "$.a.b", "$.items[*].email", "$.*",
// "$['a b'][0]".
func parseJSONPath(src string) ([]pathStep, error) {
	if !strings.HasPrefix(src, "$") {
		return nil, errors.New("must start with $")
	}
	var steps []pathStep
	s := src[1:]
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			name := s[:end]
			s = s[end:]
			switch name {
			case "":
				return nil, errors.New("empty key")
			case "*":
				steps = append(steps, pathStep{kind: stepAny})
			default:
				steps = append(steps, pathStep{kind: stepKey, key: name})
			}
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, errors.New("unclosed [")
			}
			in := s[1:end]
			s = s[end+1:]
			switch {
			case in == "*":
				steps = append(steps, pathStep{kind: stepAny})
			case len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0]:
				steps = append(steps, pathStep{kind: stepKey, key: in[1 : len(in)-1]})
			default:
				n, err := strconv.Atoi(in)
				if err != nil || n < 0 {
					return nil, errors.New("bad index [" + in + "]")
				}
				steps = append(steps, pathStep{kind: stepIndex, idx: n})
			}
		default:
			return nil, errors.New("expected . or [")
		}
	}
	return steps, nil
}

func parseJSON(_ string, p *params, opt Options) (Transformer, error) {
	v, ok := p.get("paths")
	if !ok {
		return nil, perr("paths", "is required")
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, perr("paths", "must be a map from path to rule")
	}
	t := &jsonT{}
	for src, rule := range m {
		steps, err := parseJSONPath(src)
		if err != nil {
			return nil, perr("paths", "%s: %v", src, err)
		}
		var name string
		var params map[string]any
		switch r := rule.(type) {
		case string:
			name = r
		case map[string]any:
			n, ok := r["transformer"].(string)
			if !ok {
				return nil, perr("paths", "%s: needs a transformer", src)
			}
			name = n
			params = make(map[string]any, len(r))
			for k, v := range r {
				if k != "transformer" {
					params[k] = v
				}
			}
		default:
			return nil, perr("paths", "%s: must be a transformer name or a rule", src)
		}
		nt, err := Parse(name, params, opt)
		if err != nil {
			var pe *ParamError
			if errors.As(err, &pe) {
				return nil, perr("paths", "%s: %s", src, pe.Error())
			}
			return nil, perr("paths", "%s: %v", src, err)
		}
		t.paths = append(t.paths, jsonPath{src: src, steps: steps, t: nt})
	}
	// Precedence when several paths match one value: fewer wildcards
	// first, then longer paths, then by text.
	sort.Slice(t.paths, func(i, j int) bool {
		a, b := t.paths[i], t.paths[j]
		if wa, wb := wildcards(a.steps), wildcards(b.steps); wa != wb {
			return wa < wb
		}
		if len(a.steps) != len(b.steps) {
			return len(a.steps) > len(b.steps)
		}
		return a.src < b.src
	})
	return t, nil
}

func wildcards(steps []pathStep) int {
	n := 0
	for _, s := range steps {
		if s.kind == stepAny {
			n++
		}
	}
	return n
}

func (*jsonT) Name() string { return "json" }

// boundPath holds a path's transformer bound to synthetic, unbounded
// columns: strings are masked as text; numbers as int, decimal or float
// (by their form) when the transformer handles that kind, else as text
// (the number then becomes a JSON string).
type boundPath struct {
	keep, null        bool
	text, i, dec, flt Func
}

// Bind: the json transformer rewrites only the spans of the values at its
// paths; every other byte of the document stays identical. A value inside
// a matched object or array is masked leaf by leaf; nullify replaces the
// matched value itself with null. JSON null and booleans are kept. Missing
// paths are fine; a document where no path matched is returned unchanged
// (so json is exempt from the never-equal redraw at document level; each
// masked leaf differs from its original). Nested rules get the outer
// seed when the rule has one (so they describe the same person), else the
// leaf's own value.
func (t *jsonT) Bind(tg Target) (Func, error) {
	if err := check("json", tg, spec{kinds: []schema.Kind{schema.KindJSON, schema.KindText}, nonASCII: false}); err != nil {
		return nil, err
	}
	cs := tg.Column.Charset
	bound := make([]boundPath, len(t.paths))
	for i, p := range t.paths {
		b := &bound[i]
		switch {
		case IsKeep(p.t):
			b.keep = true
			continue
		case Nullifies(p.t):
			b.null = true
			continue
		}
		var err error
		b.text, err = p.t.Bind(Target{Column: &schema.Column{Name: "json", Kind: schema.KindText, Charset: cs, Nullable: true}})
		b.i, _ = p.t.Bind(Target{Column: &schema.Column{Name: "json", Kind: schema.KindInt, IntBits: 64, Nullable: true}})
		b.dec, _ = p.t.Bind(Target{Column: &schema.Column{Name: "json", Kind: schema.KindDecimal, Nullable: true}})
		b.flt, _ = p.t.Bind(Target{Column: &schema.Column{Name: "json", Kind: schema.KindFloat, Nullable: true}})
		if b.text == nil && b.i == nil && b.dec == nil && b.flt == nil {
			return nil, fmt.Errorf("json path %s: %v", p.src, err)
		}
	}
	g := func(m *Masker, in Input, _ []byte, _ int) (string, error) {
		w := jsonWalker{t: t, bound: bound, m: m, s: in.Value, seed: in.Seed}
		return w.run()
	}
	return wrap(tg.Column, g, wrapOpts{exempt: true, strictLen: true}), nil
}

type repl struct {
	start, end int
	s          string
}

type jsonWalker struct {
	t     *jsonT
	bound []boundPath
	m     *Masker
	s     string
	pos   int
	seed  []byte
	out   []repl
	depth int
	// blank: instead of masking, cut the values at the paths out (see
	// Unmasked).
	blank bool
}

func (w *jsonWalker) run() (string, error) {
	st := make([]int, len(w.t.paths))
	w.ws()
	if err := w.value(st, -1); err != nil {
		return "", err
	}
	w.ws()
	if w.pos != len(w.s) {
		return "", errBadJSON
	}
	if len(w.out) == 0 {
		return "", errUnchanged
	}
	var sb strings.Builder
	n := len(w.s)
	for _, r := range w.out {
		n += len(r.s) - (r.end - r.start)
	}
	sb.Grow(n)
	last := 0
	for _, r := range w.out {
		sb.WriteString(w.s[last:r.start])
		sb.WriteString(r.s)
		last = r.end
	}
	sb.WriteString(w.s[last:])
	return sb.String(), nil
}

func (w *jsonWalker) ws() {
	for w.pos < len(w.s) {
		switch w.s[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// target returns the first path fully matched at this node, or -1.
func (w *jsonWalker) target(st []int) int {
	for i, n := range st {
		if n == len(w.t.paths[i].steps) {
			return i
		}
	}
	return -1
}

// child computes the states of a member (key) or element (idx >= 0).
func (w *jsonWalker) child(st []int, key string, isKey bool, idx int) []int {
	var out []int
	for i, n := range st {
		next := -1
		if n >= 0 && n < len(w.t.paths[i].steps) {
			step := w.t.paths[i].steps[n]
			switch {
			case step.kind == stepAny,
				step.kind == stepKey && isKey && step.key == key,
				step.kind == stepIndex && !isKey && step.idx == idx:
				next = n + 1
			}
		}
		if next >= 0 {
			if out == nil {
				out = make([]int, len(st))
				for j := range out {
					out[j] = -1
				}
			}
			out[i] = next
		}
	}
	return out
}

// value walks one value. st holds, per path, the number of its steps
// matched at this node (-1: no longer matching); it is nil when no path can
// match here or below. in is the path index of an enclosing matched
// container (-1: none).
func (w *jsonWalker) value(st []int, in int) error {
	if w.pos >= len(w.s) {
		return errBadJSON
	}
	tgt := in
	if st != nil && in < 0 {
		tgt = w.target(st)
	}
	start := w.pos
	if tgt >= 0 && w.bound[tgt].keep {
		return w.skipValue() // kept subtree
	}
	switch c := w.s[w.pos]; {
	case c == '{' || c == '[':
		if tgt >= 0 && w.bound[tgt].null {
			if err := w.skipValue(); err != nil {
				return err
			}
			w.out = append(w.out, repl{start, w.pos, "null"})
			return nil
		}
		return w.container(st, tgt)
	case c == '"':
		if err := w.skipString(); err != nil {
			return err
		}
		if tgt >= 0 {
			return w.maskString(tgt, start, w.pos)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		if err := w.skipNumber(); err != nil {
			return err
		}
		if tgt >= 0 {
			return w.maskNumber(tgt, start, w.pos)
		}
	default:
		if err := w.skipLiteral(); err != nil {
			return err
		}
		if tgt >= 0 && w.bound[tgt].null && w.s[start] != 'n' {
			w.out = append(w.out, repl{start, w.pos, "null"})
		}
	}
	return nil
}

func (w *jsonWalker) container(st []int, tgt int) error {
	w.depth++
	if w.depth > maxJSONDepth {
		return errDeepJSON
	}
	defer func() { w.depth-- }()
	open := w.s[w.pos]
	w.pos++
	w.ws()
	if open == '[' {
		if w.pos < len(w.s) && w.s[w.pos] == ']' {
			w.pos++
			return nil
		}
		for idx := 0; ; idx++ {
			var cst []int
			if tgt < 0 {
				cst = w.child(st, "", false, idx)
			}
			w.ws()
			if err := w.value(cst, tgt); err != nil {
				return err
			}
			w.ws()
			if w.pos >= len(w.s) {
				return errBadJSON
			}
			if w.s[w.pos] == ']' {
				w.pos++
				return nil
			}
			if w.s[w.pos] != ',' {
				return errBadJSON
			}
			w.pos++
		}
	}
	if w.pos < len(w.s) && w.s[w.pos] == '}' {
		w.pos++
		return nil
	}
	for {
		w.ws()
		ks := w.pos
		if w.pos >= len(w.s) || w.s[w.pos] != '"' {
			return errBadJSON
		}
		if err := w.skipString(); err != nil {
			return err
		}
		var cst []int
		if tgt < 0 {
			key, err := decodeJSONString(w.s[ks:w.pos])
			if err != nil {
				return err
			}
			cst = w.child(st, key, true, 0)
		}
		w.ws()
		if w.pos >= len(w.s) || w.s[w.pos] != ':' {
			return errBadJSON
		}
		w.pos++
		w.ws()
		if err := w.value(cst, tgt); err != nil {
			return err
		}
		w.ws()
		if w.pos >= len(w.s) {
			return errBadJSON
		}
		if w.s[w.pos] == '}' {
			w.pos++
			return nil
		}
		if w.s[w.pos] != ',' {
			return errBadJSON
		}
		w.pos++
	}
}

func (w *jsonWalker) skipValue() error {
	return w.value(nil, -1)
}

func (w *jsonWalker) skipString() error {
	i := w.pos + 1
	for i < len(w.s) {
		switch c := w.s[i]; {
		case c == '"':
			w.pos = i + 1
			return nil
		case c == '\\':
			i += 2
		case c < 0x20:
			return errBadJSON
		default:
			i++
		}
	}
	return errBadJSON
}

func (w *jsonWalker) skipNumber() error {
	s, i := w.s, w.pos
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return errBadJSON
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return errBadJSON
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return errBadJSON
		}
	}
	w.pos = i
	return nil
}

func (w *jsonWalker) skipLiteral() error {
	for _, lit := range [...]string{"true", "false", "null"} {
		if strings.HasPrefix(w.s[w.pos:], lit) {
			w.pos += len(lit)
			return nil
		}
	}
	return errBadJSON
}

func (w *jsonWalker) maskString(tgt, start, end int) error {
	b := &w.bound[tgt]
	if w.blank {
		if b.null || b.text != nil {
			w.out = append(w.out, repl{start, end, `""`})
		}
		return nil
	}
	if b.null {
		w.out = append(w.out, repl{start, end, "null"})
		return nil
	}
	if b.text == nil {
		return nil // the transformer only handles numbers
	}
	v, err := decodeJSONString(w.s[start:end])
	if err != nil {
		return err
	}
	out, null, err := b.text(w.m, Input{Value: v, Seed: w.seed})
	if err != nil {
		return err
	}
	if null {
		w.out = append(w.out, repl{start, end, "null"})
		return nil
	}
	w.out = append(w.out, repl{start, end, string(appendJSONString(nil, out))})
	return nil
}

func (w *jsonWalker) maskNumber(tgt, start, end int) error {
	b := &w.bound[tgt]
	if w.blank {
		w.out = append(w.out, repl{start, end, "0"})
		return nil
	}
	if b.null {
		w.out = append(w.out, repl{start, end, "null"})
		return nil
	}
	v := w.s[start:end]
	f := b.dec
	switch {
	case strings.ContainsAny(v, "eE"):
		f = b.flt
	case !strings.Contains(v, "."):
		f = b.i
		if f != nil {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				f = b.dec // beyond int64
			}
		}
	}
	asText := f == nil
	if asText {
		f = b.text
	}
	if f == nil {
		return nil
	}
	out, null, err := f(w.m, Input{Value: v, Seed: w.seed})
	if err != nil {
		return err
	}
	switch {
	case null:
		out = "null"
	case asText || !validJSONNumber(out):
		out = string(appendJSONString(nil, out))
	}
	w.out = append(w.out, repl{start, end, out})
	return nil
}

func validJSONNumber(s string) bool {
	w := jsonWalker{s: s}
	return w.skipNumber() == nil && w.pos == len(s)
}

// decodeJSONString decodes a quoted JSON string.
func decodeJSONString(q string) (string, error) {
	body := q[1 : len(q)-1]
	if !strings.ContainsRune(body, '\\') && utf8.ValidString(body) {
		return body, nil
	}
	var s string
	if err := json.Unmarshal([]byte(q), &s); err != nil {
		return "", errBadJSON
	}
	return s, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s like encoding/json with SetEscapeHTML(false):
// ", \ and control characters escaped, U+2028/U+2029 as \u escapes,
// invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
