package mysql

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/restage/restage/internal/mask"
)

// This file reads the script mariadb-dump (or mysqldump) prints, statement
// by statement, so the masking copy can transform the rows of masked
// tables on their way and pass everything else through byte for byte.
// It knows the dump's shape, not all of SQL: a data statement is a line
// starting "INSERT INTO `table`" while the delimiter is ";" (trigger and
// routine bodies are always inside DELIMITER ;; blocks), with the column
// list --complete-insert prints (the masking copy's), then extended-insert
// tuples of literals.

// myInsert is one data statement of a dump.
type myInsert struct {
	table string   // unquoted table name
	cols  []string // the column list, unquoted
	head  int      // offset of the first tuple in stmt
	rows  int64    // number of tuples
	stmt  []byte   // the whole statement through its ";\n"
}

// myDumpReader splits a dump into data statements and the text between
// them.
type myDumpReader struct {
	br    *bufio.Reader
	delim string
	line  []byte
	err   error
}

func newMyDumpReader(r io.Reader) *myDumpReader {
	return &myDumpReader{br: bufio.NewReaderSize(r, 256<<10), delim: ";"}
}

var myInsertPrefix = []byte("INSERT INTO `")

// next returns the next piece of the dump: text (one line, or a chunk of a
// line longer than the buffer, to pass on as it is) or a data statement
// (its stmt, rows and columns filled, the statement appended to buf).
// It returns io.EOF at the end.
func (d *myDumpReader) next(buf []byte) (text []byte, ins *myInsert, err error) {
	if d.err != nil {
		return nil, nil, d.err
	}
	chunk, err := d.br.ReadSlice('\n')
	if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
		d.err = err
		return nil, nil, err
	}
	if len(chunk) == 0 && err == io.EOF {
		d.err = io.EOF
		return nil, nil, io.EOF
	}
	if d.delim == ";" && bytes.HasPrefix(chunk, myInsertPrefix) {
		ins, err := d.readInsert(chunk, err, buf)
		if err != nil {
			d.err = err
			return nil, nil, err
		}
		return nil, ins, nil
	}
	// Other text: whole lines, so the schema rewrite and DELIMITER see
	// them entire (they are short: DDL, SET, comments).
	d.line = append(d.line[:0], chunk...)
	for err == bufio.ErrBufferFull {
		chunk, err = d.br.ReadSlice('\n')
		d.line = append(d.line, chunk...)
	}
	if err != nil && err != io.EOF {
		d.err = err
		return nil, nil, err
	}
	if err == io.EOF {
		d.err = io.EOF
	}
	if bytes.HasPrefix(d.line, []byte("DELIMITER ")) {
		d.delim = strings.TrimSpace(string(d.line[len("DELIMITER "):]))
	}
	return d.line, nil, nil
}

// readInsert reads one data statement starting with first (read with
// error rerr) into buf: the header, then tuples until the ";" that ends
// the statement outside any literal.
func (d *myDumpReader) readInsert(first []byte, rerr error, buf []byte) (*myInsert, error) {
	ins := &myInsert{}
	buf = append(buf[:0], first...)
	// The header: INSERT INTO `t` (`a`, `b`) VALUES (
	for rerr == bufio.ErrBufferFull && !bytes.Contains(buf, []byte(" VALUES")) {
		var chunk []byte
		chunk, rerr = d.br.ReadSlice('\n')
		buf = append(buf, chunk...)
	}
	if err := ins.parseHead(buf); err != nil {
		return nil, err
	}
	var sc myTupleCounter
	pos := ins.head
	for {
		end, done, err := sc.scan(buf, pos)
		if err != nil {
			return nil, err
		}
		if done {
			rest := buf[end:]
			if len(bytes.TrimRight(rest, "\r\n")) > 0 {
				return nil, errors.New("dump: text after a data statement on its line")
			}
			if rerr == bufio.ErrBufferFull {
				return nil, errors.New("dump: text after a data statement on its line")
			}
			break
		}
		pos = end
		if rerr == io.EOF {
			return nil, errors.New("dump: data statement cut short")
		}
		var chunk []byte
		chunk, rerr = d.br.ReadSlice('\n')
		if rerr != nil && rerr != bufio.ErrBufferFull && rerr != io.EOF {
			return nil, rerr
		}
		buf = append(buf, chunk...)
	}
	if rerr == io.EOF {
		d.err = io.EOF
	}
	ins.rows, ins.stmt = sc.rows, buf
	return ins, nil
}

