package mysql

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// ServerError is a MySQL server error with the data values its message may
// quote removed. Scrub returns it in place of the driver's error.
type ServerError struct {
	Number   uint16
	SQLState string
	// Detail is the value-free part of the message: an index name, a
	// column name, or the server's message with quoted literals elided.
	Detail string
}

func (e *ServerError) Error() string {
	s := fmt.Sprintf("mysql error %d", e.Number)
	if e.SQLState != "" {
		s += " (" + e.SQLState + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// ServerCode names the error by its number, for notices.
func (e *ServerError) ServerCode() string { return fmt.Sprintf("mysql error %d", e.Number) }

// ident is a column, table or constraint name as MariaDB (backquoted,
// possibly db.table.column) or MySQL 8 (single-quoted) prints it.
const ident = "(?:`[^`]*`(?:\\.`[^`]*`)*|'[^']*')"

// safeMessages are server errors whose messages name columns, tables or
// constraints but never quote a row value. A message passes unchanged only
// when it has the server's own shape: SIGNAL can raise any error number
// with any text, and text that doesn't look like the server's is treated
// as possibly holding data.
var safeMessages = map[uint16]*regexp.Regexp{
	1048: regexp.MustCompile(`^Column ` + ident + ` cannot be null$`),
	1054: regexp.MustCompile(`^Unknown column ` + ident + ` in ` + ident + `$`),
	1146: regexp.MustCompile(`^Table ` + ident + ` doesn't exist$`),
	1205: regexp.MustCompile(`^Lock wait timeout exceeded; try restarting transaction$`),
	1213: regexp.MustCompile(`^Deadlock found when trying to get lock; try restarting transaction$`),
	1264: regexp.MustCompile(`^Out of range value for column ` + ident + ` at row \d+$`),
	1265: regexp.MustCompile(`^Data truncated for column ` + ident + ` at row \d+$`),
	1406: regexp.MustCompile(`^Data too long for column ` + ident + ` at row \d+$`),
	// Foreign key messages print the constraint's definition, no values.
	1451: regexp.MustCompile(`^Cannot delete or update a parent row: a foreign key constraint fails \(` + ident + `, CONSTRAINT ` + ident + ` FOREIGN KEY \([^)]*\) REFERENCES ` + ident + ` \([^)]*\)[A-Z ]*\)$`),
	1452: regexp.MustCompile(`^Cannot add or update a child row: a foreign key constraint fails \(` + ident + `, CONSTRAINT ` + ident + ` FOREIGN KEY \([^)]*\) REFERENCES ` + ident + ` \([^)]*\)[A-Z ]*\)$`),
	3819: regexp.MustCompile(`^Check constraint ` + ident + ` is violated\.$`),                                   // MySQL 8
	4025: regexp.MustCompile(`^CONSTRAINT ` + ident + ` failed for ` + ident + `$`),                              // MariaDB
	3140: regexp.MustCompile(`^Invalid JSON text: "[^"]*" at position \d+ in value for column ` + ident + `\.$`), // MySQL 8: the parser's complaint, not the text
}

// forColumnRE finds the tail of messages that quote a value and then name
// the column: "Incorrect integer value: '…' for column `db`.`t`.`c` at row 1"
// (MariaDB) or "… for column 'c' at row 1" (MySQL 8).
var forColumnRE = regexp.MustCompile(` for column ` + ident + ` at row \d+$`)

// Scrub makes a database error safe to log: a server error's message can
// quote the data that caused it (a duplicate entry, an incorrect value),
// and values are personal data. A duplicate-key error keeps only the key
// name; a SIGNAL keeps only its number and SQLSTATE; errors known to quote
// no value keep their message when it has the server's shape; any other
// server error keeps its number, SQLSTATE and message with every
// '...'-quoted literal elided (the column a value was meant for stays).
// Errors that aren't server errors (network, context) pass through.
// What it cannot see: a SIGNAL that picks an error number the server has
// no safe form for and puts a value in unquoted text (MySQL, unlike
// PostgreSQL, does not mark SIGNALed errors). It is
// the MySQL engine's one scrubber: every package that talks to MySQL uses
// it.
func Scrub(err error) error {
	var me *mysql.MySQLError
	if err == nil || !errors.As(err, &me) {
		return err
	}
	out := &ServerError{Number: me.Number, SQLState: string(me.SQLState[:])}
	if me.SQLState == [5]byte{} {
		out.SQLState = ""
	}
	switch {
	case me.Number == 1644 || out.SQLState == "45000":
		// SIGNAL from a trigger, routine or post-mask SQL: the text is
		// whatever the code put there.
		out.Detail = "error raised by user code (SIGNAL)"
	case me.Number == 1062 || me.Number == 1586: // Duplicate entry 'x' for key 'k'
		out.Detail = "duplicate entry for key"
		if i := strings.LastIndex(me.Message, " for key "); i >= 0 && strings.HasPrefix(me.Message, "Duplicate entry '") {
			k := strings.Trim(me.Message[i+len(" for key "):], "'`\"")
			if !strings.ContainsAny(k, "'`\"") {
				out.Detail += " " + k
			}
		}
	case safeMessages[me.Number] != nil:
		out.Detail = me.Message
		if !safeMessages[me.Number].MatchString(me.Message) {
			out.Detail = "message withheld: not in the server's form for this error (SIGNAL?)"
		}
	default:
		if loc := forColumnRE.FindStringIndex(me.Message); loc != nil {
			out.Detail = elideQuoted(me.Message[:loc[0]]) + me.Message[loc[0]:]
			break
		}
		out.Detail = elideQuoted(me.Message)
	}
	return out
}

// quotedRE matches '…'-quoted literals, with backslash and doubled-quote
// escapes.
var quotedRE = regexp.MustCompile(`'(?:[^'\\]|\\.|'')*'`)

// ScrubMessage scrubs text that quotes server messages (the mysql client's
// or mysqldump's error output): every '…'-quoted literal is elided.
func ScrubMessage(msg string) string { return quotedRE.ReplaceAllString(msg, "'…'") }

// scrub is Scrub, for the package's own call sites.
func scrub(err error) error { return Scrub(err) }

// elideQuoted replaces everything from the first single quote to the last
// one with '…'. A value may itself contain quotes, so the span between
// the outermost quotes goes as a whole; identifiers that servers quote
// with backquotes (and text outside the quotes) stay.
func elideQuoted(msg string) string {
	i := strings.IndexByte(msg, '\'')
	if i < 0 {
		return msg
	}
	j := strings.LastIndexByte(msg, '\'')
	if j == i {
		return msg[:i] + "'…"
	}
	return msg[:i] + "'…'" + msg[j+1:]
}
