package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/restage/restage/internal/refresh"
)

// Run metrics, in the staleness metric's namespace and with its one
// dimension (Target), so that the module's dashboard and alarms find
// every number of a database under the same name. Each is one embedded
// metric format line on stdout: CloudWatch Logs turns it into a metric,
// and the task needs no cloudwatch:PutMetricData.
const (
	metricRunSucceeded     = "RunSucceeded" // 1 or 0; RefreshSucceeded stays the staleness signal (success only)
	metricRunDuration      = "RunDuration"
	metricRowsMasked       = "RowsMasked"
	metricRowsPerSecond    = "RowsPerSecond"
	metricDurationToMedian = "DurationToMedian"
	// metricStepSuffix follows the step's name: MaskDuration, RestoreDuration…
	metricStepSuffix = "Duration"
)

// stepMetricName is the metric of one step's duration ("mask" →
// "MaskDuration").
func stepMetricName(step string) string {
	if step == "" {
		return metricStepSuffix
	}
	return strings.ToUpper(step[:1]) + step[1:] + metricStepSuffix
}

// writeRunMetrics writes the run's metrics, one line each: success, total
// and per-step durations (seconds), rows masked and rows/s (when masking
// ran), and DurationToMedian (this run over the median of the last
// refresh.MedianWindow recorded successful runs; only with history).
func writeRunMetrics(w io.Writer, namespace, target string, rep *refresh.Report, ok bool, now time.Time) error {
	type metric struct {
		name, unit string
		value      float64
	}
	succeeded := 0.0
	if ok {
		succeeded = 1
	}
	ms := []metric{{metricRunSucceeded, "Count", succeeded}, {metricRunDuration, "Seconds", rep.Duration.Seconds()}}
	for _, s := range rep.Steps {
		if s.Status == "skipped" {
			continue
		}
		ms = append(ms, metric{stepMetricName(s.Step), "Seconds", s.Duration.Seconds()})
	}
	if rep.Mask != nil {
		ms = append(ms, metric{metricRowsMasked, "Count", float64(rep.Mask.Rows)})
		if d := rep.Mask.Duration.Seconds(); d > 0 {
			ms = append(ms, metric{metricRowsPerSecond, "Count/Second", float64(rep.Mask.Rows) / d})
		}
	}
	if ok && rep.Median > 0 {
		ms = append(ms, metric{metricDurationToMedian, "None", float64(rep.Duration) / float64(rep.Median)})
	}
	for _, m := range ms {
		if err := writeEMF(w, namespace, target, m.name, m.unit, m.value, now); err != nil {
			return fmt.Errorf("run metric %s: %w", m.name, err)
		}
	}
	return nil
}
