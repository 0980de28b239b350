package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testToken       = "xoxb-1111-2222-SECRETTOKENabc"
	testChannel     = "C1"
	testWebhookPath = "/services/T000/B000/SECRETHOOKxyz"
)

// fakeSlack is an httptest server speaking the wire format slack-go uses:
// chat.postMessage as a form post, incoming webhooks as a JSON post.
type fakeSlack struct {
	srv  *httptest.Server
	mode string // "ok", "500", "not_ok", "hang"

	mu    sync.Mutex
	posts []post
}

// post is one message as the server received it.
type post struct {
	path    string
	token   string // form field or Authorization bearer (chat.postMessage)
	channel string
	text    string   // plain-text fallback
	blocks  []string // every text in the blocks, in order
}

// all returns the fallback text and the block texts joined.
func (p post) all() string { return p.text + "\n" + strings.Join(p.blocks, "\n") }

func newFakeSlack(t *testing.T, mode string) *fakeSlack {
	t.Helper()
	f := &fakeSlack{mode: mode}
	release := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve(t, release)))
	// Cleanups run last-in first-out: release hanging handlers, then close.
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(release) })
	return f
}

func (f *fakeSlack) serve(t *testing.T, release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var p post
		p.path = r.URL.Path
		switch {
		case r.URL.Path == "/chat.postMessage":
			if err := r.ParseForm(); err != nil {
				t.Errorf("parse form: %v", err)
			}
			p.token = r.PostForm.Get("token")
			if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				p.token = auth
			}
			p.channel = r.PostForm.Get("channel")
			p.text = r.PostForm.Get("text")
			p.blocks = blockTexts(t, []byte(r.PostForm.Get("blocks")))
		case r.URL.Path == testWebhookPath:
			var body struct {
				Text   string          `json:"text"`
				Blocks json.RawMessage `json:"blocks"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				t.Errorf("decode webhook body: %v", err)
			}
			p.text = body.Text
			p.blocks = blockTexts(t, body.Blocks)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		f.posts = append(f.posts, p)
		f.mu.Unlock()

		switch f.mode {
		case "500":
			http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
		case "not_ok":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":false,"error":"channel_not_found"}`))
		case "hang":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			if p.path == testWebhookPath {
				_, _ = w.Write([]byte("ok"))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
		}
	}
}

func (f *fakeSlack) received() []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]post(nil), f.posts...)
}

func (f *fakeSlack) botConfig() Config {
	return Config{Token: testToken, Channel: testChannel, APIURL: f.srv.URL, Timeout: 2 * time.Second}
}

func (f *fakeSlack) webhookConfig() Config {
	return Config{WebhookURL: f.srv.URL + testWebhookPath, Timeout: 2 * time.Second}
}

// blockTexts collects every "text" string in a Block Kit JSON array.
func blockTexts(t *testing.T, raw []byte) []string {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Errorf("blocks are not JSON: %v: %s", err, raw)
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			if s, ok := v["text"].(string); ok {
				out = append(out, s)
			}
			for k, e := range v {
				if k != "text" {
					walk(e)
				} else if _, ok := e.(string); !ok {
					walk(e)
				}
			}
		}
	}
	walk(v)
	return out
}

// logBuffer captures JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// records parses the captured lines.
func (l *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(l.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// slogJSON logs everything, debug included, as JSON into l.
func slogJSON(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

var failureEvent = Event{
	Target:   "orders-staging",
	RunID:    "run-202501020304",
	Step:     "mask",
	Class:    "gate refused",
	Detail:   "drift gate: 2 unclassified columns in customers",
	Duration: 83*time.Second + 400*time.Millisecond,
	ExitCode: 4,
}

func TestFailure(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"bot", "webhook"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			f := newFakeSlack(t, "ok")
			cfg := f.botConfig()
			if via == "webhook" {
				cfg = f.webhookConfig()
			}
			logs := &logBuffer{}
			n := New(cfg, slogJSON(logs))
			n.Failure(context.Background(), failureEvent)

			posts := f.received()
			if len(posts) != 1 {
				t.Fatalf("got %d posts, want 1", len(posts))
			}
			p := posts[0]
			if via == "bot" {
				if p.token != testToken {
					t.Errorf("got token %q, want the configured token", p.token)
				}
				if p.channel != testChannel {
					t.Errorf("got channel %q, want %q", p.channel, testChannel)
				}
			}
			if len(p.blocks) == 0 {
				t.Fatalf("no blocks in %+v", p)
			}
			for _, want := range []string{":red_circle:", "orders-staging", "mask", "gate refused", "run-202501020304", "1m23s", "drift gate: 2 unclassified columns in customers"} {
				if !strings.Contains(p.text, want) {
					t.Errorf("fallback text %q lacks %q", p.text, want)
				}
				if !strings.Contains(strings.Join(p.blocks, "\n"), want) {
					t.Errorf("blocks %q lack %q", p.blocks, want)
				}
			}
			if !strings.Contains(strings.Join(p.blocks, "\n"), "*Exit code*\n4") {
				t.Errorf("blocks %q lack the exit code", p.blocks)
			}
			if s := logs.String(); strings.Contains(s, `"level":"WARN"`) || strings.Contains(s, `"level":"ERROR"`) {
				t.Errorf("a delivered message logged a problem: %s", s)
			}
		})
	}
}

