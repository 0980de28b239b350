package exitcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestREADMETable: the README has one exit-code table, and it is this
// package's Table, row for row; no command lists codes of its own.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	const head = "| code | name | meaning |\n| --- | --- | --- |\n"
	if strings.Count(readme, head) != 1 {
		t.Fatalf("README.md has %d exit-code tables, want one", strings.Count(readme, head))
	}
	rest := readme[strings.Index(readme, head)+len(head):]
	var got []string
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "|") {
			break
		}
		got = append(got, line)
	}
	var want []string
	for _, r := range Table {
		want = append(want, fmt.Sprintf("| %d | %s | %s |", r.Code, r.Name, r.Meaning))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README.md's exit-code table:\n%s\nwant (internal/exitcode.Table):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The commands table used to carry a column of codes per command,
	// which drifted from each other.
	if strings.Contains(readme, "| command | what it does | exit codes |") {
		t.Error("README.md's commands table still lists exit codes of its own")
	}
}

func TestOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("x"), Failed},
		{fmt.Errorf("wrapped: %w", New(BadInput, errors.New("x"))), BadInput},
		{fmt.Errorf("op: %w", context.Canceled), Cancelled},
		// A deadline is not someone stopping the command.
		{fmt.Errorf("op: %w", context.DeadlineExceeded), Failed},
		{New(Refused, context.Canceled), Refused},
	} {
		if got := Of(tt.err); got != tt.want {
			t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
