// Package preserve parses the row predicates of RESTAGE_PRESERVE
// ("users: role = 'qa' AND NOT disabled") into a small, closed grammar and
// renders them for each engine with quoted identifiers and every literal
// sent as a bind parameter (Render, in each engine's Dialect). A setting is never pasted into SQL: on
// PostgreSQL a pasted predicate could close the statement and run
// `COPY … TO PROGRAM` on the database host.
//
// The grammar (keywords are case-insensitive):
//
//	expr      = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | primary
//	primary   = "(" expr ")" | TRUE | FALSE | column [ test ]
//	test      = cmp operand | [ NOT ] IN "(" literal { "," literal } ")" | IS [ NOT ] NULL
//	cmp       = "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
//	operand   = literal | column
//	literal   = 'string' ('' is a quote) | number | TRUE | FALSE
//	column    = letter or _ { letter, digit, _ }
//
// A bare column is a boolean test ("is_qa"). NULL is compared only with IS
// [NOT] NULL: "= NULL" is never true in SQL, so it is refused as a mistake.
package preserve

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits keep a predicate a predicate: the setting is read by people and
// rendered recursively.
const (
	maxLen   = 4096
	maxDepth = 32
	maxList  = 1000
)

// ErrUnknownColumn is returned by Render when the predicate
// names a column the table does not have. It is bad input (exit 2).
var ErrUnknownColumn = errors.New("unknown column")

// Predicate is a parsed row predicate. The zero of *Predicate (nil) means
// every row.
type Predicate struct {
	root node
	text string
}

// Parse parses s. Errors name the position (1-based, in characters) and
// the offending token; the text of a setting is not personal data.
func Parse(s string) (*Predicate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty predicate")
	}
	if len(s) > maxLen {
		return nil, fmt.Errorf("predicate is %d bytes; the limit is %d", len(s), maxLen)
	}
	p := &parser{toks: lex(s)}
	n, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return &Predicate{root: n, text: strings.TrimSpace(s)}, nil
}