func TestWarningRetire(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	n := New(f.botConfig(), nil)
	n.Warning(context.Background(), Event{
		Target: "orders-staging", RunID: "run-1", Step: "retire", Class: "failed",
		Detail: "delete cluster: throttled", Duration: 20 * time.Minute,
	})
	posts := f.received()
	if len(posts) != 1 {
		t.Fatalf("got %d posts, want 1", len(posts))
	}
	all := posts[0].all()
	for _, want := range []string{":warning:", "orders-staging", "retire", "failed", "run-1", "20m0s",
		"Staging serves the new copy", "the next run retires it", "delete cluster: throttled"} {
		if !strings.Contains(all, want) {
			t.Errorf("warning %q lacks %q", all, want)
		}
	}
	if strings.Contains(all, ":red_circle:") {
		t.Errorf("warning looks like a failure: %q", all)
	}
}

func TestSuccessOnlyWhenOnSuccess(t *testing.T) {
	t.Parallel()
	ev := Event{Target: "orders-staging", RunID: "run-2", Rows: 1234567, Tables: 16, Duration: 3*time.Minute + 2*time.Second}
	for _, onSuccess := range []bool{false, true} {
		f := newFakeSlack(t, "ok")
		cfg := f.webhookConfig()
		cfg.OnSuccess = onSuccess
		New(cfg, nil).Success(context.Background(), ev)
		posts := f.received()
		if !onSuccess {
			if len(posts) != 0 {
				t.Errorf("OnSuccess=false: got %d posts, want 0", len(posts))
			}
			continue
		}
		if len(posts) != 1 {
			t.Fatalf("OnSuccess=true: got %d posts, want 1", len(posts))
		}
		all := posts[0].all()
		for _, want := range []string{":large_green_circle:", "orders-staging", "1,234,567", "16", "3m2s", "run-2"} {
			if !strings.Contains(all, want) {
				t.Errorf("success %q lacks %q", all, want)
			}
		}
	}
}

func TestEscapesAndCapsUserStrings(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	n := New(f.botConfig(), nil)
	long := strings.Repeat("x", 5000)
	n.Failure(context.Background(), Event{
		Target: "a<b>&c",
		Step:   "mask",
		Class:  "failed",
		RunID:  "<!channel>",
		Detail: "line one\nline two <https://evil.example|click> " + long,
	})
	posts := f.received()
	if len(posts) != 1 {
		t.Fatalf("got %d posts, want 1", len(posts))
	}
	all := posts[0].all()
	for _, want := range []string{"a&lt;b&gt;&amp;c", "&lt;!channel&gt;", "line one line two &lt;https://evil.example|click&gt;", "…"} {
		if !strings.Contains(all, want) {
			t.Errorf("message lacks %q:\n%s", want, all)
		}
	}
	for _, bad := range []string{"<!channel>", "<https://evil", "a<b>", "line one\nline two", long} {
		if strings.Contains(all, bad) {
			t.Errorf("message contains unescaped or uncapped %q", bad)
		}
	}
	for _, b := range posts[0].blocks {
		if n := len([]rune(b)); n > 2000 {
			t.Errorf("block text of %d characters exceeds Slack's field limit", n)
		}
	}
}

