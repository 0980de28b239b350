// Package slack posts restage's run notifications to Slack: a failure, a
// warning (the run succeeded but left something for the next run) and,
// optionally, a success summary.
//
// Notifications are best effort. A Slack outage, a bad token or a hanging
// endpoint is logged and never fails, blocks or slows a run by more than the
// configured timeout per message. Messages carry only what an Event holds —
// target name, step, error class, counts, durations, run id and an
// already-sanitized one-line detail — never personal data, the masking key,
// a password, the bot token or the webhook URL.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"
)

// DefaultTimeout bounds one message when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// MaxTimeout is the largest Config.Timeout Validate accepts: a notification
// must never hold a run (or its cleanup) for long.
const MaxTimeout = 2 * time.Minute

// Log attribute keys, constant across the code base.
const (
	KeyStep         = "step"
	KeyTarget       = "target"
	KeyError        = "error"
	KeyNotification = "notification"
)

// Length caps, in runes, applied before escaping. Slack rejects a section
// field over 2,000 characters and a section text over 3,000; escaping can
// grow a string fivefold (& → &amp;).
const (
	maxDetail = 300
	maxField  = 120
)

// Config selects where notifications go: a bot token with a channel
// (chat.postMessage) or an incoming webhook URL. With neither, notifications
// are disabled.
type Config struct {
	Token      string        // bot token (chat.postMessage), with Channel
	Channel    string        // channel ID or name for Token
	WebhookURL string        // alternative: incoming webhook; a secret like Token
	APIURL     string        // override of slack-go's API base URL (tests)
	Timeout    time.Duration // per message; 0 means DefaultTimeout
	OnSuccess  bool          // also post a success summary
}

// Enabled reports whether the configuration names a destination.
func (c Config) Enabled() bool {
	return c.Token != "" || c.WebhookURL != ""
}