// MustParse is Parse for tests and constants; it panics on an error.
func MustParse(s string) *Predicate {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the predicate as written.
func (p *Predicate) String() string {
	if p == nil {
		return ""
	}
	return p.text
}

// Columns lists the columns the predicate names, in order of appearance.
func (p *Predicate) Columns() []string {
	if p == nil {
		return nil
	}
	var out []string
	walk(p.root, func(n node) {
		if c, ok := n.(column); ok && !slices.Contains(out, string(c)) {
			out = append(out, string(c))
		}
	})
	return out
}

// Literal is one value of a predicate, as a Dialect binds it: its text
// and whether it was written as a number.
type Literal struct {
	Text   string
	Number bool
}

// Dialect is how an engine writes a predicate: its identifier quoting and
// its bind parameters. Param is called for each literal in order and
// returns its placeholder; the engine keeps the arguments.
type Dialect struct {
	Quote func(name string) string
	Param func(v Literal) string
}

// Render renders the predicate in an engine's dialect. columns are the
// table's columns: each name in the predicate must match one (exactly,
// else case-insensitively and uniquely), or the error wraps
// ErrUnknownColumn. A nil predicate renders as TRUE. Every literal goes
// through d.Param: nothing of the setting is pasted into SQL but the
// table's own column names, quoted.
func (p *Predicate) Render(columns []string, d Dialect) (string, error) {
	r := &renderer{columns: columns, quote: d.Quote, placeholder: func(v lit) string {
		return d.Param(Literal{Text: v.val, Number: v.number})
	}}
	return r.render(p)
}

// ---- syntax tree ----

type node interface{}

type (
	column string
	lit    struct {
		val    string
		number bool
	}
	boolLit bool
	binary  struct {
		op   string // AND, OR
		l, r node
	}
	not     struct{ x node }
	compare struct {
		op string
		l  column
		r  node // lit, boolLit or column
	}
	in struct {
		col  column
		not  bool
		list []node // lit or boolLit
	}
	isNull struct {
		col column
		not bool
	}
)

func walk(n node, f func(node)) {
	f(n)
	switch n := n.(type) {
	case binary:
		walk(n.l, f)
		walk(n.r, f)
	case not:
		walk(n.x, f)
	case compare:
		walk(n.l, f)
		walk(n.r, f)
	case in:
		walk(n.col, f)
	case isNull:
		walk(n.col, f)
	}
}

// ---- rendering ----

type renderer struct {
	columns     []string
	quote       func(string) string
	placeholder func(lit) string
}

func (r *renderer) render(p *Predicate) (string, error) {
	if p == nil {
		return "TRUE", nil
	}
	var b strings.Builder
	if err := r.node(&b, p.root); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (r *renderer) column(name column) (string, error) {
	if slices.Contains(r.columns, string(name)) {
		return r.quote(string(name)), nil
	}
	var found []string
	for _, c := range r.columns {
		if strings.EqualFold(c, string(name)) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return r.quote(found[0]), nil
	}
	return "", fmt.Errorf("%w %s", ErrUnknownColumn, string(name))
}

func (r *renderer) node(b *strings.Builder, n node) error {
	switch n := n.(type) {
	case column:
		c, err := r.column(n)
		if err != nil {
			return err
		}
		b.WriteString(c)
	case lit:
		b.WriteString(r.placeholder(n))
	case boolLit:
		if n {
			b.WriteString("TRUE")
		} else {
			b.WriteString("FALSE")
		}
	case binary:
		b.WriteString("(")
		if err := r.node(b, n.l); err != nil {
			return err
		}
		b.WriteString(" " + n.op + " ")
		if err := r.node(b, n.r); err != nil {
			return err
		}
		b.WriteString(")")
	case not:
		b.WriteString("(NOT ")
		if err := r.node(b, n.x); err != nil {
			return err
		}
		b.WriteString(")")
	case compare:
		b.WriteString("(")
		if err := r.node(b, n.l); err != nil {
			return err
		}
		b.WriteString(" " + n.op + " ")
		if err := r.node(b, n.r); err != nil {
			return err
		}
		b.WriteString(")")
	case in:
		b.WriteString("(")
		if err := r.node(b, n.col); err != nil {
			return err
		}
		if n.not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		for i, v := range n.list {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := r.node(b, v); err != nil {
				return err
			}
		}
		b.WriteString("))")
	case isNull:
		b.WriteString("(")
		if err := r.node(b, n.col); err != nil {
			return err
		}
		if n.not {
			b.WriteString(" IS NOT NULL)")
		} else {
			b.WriteString(" IS NULL)")
		}
	default:
		return fmt.Errorf("internal error: unknown predicate node %T", n)
	}
	return nil
}

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tKeyword // AND OR NOT IN IS NULL TRUE FALSE, upper-cased in text
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
	tBad // a lexical error; err says which
)

type token struct {
	kind tokKind
	text string // the value for strings, upper case for keywords
	raw  string // as written, for messages
	pos  int    // 1-based character position
	err  error  // tBad only
}

var keywords = []string{"AND", "OR", "NOT", "IN", "IS", "NULL", "TRUE", "FALSE"}

func isLetter(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// lex splits s into tokens; positions count characters (runes). A
// lexical error ends the list as a tBad token, so the parser reports
// whichever problem comes first in the text.
func lex(s string) []token {
	toks, err := lexErr(s)
	if err != nil {
		return append(toks, token{kind: tBad, err: err})
	}
	return toks
}

func lexErr(s string) (toks []token, err error) {
	pos := func(i int) int { return len([]rune(s[:i])) + 1 }
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isLetter(c):
			j := i
			for j < len(s) && (isLetter(s[j]) || isDigit(s[j])) {
				j++
			}
			w := s[i:j]
			t := token{kind: tIdent, text: w, raw: w, pos: pos(i)}
			if up := strings.ToUpper(w); slices.Contains(keywords, up) {
				t.kind, t.text = tKeyword, up
			}
			toks = append(toks, t)
			i = j
		case isDigit(c) || ((c == '-' || c == '+' || c == '.') && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '.')):
			j := i
			if c == '-' || c == '+' {
				j++
			}
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j < len(s) && s[j] == '.' {
				j++
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '-' || s[k] == '+') {
					k++
				}
				if k < len(s) && isDigit(s[k]) {
					for k < len(s) && isDigit(s[k]) {
						k++
					}
					j = k
				}
			}
			num := s[i:j]
			if _, err := strconv.ParseFloat(num, 64); err != nil || (j < len(s) && isLetter(s[j])) {
				return toks, fmt.Errorf("position %d: %q is not a number", pos(i), clip(s[i:min(j+1, len(s))]))
			}
			toks = append(toks, token{kind: tNumber, text: strings.TrimPrefix(num, "+"), raw: num, pos: pos(i)})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return toks, fmt.Errorf("position %d: unterminated string", pos(i))
			}
			toks = append(toks, token{kind: tString, text: b.String(), raw: s[i:j], pos: pos(i)})
			i = j
		case c == '(' || c == ')' || c == ',':
			k := map[byte]tokKind{'(': tLParen, ')': tRParen, ',': tComma}[c]
			toks = append(toks, token{kind: k, text: string(c), raw: string(c), pos: pos(i)})
			i++
		case c == '=' || c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(s) {
				if two := s[i : i+2]; two == "<>" || two == "!=" || two == "<=" || two == ">=" {
					op = two
				}
			}
			if op == "!" {
				return toks, fmt.Errorf("position %d: unexpected %q (use NOT or !=)", pos(i), "!")
			}
			toks = append(toks, token{kind: tOp, text: op, raw: op, pos: pos(i)})
			i += len(op)
		default:
			r := []rune(s[i:])[0]
			return toks, fmt.Errorf("position %d: unexpected character %q; a predicate holds columns, comparisons (= <> != < <= > >=), 'strings', numbers, TRUE, FALSE, AND, OR, NOT, IN (...), IS [NOT] NULL and parentheses", pos(i), r)
		}
	}
	return append(toks, token{kind: tEOF, pos: len([]rune(s)) + 1}), nil
}

