// Package route53 switches the stable staging name: it reads the CNAME
// the application connects through and UPSERTs it to a new endpoint,
// waiting until Route53 reports the change INSYNC on its name servers.
//
// It only ever touches the one configured record of the one configured
// hosted zone (the task role's policy is scoped the same way), and it
// calls exactly route53:ListResourceRecordSets, ChangeResourceRecordSets
// and GetChange (internal/awsiam).
package route53

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"time"

	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
)

// API is the part of the Route53 client restage uses.
type API interface {
	ListResourceRecordSets(ctx context.Context, params *r53.ListResourceRecordSetsInput, optFns ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, params *r53.ChangeResourceRecordSetsInput, optFns ...func(*r53.Options)) (*r53.ChangeResourceRecordSetsOutput, error)
	GetChange(ctx context.Context, params *r53.GetChangeInput, optFns ...func(*r53.Options)) (*r53.GetChangeOutput, error)
}

var _ API = (*r53.Client)(nil)

// Errors Switch and Current return, wrapped with the call and the record.
var (
	// ErrAccessDenied: the task role may not make the call. Retrying does
	// not help; the IAM policy must change. Never reported as a timeout.
	ErrAccessDenied = errors.New("access denied")
	// ErrTimeout: the change was not INSYNC within Config.WaitTimeout.
	ErrTimeout = errors.New("timed out waiting for the change to be INSYNC")
	// ErrSubmitted accompanies every error Switch returns after Route53
	// accepted the UPSERT: the record may already serve the new value, so
	// a caller that must keep the old DB serving switches back to it.
	ErrSubmitted = errors.New("the record change was accepted")
)

// Defaults.
const (
	DefaultTTL          = 60
	DefaultWaitTimeout  = 10 * time.Minute
	DefaultPollInterval = 5 * time.Second
	DefaultBackoff      = 500 * time.Millisecond
	DefaultRetries      = 5
)

// Config names the record and how long to wait for it.
type Config struct {
	// ZoneID is the hosted zone ("Z0123…" or "/hostedzone/Z0123…").
	ZoneID string
	// Name is the staging CNAME, e.g. "shop.staging.example.com".
	Name string
	// TTL of the record in seconds (default 60). Retire waits at least
	// this long before deleting the DB the record pointed at.
	TTL int64
	// WaitTimeout bounds the wait for INSYNC (default 10m).
	WaitTimeout time.Duration
	// PollInterval between GetChange calls (default 5s).
	PollInterval time.Duration
	// Backoff is the first delay before retrying a throttled call; it
	// doubles on each retry (default 500ms). The SDK client retries too;
	// this covers bursts that outlast its attempts.
	Backoff time.Duration
	// Retries is how many times a throttled call is retried (default 5).
	Retries int
}

// withDefaults fills the zero values.
func (c Config) withDefaults() Config {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	c.ZoneID = strings.TrimPrefix(c.ZoneID, "/hostedzone/")
	return c
}

