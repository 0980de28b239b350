package local

// The swap's intent record, shared by both engines.
//
// A swap (Switch) changes the staging server in several statements that
// can't share one transaction (MySQL's DDL commits implicitly; PostgreSQL's
// ALLOW_CONNECTIONS must change outside the rename transaction so that
// sessions can be ended). Before its first change, the swap writes an
// intent record to the control DB's swap_intent table: everything it will
// move or recreate, in both directions. Every sub-step is idempotent, so
// whichever restage invocation comes next (the prepare step of a run, or
// `restage sweep`, both under the run lock) finishes the swap from that
// record: forward when the swap's commit point passed, back otherwise.
// The record is deleted when the swap is complete in either direction.

import (
	"context"
	"errors"
	"log/slog"
)

// SwapIntentTable is the control DB table holding at most one pending
// swap per target.
const SwapIntentTable = "swap_intent"

// SwapPause stops the process for good after sub-step at when the test
// hook names it: a kill test reads the log line and SIGKILLs the process
// there, which is the only way to stop it between two sub-steps
// deterministically. It returns when ctx ends (SIGTERM), so the pause never
// outlives an ordinary cancellation.
func SwapPause(ctx context.Context, cfg Config, log *slog.Logger, at string) {
	if cfg.TestPauseAt == "" || cfg.TestPauseAt != at {
		return
	}
	log.Warn("test pause", "step", "switch", "target", cfg.Target, "at", at)
	<-ctx.Done()
}

// ErrTestKilled, returned by a test's failAt hook, leaves the swap exactly
// where it is, as a SIGKILL would: no rollback, the intent record stays.
var ErrTestKilled = errors.New("killed by the test hook")
