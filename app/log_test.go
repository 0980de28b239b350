package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestLogKeysOnce: the pipeline and the providers each add "target"; a
// JSON line must carry it once (a duplicate key is ambiguous to every log
// query and JSON parser).
func TestLogKeysOnce(t *testing.T) {
	var b bytes.Buffer
	log := newLogger(&b, "info").With("target", "shop").With("target", "shop", "run", "r1")
	log.Info("retired", "step", "retire", "target", "shop", "db", "x", "step", "again")
	line := b.String()
	for key, want := range map[string]int{`"target":`: 1, `"step":`: 1, `"run":`: 1, `"db":`: 1} {
		if got := strings.Count(line, key); got != want {
			t.Errorf("%s appears %d times, want %d:\n%s", key, got, want, line)
		}
	}
	if !strings.Contains(line, `"step":"retire"`) {
		t.Errorf("the first value of a key must win:\n%s", line)
	}
	b.Reset()
	newLogger(&b, "warn").Info("hidden")
	if b.Len() != 0 {
		t.Errorf("level warn logged an info line: %s", b.String())
	}
}
