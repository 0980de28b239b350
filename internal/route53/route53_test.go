package route53_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/restage/restage/internal/route53"
	"github.com/restage/restage/internal/route53/route53fake"
)

const (
	zoneID = "Z0123456789ABC"
	name   = "shop.staging.example.com"
)

func newDNS(t *testing.T, zone *route53fake.Zone, mod func(*route53.Config)) *route53.DNS {
	t.Helper()
	cfg := route53.Config{
		ZoneID:       zoneID,
		Name:         name,
		WaitTimeout:  2 * time.Second,
		PollInterval: time.Millisecond,
		Backoff:      time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return route53.New(zone, cfg, slog.New(slog.DiscardHandler))
}

func TestCurrent(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(z *route53fake.Zone)
		pageSize int
		want     string
		wantTTL  int64
		wantErr  string
	}{
		{
			name: "no record",
			setup: func(z *route53fake.Zone) {
				z.PutCNAME("other.staging.example.com", "x.example.com", 60)
			},
		},
		{
			name:  "empty zone",
			setup: func(*route53fake.Zone) {},
		},
		{
			name: "existing with trailing dot and upper case",
			setup: func(z *route53fake.Zone) {
				z.PutCNAME("Shop.Staging.Example.com.", "Restage-Shop-202601020304.abc.ap-northeast-1.rds.amazonaws.com.", 300)
			},
			want:    "restage-shop-202601020304.abc.ap-northeast-1.rds.amazonaws.com",
			wantTTL: 300,
		},
		{
			name: "page ends after the record",
			setup: func(z *route53fake.Zone) {
				for i := range 5 {
					z.PutCNAME(fmt.Sprintf("a%d.shop.staging.example.com", i), "x.example.com", 60)
				}
				z.PutCNAME("shop.staging.example.com", "db.example.com", 60)
				z.PutCNAME("zzz.staging.example.com", "y.example.com", 60)
			},
			pageSize: 1,
			want:     "db.example.com",
			wantTTL:  60,
		},
		{
			name: "an A record is not ours",
			setup: func(z *route53fake.Zone) {
				ttl := int64(60)
				z.Put(types.ResourceRecordSet{Name: ptr(name), Type: types.RRTypeA, TTL: &ttl,
					ResourceRecords: []types.ResourceRecord{{Value: ptr("10.0.0.1")}}})
			},
			wantErr: "not a single plain CNAME",
		},
		{
			name: "a weighted CNAME is not ours",
			setup: func(z *route53fake.Zone) {
				ttl, w := int64(60), int64(1)
				z.Put(types.ResourceRecordSet{Name: ptr(name), Type: types.RRTypeCname, TTL: &ttl, SetIdentifier: ptr("blue"), Weight: &w,
					ResourceRecords: []types.ResourceRecord{{Value: ptr("db.example.com")}}})
			},
			wantErr: "not a single plain CNAME",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := route53fake.New(zoneID, 0)
			z.PageSize = tt.pageSize
			tt.setup(z)
			got, ttl, err := newDNS(t, z, nil).Current(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Current error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Current: %v", err)
			}
			if got != tt.want || ttl != tt.wantTTL {
				t.Errorf("Current = %q, %d; want %q, %d", got, ttl, tt.want, tt.wantTTL)
			}
		})
	}
}

func TestSwitchWaitsForInsync(t *testing.T) {
	z := route53fake.New(zoneID, 3)
	z.PutCNAME(name, "old.example.com", 300)
	d := newDNS(t, z, func(c *route53.Config) { c.TTL = 30 })

	if err := d.Switch(context.Background(), "New.Example.com."); err != nil {
		t.Fatalf("Switch: %v", err)
	}
	value, ttl, ok := z.CNAME(name)
	if !ok || value != "new.example.com" || ttl != 30 {
		t.Errorf("record = %q, %d, %t; want new.example.com, 30, true", value, ttl, ok)
	}
	want := []string{"ChangeResourceRecordSets PENDING", "GetChange PENDING", "GetChange PENDING", "GetChange INSYNC"}
	if got := z.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q, want %q", got, want)
	}
	got, _, err := d.Current(context.Background())
	if err != nil || got != "new.example.com" {
		t.Errorf("Current after switch = %q, %v; want new.example.com", got, err)
	}
}

func TestSwitchCreatesMissingRecord(t *testing.T) {
	z := route53fake.New(zoneID, 0)
	d := newDNS(t, z, nil)
	if err := d.Switch(context.Background(), "new.example.com"); err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if value, ttl, ok := z.CNAME(name); !ok || value != "new.example.com" || ttl != route53.DefaultTTL {
		t.Errorf("record = %q, %d, %t; want new.example.com, %d, true", value, ttl, ok, route53.DefaultTTL)
	}
	if n := z.Count(route53fake.OpGet); n != 0 {
		t.Errorf("GetChange called %d times for a change INSYNC at once, want 0", n)
	}
}

func TestSwitchTimeout(t *testing.T) {
	z := route53fake.New(zoneID, 1_000_000)
	d := newDNS(t, z, func(c *route53.Config) { c.WaitTimeout = 30 * time.Millisecond })
	start := time.Now()
	err := d.Switch(context.Background(), "new.example.com")
	if !errors.Is(err, route53.ErrTimeout) || !errors.Is(err, route53.ErrSubmitted) {
		t.Fatalf("Switch error = %v, want ErrTimeout and ErrSubmitted", err)
	}
	if errors.Is(err, route53.ErrAccessDenied) {
		t.Errorf("timeout reported as access denied: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Switch took %s with a 30ms wait timeout", el)
	}
}

