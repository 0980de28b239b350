// Package ddblock is restage's run lock on AWS: one DynamoDB item per
// target, taken with a conditional write and held as a lease that the
// holding process keeps renewing.
//
// Why a lease: the scheduler delivers at least once and ops may start a
// run by hand, so two runs of one target can start together; the
// conditional PutItem lets exactly one of them in. A run that dies (task
// killed, host gone) stops renewing, so its item expires after at most
// Lease and the next run takes it over: no lock outlives a dead run, and
// no one has to delete a stale item by hand.
//
// Clocks: expires_at is written from the writer's clock and compared with
// the next writer's clock. The lock is safe as long as the clocks of two
// tasks differ by much less than Lease (ECS tasks are NTP-synchronised to
// well under a second; the default Lease is two minutes). A holder also
// gives up early: it reports the lease lost at least one Renew interval
// before the expiry it last wrote.
//
// The table has the partition key "target" (S) and nothing else is
// required; each item carries owner (the run id), expires_at (Unix
// milliseconds, N) and acquired_at (Unix milliseconds, N). Calls:
// dynamodb:PutItem, GetItem, UpdateItem, DeleteItem (internal/awsiam).
package ddblock

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/restage/restage/internal/refresh"
)

// API is the part of the DynamoDB client the lock uses.
type API interface {
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// ErrLocked is returned by Acquire when another live run holds the
// target's lock; the error names that run and when its lease expires.
var ErrLocked = refresh.ErrLocked

// Item attribute names.
const (
	AttrTarget     = "target"
	AttrOwner      = "owner"
	AttrExpiresAt  = "expires_at"
	AttrAcquiredAt = "acquired_at"
)

// The expressions the lock uses. Attribute names go through placeholders
// so that none can collide with DynamoDB's long list of reserved words.
const (
	condAcquire = "attribute_not_exists(#target) OR #expires < :now"
	condOwner   = "#owner = :me"
	updateRenew = "SET #expires = :expires"
)

// Defaults.
const (
	DefaultLease = 2 * time.Minute
	// callTimeout bounds release's DeleteItem, which has no caller context.
	callTimeout = 10 * time.Second
)

// Config configures the lock.
type Config struct {
	// Table is the DynamoDB table (partition key "target", S).
	Table string
	// Lease is how long a lock outlives its last renewal (default 2m).
	// It bounds how long a dead run blocks the next one.
	Lease time.Duration
	// Renew is the renewal interval (default Lease/3). A renewal may fail
	// about Lease/Renew - 1 times in a row before the lease is lost.
	Renew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.Renew == 0 {
		c.Renew = c.Lease / 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration offline (zero values mean the
// defaults); every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Table == "" {
		errs = append(errs, errors.New("lock table: empty"))
	}
	d := c.withDefaults()
	if d.Lease < time.Millisecond {
		errs = append(errs, fmt.Errorf("lease %s: want at least 1ms (default %s)", c.Lease, DefaultLease))
	}
	if d.Renew <= 0 || d.Renew*2 > d.Lease {
		errs = append(errs, fmt.Errorf("renew interval %s: want more than 0 and at most half the lease %s, so a renewal can fail once", d.Renew, d.Lease))
	}
	return errors.Join(errs...)
}

// Locker takes run locks in one table.
type Locker struct {
	api API
	cfg Config
	log *slog.Logger
}

// New returns a Locker (defaults filled in). Call cfg.Validate first;
// Acquire refuses an invalid configuration.
func New(api API, cfg Config, log *slog.Logger) *Locker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Locker{api: api, cfg: cfg.withDefaults(), log: log}
}

// Acquire takes target's lock for runID and keeps renewing it until
// release is called. It returns an error wrapping ErrLocked, naming the
// holder and its expiry, when another run holds an unexpired lease.
// release stops renewing and deletes the item if this run still owns it;
// it is idempotent and safe after the run's context was cancelled.
//
// Acquire does not tell its caller when the lease is lost (renewals kept
// failing, or another run took over an expired lease); it only logs it.
// Callers that act on the lock's protection later — the switch of the
// staging record — use AcquireWithLoss and stop when lost closes.
func (l *Locker) Acquire(ctx context.Context, target, runID string) (release func(), err error) {
	_, release, err = l.AcquireWithLoss(ctx, target, runID)
	return release, err
}

// AcquireWithLoss is Acquire that also returns lost, closed once the
// lease can no longer be proven to be this run's: a renewal found another
// owner (or no item), or renewals failed until less than one Renew
// interval of the lease was left. A run whose lease is lost must stop
// before the switch: another run may now own the target. lost never
// closes once release has returned.
//
// Renewal outlives ctx's cancellation (cleanup still runs under the
// lock) and ends only with release or loss: the caller must call release.
func (l *Locker) AcquireWithLoss(ctx context.Context, target, runID string) (lost <-chan struct{}, release func(), err error) {
	if err := l.cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("lock %q: %w", target, err)
	}
	if target == "" || runID == "" {
		return nil, nil, fmt.Errorf("lock: target %q and run id %q must not be empty", target, runID)
	}
	now := l.cfg.Now()
	expires := now.Add(l.cfg.Lease)
	_, err = l.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &l.cfg.Table,
		Item: map[string]types.AttributeValue{
			AttrTarget:     str(target),
			AttrOwner:      str(runID),
			AttrExpiresAt:  millis(expires),
			AttrAcquiredAt: millis(now),
		},
		ConditionExpression:                 ptr(condAcquire),
		ExpressionAttributeNames:            map[string]string{"#target": AttrTarget, "#expires": AttrExpiresAt},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": millis(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if ccf, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		return nil, nil, l.locked(ctx, target, ccf.Item)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("lock %q: dynamodb:PutItem on table %q: %w", target, l.cfg.Table, err)
	}
	l.log.Info("run lock acquired", "target", target, "run", runID, "lock_table", l.cfg.Table, "expires_at", expires.UTC().Format(time.RFC3339))

	h := &held{
		l: l, target: target, runID: runID, expires: expires,
		stop: make(chan struct{}), done: make(chan struct{}), lost: make(chan struct{}),
	}
	// Renewal and release must work after the run's ctx is cancelled.
	bg := context.WithoutCancel(ctx)
	go h.renew(bg)
	return h.lost, func() { h.release(bg) }, nil
}

