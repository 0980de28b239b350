package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/refresh"
)

type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Target string
}

// parseEMF parses one embedded-metric-format line per metric and returns
// the values by metric name; every line must name exactly one metric with
// the Target dimension in namespace.
func parseEMF(t *testing.T, out []byte, namespace, target string) map[string]float64 {
	t.Helper()
	vals := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var l emfLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %v: %s", err, sc.Text())
		}
		cm := l.AWS.CloudWatchMetrics
		if len(cm) != 1 || cm[0].Namespace != namespace || len(cm[0].Dimensions) != 1 || len(cm[0].Dimensions[0]) != 1 ||
			cm[0].Dimensions[0][0] != "Target" || len(cm[0].Metrics) != 1 || l.Target != target || l.AWS.Timestamp == 0 {
			t.Fatalf("line %s: want one metric, namespace %s, dimension Target=%s", sc.Text(), namespace, target)
		}
		var raw map[string]any
		_ = json.Unmarshal(sc.Bytes(), &raw)
		name := cm[0].Metrics[0].Name
		v, ok := raw[name].(float64)
		if !ok {
			t.Fatalf("line %s: no value for %s", sc.Text(), name)
		}
		if _, dup := vals[name]; dup {
			t.Fatalf("metric %s twice", name)
		}
		vals[name] = v
	}
	return vals
}

// TestRunMetrics: a successful run writes one line per metric — success,
// duration per step, rows masked, rows/s, DurationToMedian — all under the
// staleness metric's namespace and dimension; a failed run reports 0 and
// no DurationToMedian.
func TestRunMetrics(t *testing.T) {
	rep := &refresh.Report{Duration: 30 * time.Minute, Median: 20 * time.Minute,
		Steps: []refresh.StepReport{{Step: refresh.StepRestore, Duration: 10 * time.Minute}, {Step: refresh.StepMask, Duration: 15 * time.Minute}},
		Mask:  &mask.Report{Rows: 9000, Duration: 90 * time.Second}}
	var b bytes.Buffer
	if err := writeRunMetrics(&b, "restage", "shop", rep, true, time.UnixMilli(1700000000000)); err != nil {
		t.Fatal(err)
	}
	v := parseEMF(t, b.Bytes(), "restage", "shop")
	want := map[string]float64{"RunSucceeded": 1, "RunDuration": 1800, "RestoreDuration": 600, "MaskDuration": 900,
		"RowsMasked": 9000, "RowsPerSecond": 100, "DurationToMedian": 1.5}
	if len(v) != len(want) {
		t.Errorf("metrics %v, want %v", v, want)
	}
	for k, w := range want {
		if got, ok := v[k]; !ok || math.Abs(got-w) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, w)
		}
	}

	b.Reset()
	rep.Mask = nil
	if err := writeRunMetrics(&b, "ops", "shop", rep, false, time.Now()); err != nil {
		t.Fatal(err)
	}
	v = parseEMF(t, b.Bytes(), "ops", "shop")
	if v["RunSucceeded"] != 0 || v["RestoreDuration"] != 600 {
		t.Errorf("failed run metrics %v", v)
	}
	for _, k := range []string{"DurationToMedian", "RowsMasked", "RowsPerSecond"} {
		if _, ok := v[k]; ok {
			t.Errorf("failed run without masking reports %s", k)
		}
	}
}
