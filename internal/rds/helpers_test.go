package rds_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
)

const (
	target   = "shop"
	sourceID = "prod-shop"
)

var day0 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)

func sourceEndpoint(e rds.Engine) string {
	if e.Aurora() {
		return sourceID + ".cluster-abc.us-east-1.rds.amazonaws.com"
	}
	return sourceID + ".abc.us-east-1.rds.amazonaws.com"
}

func engineVersion(e rds.Engine) string {
	switch e {
	case rds.AuroraMySQL:
		return "8.0.mysql_aurora.3.08.0"
	case rds.AuroraPostgreSQL:
		return "16.4"
	case rds.MySQL:
		return "8.0.40"
	case rds.MariaDB:
		return "10.11.9"
	}
	return "16.4"
}

func baseConfig(e rds.Engine) rds.Config {
	cfg := rds.Config{
		Target:                     target,
		Engine:                     e,
		SourceID:                   sourceID,
		SubnetGroup:                "staging-db",
		SecurityGroupIDs:           []string{"sg-0staging1", "sg-0staging2"},
		QuarantineSecurityGroupIDs: []string{"sg-0quarantine"},
		InstanceClass:              "db.r6g.large",
		DBParameterGroup:           "restage-params",
		OptionGroup:                "restage-options",
		BackupRetention:            3,
		WaitTimeout:                5 * time.Second,
		PollInterval:               time.Millisecond,
	}
	if e.Aurora() {
		cfg.ClusterParameterGroup = "restage-cluster-params"
		cfg.OptionGroup = ""
	}
	return cfg
}

var prodTags = []types.Tag{{Key: aws.String("env"), Value: aws.String("production")}, {Key: aws.String("team"), Value: aws.String("shop")}}

// seedSource adds the production source and n available automated
// snapshots of it, one a day; the newest is returned.
func seedSource(f *rdsfake.Fake, e rds.Engine, n int) string {
	var newest string
	if e.Aurora() {
		f.AddCluster(types.DBCluster{
			DBClusterIdentifier: aws.String(sourceID), Engine: aws.String(string(e)),
			Endpoint: aws.String(sourceEndpoint(e)), Port: aws.Int32(3306), TagList: prodTags,
			DeletionProtection: aws.Bool(true),
		})
		f.AddInstance(types.DBInstance{
			DBInstanceIdentifier: aws.String(sourceID + "-1"), DBClusterIdentifier: aws.String(sourceID),
			Engine: aws.String(string(e)), TagList: prodTags,
			Endpoint: &types.Endpoint{Address: aws.String(sourceID + "-1.abc.us-east-1.rds.amazonaws.com")},
		})
		for i := range n {
			newest = fmt.Sprintf("rds:%s-2026-03-%02d-03-00", sourceID, i+1)
			f.AddClusterSnapshot(types.DBClusterSnapshot{
				DBClusterSnapshotIdentifier: aws.String(newest), DBClusterIdentifier: aws.String(sourceID),
				Engine: aws.String(string(e)), EngineVersion: aws.String(engineVersion(e)),
				SnapshotType: aws.String("automated"), Status: aws.String("available"),
				SnapshotCreateTime: aws.Time(day0.AddDate(0, 0, i)), MasterUsername: aws.String("admin"),
				TagList: prodTags, BackupRetentionPeriod: aws.Int32(14),
			})
		}
		return newest
	}
	f.AddInstance(types.DBInstance{
		DBInstanceIdentifier: aws.String(sourceID), Engine: aws.String(string(e)),
		Endpoint:           &types.Endpoint{Address: aws.String(sourceEndpoint(e)), Port: aws.Int32(3306)},
		TagList:            prodTags,
		DeletionProtection: aws.Bool(true),
	})
	for i := range n {
		newest = fmt.Sprintf("rds:%s-2026-03-%02d-03-00", sourceID, i+1)
		f.AddDBSnapshot(types.DBSnapshot{
			DBSnapshotIdentifier: aws.String(newest), DBInstanceIdentifier: aws.String(sourceID),
			Engine: aws.String(string(e)), EngineVersion: aws.String(engineVersion(e)),
			SnapshotType: aws.String("automated"), Status: aws.String("available"),
			SnapshotCreateTime: aws.Time(day0.AddDate(0, 0, i)), MasterUsername: aws.String("admin"),
			TagList: prodTags, BackupRetentionPeriod: aws.Int32(14),
		})
	}
	return newest
}

// logBuf is a concurrency-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	fake *rdsfake.Fake
	c    *rds.Client
	cfg  rds.Config
	log  *logBuf
}

func newEnv(t *testing.T, e rds.Engine, mutate ...func(*rds.Config)) *env {
	t.Helper()
	cfg := baseConfig(e)
	for _, m := range mutate {
		m(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	f := rdsfake.New()
	lb := &logBuf{}
	log := slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &env{fake: f, c: rds.New(f, cfg, log), cfg: cfg, log: lb}
}

func newID(t *testing.T) string {
	t.Helper()
	id, err := rds.Identifier(target, time.Date(2026, 3, 5, 4, 7, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// mutatingCallsTo lists the changing calls that named id.
func mutatingCallsTo(f *rdsfake.Fake, id string) []string {
	var out []string
	for _, c := range f.CallsTo(id) {
		if c.Mutating() {
			out = append(out, c.Op)
		}
	}
	return out
}

func ops(f *rdsfake.Fake, keep func(rdsfake.Call) bool) []string {
	var out []string
	for _, c := range f.Calls() {
		if keep(c) {
			out = append(out, c.Op+" "+c.ID)
		}
	}
	return out
}