func TestSwitchCancelled(t *testing.T) {
	z := route53fake.New(zoneID, 1_000_000)
	d := newDNS(t, z, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := d.Switch(ctx, "new.example.com")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, route53.ErrTimeout) {
		t.Fatalf("Switch error = %v, want the run's context error, not ErrTimeout", err)
	}
}

func TestAccessDenied(t *testing.T) {
	tests := []struct {
		op            string
		wantSubmitted bool
	}{
		{route53fake.OpChange, false},
		{route53fake.OpGet, true},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			z := route53fake.New(zoneID, 2)
			z.PutCNAME(name, "old.example.com", 60)
			z.FailAlways(tt.op, route53fake.AccessDenied(tt.op))
			err := newDNS(t, z, nil).Switch(context.Background(), "new.example.com")
			if !errors.Is(err, route53.ErrAccessDenied) {
				t.Fatalf("Switch error = %v, want ErrAccessDenied", err)
			}
			if errors.Is(err, route53.ErrTimeout) {
				t.Errorf("access denied reported as a timeout: %v", err)
			}
			if !strings.Contains(err.Error(), "route53:"+tt.op) {
				t.Errorf("error %q does not name the action route53:%s", err, tt.op)
			}
			if got := errors.Is(err, route53.ErrSubmitted); got != tt.wantSubmitted {
				t.Errorf("ErrSubmitted = %t, want %t", got, tt.wantSubmitted)
			}
			if n := z.Count(tt.op); n != 1 {
				t.Errorf("%s called %d times, want 1 (no retry on AccessDenied)", tt.op, n)
			}
			if v, _, _ := z.CNAME(name); !tt.wantSubmitted && v != "old.example.com" {
				t.Errorf("record = %q after a denied change, want old.example.com", v)
			}
		})
	}

	t.Run(route53fake.OpList, func(t *testing.T) {
		z := route53fake.New(zoneID, 0)
		z.FailAlways(route53fake.OpList, route53fake.AccessDenied(route53fake.OpList))
		_, _, err := newDNS(t, z, nil).Current(context.Background())
		if !errors.Is(err, route53.ErrAccessDenied) {
			t.Fatalf("Current error = %v, want ErrAccessDenied", err)
		}
	})
}

func TestThrottlingRetried(t *testing.T) {
	z := route53fake.New(zoneID, 2)
	z.PutCNAME(name, "old.example.com", 60)
	z.Inject(route53fake.OpList, route53fake.Throttling())
	z.Inject(route53fake.OpChange, route53fake.Throttling(), route53fake.Throttling())
	z.Inject(route53fake.OpGet, route53fake.Throttling())
	d := newDNS(t, z, nil)

	got, _, err := d.Current(context.Background())
	if err != nil || got != "old.example.com" {
		t.Fatalf("Current = %q, %v; want old.example.com", got, err)
	}
	if err := d.Switch(context.Background(), "new.example.com"); err != nil {
		t.Fatalf("Switch: %v", err)
	}
	if v, _, _ := z.CNAME(name); v != "new.example.com" {
		t.Errorf("record = %q, want new.example.com", v)
	}
	if n := z.Count(route53fake.OpChange); n != 3 {
		t.Errorf("ChangeResourceRecordSets called %d times, want 3 (2 throttled)", n)
	}
	if n := z.Count(route53fake.OpGet); n != 3 {
		t.Errorf("GetChange called %d times, want 3 (1 throttled, PENDING, INSYNC)", n)
	}
}

func TestThrottlingGivesUp(t *testing.T) {
	z := route53fake.New(zoneID, 0)
	z.FailAlways(route53fake.OpChange, route53fake.Throttling())
	d := newDNS(t, z, func(c *route53.Config) { c.Retries = 2 })
	err := d.Switch(context.Background(), "new.example.com")
	if err == nil || errors.Is(err, route53.ErrSubmitted) {
		t.Fatalf("Switch error = %v, want a throttling error before submission", err)
	}
	if n := z.Count(route53fake.OpChange); n != 3 {
		t.Errorf("ChangeResourceRecordSets called %d times, want 3", n)
	}
}

func TestSwitchRejectsBadTarget(t *testing.T) {
	z := route53fake.New(zoneID, 0)
	for _, target := range []string{"", "not a host", "-bad.example.com"} {
		if err := newDNS(t, z, nil).Switch(context.Background(), target); err == nil {
			t.Errorf("Switch(%q) = nil, want an error", target)
		}
	}
	if n := len(z.Calls()); n != 0 {
		t.Errorf("%d calls for invalid targets, want 0", n)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     route53.Config
		wantErr []string
	}{
		{name: "minimal", cfg: route53.Config{ZoneID: zoneID, Name: name}},
		{name: "zone path and fqdn", cfg: route53.Config{ZoneID: "/hostedzone/" + zoneID, Name: name + ".", TTL: 300}},
		{
			name:    "everything wrong",
			cfg:     route53.Config{ZoneID: "zone", Name: "bad name", TTL: -1, WaitTimeout: -time.Second, PollInterval: -time.Second},
			wantErr: []string{"hosted zone id", "record name", "TTL", "wait timeout", "poll interval"},
		},
		{
			name:    "poll not shorter than wait",
			cfg:     route53.Config{ZoneID: zoneID, Name: name, WaitTimeout: time.Second, PollInterval: time.Second},
			wantErr: []string{"shorter than the wait timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate error %q lacks %q", err, w)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
