package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/refresh"
)

type fakeTasker struct {
	swept []string
	err   error
	calls int
}

func (f *fakeTasker) SweepTask(context.Context, string) ([]string, error) {
	f.calls++
	return f.swept, f.err
}

// TestSweepTaskAlerts: the AWS sweep task reports what it removed; a
// failed one returns its error and posts one Slack failure.
func TestSweepTaskAlerts(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	s := &config.Settings{Target: "shop", SlackWebhook: srv.URL + "/services/T/B/X", SlackTimeout: 5 * time.Second}
	log := slog.New(slog.DiscardHandler)

	var stderr bytes.Buffer
	ok := &fakeTasker{swept: []string{"restage-shop-202611240400"}}
	if err := runSweepTask(context.Background(), ok, s, log, &stderr); err != nil || !strings.Contains(stderr.String(), "removed restage-shop-202611240400") {
		t.Errorf("sweep: %v, %q", err, stderr.String())
	}
	if len(posts) != 0 {
		t.Errorf("a successful sweep posted %d message(s)", len(posts))
	}

	failed := &fakeTasker{err: fmt.Errorf("after waiting 2h for the lease to expire: %w", refresh.ErrLocked)}
	err := runSweepTask(context.Background(), failed, s, log, &stderr)
	if !errors.Is(err, refresh.ErrLocked) {
		t.Errorf("failed sweep: %v, want ErrLocked", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || !strings.Contains(posts[0], "shop") {
		t.Errorf("Slack posts %q, want one failure naming the target", posts)
	}
}