func TestDeliveryProblemsAreLoggedNotFatal(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		mode, want string
	}{
		{"500", "500"},
		{"not_ok", "channel_not_found"},
		{"hang", "deadline exceeded"},
	} {
		for _, via := range []string{"bot", "webhook"} {
			if via == "webhook" && tc.mode == "not_ok" {
				continue // webhooks answer errors with an HTTP status
			}
			t.Run(tc.mode+"/"+via, func(t *testing.T) {
				t.Parallel()
				f := newFakeSlack(t, tc.mode)
				cfg := f.botConfig()
				if via == "webhook" {
					cfg = f.webhookConfig()
				}
				cfg.Timeout = timeout
				logs := &logBuffer{}
				n := New(cfg, slogJSON(logs))

				start := time.Now()
				n.Failure(context.Background(), failureEvent)
				if d := time.Since(start); d > timeout+time.Second {
					t.Errorf("Failure took %s with a %s timeout", d, timeout)
				}
				if got := len(f.received()); got != 1 {
					t.Errorf("server got %d requests, want 1 (no retries)", got)
				}

				recs := logs.records(t)
				if len(recs) != 1 {
					t.Fatalf("got %d log records, want 1:\n%s", len(recs), logs)
				}
				r := recs[0]
				if r["level"] != "WARN" {
					t.Errorf("got level %v, want WARN", r["level"])
				}
				if r[KeyStep] != "mask" || r[KeyTarget] != "orders-staging" || r[KeyNotification] != "failure" {
					t.Errorf("log record lacks step/target/notification: %v", r)
				}
				errText, _ := r[KeyError].(string)
				if !strings.Contains(errText, tc.want) {
					t.Errorf("logged error %q lacks %q", errText, tc.want)
				}
				for _, secret := range []string{testToken, "SECRETTOKEN", testWebhookPath, "SECRETHOOK"} {
					if strings.Contains(logs.String(), secret) {
						t.Errorf("log leaks %q: %s", secret, logs)
					}
				}
			})
		}
	}
}

func TestUnreachableServerIsScrubbed(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	cfg := f.webhookConfig()
	f.srv.Close() // connection refused; net/http names the URL in the error
	logs := &logBuffer{}
	New(cfg, slogJSON(logs)).Failure(context.Background(), failureEvent)
	if !strings.Contains(logs.String(), `"error":"webhook: failed to post webhook: Post`) {
		t.Errorf("the error is not logged: %s", logs)
	}
	if strings.Contains(logs.String(), "SECRETHOOK") {
		t.Errorf("log leaks the webhook URL: %s", logs)
	}
}

func TestCancelledRunStillDelivers(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ev := failureEvent
	ev.Class = "cancelled"
	New(f.botConfig(), nil).Failure(ctx, ev)
	posts := f.received()
	if len(posts) != 1 {
		t.Fatalf("got %d posts after the run was cancelled, want 1", len(posts))
	}
	if !strings.Contains(posts[0].text, "cancelled") {
		t.Errorf("got %q, want the cancelled class", posts[0].text)
	}
}