var (
	zoneIDRE = regexp.MustCompile(`^(/hostedzone/)?[A-Z0-9]{1,32}$`)
	labelRE  = regexp.MustCompile(`^[a-z0-9_]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Validate checks the configuration offline (zero values mean the
// defaults); every problem at once.
func (c Config) Validate() error {
	var errs []error
	if !zoneIDRE.MatchString(c.ZoneID) {
		errs = append(errs, fmt.Errorf("hosted zone id %q: want Route53's upper-case id, e.g. Z0123456789ABC", c.ZoneID))
	}
	if err := validHost(c.Name); err != nil {
		errs = append(errs, fmt.Errorf("record name: %w", err))
	}
	if c.TTL < 0 || c.TTL > math.MaxInt32 {
		errs = append(errs, fmt.Errorf("TTL %d: want 1..%d seconds (0: %d)", c.TTL, math.MaxInt32, DefaultTTL))
	}
	if c.WaitTimeout < 0 {
		errs = append(errs, fmt.Errorf("wait timeout %s: must not be negative", c.WaitTimeout))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s: must not be negative", c.PollInterval))
	}
	if c.Backoff < 0 || c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries %d, backoff %s: must not be negative", c.Retries, c.Backoff))
	}
	if d := c.withDefaults(); c.WaitTimeout >= 0 && c.PollInterval >= 0 && d.PollInterval >= d.WaitTimeout {
		errs = append(errs, fmt.Errorf("poll interval %s: must be shorter than the wait timeout %s", d.PollInterval, d.WaitTimeout))
	}
	return errors.Join(errs...)
}

// validHost checks a DNS host name (a record name or a CNAME value).
func validHost(name string) error {
	n := normalize(name)
	if n == "" {
		return errors.New("empty")
	}
	if len(n) > 253 {
		return fmt.Errorf("%q: longer than 253 characters", name)
	}
	for _, l := range strings.Split(n, ".") {
		if !labelRE.MatchString(l) {
			return fmt.Errorf("%q: label %q is not a DNS label", name, l)
		}
	}
	return nil
}

// normalize makes names comparable: Route53 returns them fully qualified
// (trailing dot) and lower case, configuration and RDS endpoints usually
// come without the dot.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
}

// DNS reads and switches the staging CNAME.
type DNS struct {
	api API
	cfg Config
	log *slog.Logger
}

// New returns a DNS for cfg (defaults filled in). Call cfg.Validate first.
func New(api API, cfg Config, log *slog.Logger) *DNS {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DNS{api: api, cfg: cfg.withDefaults(), log: log}
}

// TTL is the record's TTL Switch writes, in seconds.
func (d *DNS) TTL() int64 { return d.cfg.TTL }

// Current returns the value of the staging CNAME, normalised (lower case,
// no trailing dot), and its TTL; "" when there is no record of that name.
// A record of that name that is not a plain CNAME (an alias, a weighted or
// other routing-policy set, another type) is an error: restage does not
// manage it and will not overwrite it.
func (d *DNS) Current(ctx context.Context) (target string, ttl int64, err error) {
	name := normalize(d.cfg.Name)
	in := &r53.ListResourceRecordSetsInput{
		HostedZoneId:    &d.cfg.ZoneID,
		StartRecordName: &name,
	}
	// Records are sorted by name, so ours come first and the first other
	// name ends them, possibly pages later.
	var found *r53types.ResourceRecordSet
	for {
		var out *r53.ListResourceRecordSetsOutput
		err := d.retry(ctx, "route53:ListResourceRecordSets", func(ctx context.Context) error {
			var err error
			out, err = d.api.ListResourceRecordSets(ctx, in)
			return err
		})
		if err != nil {
			return "", 0, fmt.Errorf("read record %q in zone %s: %w", name, d.cfg.ZoneID, err)
		}
		for i := range out.ResourceRecordSets {
			rs := &out.ResourceRecordSets[i]
			if normalize(deref(rs.Name)) != name {
				return d.found(found)
			}
			if found != nil || rs.Type != r53types.RRTypeCname || rs.AliasTarget != nil || rs.SetIdentifier != nil || len(rs.ResourceRecords) != 1 {
				return "", 0, fmt.Errorf("record %q in zone %s: not a single plain CNAME (type %s, alias %t, set identifier %q); restage manages only a simple CNAME",
					name, d.cfg.ZoneID, rs.Type, rs.AliasTarget != nil, deref(rs.SetIdentifier))
			}
			found = rs
		}
		if !out.IsTruncated {
			return d.found(found)
		}
		in.StartRecordName = out.NextRecordName
		in.StartRecordType = out.NextRecordType
		in.StartRecordIdentifier = out.NextRecordIdentifier
	}
}

func (d *DNS) found(rs *r53types.ResourceRecordSet) (string, int64, error) {
	if rs == nil {
		return "", 0, nil
	}
	var ttl int64
	if rs.TTL != nil {
		ttl = *rs.TTL
	}
	return normalize(deref(rs.ResourceRecords[0].Value)), ttl, nil
}

// Switch UPSERTs the staging CNAME to target with the configured TTL, then
// polls GetChange until the change is INSYNC, at most WaitTimeout.
//
// An error before Route53 accepted the change means the record is
// untouched. Every error after it wraps ErrSubmitted: the record may
// already point at target. A wait that runs out wraps ErrTimeout; a
// denied call wraps ErrAccessDenied, never ErrTimeout; a cancelled ctx
// wraps ctx.Err().
func (d *DNS) Switch(ctx context.Context, target string) error {
	if err := validHost(target); err != nil {
		return fmt.Errorf("switch %q: target: %w", d.cfg.Name, err)
	}
	name, value := normalize(d.cfg.Name), normalize(target)
	start := time.Now()
	in := &r53.ChangeResourceRecordSetsInput{
		HostedZoneId: &d.cfg.ZoneID,
		ChangeBatch: &r53types.ChangeBatch{
			Comment: ptr("restage: switch staging"),
			Changes: []r53types.Change{{
				Action: r53types.ChangeActionUpsert,
				ResourceRecordSet: &r53types.ResourceRecordSet{
					Name:            ptr(name + "."),
					Type:            r53types.RRTypeCname,
					TTL:             &d.cfg.TTL,
					ResourceRecords: []r53types.ResourceRecord{{Value: &value}},
				},
			}},
		},
	}
	var out *r53.ChangeResourceRecordSetsOutput
	err := d.retry(ctx, "route53:ChangeResourceRecordSets", func(ctx context.Context) error {
		var err error
		out, err = d.api.ChangeResourceRecordSets(ctx, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("switch %q to %q in zone %s: %w", name, value, d.cfg.ZoneID, err)
	}
	if out.ChangeInfo == nil || out.ChangeInfo.Id == nil {
		return fmt.Errorf("switch %q to %q: Route53 returned no change id: %w", name, value, ErrSubmitted)
	}
	id := *out.ChangeInfo.Id
	d.log.Info("dns change submitted", "record", name, "value", value, "ttl", d.cfg.TTL, "change_id", id, "status", string(out.ChangeInfo.Status))
	if err := d.wait(ctx, id, out.ChangeInfo.Status); err != nil {
		return fmt.Errorf("switch %q to %q: change %s: %w: %w", name, value, id, ErrSubmitted, err)
	}
	d.log.Info("dns change in sync", "record", name, "value", value, "change_id", id, "duration", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// wait polls GetChange until INSYNC, bounded by WaitTimeout.
func (d *DNS) wait(ctx context.Context, id string, status r53types.ChangeStatus) error {
	wctx, cancel := context.WithTimeoutCause(ctx, d.cfg.WaitTimeout, ErrTimeout)
	defer cancel()
	for status != r53types.ChangeStatusInsync {
		if err := sleep(wctx, d.cfg.PollInterval); err != nil {
			return d.waitErr(ctx, wctx, status, err)
		}
		var out *r53.GetChangeOutput
		err := d.retry(wctx, "route53:GetChange", func(ctx context.Context) error {
			var err error
			out, err = d.api.GetChange(ctx, &r53.GetChangeInput{Id: &id})
			return err
		})
		if err != nil {
			return d.waitErr(ctx, wctx, status, err)
		}
		if out.ChangeInfo == nil {
			return errors.New("GetChange returned no change info")
		}
		status = out.ChangeInfo.Status
	}
	return nil
}

// waitErr tells a run-out wait (ErrTimeout) from a cancelled run (ctx.Err)
// from a failed call (which keeps its own kind, e.g. ErrAccessDenied).
func (d *DNS) waitErr(ctx, wctx context.Context, status r53types.ChangeStatus, err error) error {
	switch {
	case errors.Is(err, ErrAccessDenied):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("waiting (last status %s): %w", status, ctx.Err())
	case wctx.Err() != nil:
		return fmt.Errorf("still %s after %s: %w", status, d.cfg.WaitTimeout, ErrTimeout)
	}
	return err
}

// retry runs call, retrying throttling with doubling backoff. AccessDenied
// is returned at once, wrapped in ErrAccessDenied and naming the action.
func (d *DNS) retry(ctx context.Context, action string, call func(context.Context) error) error {
	delay := d.cfg.Backoff
	for attempt := 0; ; attempt++ {
		err := call(ctx)
		switch {
		case err == nil:
			return nil
		case isAccessDenied(err):
			return fmt.Errorf("%s: %w: %w", action, ErrAccessDenied, err)
		case !isThrottling(err) || attempt >= d.cfg.Retries:
			return fmt.Errorf("%s: %w", action, err)
		}
		d.log.Warn("route53 throttled, retrying", "action", action, "attempt", attempt+1, "delay", delay.String())
		if serr := sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%s: %w (retrying after: %w)", action, serr, err)
		}
		delay *= 2
	}
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return true
	}
	return false
}

func isThrottling(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	// PriorRequestNotComplete: the zone is still applying a change we (or
	// someone) just made; Route53 asks to retry later.
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
		"TooManyRequestsException", "PriorRequestNotComplete":
		return true
	}
	return false
}

// sleep waits d or until ctx ends, returning context.Cause then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
