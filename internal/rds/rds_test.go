package rds_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

func TestIdentifier(t *testing.T) {
	at := time.Date(2026, 3, 5, 4, 7, 59, 0, time.FixedZone("JST", 9*3600))
	tests := []struct {
		target  string
		want    string
		wantErr bool
	}{
		{target: "shop", want: "restage-shop-202603041907"},
		{target: "shop-jp", want: "restage-shop-jp-202603041907"},
		{target: "Shop2", want: "restage-shop2-202603041907"},
		{target: strings.Repeat("a", 42), want: "restage-" + strings.Repeat("a", 42) + "-202603041907"}, // 63
		{target: strings.Repeat("a", 43), wantErr: true},                                                // 64
		{target: "", wantErr: true},                                                                     // restage--…
		{target: "shop--jp", wantErr: true},
		{target: "shop-", wantErr: true},
		{target: "-shop", wantErr: true},
		{target: "shop_jp", wantErr: true},
		{target: "shop.jp", wantErr: true},
		{target: "shöp", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got, err := rds.Identifier(tt.target, at)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Identifier(%q) = %q, want an error", tt.target, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Identifier(%q) = %q, %v; want %q", tt.target, got, err, tt.want)
			}
			if len(got) > 63 {
				t.Fatalf("%q is %d characters", got, len(got))
			}
		})
	}
}

func TestEngine(t *testing.T) {
	tests := []struct {
		e      rds.Engine
		aurora bool
		family string
	}{
		{rds.AuroraMySQL, true, "mysql"},
		{rds.AuroraPostgreSQL, true, "postgres"},
		{rds.MySQL, false, "mysql"},
		{rds.Postgres, false, "postgres"},
		{rds.MariaDB, false, "mysql"},
		{"oracle-ee", false, ""},
	}
	for _, tt := range tests {
		if got := tt.e.Aurora(); got != tt.aurora {
			t.Errorf("%s.Aurora() = %v, want %v", tt.e, got, tt.aurora)
		}
		if got := tt.e.Family(); got != tt.family {
			t.Errorf("%s.Family() = %q, want %q", tt.e, got, tt.family)
		}
		if got := tt.e.Valid(); got != (tt.family != "") {
			t.Errorf("%s.Valid() = %v", tt.e, got)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, e := range []rds.Engine{rds.AuroraMySQL, rds.AuroraPostgreSQL, rds.MySQL, rds.Postgres, rds.MariaDB} {
		if err := baseConfig(e).Validate(); err != nil {
			t.Errorf("%s: valid config: %v", e, err)
		}
	}
	ok := baseConfig(rds.AuroraMySQL)
	ok.SourceARN = "arn:aws:rds:ap-northeast-1:123456789012:cluster:prod-shop"
	ok.SnapshotARN = "arn:aws:rds:ap-northeast-1:210987654321:cluster-snapshot:shared-shop"
	ok.SnapshotType = rds.SnapshotShared
	if err := ok.Validate(); err != nil {
		t.Errorf("ARNs: %v", err)
	}

	bad := rds.Config{
		Target:                "Shop_1",
		Engine:                "oracle",
		SourceID:              "prod--shop",
		SourceARN:             "prod-shop",
		SnapshotType:          "daily",
		SnapshotARN:           "rds:snap",
		SecurityGroupIDs:      []string{"staging"},
		InstanceClass:         "r6g.large",
		BackupRetention:       36,
		WaitTimeout:           time.Minute,
		PollInterval:          time.Hour,
		ClusterParameterGroup: "x",
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"target", "engine", "source id", "source ARN", "snapshot type", "snapshot ARN", "subnet group", "security group id", "instance class", "backup retention", "poll interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}

	conflict := baseConfig(rds.MySQL)
	conflict.ClusterParameterGroup = "cpg"
	conflict.SourceID = "restage-shop-202601010000"
	err = conflict.Validate()
	for _, want := range []string{"cluster parameter group", "looks like one of restage's own copies"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	// Quarantine, parameter groups and Serverless v2 capacity.
	q := baseConfig(rds.AuroraMySQL)
	q.QuarantineSecurityGroupIDs = nil
	q.DBParameterGroup, q.ClusterParameterGroup = "", ""
	q.InstanceClass = rds.InstanceServerless
	err = q.Validate()
	for _, want := range []string{"quarantine security group ids: at least one", "DB parameter group: required", "cluster parameter group: required", "serverless capacity 0-0 ACU"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	q = baseConfig(rds.MySQL)
	q.QuarantineSecurityGroupIDs = []string{"sg-0staging1"}
	q.InstanceClass, q.ServerlessMinACU, q.ServerlessMaxACU = rds.InstanceServerless, 0.5, 4
	err = q.Validate()
	for _, want := range []string{"both a quarantine and a staging group", "only Aurora engines have Serverless v2"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	q = baseConfig(rds.AuroraPostgreSQL)
	q.InstanceClass, q.ServerlessMinACU, q.ServerlessMaxACU = rds.InstanceServerless, 0.5, 8
	if err := q.Validate(); err != nil {
		t.Errorf("serverless config: %v", err)
	}
	long := baseConfig(rds.AuroraMySQL)
	long.Target = strings.Repeat("a", 36) // writer id would be 64 characters
	if long.Validate() == nil {
		t.Error("a target too long for the writer instance's identifier was accepted")
	}
}

func TestErrNotOursIsRefresh(t *testing.T) {
	if !errors.Is(rds.ErrNotOurs, refresh.ErrNotOurs) {
		t.Fatal("rds.ErrNotOurs is not refresh.ErrNotOurs")
	}
}