func TestDisabledSendsNothing(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	logs := &logBuffer{}
	ev := Event{Target: "t", Step: "mask"}
	ctx := context.Background()

	var nilNotifier *Notifier
	nilNotifier.Failure(ctx, ev)
	nilNotifier.Warning(ctx, ev)
	nilNotifier.Success(ctx, ev)

	disabled := New(Config{OnSuccess: false}, slogJSON(logs))
	disabled.Failure(ctx, ev)
	disabled.Warning(ctx, ev)
	disabled.Success(ctx, ev)
	if logs.String() != "" {
		t.Errorf("a disabled notifier logged: %s", logs)
	}

	// An invalid configuration disables notifications, says so once, and
	// never names the secret.
	invalid := f.botConfig()
	invalid.WebhookURL = f.srv.URL + testWebhookPath
	broken := New(invalid, slogJSON(logs))
	broken.Failure(ctx, ev)
	if got := len(f.received()); got != 0 {
		t.Errorf("got %d posts from disabled notifiers, want 0", got)
	}
	if !strings.Contains(logs.String(), "slack notifications disabled") {
		t.Errorf("an invalid configuration was not logged: %s", logs)
	}
	for _, secret := range []string{"SECRETTOKEN", "SECRETHOOK"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log leaks %q: %s", secret, logs)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	const hook = "https://hooks.slack.com" + testWebhookPath
	for _, tc := range []struct {
		name    string
		cfg     Config
		enabled bool
		want    []string // substrings of the error; none means valid
	}{
		{name: "disabled", cfg: Config{}},
		{name: "bot", cfg: Config{Token: testToken, Channel: testChannel}, enabled: true},
		{name: "webhook", cfg: Config{WebhookURL: hook, OnSuccess: true, Timeout: 30 * time.Second}, enabled: true},
		{name: "loopback http", cfg: Config{WebhookURL: "http://127.0.0.1:8080" + testWebhookPath}, enabled: true},
		{name: "api url", cfg: Config{Token: testToken, Channel: testChannel, APIURL: "http://localhost:9999/api"}, enabled: true},
		{name: "both", cfg: Config{Token: testToken, Channel: testChannel, WebhookURL: hook}, enabled: true,
			want: []string{"both a bot token", "set one of them"}},
		{name: "token without channel", cfg: Config{Token: testToken}, enabled: true,
			want: []string{"no channel"}},
		{name: "channel without token", cfg: Config{Channel: testChannel},
			want: []string{"no bot token"}},
		{name: "channel with webhook", cfg: Config{Channel: testChannel, WebhookURL: hook}, enabled: true,
			want: []string{"channel it was created for"}},
		{name: "token with newline", cfg: Config{Token: testToken + "\n", Channel: testChannel}, enabled: true,
			want: []string{"token contains whitespace"}},
		{name: "plain http webhook", cfg: Config{WebhookURL: "http://hooks.slack.com" + testWebhookPath}, enabled: true,
			want: []string{"webhook URL must use https"}},
		{name: "relative webhook", cfg: Config{WebhookURL: "hooks.slack.com" + testWebhookPath}, enabled: true,
			want: []string{"webhook URL is not an absolute URL"}},
		{name: "unparsable webhook", cfg: Config{WebhookURL: "https://hooks.slack.com/SECRETHOOK\x7f"}, enabled: true,
			want: []string{"webhook URL is not an absolute URL"}},
		{name: "api url without token", cfg: Config{WebhookURL: hook, APIURL: "http://127.0.0.1:1"}, enabled: true,
			want: []string{"API URL is set without a bot token"}},
		{name: "negative timeout", cfg: Config{WebhookURL: hook, Timeout: -time.Second}, enabled: true,
			want: []string{"timeout"}},
		{name: "huge timeout", cfg: Config{WebhookURL: hook, Timeout: time.Hour}, enabled: true,
			want: []string{"timeout"}},
		{name: "on success alone", cfg: Config{OnSuccess: true},
			want: []string{"success notifications"}},
		{name: "every problem at once", cfg: Config{Token: testToken + " ", Timeout: -1}, enabled: true,
			want: []string{"no channel", "whitespace", "timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.cfg.Enabled(); got != tc.enabled {
				t.Errorf("Enabled() = %v, want %v", got, tc.enabled)
			}
			err := tc.cfg.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			for _, secret := range []string{"SECRETTOKEN", "SECRETHOOK", "hooks.slack.com"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Validate() = %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"plain", 10, "plain"},
		{"  a \n\t b\r\nc  ", 10, "a b c"},
		{"abcdefghijk", 5, "abcd…"},
		{"ab cdefg", 4, "ab…"},
		{"日本語のテキスト", 4, "日本語…"},
		{"evil\u202edir\u200b", 20, "evildir"},
		{"bad\xffutf8", 20, "bad\uFFFDutf8"},
	} {
		if got := flatten(tc.in, tc.limit); got != tc.want {
			t.Errorf("flatten(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-12345, "-12,345"}} {
		if got := formatCount(tc.in); got != tc.want {
			t.Errorf("formatCount(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{{0, "0s"}, {1234 * time.Microsecond, "1ms"}, {83400 * time.Millisecond, "1m23s"}, {-1, "—"}} {
		if got := formatDuration(tc.in); got != tc.want {
			t.Errorf("formatDuration(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSuccessAgainstMedian: the success summary shows the duration against
// the median of the recorded runs, and nothing of the kind without history.
func TestSuccessAgainstMedian(t *testing.T) {
	t.Parallel()
	f := newFakeSlack(t, "ok")
	cfg := f.webhookConfig()
	cfg.OnSuccess = true
	n := New(cfg, nil)
	n.Success(context.Background(), Event{Target: "orders-staging", RunID: "run-3", Duration: 15 * time.Minute, Median: 10 * time.Minute, MedianRuns: 7})
	n.Success(context.Background(), Event{Target: "orders-staging", RunID: "run-4", Duration: 15 * time.Minute})
	posts := f.received()
	if len(posts) != 2 {
		t.Fatalf("got %d posts, want 2", len(posts))
	}
	if all := posts[0].all(); !strings.Contains(all, "15m0s (median of the last 7 runs: 10m0s, +50%)") {
		t.Errorf("success %q lacks the duration against the median", all)
	}
	if all := posts[1].all(); strings.Contains(all, "median") {
		t.Errorf("success without history %q mentions a median", all)
	}
}
