package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/refresh"
)

// dryRunForecast prints the forecast `restage run` would start with, from
// the provider's recorded runs and, on local servers, the source's row
// estimates. It only reads: no history, or one that can't be read, is said
// and is no failure.
func dryRunForecast(ctx context.Context, rc *runConfig, log *slog.Logger, w io.Writer) {
	var prov refresh.Provider
	var err error
	if rc.aws != nil {
		prov, err = newAWSProvider(ctx, rc.settings, log)
	} else {
		prov, err = local.New(rc.local(log))
	}
	if err != nil {
		fmt.Fprintf(w, "forecast: not available: %v\n", err)
		return
	}
	defer prov.Close()
	h, ok := prov.(refresh.History)
	if !ok {
		fmt.Fprintln(w, "forecast: this provider keeps no run history")
		return
	}
	runs, err := h.Recent(ctx, refresh.HistoryKeep)
	if err != nil {
		fmt.Fprintf(w, "forecast: history not read: %v\n", err)
		return
	}
	var est map[string]int64
	if e, ok := prov.(refresh.RowEstimator); ok {
		if est, err = e.RowEstimates(ctx); err != nil {
			fmt.Fprintf(w, "forecast: source row estimates not read (%v); from history alone\n", err)
			est = nil
		}
	}
	f := refresh.NewForecast(runs, est)
	f.Print(w)
	if f != nil && rc.cfg.MaxDuration > 0 && f.Total > rc.cfg.MaxDuration {
		fmt.Fprintf(w, "the run would stop before restoring: the forecast exceeds RESTAGE_MAX_DURATION (%s)\n", rc.cfg.MaxDuration)
	}
}
