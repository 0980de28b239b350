package ddblock_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/ddblock/ddbfake"
	"github.com/restage/restage/internal/refresh"
)

const (
	table  = "restage-locks"
	target = "shop"
)

// clock is a fake clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newLocker returns a Locker on tbl. The lease is measured on clk; the
// renewal ticker runs in real time, so renew decides whether renewals
// happen during the test at all.
func newLocker(t *testing.T, tbl *ddbfake.Table, clk *clock, lease, renew time.Duration) *ddblock.Locker {
	t.Helper()
	cfg := ddblock.Config{Table: table, Lease: lease, Renew: renew, Now: clk.Now}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return ddblock.New(tbl, cfg, slog.New(slog.DiscardHandler))
}

// holder returns the owner and expiry of the target's item.
func holder(t *testing.T, tbl *ddbfake.Table) (owner string, expires time.Time, ok bool) {
	t.Helper()
	it, ok := tbl.Get(target)
	if !ok {
		return "", time.Time{}, false
	}
	o, _ := it[ddblock.AttrOwner].(*types.AttributeValueMemberS)
	n, _ := it[ddblock.AttrExpiresAt].(*types.AttributeValueMemberN)
	if o == nil || n == nil {
		t.Fatalf("lock item %v lacks owner or expires_at", it)
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("expires_at %q: %v", n.Value, err)
	}
	return o.Value, time.UnixMilli(ms).UTC(), true
}

// eventually fails the test unless cond holds within 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAcquireRelease(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	l := newLocker(t, tbl, clk, 0, 0)

	release, err := l.Acquire(context.Background(), target, "run-1")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	owner, exp, ok := holder(t, tbl)
	if !ok || owner != "run-1" || !exp.Equal(clk.Now().Add(ddblock.DefaultLease)) {
		t.Errorf("item = %q until %s (%t), want run-1 until %s", owner, exp, ok, clk.Now().Add(ddblock.DefaultLease))
	}
	release()
	if _, _, ok := holder(t, tbl); ok {
		t.Errorf("item still there after release")
	}
	release()
	if n := tbl.Count(ddbfake.OpDelete, ""); n != 1 {
		t.Errorf("DeleteItem called %d times after two releases, want 1", n)
	}

	// Released: the next run takes it at once.
	release2, err := l.Acquire(context.Background(), target, "run-2")
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	release2()
}

func TestSecondAcquireLocked(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("holder from GetItem %t", omit), func(t *testing.T) {
			tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
			tbl.OmitOldItem = omit
			l := newLocker(t, tbl, clk, 0, 0)
			release, err := l.Acquire(context.Background(), target, "run-1")
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer release()

			clk.Advance(time.Minute)
			_, err = l.Acquire(context.Background(), target, "run-2")
			if !errors.Is(err, ddblock.ErrLocked) || !errors.Is(err, refresh.ErrLocked) {
				t.Fatalf("second Acquire error = %v, want ErrLocked", err)
			}
			wantExp := clk.Now().Add(-time.Minute).Add(ddblock.DefaultLease).Format(time.RFC3339)
			for _, want := range []string{`"run-1"`, wantExp} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if got, want := tbl.Count(ddbfake.OpGet, ""), map[bool]int{false: 0, true: 1}[omit]; got != want {
				t.Errorf("GetItem called %d times, want %d", got, want)
			}
			if owner, _, _ := holder(t, tbl); owner != "run-1" {
				t.Errorf("owner = %q after a refused Acquire, want run-1", owner)
			}
		})
	}
}

