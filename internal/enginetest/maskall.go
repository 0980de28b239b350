package enginetest

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/mask"
)

// MaskAll masks every range of job (ranges of about size rows) with fn on
// workers workers in parallel, calling fn under one lock so that a test's
// function needs none, and returns how many ranges and rows there were.
// Engine tests and their measurement runs share it.
func MaskAll(t testing.TB, e mask.Engine, job *mask.TableJob, size, workers int, fn mask.RowFunc) (ranges int, rows int64) {
	t.Helper()
	ctx := context.Background()
	rs, err := e.Chunks(ctx, job, size)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan mask.Range, len(rs))
	for _, r := range rs {
		ch <- r
	}
	close(ch)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for range max(workers, 1) {
		g.Go(func() error {
			w, err := e.Worker(gctx)
			if err != nil {
				return err
			}
			defer w.Close()
			for r := range ch {
				n, err := w.MaskRange(gctx, job, r, func(in, out []mask.Value) error {
					mu.Lock()
					defer mu.Unlock()
					return fn(in, out)
				})
				if err != nil {
					return err
				}
				mu.Lock()
				rows += n
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return len(rs), rows
}
