// Command restage keeps staging databases production-shaped without a
// single real person's data in them. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/restage/restage/internal/exitcode"
)

// Exit codes are internal/exitcode's table, the same for every command.

func badInput(err error) error { return exitcode.New(exitcode.BadInput, err) }

// memoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise: restage's working set is a few batches and bounded samples, so
// a tight limit keeps the process small (< 100 MB) whatever the data size.
const memoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(report(err, os.Stderr))
}

// report prints err and returns the process exit code.
func report(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitcode.OK
	}
	fmt.Fprintf(stderr, "restage: %v\n", err)
	return exitcode.Of(err)
}

var errHelp = errors.New("help requested")

const usage = `restage — refresh staging databases from production with personal data masked

Usage:
  restage run [--dry-run] [--report FILE]
      refresh one staging database from production (configured by RESTAGE_* env; see README)
  restage mask --dsn DSN --rules FILE --confirm HOST:PORT/DB [flags]
      mask one database in place (meant for a copy: destructive)
  restage check --dsn DSN --rules FILE [--patch FILE | --fix] [--report FILE]
      read-only: validate the rules against a live database and run the
      drift gate (exit 0 clean, 4 unclassified personal-looking columns, 2 bad input)
  restage sweep
      under the run lock, finish a swap a killed run left half done and remove
      what earlier runs left behind (same RESTAGE_* settings as run; no rules or
      key needed); exit 0 also when a live run holds the lock
  restage version

Environment:
  RESTAGE_MASK_KEY    masking key, at least 32 bytes (required for mask)
  RESTAGE_SOURCE_DSN  the production source; mask refuses to touch it
  RESTAGE_WORKERS     concurrent connections (default 2)
  RESTAGE_BATCH_SIZE  rows per range/transaction (default 10000)
  RESTAGE_LOG_LEVEL   debug|info|warn|error (default info)

Exit codes (the same for every command; README "Exit codes"):
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage+"  "+exitcode.Summary()+"\n")
		return badInput(errors.New("no command given"))
	}
	switch args[0] {
	case "mask":
		return runMask(ctx, args[1:], stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], stdout, stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "sweep":
		return runSweep(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "restage", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		for _, r := range exitcode.Table {
			fmt.Fprintf(stdout, "  %d  %s\n", r.Code, r.Name)
		}
		return errHelp
	default:
		fmt.Fprint(stderr, usage+"  "+exitcode.Summary()+"\n")
		return badInput(fmt.Errorf("unknown command %q", args[0]))
	}
}
