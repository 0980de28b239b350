package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/restage/restage/internal/mask"
)

// TestTransformCopyParallel: several goroutines give byte for byte the
// stream one gives, in order, over many batches and rows longer than the
// read buffer; a bad row fails it.
func TestTransformCopyParallel(t *testing.T) {
	var in strings.Builder
	for i := range 40000 {
		long := ""
		if i%5000 == 0 {
			long = strings.Repeat("y", 100<<10)
		}
		fmt.Fprintf(&in, "%d\tname %d%s\tname %d%s\n", i, i, long, i, long)
	}
	upper := func(in, out []mask.Value) error {
		out[0] = mask.Value{S: strings.ToUpper(in[0].S)}
		return nil
	}
	var one, many bytes.Buffer
	n1, err := TransformCopy(strings.NewReader(in.String()), &one, 2, []int{1}, 1, upper)
	if err != nil {
		t.Fatal(err)
	}
	n4, err := TransformCopyParallel(strings.NewReader(in.String()), &many, 2, []int{1}, 1, []mask.RowFunc{upper, upper, upper, upper})
	if err != nil {
		t.Fatal(err)
	}
	if n1 != 40000 || n4 != n1 || !bytes.Equal(one.Bytes(), many.Bytes()) {
		t.Errorf("parallel: %d rows, %d bytes; one goroutine: %d rows, %d bytes (or other bytes)", n4, many.Len(), n1, one.Len())
	}

	bad := in.String() + "1\t2\n" + in.String()
	if _, err := TransformCopyParallel(strings.NewReader(bad), &many, 2, []int{1}, 1, []mask.RowFunc{upper, upper}); err == nil || !strings.Contains(err.Error(), "a row of 2 fields") {
		t.Errorf("a row with too few fields: %v", err)
	}
	boom := errors.New("boom")
	failing := func(in, out []mask.Value) error {
		if in[0].S == "name 30001" {
			return boom
		}
		return upper(in, out)
	}
	if _, err := TransformCopyParallel(strings.NewReader(in.String()), &many, 2, []int{1}, 1, []mask.RowFunc{failing, failing}); !errors.Is(err, boom) {
		t.Errorf("a failing row function: %v", err)
	}
	if _, err := TransformCopyParallel(strings.NewReader("1\tcut"), &many, 2, []int{1}, 1, []mask.RowFunc{upper, upper}); err == nil {
		t.Errorf("a stream ending in the middle of a row was accepted")
	}
}
