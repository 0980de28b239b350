package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/refresh"
)

// dryRunForecast prints the forecast `restage run` would start with, from
// the provider's recorded runs and, on local servers, the source's row
// estimates. It only reads: no history, or one that can't be read, is said
// and is no failure.
func dryRunForecast(ctx context.Context, rc *runConfig, log *slog.Logger, w io.Writer) {
	var h refresh.History
	var est refresh.RowEstimator
	if rc.aws != nil {
		ah, err := newAWSHistory(ctx, rc.aws, rc.cfg.Target)
		if err != nil {
			fmt.Fprintf(w, "forecast: not available: %v\n", err)
			return
		}
		h = ah
	} else {
		prov, err := engines.NewLocal(rc.local(log))
		if err != nil {
			fmt.Fprintf(w, "forecast: not available: %v\n", err)
			return
		}
		defer prov.Close()
		h, _ = prov.(refresh.History)
		est, _ = prov.(refresh.RowEstimator)
	}
	if h == nil {
		fmt.Fprintln(w, "forecast: this provider keeps no run history")
		return
	}
	runs, err := h.Recent(ctx, refresh.HistoryKeep)
	if err != nil {
		fmt.Fprintf(w, "forecast: history not read: %v\n", err)
		return
	}
	var estimates map[string]int64
	if est != nil {
		if estimates, err = est.RowEstimates(ctx); err != nil {
			fmt.Fprintf(w, "forecast: source row estimates not read (%v); from history alone\n", err)
			estimates = nil
		}
	}
	f := refresh.NewForecast(runs, estimates)
	f.Print(w)
	if f != nil && rc.cfg.MaxDuration > 0 && f.Total > rc.cfg.MaxDuration {
		fmt.Fprintf(w, "the run would stop before restoring: the forecast exceeds RESTAGE_MAX_DURATION (%s)\n", rc.cfg.MaxDuration)
	}
}

// newAWSHistory is the run history in the lock table (ddblock.History).
// It is handed to the pipeline as Deps.History rather than through the
// AWS provider, so that the provider's own optional interfaces stay
// visible to the commands that look for them.
func newAWSHistory(ctx context.Context, e *awsEnv, target string) (refresh.History, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(e.region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	return ddblock.NewHistory(dynamodb.NewFromConfig(cfg), e.lock.Table, target), nil
}
