package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// A small run of the whole report, on both servers: every measurement and
// every target line is there, and -strict turns a MISS into exit 1.
// Timings are not asserted (speed is shown by make bench only).
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds restage and runs the bench on both servers")
	}
	bin := filepath.Join(t.TempDir(), "restage")
	build := exec.Command("go", "build", "-o", bin, "../../app")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build restage: %v\n%s", err, out)
	}
	var out, errOut bytes.Buffer
	rc := run([]string{"-bin", bin, "-rows", "2000,2500", "-workers", "1,2", "-repeat", "2",
		"-loop-rows", "300", "-batch", "500", "-jpshop", "2000", "-strict"}, &out, &errOut)
	report := out.String()
	if strings.Contains(report, "ERROR") || strings.Contains(report, "incomplete") {
		t.Fatalf("the run failed (rc %d):\n%s\n%s", rc, report, errOut.String())
	}
	for _, engine := range []string{"== mysql", "== postgres"} {
		i := strings.Index(report, engine)
		if i < 0 {
			t.Fatalf("no %s section:\n%s", engine, report)
		}
		sec := report[i:]
		if j := strings.Index(sec[1:], "\n== "); j >= 0 {
			sec = sec[:j+1]
		}
		for _, want := range []string{
			"-- 2,000 rows", "-- 2,500 rows",
			"M0: rewrite limit", "plain copy", "restage run, local", "restage mask: masking phase",
			"restage mask: + statistics", "restage mask: whole command", "server-side UPDATE", "row-by-row loop",
			"jpshop (internal/testdb/jpshop, size 2,000)", "events",
			"masking + statistics ≥", "whole restage mask ≥", "whole restage mask without its leak scan ≤", "restage run ≤",
			"restage mask peak RSS < 100 MB", "restage run peak RSS < 100 MB",
		} {
			if !strings.Contains(sec, want) {
				t.Errorf("%s: no %q in the report", engine, want)
			}
		}
		for _, w := range []string{"1", "2"} {
			row := regexp.MustCompile(`(?m)^\s+restage mask: masking phase\s+` + w + `\s`)
			if n := len(row.FindAllString(sec, -1)); n != 2 {
				t.Errorf("%s: %d masking-phase rows for workers %s, want one per size", engine, n, w)
			}
		}
		// The run's line carries restage's CPU seconds and the busy cores
		// (Linux: /proc/stat), which explain a MISS.
		if runtime.GOOS == "linux" {
			cpu := regexp.MustCompile(`(?m)^\s+restage run, local⁴\s+2\s.*MiB\s+\d+\.\d\d\s+\d\.\d\d$`)
			if !cpu.MatchString(sec) {
				t.Errorf("%s: no CPU seconds and busy cores on the run's line:\n%s", engine, sec)
			}
		}
		if engine == "== postgres" && !strings.Contains(sec, "table + indexes after ≤") {
			t.Errorf("postgres: no size target")
		}
	}
	if !strings.Contains(report, "jpshop events: MariaDB ≥") {
		t.Error("no cross-engine jpshop target")
	}
	// Every target line ends in PASS or MISS.
	targets := regexp.MustCompile(`(?m)^  \S.*\s(PASS|MISS)$`).FindAllStringSubmatch(report, -1)
	if len(targets) < 20 {
		t.Fatalf("%d target lines:\n%s", len(targets), report)
	}
	miss := false
	for _, m := range targets {
		miss = miss || m[1] == "MISS"
	}
	switch {
	case miss && rc != 1:
		t.Errorf("-strict with a MISS exited %d, want 1", rc)
	case !miss && rc != 0:
		t.Errorf("no MISS, exit %d", rc)
	}
	if !regexp.MustCompile(`summary: \d+ targets PASS, \d+ MISS`).MatchString(report) {
		t.Error("no summary line")
	}
}
