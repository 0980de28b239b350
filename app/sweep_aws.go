package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/slack"
)

// sweepTasker is a provider whose sweep task waits for the lock itself:
// on AWS, `restage sweep` is started by an EventBridge rule right after a
// run task stopped abnormally, while the dead run's lease still holds the
// lock for a while (awsprov.Provider.SweepTask).
type sweepTasker interface {
	SweepTask(ctx context.Context, runID string) ([]string, error)
}

// runSweepTask runs st's sweep task and alerts on Slack when it fails:
// the sweep runs in an ECS group the rule does not match, so a failed
// sweep starts no other sweep and the alert is what tells ops.
func runSweepTask(ctx context.Context, st sweepTasker, s *config.Settings, log *slog.Logger, stderr io.Writer) error {
	runID := "sweep-" + refresh.NewRunID(time.Now())
	start := time.Now()
	swept, err := st.SweepTask(ctx, runID)
	if len(swept) > 0 {
		fmt.Fprintf(stderr, "restage sweep %s: removed %s\n", s.Target, strings.Join(swept, ", "))
	}
	if err == nil {
		if len(swept) == 0 {
			fmt.Fprintf(stderr, "restage sweep %s: nothing left to remove\n", s.Target)
		}
		return nil
	}
	err = fmt.Errorf("sweep %s: %w", s.Target, err)
	class, code := "sweep failed", exitcode.Failed
	if errors.Is(err, refresh.ErrLocked) {
		class = "sweep could not take the lock"
	}
	sc := slack.Config{Token: s.SlackToken, Channel: s.SlackChannel, WebhookURL: s.SlackWebhook, Timeout: s.SlackTimeout}
	if sc.Enabled() && sc.Validate() == nil {
		slack.New(sc, log).Failure(context.WithoutCancel(ctx), slack.Event{Target: s.Target, RunID: runID, Step: "sweep", Class: class,
			Detail: "leftovers of a killed run may still exist (possibly unmasked, in quarantine); see the sweep task's log", Duration: time.Since(start), ExitCode: code})
	}
	return err
}