func TestRace(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*ddbfake.Table, *clock)
	}{
		{name: "no item", setup: func(*ddbfake.Table, *clock) {}},
		{name: "expired item of a dead run", setup: func(tbl *ddbfake.Table, clk *clock) {
			tbl.Put(ddbfake.Item{
				ddblock.AttrTarget:    &types.AttributeValueMemberS{Value: target},
				ddblock.AttrOwner:     &types.AttributeValueMemberS{Value: "dead-run"},
				ddblock.AttrExpiresAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(clk.Now().Add(-time.Second).UnixMilli(), 10)},
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 32
			tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
			tt.setup(tbl, clk)
			var (
				start    = make(chan struct{})
				wg       sync.WaitGroup
				mu       sync.Mutex
				winners  []string
				releases []func()
				others   []error
			)
			for i := range n {
				l := newLocker(t, tbl, clk, 0, 0) // each run is its own process
				wg.Go(func() {
					<-start
					run := fmt.Sprintf("run-%d", i)
					release, err := l.Acquire(context.Background(), target, run)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						others = append(others, err)
						return
					}
					winners = append(winners, run)
					releases = append(releases, release)
				})
			}
			close(start)
			wg.Wait()
			for _, r := range releases {
				defer r()
			}
			if len(winners) != 1 {
				t.Fatalf("winners = %q, want exactly one", winners)
			}
			for _, err := range others {
				if !errors.Is(err, ddblock.ErrLocked) || !strings.Contains(err.Error(), strconv.Quote(winners[0])) {
					t.Errorf("loser error = %v, want ErrLocked naming %s", err, winners[0])
				}
			}
			if owner, _, _ := holder(t, tbl); owner != winners[0] {
				t.Errorf("owner = %q, want the winner %q", owner, winners[0])
			}
		})
	}
}

func TestRenewalKeepsLock(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	const lease = time.Hour
	l := newLocker(t, tbl, clk, lease, 2*time.Millisecond)
	release, err := l.Acquire(context.Background(), target, "run-1")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	defer release()
	_, first, _ := holder(t, tbl)

	// 50 minutes on, renewals have moved the expiry past the first one.
	clk.Advance(50 * time.Minute)
	eventually(t, "a renewal extends the lease", func() bool {
		_, exp, _ := holder(t, tbl)
		return exp.Equal(clk.Now().Add(lease))
	})
	clk.Advance(20 * time.Minute) // past the first expiry
	other := newLocker(t, tbl, clk, lease, 2*time.Millisecond)
	if _, err := other.Acquire(context.Background(), target, "run-2"); !errors.Is(err, ddblock.ErrLocked) {
		t.Fatalf("Acquire after the first expiry of a renewed lease = %v, want ErrLocked", err)
	}
	if _, exp, _ := holder(t, tbl); !exp.After(first) {
		t.Errorf("expiry %s not after the first %s", exp, first)
	}
}

func TestRenewalOutlivesCancelledContext(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	l := newLocker(t, tbl, clk, time.Hour, 2*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	release, err := l.Acquire(ctx, target, "run-1")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	cancel()
	n := tbl.Count(ddbfake.OpUpdate, "ok")
	eventually(t, "renewals go on after the run's context is cancelled", func() bool {
		return tbl.Count(ddbfake.OpUpdate, "ok") >= n+3
	})
	release()
	if _, _, ok := holder(t, tbl); ok {
		t.Errorf("item still there after release with a cancelled context")
	}
}

func TestDeadHolderExpires(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	const lease = time.Minute
	// The dead run: its renewal ticker (30s of real time) never fires in
	// this test, as if the process were gone.
	dead := newLocker(t, tbl, clk, lease, 30*time.Second)
	releaseDead, err := dead.Acquire(context.Background(), target, "dead-run")
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	next := newLocker(t, tbl, clk, lease, 0)

	clk.Advance(lease - time.Millisecond)
	if _, err := next.Acquire(context.Background(), target, "run-2"); !errors.Is(err, ddblock.ErrLocked) {
		t.Fatalf("Acquire just before the expiry = %v, want ErrLocked", err)
	}
	clk.Advance(2 * time.Millisecond)
	release, err := next.Acquire(context.Background(), target, "run-2")
	if err != nil {
		t.Fatalf("Acquire after the dead run's lease expired: %v", err)
	}
	defer release()

	// The "dead" run wakes up and releases: the new owner's item stays.
	releaseDead()
	if owner, _, ok := holder(t, tbl); !ok || owner != "run-2" {
		t.Errorf("owner = %q (%t) after the stale release, want run-2", owner, ok)
	}
	if n := tbl.Count(ddbfake.OpDelete, "condition failed"); n != 1 {
		t.Errorf("conditional DeleteItem failures = %d, want 1", n)
	}
}

func TestLostToAnotherOwner(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	l := newLocker(t, tbl, clk, time.Hour, 2*time.Millisecond)
	lost, release, err := l.AcquireWithLoss(context.Background(), target, "run-1")
	if err != nil {
		t.Fatalf("AcquireWithLoss: %v", err)
	}
	if closed(lost) {
		t.Fatalf("lost closed right after acquiring")
	}
	// Another run took the item over (e.g. after a long pause of this one).
	tbl.Put(ddbfake.Item{
		ddblock.AttrTarget:    &types.AttributeValueMemberS{Value: target},
		ddblock.AttrOwner:     &types.AttributeValueMemberS{Value: "run-2"},
		ddblock.AttrExpiresAt: &types.AttributeValueMemberN{Value: strconv.FormatInt(clk.Now().Add(time.Hour).UnixMilli(), 10)},
	})
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("lost not closed after another run took the item")
	}
	release()
	release()
	if owner, _, ok := holder(t, tbl); !ok || owner != "run-2" {
		t.Errorf("owner = %q (%t) after release of a lost lock, want run-2", owner, ok)
	}
}

