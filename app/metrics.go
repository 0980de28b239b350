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
	if err := writeEMF(w, namespace, target, metricRefreshSucceeded, "Count", 1, now); err != nil {
		return fmt.Errorf("success metric: %w", err)
	}
	return nil
}

// writeEMF writes one embedded-metric-format line: metric name = value in
// namespace, with the one dimension Target. Every metric restage emits
// goes through it, so they all share the namespace and dimension the
// module's alarms and dashboard expect.
func writeEMF(w io.Writer, namespace, target, name, unit string, value float64, now time.Time) error {
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []map[string]any{{
				"Namespace":  namespace,
				"Dimensions": [][]string{{metricDimensionTarget}},
				"Metrics":    []map[string]string{{"Name": name, "Unit": unit}},
			}},
		},
		metricDimensionTarget: target,
		name:                  value,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