// Validate reports every problem at once. Disabled (nothing set) is valid.
// Errors never contain the token or the webhook URL.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("slack: "+format, args...))
	}

	switch {
	case c.Token != "" && c.WebhookURL != "":
		add("both a bot token (RESTAGE_SLACK_TOKEN) and a webhook URL (RESTAGE_SLACK_WEBHOOK_URL) are set: set one of them")
	case c.Token != "" && c.Channel == "":
		add("a bot token (RESTAGE_SLACK_TOKEN) is set but no channel (RESTAGE_SLACK_CHANNEL)")
	case c.Token == "" && c.WebhookURL == "" && c.Channel != "":
		add("a channel (RESTAGE_SLACK_CHANNEL) is set but no bot token (RESTAGE_SLACK_TOKEN)")
	case c.Token == "" && c.WebhookURL != "" && c.Channel != "":
		add("a channel (RESTAGE_SLACK_CHANNEL) is set with a webhook URL: a webhook posts to the channel it was created for; unset the channel or use a bot token")
	}
	if c.Token != "" && strings.IndexFunc(c.Token, unicode.IsSpace) >= 0 {
		// Typically a trailing newline from a secrets file.
		add("the bot token contains whitespace")
	}
	if c.Channel != "" && strings.IndexFunc(c.Channel, unicode.IsSpace) >= 0 {
		add("the channel %q contains whitespace", c.Channel)
	}
	if c.WebhookURL != "" {
		if err := checkURL(c.WebhookURL); err != nil {
			add("the webhook URL %v", err)
		}
	}
	if c.APIURL != "" {
		if c.Token == "" {
			add("an API URL is set without a bot token")
		}
		if err := checkURL(c.APIURL); err != nil {
			add("the API URL %v", err)
		}
	}
	if c.Timeout < 0 || c.Timeout > MaxTimeout {
		add("timeout (RESTAGE_SLACK_TIMEOUT) must be between 0 (default %s) and %s, got %s", DefaultTimeout, MaxTimeout, c.Timeout)
	}
	if c.OnSuccess && !c.Enabled() {
		add("success notifications (RESTAGE_SLACK_ON_SUCCESS) are on but no bot token or webhook URL is set")
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute https URL, or http to a loopback host (a test
// server). Its error never contains the URL: a webhook URL is a secret.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https")
	default:
		return errors.New("must use https")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Event describes a run for a notification. Every string is shown in Slack:
// callers pass names, classes and an already-sanitized summary, never
// personal data or secrets.
type Event struct {
	Target   string
	RunID    string
	Step     string // failed step, e.g. "mask"
	Class    string // error class, e.g. "gate refused", "timeout", "failed", "cancelled"
	Detail   string // sanitized one-line summary; capped and flattened before sending
	Duration time.Duration
	Rows     int64
	Tables   int
	ExitCode int
	// Median is the median duration of the last MedianRuns recorded
	// successful runs; the success summary compares Duration with it.
	// MedianRuns 0: no history, no comparison.
	Median     time.Duration
	MedianRuns int
}

// Notifier posts notifications. A nil or disabled Notifier does nothing.
// Its methods are safe for concurrent use.
type Notifier struct {
	cfg     Config
	log     *slog.Logger
	api     *slackgo.Client // bot token mode; nil in webhook mode
	http    *http.Client
	secrets []string // strings scrubbed from every logged error
}

// New returns a Notifier for cfg. With notifications disabled, or with a
// configuration Validate rejects (logged, without the secrets), the Notifier
// sends nothing. A nil log discards.
func New(cfg Config, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{cfg: cfg, log: log}
	if !cfg.Enabled() {
		return n
	}
	if err := cfg.Validate(); err != nil {
		log.Error("slack notifications disabled", slog.String(KeyError, err.Error()))
		n.cfg = Config{}
		return n
	}
	if n.cfg.Timeout == 0 {
		n.cfg.Timeout = DefaultTimeout
	}
	n.secrets = secretForms(cfg.Token, cfg.WebhookURL)
	// The per-message context bounds each call, body included.
	n.http = &http.Client{
		// Slack does not redirect these endpoints; following a redirect
		// could carry the message (and, for chat.postMessage, the token
		// in the form body) elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.Token != "" {
		opts := []slackgo.Option{slackgo.OptionHTTPClient(n.http)}
		if cfg.APIURL != "" {
			opts = append(opts, slackgo.OptionAPIURL(strings.TrimRight(cfg.APIURL, "/")+"/"))
		}
		n.api = slackgo.New(cfg.Token, opts...)
	}
	return n
}

func (n *Notifier) enabled() bool { return n != nil && n.cfg.Enabled() }

// Failure posts a red message naming the target, the failed step, the error
// class, the duration, the exit code and the run id, plus the detail.
func (n *Notifier) Failure(ctx context.Context, ev Event) {
	if !n.enabled() {
		return
	}
	n.send(ctx, "failure", ev, failureMessage(ev))
}

// Warning posts a yellow message for a run that succeeded but left something
// behind — typically the retire step failing after a successful switch:
// staging serves the new copy and the old one is left for the next run.
func (n *Notifier) Warning(ctx context.Context, ev Event) {
	if !n.enabled() {
		return
	}
	n.send(ctx, "warning", ev, warningMessage(ev))
}

// Success posts a green summary (rows masked, tables, duration) when
// Config.OnSuccess is set; otherwise it does nothing.
func (n *Notifier) Success(ctx context.Context, ev Event) {
	if !n.enabled() || !n.cfg.OnSuccess {
		return
	}
	n.send(ctx, "success", ev, successMessage(ev))
}

// send posts one message under its own timeout. It detaches from ctx's
// cancellation so a cancelled run can still report its failure.
func (n *Notifier) send(ctx context.Context, kind string, ev Event, m message) {
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.Timeout)
	defer cancel()

	var err error
	if n.api != nil {
		_, _, err = n.api.PostMessageContext(sendCtx, n.cfg.Channel,
			slackgo.MsgOptionBlocks(m.blocks...),
			slackgo.MsgOptionText(m.text, false), // already escaped
			slackgo.MsgOptionDisableLinkUnfurl(),
			slackgo.MsgOptionDisableMediaUnfurl(),
		)
		if err != nil {
			err = fmt.Errorf("chat.postMessage: %w", err)
		}
	} else {
		no := false
		err = slackgo.PostWebhookCustomHTTPContext(sendCtx, n.cfg.WebhookURL, n.http, &slackgo.WebhookMessage{
			Text:        m.text,
			Blocks:      &slackgo.Blocks{BlockSet: m.blocks},
			UnfurlLinks: &no,
			UnfurlMedia: &no,
		})
		if err != nil {
			err = fmt.Errorf("webhook: %w", err)
		}
	}
	if err != nil {
		n.log.LogAttrs(ctx, slog.LevelWarn, "slack notification not sent",
			slog.String(KeyNotification, kind),
			slog.String(KeyStep, ev.Step),
			slog.String(KeyTarget, ev.Target),
			slog.String(KeyError, n.scrub(err.Error())),
		)
		return
	}
	n.log.LogAttrs(ctx, slog.LevelDebug, "slack notification sent",
		slog.String(KeyNotification, kind),
		slog.String(KeyStep, ev.Step),
		slog.String(KeyTarget, ev.Target),
	)
}

// secretForms lists the forms in which the token or webhook URL could show up
// in an error: net/http quotes the URL (%q) and may escape its path.
func secretForms(token, webhook string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 8 { // never scrub trivially short fragments such as "/"
			out = append(out, s)
		}
	}
	add(token)
	if webhook != "" {
		add(webhook)
		add(strings.Trim(strconv.Quote(webhook), `"`))
		if u, err := url.Parse(webhook); err == nil {
			add(u.String())
			add(u.Redacted())
			add(u.EscapedPath())
			add(u.Path)
			add(u.RawQuery)
		}
	}
	return out
}