// parseHead reads the table and the column list of INSERT INTO `t`
// (`a`, …) VALUES; the column list is nil when the dump printed none.
func (ins *myInsert) parseHead(b []byte) error {
	p := len(myInsertPrefix) - 1
	name, n, ok := myReadIdent(b[p:])
	if !ok {
		return errors.New("dump: unreadable table name in a data statement")
	}
	ins.table = name
	p += n
	if bytes.HasPrefix(b[p:], []byte(" VALUES")) {
		// No column list (no --complete-insert): the plain copy's.
		ins.head = p + len(" VALUES")
		return nil
	}
	if !bytes.HasPrefix(b[p:], []byte(" (")) {
		return errors.New("dump: unreadable data statement")
	}
	p += 2
	for {
		col, n, ok := myReadIdent(b[p:])
		if !ok {
			return fmt.Errorf("dump: unreadable column list of %s", name)
		}
		ins.cols = append(ins.cols, col)
		p += n
		if bytes.HasPrefix(b[p:], []byte(", ")) {
			p += 2
			continue
		}
		if bytes.HasPrefix(b[p:], []byte(") VALUES")) {
			ins.head = p + len(") VALUES")
			return nil
		}
		return fmt.Errorf("dump: unreadable column list of %s", name)
	}
}

// myReadIdent reads one backquoted identifier at the start of b.
func myReadIdent(b []byte) (string, int, bool) {
	if len(b) == 0 || b[0] != '`' {
		return "", 0, false
	}
	var s []byte
	for i := 1; i < len(b); i++ {
		if b[i] != '`' {
			s = append(s, b[i])
			continue
		}
		if i+1 < len(b) && b[i+1] == '`' {
			s = append(s, '`')
			i++
			continue
		}
		return string(s), i + 1, true
	}
	return "", 0, false
}

// myTupleCounter scans the tuples of a data statement across reads,
// counting them and finding the ";" that ends the statement.
type myTupleCounter struct {
	quote byte // the open literal's quote, or 0
	esc   bool // the last byte was a backslash inside a literal
	depth int
	rows  int64
}

// scan continues at b[from:]; it returns where it stopped (the end of b,
// or just past the final ";") and whether the statement ended.
func (c *myTupleCounter) scan(b []byte, from int) (int, bool, error) {
	for i := from; i < len(b); i++ {
		ch := b[i]
		if c.quote != 0 {
			switch {
			case c.esc:
				c.esc = false
			case ch == '\\':
				c.esc = true
			case ch == c.quote:
				// A doubled quote reopens the literal at the next byte.
				c.quote = 0
			}
			continue
		}
		switch ch {
		case '\'', '"':
			c.quote = ch
		case '(':
			if c.depth == 0 {
				c.rows++
			}
			c.depth++
		case ')':
			c.depth--
			if c.depth < 0 {
				return 0, false, errors.New("dump: unbalanced parenthesis in a data statement")
			}
		case ';':
			if c.depth == 0 {
				return i + 1, true, nil
			}
		}
	}
	return len(b), false, nil
}

// myField is one literal of a tuple: stmt[start:end].
type myField struct{ start, end int }

// myTuples calls fn for each tuple of stmt from offset head, with the
// spans of its fields (reused between calls) and the span of the whole
// tuple, parentheses included.
func myTuples(stmt []byte, head int, fn func(fields []myField, start, end int) error) error {
	var fields []myField
	i := head
	for {
		for i < len(stmt) && (stmt[i] == ' ' || stmt[i] == '\n' || stmt[i] == '\r' || stmt[i] == '\t') {
			i++
		}
		if i >= len(stmt) || stmt[i] != '(' {
			return errors.New("dump: tuple expected in a data statement")
		}
		start := i
		i++
		fields = fields[:0]
		for {
			f, next, err := myScanLiteral(stmt, i)
			if err != nil {
				return err
			}
			fields = append(fields, f)
			i = next
			if i >= len(stmt) {
				return errors.New("dump: tuple cut short")
			}
			if stmt[i] == ',' {
				i++
				continue
			}
			if stmt[i] == ')' {
				i++
				break
			}
			return errors.New("dump: unexpected text in a tuple")
		}
		if err := fn(fields, start, i); err != nil {
			return err
		}
		for i < len(stmt) && (stmt[i] == ' ' || stmt[i] == '\n' || stmt[i] == '\r' || stmt[i] == '\t') {
			i++
		}
		if i < len(stmt) && stmt[i] == ',' {
			i++
			continue
		}
		if i < len(stmt) && stmt[i] == ';' {
			return nil
		}
		return errors.New("dump: unexpected text between tuples")
	}
}

