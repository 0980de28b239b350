// Package exitcode is restage's one exit-code table. Every command maps its
// outcome through it, the usage text prints it, and a test holds the
// README's table to it: one problem exits with one code in every command.
package exitcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The exit codes.
const (
	OK        = 0
	Failed    = 1
	BadInput  = 2
	Cancelled = 3
	Refused   = 4
)

// Row is one line of the table.
type Row struct {
	Code    int
	Name    string
	Meaning string
}

// Table is what each code means, for every command. The README's
// "Exit codes" table is this one (TestREADMETable).
var Table = []Row{
	{OK, "ok", "done; `check`: the rules cover the database; `sweep`: also when a live run holds the lock (that run does the work)"},
	{Failed, "failed", "an error: a server unreachable, a failed step, another run of the target holding the lock, `RESTAGE_MAX_DURATION` exceeded; `run` cleaned up and staging still serves the previous copy."},
	{BadInput, "bad input", "a setting, flag or rules file is wrong, or the rules don't fit the database (a rule for a table or column it doesn't have, a rule that can't produce its column, a `RESTAGE_PRESERVE` column the table lacks); every problem is listed; nothing changed (`run` removes what it created)"},
	{Cancelled, "cancelled", "stopped by SIGINT or SIGTERM; `run` cleaned up; `mask` leaves the database partly masked"},
	{Refused, "refused", "a safety gate refused: personal-looking columns without a rule (the drift gate, in `check`, `run --dry-run`, `mask` and `run` alike) or a failed verification check or leak scan; nothing is switched"},
}

// Summary is the table on one line, for usage texts.
func Summary() string {
	parts := make([]string, len(Table))
	for i, r := range Table {
		parts[i] = fmt.Sprintf("%d %s", r.Code, r.Name)
	}
	return strings.Join(parts, ", ")
}

// Error carries the exit code an error maps to.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode reports the code; errors of other packages (a pipeline step's)
// carry theirs the same way.
func (e *Error) ExitCode() int { return e.Code }

// New wraps err with code.
func New(code int, err error) error { return &Error{Code: code, Err: err} }

// Of is the exit code of err: the code the first error in its chain that
// carries one (an ExitCode method) says; a cancelled context is
// Cancelled; any other error is Failed.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	if errors.Is(err, context.Canceled) {
		return Cancelled
	}
	return Failed
}