// clip shortens a token for a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 24 {
		return string(r[:24]) + "…"
	}
	return s
}

// ---- parser ----

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF && t.kind != tBad {
		p.i++
	}
	return t
}

func (p *parser) isKeyword(w string) bool {
	t := p.peek()
	return t.kind == tKeyword && t.text == w
}

func (p *parser) unexpected(t token) error {
	if t.kind == tBad {
		return t.err
	}
	if t.kind == tEOF {
		return fmt.Errorf("position %d: the predicate ends too early", t.pos)
	}
	return fmt.Errorf("position %d: unexpected %q; a predicate holds columns, comparisons (= <> != < <= > >=), 'strings', numbers, TRUE, FALSE, AND, OR, NOT, IN (...), IS [NOT] NULL and parentheses", t.pos, clip(t.raw))
}

func (p *parser) expr(depth int) (node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("position %d: nested deeper than %d levels", p.peek().pos, maxDepth)
	}
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("OR") {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = binary{op: "OR", l: l, r: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.isKeyword("AND") {
		p.next()
		r, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		l = binary{op: "AND", l: l, r: r}
	}
	return l, nil
}

func (p *parser) not(depth int) (node, error) {
	if p.isKeyword("NOT") {
		if depth > maxDepth {
			return nil, fmt.Errorf("position %d: nested deeper than %d levels", p.peek().pos, maxDepth)
		}
		p.next()
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return not{x: x}, nil
	}
	return p.primary(depth)
}

func (p *parser) primary(depth int) (node, error) {
	t := p.next()
	switch {
	case t.kind == tLParen:
		x, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.unexpected(c)
		}
		return x, nil
	case t.kind == tKeyword && (t.text == "TRUE" || t.text == "FALSE"):
		return boolLit(t.text == "TRUE"), nil
	case t.kind == tIdent:
		return p.test(column(t.text))
	}
	return nil, p.unexpected(t)
}

func (p *parser) test(col column) (node, error) {
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.next()
		r := p.next()
		switch {
		case r.kind == tIdent:
			return compare{op: canonicalOp(t.text), l: col, r: column(r.text)}, nil
		case r.kind == tKeyword && r.text == "NULL":
			return nil, fmt.Errorf("position %d: %s NULL is never true; use IS NULL or IS NOT NULL", t.pos, t.text)
		}
		v, err := p.literal(r)
		if err != nil {
			return nil, err
		}
		return compare{op: canonicalOp(t.text), l: col, r: v}, nil
	case t.kind == tKeyword && t.text == "IS":
		p.next()
		neg := false
		if p.isKeyword("NOT") {
			p.next()
			neg = true
		}
		if n := p.next(); n.kind != tKeyword || n.text != "NULL" {
			return nil, p.unexpected(n)
		}
		return isNull{col: col, not: neg}, nil
	case t.kind == tKeyword && (t.text == "IN" || t.text == "NOT"):
		neg := false
		if t.text == "NOT" {
			p.next()
			if !p.isKeyword("IN") {
				return nil, p.unexpected(p.peek())
			}
			neg = true
		}
		p.next()
		if l := p.next(); l.kind != tLParen {
			return nil, p.unexpected(l)
		}
		var list []node
		for {
			v, err := p.literal(p.next())
			if err != nil {
				return nil, err
			}
			if list = append(list, v); len(list) > maxList {
				return nil, fmt.Errorf("position %d: IN lists more than %d values", t.pos, maxList)
			}
			c := p.next()
			if c.kind == tRParen {
				break
			}
			if c.kind != tComma {
				return nil, p.unexpected(c)
			}
		}
		return in{col: col, not: neg, list: list}, nil
	}
	// A bare column: a boolean test.
	return col, nil
}

func (p *parser) literal(t token) (node, error) {
	switch {
	case t.kind == tString:
		return lit{val: t.text}, nil
	case t.kind == tNumber:
		return lit{val: t.text, number: true}, nil
	case t.kind == tKeyword && (t.text == "TRUE" || t.text == "FALSE"):
		return boolLit(t.text == "TRUE"), nil
	case t.kind == tKeyword && t.text == "NULL":
		return nil, fmt.Errorf("position %d: NULL in a list is never matched; use IS NULL", t.pos)
	}
	return nil, p.unexpected(t)
}

func canonicalOp(op string) string {
	if op == "!=" {
		return "<>"
	}
	return op
}
