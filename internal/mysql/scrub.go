package mysql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// ServerError is a MySQL server error with the data values its message may
// quote removed. scrub returns it in place of the driver's error.
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

// safeMessages are server errors whose messages name columns, tables or
// constraints but never quote a row value; they pass through unchanged.
var safeMessages = map[uint16]bool{
	1048: true, // Column 'c' cannot be null
	1054: true, // Unknown column
	1146: true, // Table doesn't exist
	1205: true, // Lock wait timeout
	1213: true, // Deadlock
	1264: true, // Out of range value for column 'c' at row n
	1406: true, // Data too long for column 'c' at row n
	1451: true, // Cannot delete or update a parent row: a foreign key constraint fails (...)
	1452: true, // Cannot add or update a child row: a foreign key constraint fails (...)
	3819: true, // MySQL: Check constraint 'x' is violated
	4025: true, // MariaDB: CONSTRAINT `x` failed for `db`.`t`
}

// scrub makes a database error safe to log: a server error's message can
// quote the data that caused it (a duplicate entry, an incorrect value),
// and values are personal data. A duplicate-key error keeps only the key
// name; errors known to quote no value keep their message; any other
// server error keeps its number, SQLSTATE and message with every
// '...'-quoted literal elided. Errors that aren't server errors (network,
// context) pass through.
func scrub(err error) error {
	var me *mysql.MySQLError
	if err == nil || !errors.As(err, &me) {
		return err
	}
	out := &ServerError{Number: me.Number, SQLState: string(me.SQLState[:])}
	if me.SQLState == [5]byte{} {
		out.SQLState = ""
	}
	switch {
	case me.Number == 1062 || me.Number == 1586: // Duplicate entry 'x' for key 'k'
		out.Detail = "duplicate entry for key"
		if i := strings.LastIndex(me.Message, " for key "); i >= 0 {
			k := strings.Trim(me.Message[i+len(" for key "):], "'`\"")
			out.Detail += " " + k
		}
	case safeMessages[me.Number]:
		out.Detail = me.Message
	default:
		out.Detail = elideQuoted(me.Message)
	}
	return out
}

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