func (n *Notifier) scrub(s string) string {
	for _, secret := range n.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	return s
}

// message is one notification: Block Kit blocks plus the plain-text
// fallback Slack shows in push notifications and old clients.
type message struct {
	text   string
	blocks []slackgo.Block
}

func failureMessage(ev Event) message {
	t, step, class, run := field(ev.Target), field(ev.Step), field(ev.Class), field(ev.RunID)
	dur := formatDuration(ev.Duration)
	fields := []*slackgo.TextBlockObject{
		mrkdwn("*Target*\n" + t),
		mrkdwn("*Failed step*\n" + step),
		mrkdwn("*Error*\n" + class),
		mrkdwn("*Duration*\n" + dur),
		mrkdwn("*Run ID*\n" + run),
	}
	if ev.ExitCode != 0 {
		fields = append(fields, mrkdwn("*Exit code*\n"+strconv.Itoa(ev.ExitCode)))
	}
	blocks := []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(":red_circle: *restage refresh failed: "+t+"*"), fields, nil),
	}
	text := fmt.Sprintf(":red_circle: restage refresh of %s failed at step %s (%s) after %s, run %s", t, step, class, dur, run)
	if d := detail(ev.Detail); d != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn("*Detail*\n"+d), nil, nil))
		text += ": " + d
	}
	return message{text: text, blocks: blocks}
}

// retireNote explains a retire warning: the run's result is in place.
const retireNote = "Staging serves the new copy; the previous copy was left in place and the next run retires it."

func warningMessage(ev Event) message {
	t, step, class, run := field(ev.Target), field(ev.Step), field(ev.Class), field(ev.RunID)
	dur := formatDuration(ev.Duration)
	blocks := []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(":warning: *restage refresh finished with a warning: "+t+"*"), []*slackgo.TextBlockObject{
			mrkdwn("*Target*\n" + t),
			mrkdwn("*Step*\n" + step),
			mrkdwn("*Problem*\n" + class),
			mrkdwn("*Duration*\n" + dur),
			mrkdwn("*Run ID*\n" + run),
		}, nil),
	}
	text := fmt.Sprintf(":warning: restage refresh of %s finished with a warning: step %s %s, run %s", t, step, class, run)
	if ev.Step == "retire" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(retireNote), nil, nil))
		text += ". " + retireNote
	}
	if d := detail(ev.Detail); d != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn("*Detail*\n"+d), nil, nil))
		text += " Detail: " + d
	}
	return message{text: text, blocks: blocks}
}

func successMessage(ev Event) message {
	t, run := field(ev.Target), field(ev.RunID)
	dur, rows, tables := formatDuration(ev.Duration), formatCount(ev.Rows), formatCount(int64(ev.Tables))
	dur += againstMedian(ev)
	blocks := []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(":large_green_circle: *restage refresh succeeded: "+t+"*"), []*slackgo.TextBlockObject{
			mrkdwn("*Target*\n" + t),
			mrkdwn("*Rows masked*\n" + rows),
			mrkdwn("*Tables*\n" + tables),
			mrkdwn("*Duration*\n" + dur),
			mrkdwn("*Run ID*\n" + run),
		}, nil),
	}
	text := fmt.Sprintf(":large_green_circle: restage refreshed %s: %s rows masked in %s tables in %s, run %s", t, rows, tables, dur, run)
	return message{text: text, blocks: blocks}
}

// mrkdwn is a verbatim mrkdwn text object: Slack does not turn bare URLs,
// channel names or @mentions in it into links or pings.
func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, true)
}

// field prepares a short caller-supplied value for mrkdwn.
func field(s string) string {
	s = escape(flatten(s, maxField))
	if s == "" {
		return "—"
	}
	return s
}

// detail prepares the one-line summary for mrkdwn.
func detail(s string) string { return escape(flatten(s, maxDetail)) }

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape neutralises mrkdwn's control characters, so a value can't form a
// link, a <!channel> ping or a user mention.
func escape(s string) string { return escaper.Replace(s) }

// flatten makes s one line of at most limit runes: runs of white space and
// control characters become one space, invisible format characters (bidi
// overrides, zero-width) are dropped, invalid UTF-8 is replaced, and a cut is
// marked with "…".
func flatten(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	return strings.TrimSpace(string([]rune(s)[:limit-1])) + "…"
}

func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}

// formatCount groups digits by thousands: 1234567 → "1,234,567".
func formatCount(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// againstMedian is " (median of the last N runs: M, +P%)", or "" without
// history: ops see at a glance whether the run was slow.
func againstMedian(ev Event) string {
	if ev.MedianRuns <= 0 || ev.Median <= 0 {
		return ""
	}
	pct := (float64(ev.Duration) - float64(ev.Median)) / float64(ev.Median) * 100
	return fmt.Sprintf(" (median of the last %d runs: %s, %+.0f%%)", ev.MedianRuns, formatDuration(ev.Median), pct)
}
