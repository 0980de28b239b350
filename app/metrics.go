package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Metric names of the embedded metric format line (CloudWatch Logs turns
// it into a metric; the Terraform module's staleness alarm watches it).
const (
	metricRefreshSucceeded = "RefreshSucceeded"
	metricDimensionTarget  = "Target"
)

// writeSuccessMetric writes one CloudWatch embedded-metric-format JSON
// line: RefreshSucceeded = 1 in namespace, dimension Target. A schedule
// that silently stopped emits nothing, and the alarm (missing data
// breaching) fires.
func writeSuccessMetric(w io.Writer, namespace, target string, now time.Time) error {
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  namespace,
				"Dimensions": [][]string{{metricDimensionTarget}},
				"Metrics":    []map[string]string{{"Name": metricRefreshSucceeded, "Unit": "Count"}},
			}},
		},
		metricDimensionTarget:  target,
		metricRefreshSucceeded: 1,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("success metric: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
