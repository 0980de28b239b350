package rds_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
)

// snap is one seeded snapshot, engine-neutral.
type snap struct {
	id, source, typ, status string
	day                     int // days after day0
	encrypted               bool
}

func seedSnaps(f *rdsfake.Fake, e rds.Engine, snaps []snap) {
	for _, s := range snaps {
		created := aws.Time(day0.AddDate(0, 0, s.day))
		if s.status == "creating" {
			created = nil // RDS has no create time before the snapshot is taken
		}
		if e.Aurora() {
			f.AddClusterSnapshot(types.DBClusterSnapshot{
				DBClusterSnapshotIdentifier: aws.String(s.id), DBClusterIdentifier: aws.String(s.source),
				Engine: aws.String(string(e)), EngineVersion: aws.String(engineVersion(e)),
				SnapshotType: aws.String(s.typ), Status: aws.String(s.status), SnapshotCreateTime: created,
				StorageEncrypted: aws.Bool(s.encrypted), KmsKeyId: kmsKey(s.encrypted),
			})
			continue
		}
		f.AddDBSnapshot(types.DBSnapshot{
			DBSnapshotIdentifier: aws.String(s.id), DBInstanceIdentifier: aws.String(s.source),
			Engine: aws.String(string(e)), EngineVersion: aws.String(engineVersion(e)),
			SnapshotType: aws.String(s.typ), Status: aws.String(s.status), SnapshotCreateTime: created,
			Encrypted: aws.Bool(s.encrypted), KmsKeyId: kmsKey(s.encrypted),
		})
	}
}

func kmsKey(encrypted bool) *string {
	if !encrypted {
		return nil
	}
	return aws.String("arn:aws:kms:us-east-1:123456789012:key/prod-key")
}

func TestNewestSnapshot(t *testing.T) {
	// Seven snapshots over four pages of two; the newest available is on
	// the third page, a newer one is still being created, another failed,
	// and a newer one belongs to another database.
	common := []snap{
		{"rds:prod-shop-2026-03-02-03-00", sourceID, "automated", "available", 1, false},
		{"rds:prod-shop-2026-03-06-03-00", sourceID, "automated", "available", 5, true},
		{"rds:prod-shop-2026-03-04-03-00", sourceID, "automated", "available", 3, false},
		{"rds:prod-shop-2026-03-10-03-00", sourceID, "automated", "creating", 9, false},
		{"rds:prod-shop-2026-03-09-03-00", sourceID, "automated", "failed", 8, false},
		{"rds:prod-other-2026-03-11-03-00", "prod-other", "automated", "available", 10, false},
		{"g-manual", sourceID, "manual", "available", 7, false},
		{"h-manual-old", sourceID, "manual", "available", 2, false},
		{"i-shared", sourceID, "shared", "available", 6, false},
		{"j-shared-other", "prod-other", "shared", "available", 11, false},
		// Listed for the source but not named like its automated
		// snapshots: never chosen, however new.
		{"rds:prod-shop-x-2026-03-13-03-00", sourceID, "automated", "available", 12, false},
		{"k-misnamed", sourceID, "automated", "available", 12, false},
	}
	tests := []struct {
		name    string
		cfg     func(*rds.Config)
		want    string
		wantErr error
	}{
		{name: "automated", want: "rds:prod-shop-2026-03-06-03-00"},
		{name: "manual", cfg: func(c *rds.Config) { c.SnapshotType = rds.SnapshotManual }, want: "g-manual"},
		{name: "shared", cfg: func(c *rds.Config) { c.SnapshotType = rds.SnapshotShared }, want: "i-shared"},
		{name: "ARN wins over type", cfg: func(c *rds.Config) { c.SnapshotARN = arnOf(c.Engine, "h-manual-old") }, want: "h-manual-old"},
		{name: "ARN of a shared snapshot", cfg: func(c *rds.Config) { c.SnapshotARN = arnOf(c.Engine, "i-shared") }, want: "i-shared"},
		// Restores are bound to the configured source's snapshots, even by ARN.
		{name: "ARN of another source's snapshot", cfg: func(c *rds.Config) { c.SnapshotARN = arnOf(c.Engine, "j-shared-other") }, wantErr: rds.ErrNoSnapshot},
		{name: "ARN not available", cfg: func(c *rds.Config) { c.SnapshotARN = arnOf(c.Engine, "rds:prod-shop-2026-03-10-03-00") }, wantErr: rds.ErrNoSnapshot},
		{name: "ARN unknown", cfg: func(c *rds.Config) { c.SnapshotARN = arnOf(c.Engine, "zz") }, wantErr: rds.ErrNoSnapshot},
		{name: "no snapshot of this source", cfg: func(c *rds.Config) { c.SourceID = "prod-empty" }, wantErr: rds.ErrNoSnapshot},
	}
	for _, e := range []rds.Engine{rds.AuroraMySQL, rds.MySQL} {
		for _, tt := range tests {
			t.Run(string(e)+"/"+tt.name, func(t *testing.T) {
				var mut []func(*rds.Config)
				if tt.cfg != nil {
					mut = append(mut, tt.cfg)
				}
				env := newEnv(t, e, mut...)
				seedSnaps(env.fake, e, common)
				got, err := env.c.NewestSnapshot(context.Background())
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("NewestSnapshot() = %+v, %v; want %v", got, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != tt.want {
					t.Fatalf("NewestSnapshot() = %q, want %q", got.ID, tt.want)
				}
				if got.Engine != e || got.EngineVersion != engineVersion(e) || got.ARN == "" || got.Created.IsZero() {
					t.Errorf("snapshot fields not filled: %+v", got)
				}
				if tt.want == "rds:prod-shop-2026-03-06-03-00" {
					if !got.Encrypted || got.KMSKeyID == "" {
						t.Errorf("encryption not reported: %+v", got)
					}
					if pages := len(ops(env.fake, func(c rdsfake.Call) bool { return c.Op[:8] == "Describe" })); pages < 3 {
						t.Errorf("%d describe calls: paging not exercised", pages)
					}
				}
			})
		}
	}
}

func arnOf(e rds.Engine, id string) string {
	if e.Aurora() {
		return "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + id
	}
	return "arn:aws:rds:us-east-1:123456789012:snapshot:" + id
}

func TestNewestSnapshotThrottled(t *testing.T) {
	env := newEnv(t, rds.AuroraPostgreSQL)
	want := seedSource(env.fake, rds.AuroraPostgreSQL, 7)
	env.fake.Throttle("DescribeDBClusterSnapshots", 3)
	got, err := env.c.NewestSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want {
		t.Fatalf("got %q, want %q", got.ID, want)
	}
}

func TestNewestSnapshotAccessDenied(t *testing.T) {
	env := newEnv(t, rds.MySQL)
	seedSource(env.fake, rds.MySQL, 3)
	env.fake.DenyAccess("DescribeDBSnapshots")
	_, err := env.c.NewestSnapshot(context.Background())
	if !errors.Is(err, rds.ErrAccessDenied) {
		t.Fatalf("err = %v, want ErrAccessDenied", err)
	}
	if n := len(env.fake.Calls()); n != 1 {
		t.Errorf("%d calls, want 1 (AccessDenied is not retried)", n)
	}
}