func TestRenewalFailures(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	const lease, renew = time.Hour, 2 * time.Millisecond
	l := newLocker(t, tbl, clk, lease, renew)
	lost, release, err := l.AcquireWithLoss(context.Background(), target, "run-1")
	if err != nil {
		t.Fatalf("AcquireWithLoss: %v", err)
	}
	defer release()

	// Transient failures while most of the lease is left: retried, kept.
	tbl.Inject(ddbfake.OpUpdate, ddbfake.Throttling(), ddbfake.Throttling(), ddbfake.AccessDenied(ddbfake.OpUpdate))
	eventually(t, "renewals succeed again", func() bool { return tbl.Count(ddbfake.OpUpdate, "ok") >= 2 })
	if closed(lost) {
		t.Fatalf("lost closed after transient renewal failures with the lease far from expiry")
	}

	// Failing for (nearly) the whole lease: lost, before the expiry.
	tbl.FailAlways(ddbfake.OpUpdate, ddbfake.Throttling())
	n := tbl.Count(ddbfake.OpUpdate, "")
	eventually(t, "failing renewals are tried", func() bool { return tbl.Count(ddbfake.OpUpdate, "") >= n+2 })
	if closed(lost) {
		t.Fatalf("lost closed while most of the lease is left")
	}
	_, exp, _ := holder(t, tbl)
	clk.Advance(exp.Sub(clk.Now()) - renew/2) // less than one Renew left
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatalf("lost not closed when renewals failed for most of the lease")
	}
	if !clk.Now().Before(exp) {
		t.Errorf("lost reported at %s, not before the expiry %s", clk.Now(), exp)
	}
}

func TestAcquireErrors(t *testing.T) {
	tbl, clk := ddbfake.New(table, ddblock.AttrTarget), newClock()
	tbl.Inject(ddbfake.OpPut, ddbfake.AccessDenied(ddbfake.OpPut))
	l := newLocker(t, tbl, clk, 0, 0)
	_, err := l.Acquire(context.Background(), target, "run-1")
	if err == nil || errors.Is(err, ddblock.ErrLocked) || !strings.Contains(err.Error(), "dynamodb:PutItem") {
		t.Fatalf("Acquire error = %v, want a PutItem error that is not ErrLocked", err)
	}
	if _, _, ok := holder(t, tbl); ok {
		t.Errorf("item written despite the failed PutItem")
	}

	wrong := ddblock.New(tbl, ddblock.Config{Table: "other"}, nil)
	if _, err := wrong.Acquire(context.Background(), target, "run-1"); err == nil {
		t.Errorf("Acquire on a missing table = nil error")
	}
	invalid := ddblock.New(tbl, ddblock.Config{}, nil)
	if _, err := invalid.Acquire(context.Background(), target, "run-1"); err == nil {
		t.Errorf("Acquire with an invalid configuration = nil error")
	}
	if _, err := l.Acquire(context.Background(), target, ""); err == nil {
		t.Errorf("Acquire with an empty run id = nil error")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ddblock.Config
		wantErr string
	}{
		{name: "defaults", cfg: ddblock.Config{Table: table}},
		{name: "explicit", cfg: ddblock.Config{Table: table, Lease: time.Minute, Renew: 20 * time.Second}},
		{name: "no table", cfg: ddblock.Config{}, wantErr: "lock table"},
		{name: "negative lease", cfg: ddblock.Config{Table: table, Lease: -time.Minute}, wantErr: "lease"},
		{name: "renew too slow", cfg: ddblock.Config{Table: table, Lease: time.Minute, Renew: 31 * time.Second}, wantErr: "renew interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}