// locked builds the ErrLocked error from the holder's item: the one the
// failed write returned, or else a consistent read.
func (l *Locker) locked(ctx context.Context, target string, item map[string]types.AttributeValue) error {
	if item == nil {
		out, err := l.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &l.cfg.Table,
			Key:            map[string]types.AttributeValue{AttrTarget: str(target)},
			ConsistentRead: ptr(true),
		})
		if err != nil {
			return fmt.Errorf("lock %q: held by another run (dynamodb:GetItem of the holder failed: %v): %w", target, err, ErrLocked)
		}
		item = out.Item
	}
	if item == nil {
		// Released between the write and the read: the caller may retry.
		return fmt.Errorf("lock %q: held by another run that has just released it: %w", target, ErrLocked)
	}
	owner := getS(item, AttrOwner)
	exp, _ := getMillis(item, AttrExpiresAt)
	return fmt.Errorf("lock %q: held by run %q until %s (lease; renewed while that run lives): %w",
		target, owner, exp.UTC().Format(time.RFC3339), ErrLocked)
}

// held is one acquired lease and its renewal goroutine.
type held struct {
	l             *Locker
	target, runID string
	expires       time.Time // last expiry written; only the renew goroutine touches it

	stop     chan struct{} // closed by release
	done     chan struct{} // closed when renew returns
	lost     chan struct{} // closed on loss
	stopOnce sync.Once
}

// renew extends the lease every Renew interval until stop or loss.
func (h *held) renew(ctx context.Context) {
	defer close(h.done)
	l := h.l
	t := time.NewTicker(l.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		select {
		case <-h.stop: // a tick and release at once: release wins
			return
		default:
		}
		expires := l.cfg.Now().Add(l.cfg.Lease)
		cctx, cancel := context.WithTimeout(ctx, l.cfg.Renew)
		_, err := l.api.UpdateItem(cctx, &dynamodb.UpdateItemInput{
			TableName:                 &l.cfg.Table,
			Key:                       map[string]types.AttributeValue{AttrTarget: str(h.target)},
			UpdateExpression:          ptr(updateRenew),
			ConditionExpression:       ptr(condOwner),
			ExpressionAttributeNames:  map[string]string{"#expires": AttrExpiresAt, "#owner": AttrOwner},
			ExpressionAttributeValues: map[string]types.AttributeValue{":expires": millis(expires), ":me": str(h.runID)},
		})
		cancel()
		if err == nil {
			h.expires = expires
			continue
		}
		if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
			l.log.Error("run lock lost: another run owns it or it was deleted", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table)
			close(h.lost)
			return
		}
		// Give up while a Renew interval of the lease is left, so the run
		// learns of the loss before another run can take the item.
		if left := h.expires.Sub(l.cfg.Now()); left <= l.cfg.Renew {
			l.log.Error("run lock lost: renewals failed for most of the lease", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table, "error", err.Error())
			close(h.lost)
			return
		}
		l.log.Warn("run lock renewal failed, retrying", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table, "error", err.Error())
	}
}

// release stops renewing, then deletes the item only if this run still
// owns it: after a loss the item is another run's and stays.
func (h *held) release(ctx context.Context) {
	h.stopOnce.Do(func() {
		close(h.stop)
		<-h.done
		l := h.l
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := l.api.DeleteItem(cctx, &dynamodb.DeleteItemInput{
			TableName:                 &l.cfg.Table,
			Key:                       map[string]types.AttributeValue{AttrTarget: str(h.target)},
			ConditionExpression:       ptr(condOwner),
			ExpressionAttributeNames:  map[string]string{"#owner": AttrOwner},
			ExpressionAttributeValues: map[string]types.AttributeValue{":me": str(h.runID)},
		})
		if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
			l.log.Warn("run lock not released: no longer this run's", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table)
			return
		}
		if err != nil {
			// Harmless: the lease expires by itself.
			l.log.Warn("run lock release failed; it expires with its lease", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table, "error", err.Error())
			return
		}
		l.log.Info("run lock released", "target", h.target, "run", h.runID, "lock_table", l.cfg.Table)
	})
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func millis(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.UnixMilli(), 10)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getMillis(item map[string]types.AttributeValue, name string) (time.Time, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

func ptr[T any](v T) *T { return &v }