// myScanLiteral finds the literal starting at b[i] (spaces skipped) and
// returns its span and the offset of the "," or ")" after it.
func myScanLiteral(b []byte, i int) (myField, int, error) {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	start := i
	// A character set introducer (_binary '…', _utf8mb4 0x…) belongs to
	// the literal.
	if i < len(b) && b[i] == '_' {
		for i < len(b) && b[i] != ' ' && b[i] != '\'' && b[i] != ',' && b[i] != ')' {
			i++
		}
		for i < len(b) && b[i] == ' ' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'X' || b[i] == 'x' || b[i] == 'b' || b[i] == 'B') && i+1 < len(b) && b[i+1] == '\'' {
		i++
	}
	if i < len(b) && (b[i] == '\'' || b[i] == '"') {
		q := b[i]
		i++
		for i < len(b) {
			switch b[i] {
			case '\\':
				i += 2
				continue
			case q:
				if i+1 < len(b) && b[i+1] == q {
					i += 2
					continue
				}
				i++
				end := i
				for i < len(b) && b[i] == ' ' {
					i++
				}
				return myField{start, end}, i, nil
			}
			i++
		}
		return myField{}, 0, errors.New("dump: unterminated literal")
	}
	for i < len(b) && b[i] != ',' && b[i] != ')' {
		if b[i] == '\'' || b[i] == '"' || b[i] == '(' {
			return myField{}, 0, errors.New("dump: unexpected literal in a tuple")
		}
		i++
	}
	end := i
	for end > start && b[end-1] == ' ' {
		end--
	}
	if end == start {
		return myField{}, 0, errors.New("dump: empty value in a tuple")
	}
	return myField{start, end}, i, nil
}

// myDecode returns a literal's value in the text form the server prints
// it in (the text protocol, as the mysql engine reads it): strings
// unescaped, hexadecimal and bit literals as their bytes, numbers and
// other bare words as written, NULL as Null.
func myDecode(lit []byte) (mask.Value, error) {
	if string(lit) == "NULL" {
		return mask.Value{Null: true}, nil
	}
	if lit[0] == '_' {
		i := bytes.IndexAny(lit, " '")
		if i < 0 {
			return mask.Value{}, errors.New("dump: unreadable literal")
		}
		lit = bytes.TrimLeft(lit[i:], " ")
	}
	switch {
	case len(lit) >= 2 && (lit[0] == '\'' || lit[0] == '"'):
		return mask.Value{S: myUnescape(lit[1:len(lit)-1], lit[0])}, nil
	case len(lit) > 2 && lit[0] == '0' && lit[1] == 'x':
		return myHexValue(lit[2:])
	case len(lit) >= 3 && (lit[0] == 'X' || lit[0] == 'x') && lit[1] == '\'':
		return myHexValue(lit[2 : len(lit)-1])
	case len(lit) >= 3 && (lit[0] == 'b' || lit[0] == 'B') && lit[1] == '\'':
		return myBitValue(lit[2 : len(lit)-1])
	}
	return mask.Value{S: string(lit)}, nil
}

func myHexValue(h []byte) (mask.Value, error) {
	if len(h)%2 == 1 {
		h = append([]byte{'0'}, h...)
	}
	out := make([]byte, hex.DecodedLen(len(h)))
	if _, err := hex.Decode(out, h); err != nil {
		return mask.Value{}, errors.New("dump: bad hexadecimal literal")
	}
	return mask.Value{S: string(out)}, nil
}

func myBitValue(bits []byte) (mask.Value, error) {
	n := (len(bits) + 7) / 8
	out := make([]byte, n)
	for i, c := range bits {
		if c != '0' && c != '1' {
			return mask.Value{}, errors.New("dump: bad bit literal")
		}
		pos := len(bits) - 1 - i
		if c == '1' {
			out[n-1-pos/8] |= 1 << (pos % 8)
		}
	}
	return mask.Value{S: string(out)}, nil
}

// myUnescape undoes MySQL's string escapes (the ones
// mysql_real_escape_string prints and the ones the parser reads).
func myUnescape(b []byte, quote byte) string {
	if bytes.IndexByte(b, '\\') < 0 && bytes.IndexByte(b, quote) < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == quote && i+1 < len(b) && b[i+1] == quote {
			out = append(out, quote)
			i++
			continue
		}
		if c != '\\' || i+1 == len(b) {
			out = append(out, c)
			continue
		}
		i++
		switch b[i] {
		case '0':
			out = append(out, 0)
		case 'b':
			out = append(out, '\b')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'Z':
			out = append(out, 0x1a)
		case '%', '_':
			// Kept with their backslash (they escape LIKE patterns).
			out = append(out, '\\', b[i])
		default:
			out = append(out, b[i])
		}
	}
	return string(out)
}

// myAppendLiteral appends v as a literal for a column: NULL, a
// hexadecimal literal for binary columns (bytes never re-encoded), a
// quoted string with every byte the parser could misread escaped
// otherwise.
func myAppendLiteral(dst []byte, v mask.Value, binary bool) []byte {
	if v.Null {
		return append(dst, "NULL"...)
	}
	if binary {
		if v.S == "" {
			return append(dst, "''"...)
		}
		dst = append(dst, "0x"...)
		return hex.AppendEncode(dst, []byte(v.S))
	}
	dst = append(dst, '\'')
	for i := 0; i < len(v.S); i++ {
		switch c := v.S[i]; c {
		case 0:
			dst = append(dst, '\\', '0')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0x1a:
			dst = append(dst, '\\', 'Z')
		case '\\', '\'', '"':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\'')
}
