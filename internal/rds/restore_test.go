package rds_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
)

func wantTags(run string) map[string]string {
	return map[string]string{rds.TagManaged: "true", rds.TagTarget: target, rds.TagRun: run, rds.TagState: rds.StateProvisioning}
}

func restore(t *testing.T, env *env) (*rds.DB, error) {
	t.Helper()
	ctx := context.Background()
	snap, err := env.c.NewestSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return env.c.Restore(ctx, snap, newID(t), "run-1")
}

func TestRestore(t *testing.T) {
	for _, e := range []rds.Engine{rds.AuroraMySQL, rds.AuroraPostgreSQL, rds.MySQL, rds.Postgres, rds.MariaDB} {
		t.Run(string(e), func(t *testing.T) {
			env := newEnv(t, e)
			seedSource(env.fake, e, 3)
			var announced []string
			env.fake.OnAvailable = func(id string) (string, int32) {
				announced = append(announced, id)
				return "127.0.0.1", 40000 + int32(len(announced))
			}
			db, err := restore(t, env)
			if err != nil {
				t.Fatal(err)
			}
			id := newID(t)
			if db.ID != id || db.Status != "available" || db.Engine != e || db.RunID != "run-1" || db.MasterUsername != "admin" {
				t.Errorf("db = %+v", db)
			}
			if db.Endpoint != "127.0.0.1" || db.Port != 40001 || !slices.Equal(announced, []string{id}) {
				t.Errorf("endpoint %s:%d, OnAvailable calls %v; want 127.0.0.1:40001 from one call for %s", db.Endpoint, db.Port, announced, id)
			}
			if got := db.Tags; fmt.Sprint(got) != fmt.Sprint(wantTags("run-1")) {
				t.Errorf("tags %v, want exactly restage's (production's must not be inherited)", got)
			}
			if e.Aurora() {
				checkAurora(t, env, db)
			} else {
				checkInstance(t, env, db)
			}
			for _, c := range env.fake.CallsTo(sourceID) {
				if !strings.HasSuffix(c.Op, "Snapshots") {
					t.Errorf("restore touched the source: %s", c.Op)
				}
			}
		})
	}
}

func checkAurora(t *testing.T, env *env, db *rds.DB) {
	t.Helper()
	id := db.ID
	writer := id + rds.WriterSuffix
	if db.WriterID != writer {
		t.Errorf("writer %q, want %q", db.WriterID, writer)
	}
	var restoreIn *awsrds.RestoreDBClusterFromSnapshotInput
	var createIn *awsrds.CreateDBInstanceInput
	for _, c := range env.fake.Calls() {
		switch in := c.Input.(type) {
		case *awsrds.RestoreDBClusterFromSnapshotInput:
			restoreIn = in
		case *awsrds.CreateDBInstanceInput:
			createIn = in
		}
	}
	if restoreIn == nil || createIn == nil {
		t.Fatal("no restore or no create call")
	}
	e := env.cfg.Engine
	checks := []struct {
		what      string
		got, want any
	}{
		{"engine", aws.ToString(restoreIn.Engine), string(e)},
		{"engine version", aws.ToString(restoreIn.EngineVersion), engineVersion(e)},
		{"subnet group", aws.ToString(restoreIn.DBSubnetGroupName), env.cfg.SubnetGroup},
		// Quarantine: never the staging applications' groups at create.
		{"security groups", fmt.Sprint(restoreIn.VpcSecurityGroupIds), fmt.Sprint(env.cfg.QuarantineSecurityGroupIDs)},
		{"IAM auth", restoreIn.EnableIAMDatabaseAuthentication != nil && !*restoreIn.EnableIAMDatabaseAuthentication, true},
		{"writer Performance Insights", createIn.EnablePerformanceInsights != nil && !*createIn.EnablePerformanceInsights, true},
		{"writer monitoring", createIn.MonitoringInterval != nil && *createIn.MonitoringInterval == 0, true},
		{"cluster parameter group", aws.ToString(restoreIn.DBClusterParameterGroupName), env.cfg.ClusterParameterGroup},
		{"public", restoreIn.PubliclyAccessible != nil && !*restoreIn.PubliclyAccessible, true},
		{"deletion protection", restoreIn.DeletionProtection != nil && !*restoreIn.DeletionProtection, true},
		{"copy tags", restoreIn.CopyTagsToSnapshot != nil && !*restoreIn.CopyTagsToSnapshot, true},
		{"backup retention", aws.ToInt32(restoreIn.BackupRetentionPeriod), int32(1)},
		{"writer cluster", aws.ToString(createIn.DBClusterIdentifier), id},
		{"writer class", aws.ToString(createIn.DBInstanceClass), env.cfg.InstanceClass},
		{"writer parameter group", aws.ToString(createIn.DBParameterGroupName), env.cfg.DBParameterGroup},
		{"writer public", createIn.PubliclyAccessible != nil && !*createIn.PubliclyAccessible, true},
		{"writer tags", fmt.Sprint(tagMap(createIn.Tags)), fmt.Sprint(wantTags("run-1"))},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	cl, ok := env.fake.Cluster(id)
	if !ok || aws.ToString(cl.Status) != "available" {
		t.Fatalf("cluster %s: %v %v", id, ok, aws.ToString(cl.Status))
	}
	if fmt.Sprint(tagMap(cl.TagList)) != fmt.Sprint(wantTags("run-1")) {
		t.Errorf("cluster tags %v", tagMap(cl.TagList))
	}
	w, ok := env.fake.Instance(writer)
	if !ok || aws.ToString(w.DBInstanceStatus) != "available" {
		t.Fatalf("writer %s: %v %v", writer, ok, aws.ToString(w.DBInstanceStatus))
	}
	// The writer is created only once the cluster is available: its
	// CreateDBInstance came after a describe that saw "available".
	seq := ops(env.fake, func(c rdsfake.Call) bool { return c.Err == nil && c.ID != "" })
	iRestore := slices.Index(seq, "RestoreDBClusterFromSnapshot "+id)
	iCreate := slices.Index(seq, "CreateDBInstance "+writer)
	if iRestore < 0 || iCreate < iRestore {
		t.Errorf("call order %v", seq)
	}
}

func checkInstance(t *testing.T, env *env, db *rds.DB) {
	t.Helper()
	if db.WriterID != "" {
		t.Errorf("an RDS instance has no writer id: %q", db.WriterID)
	}
	var in *awsrds.RestoreDBInstanceFromDBSnapshotInput
	for _, c := range env.fake.Calls() {
		if r, ok := c.Input.(*awsrds.RestoreDBInstanceFromDBSnapshotInput); ok {
			in = r
		}
	}
	if in == nil {
		t.Fatal("no RestoreDBInstanceFromDBSnapshot call")
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"engine", aws.ToString(in.Engine), string(env.cfg.Engine)},
		{"class", aws.ToString(in.DBInstanceClass), env.cfg.InstanceClass},
		{"subnet group", aws.ToString(in.DBSubnetGroupName), env.cfg.SubnetGroup},
		{"security groups", fmt.Sprint(in.VpcSecurityGroupIds), fmt.Sprint(env.cfg.QuarantineSecurityGroupIDs)},
		{"IAM auth", in.EnableIAMDatabaseAuthentication != nil && !*in.EnableIAMDatabaseAuthentication, true},
		{"parameter group", aws.ToString(in.DBParameterGroupName), env.cfg.DBParameterGroup},
		{"option group", aws.ToString(in.OptionGroupName), env.cfg.OptionGroup},
		{"public", in.PubliclyAccessible != nil && !*in.PubliclyAccessible, true},
		{"deletion protection", in.DeletionProtection != nil && !*in.DeletionProtection, true},
		{"copy tags", in.CopyTagsToSnapshot != nil && !*in.CopyTagsToSnapshot, true},
		{"backup retention", in.BackupRetentionPeriod != nil && *in.BackupRetentionPeriod == 0, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	got, ok := env.fake.Instance(db.ID)
	if !ok {
		t.Fatal("instance missing")
	}
	if aws.ToInt32(got.BackupRetentionPeriod) != 0 || aws.ToBool(got.PubliclyAccessible) || aws.ToString(got.EngineVersion) != engineVersion(env.cfg.Engine) {
		t.Errorf("restored instance: retention %d, public %v, version %s", aws.ToInt32(got.BackupRetentionPeriod), aws.ToBool(got.PubliclyAccessible), aws.ToString(got.EngineVersion))
	}
}

func TestRestoreEncryptedAurora(t *testing.T) {
	for _, tt := range []struct{ cfgKey, want string }{
		{"", "arn:aws:kms:us-east-1:123456789012:key/prod-key"},
		{"arn:aws:kms:us-east-1:123456789012:key/staging-key", "arn:aws:kms:us-east-1:123456789012:key/staging-key"},
	} {
		env := newEnv(t, rds.AuroraMySQL, func(c *rds.Config) { c.KMSKeyID = tt.cfgKey })
		seedSnaps(env.fake, rds.AuroraMySQL, []snap{{"rds:prod-shop-2026-03-02-03-00", sourceID, "automated", "available", 1, true}})
		if _, err := restore(t, env); err != nil {
			t.Fatal(err)
		}
		cl, _ := env.fake.Cluster(newID(t))
		if got := aws.ToString(cl.KmsKeyId); got != tt.want {
			t.Errorf("config key %q: cluster key %q, want %q", tt.cfgKey, got, tt.want)
		}
	}
}

func TestRestoreRetriesFaults(t *testing.T) {
	tests := []struct {
		name   string
		engine rds.Engine
		inject func(*rdsfake.Fake)
	}{
		{"throttled restore", rds.AuroraMySQL, func(f *rdsfake.Fake) { f.Throttle("RestoreDBClusterFromSnapshot", 2) }},
		{"throttled instance restore", rds.MySQL, func(f *rdsfake.Fake) { f.Throttle("RestoreDBInstanceFromDBSnapshot", 3) }},
		{"throttled describes while waiting", rds.Postgres, func(f *rdsfake.Fake) { f.Throttle("DescribeDBInstances", 4) }},
		{"cluster not ready for its writer", rds.AuroraPostgreSQL, func(f *rdsfake.Fake) { f.StateFault("CreateDBInstance", 3) }},
		{"throttled writer create", rds.AuroraMySQL, func(f *rdsfake.Fake) { f.Throttle("CreateDBInstance", 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, tt.engine)
			seedSource(env.fake, tt.engine, 2)
			tt.inject(env.fake)
			db, err := restore(t, env)
			if err != nil {
				t.Fatal(err)
			}
			if db.Status != "available" {
				t.Fatalf("status %q", db.Status)
			}
		})
	}
}

func TestRestoreFailureStateEndsWait(t *testing.T) {
	for _, tt := range []struct {
		engine rds.Engine
		failID func(id string) string
		status string
	}{
		{rds.AuroraMySQL, func(id string) string { return id }, "incompatible-restore"},
		{rds.AuroraPostgreSQL, func(id string) string { return id + rds.WriterSuffix }, "incompatible-parameters"},
		{rds.MySQL, func(id string) string { return id }, "incompatible-network"},
		{rds.MariaDB, func(id string) string { return id }, "failed"},
		{rds.Postgres, func(id string) string { return id }, "inaccessible-encryption-credentials"},
	} {
		t.Run(string(tt.engine)+"/"+tt.status, func(t *testing.T) {
			env := newEnv(t, tt.engine, func(c *rds.Config) { c.WaitTimeout = time.Minute })
			seedSource(env.fake, tt.engine, 1)
			env.fake.FailDB(tt.failID(newID(t)), tt.status)
			start := time.Now()
			db, err := restore(t, env)
			if !errors.Is(err, rds.ErrFailedState) || !strings.Contains(err.Error(), tt.status) {
				t.Fatalf("err = %v, want ErrFailedState naming %s", err, tt.status)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s: a failure state must end the wait at once", d)
			}
			if db == nil || db.ID != newID(t) {
				t.Fatalf("db = %+v: the caller needs it to clean up", db)
			}
			// What Restore left behind can be deleted.
			if err := env.c.Delete(context.Background(), db, false); err != nil {
				t.Fatalf("cleanup: %v", err)
			}
			if _, err := env.c.Get(context.Background(), db.ID); !errors.Is(err, rds.ErrNotFound) {
				t.Fatalf("after cleanup: %v", err)
			}
		})
	}
}

func TestRestoreAccessDenied(t *testing.T) {
	for _, tt := range []struct {
		engine rds.Engine
		op     string
		wantDB bool
	}{
		{rds.AuroraMySQL, "RestoreDBClusterFromSnapshot", false},
		{rds.MySQL, "RestoreDBInstanceFromDBSnapshot", false},
		{rds.AuroraMySQL, "CreateDBInstance", true},
		{rds.AuroraPostgreSQL, "DescribeDBClusters", true},
		{rds.Postgres, "DescribeDBInstances", true},
	} {
		t.Run(tt.op, func(t *testing.T) {
			env := newEnv(t, tt.engine, func(c *rds.Config) { c.WaitTimeout = time.Minute })
			seedSource(env.fake, tt.engine, 1)
			env.fake.DenyAccess(tt.op)
			start := time.Now()
			db, err := restore(t, env)
			if !errors.Is(err, rds.ErrAccessDenied) || errors.Is(err, rds.ErrTimeout) {
				t.Fatalf("err = %v, want ErrAccessDenied", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			if (db != nil) != tt.wantDB {
				t.Errorf("db = %+v, want one: %v", db, tt.wantDB)
			}
		})
	}
}

func TestRestoreWaitTimeout(t *testing.T) {
	env := newEnv(t, rds.MySQL, func(c *rds.Config) { c.WaitTimeout = 50 * time.Millisecond })
	env.fake.CreatePolls = 1 << 30
	seedSource(env.fake, rds.MySQL, 1)
	start := time.Now()
	db, err := restore(t, env)
	if !errors.Is(err, rds.ErrTimeout) || !strings.Contains(err.Error(), `"creating"`) {
		t.Fatalf("err = %v, want ErrTimeout naming the last status", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s with a 50ms timeout", d)
	}
	if db == nil {
		t.Fatal("no DB returned to clean up")
	}
}

func TestRestoreRefusesBadInput(t *testing.T) {
	env := newEnv(t, rds.AuroraMySQL)
	seedSource(env.fake, rds.AuroraMySQL, 1)
	ctx := context.Background()
	snap, err := env.c.NewestSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := *snap
	other.Engine = rds.AuroraPostgreSQL
	for name, call := range map[string]func() error{
		"source id":      func() error { _, err := env.c.Restore(ctx, snap, sourceID, "r"); return err },
		"foreign prefix": func() error { _, err := env.c.Restore(ctx, snap, "staging-shop", "r"); return err },
		"bad identifier": func() error { _, err := env.c.Restore(ctx, snap, "restage-shop--1", "r"); return err },
		"no run id":      func() error { _, err := env.c.Restore(ctx, snap, newID(t), ""); return err },
		"engine":         func() error { _, err := env.c.Restore(ctx, &other, newID(t), "r"); return err },
		"no snapshot":    func() error { _, err := env.c.Restore(ctx, nil, newID(t), "r"); return err },
	} {
		if err := call(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if m := ops(env.fake, rdsfake.Call.Mutating); len(m) != 0 {
		t.Errorf("calls made: %v", m)
	}
}

func TestRestoreCancelled(t *testing.T) {
	env := newEnv(t, rds.AuroraMySQL, func(c *rds.Config) { c.WaitTimeout = time.Minute })
	// Long enough to outlast the caller's deadline below (each describe
	// is at least a 1ms poll), short enough for Delete to wait it out:
	// RDS refuses to delete a cluster that is still being created.
	env.fake.CreatePolls = 200
	seedSource(env.fake, rds.AuroraMySQL, 1)
	snap, err := env.c.NewestSnapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	db, err := env.c.Restore(ctx, snap, newID(t), "run-1")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, rds.ErrTimeout) {
		t.Fatalf("err = %v, want the caller's context error", err)
	}
	if db == nil {
		t.Fatal("no DB returned to clean up")
	}
	// Cleanup from a fresh context works on what was left.
	if err := env.c.Delete(context.Background(), db, false); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreNoRestorePoints: whatever the snapshot or the account's
// defaults turn on — Performance Insights, enhanced monitoring, log
// exports, IAM DB authentication — is off on the copy before Restore
// returns, as RDS's own Describe shows; and the copy is in quarantine.
func TestRestoreNoRestorePoints(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			env := newEnv(t, e)
			env.fake.Inherited = rdsfake.Inherited{PerformanceInsights: true, MonitoringInterval: 60, LogExports: []string{"audit", "error"}, IAMAuth: true}
			seedSource(env.fake, e, 1)
			db, err := restore(t, env)
			if err != nil {
				t.Fatal(err)
			}
			type view struct {
				id        string
				pi, iam   bool
				mon       int32
				logs      []string
				groups    []types.VpcSecurityGroupMembership
				hasGroups bool
			}
			var views []view
			if e.Aurora() {
				cl, _ := env.fake.Cluster(db.ID)
				views = append(views, view{id: db.ID, pi: aws.ToBool(cl.PerformanceInsightsEnabled), iam: aws.ToBool(cl.IAMDatabaseAuthenticationEnabled),
					mon: aws.ToInt32(cl.MonitoringInterval), logs: cl.EnabledCloudwatchLogsExports, groups: cl.VpcSecurityGroups, hasGroups: true})
				w, _ := env.fake.Instance(db.WriterID)
				views = append(views, view{id: db.WriterID, pi: aws.ToBool(w.PerformanceInsightsEnabled), mon: aws.ToInt32(w.MonitoringInterval), logs: w.EnabledCloudwatchLogsExports})
			} else {
				in, _ := env.fake.Instance(db.ID)
				views = append(views, view{id: db.ID, pi: aws.ToBool(in.PerformanceInsightsEnabled), iam: aws.ToBool(in.IAMDatabaseAuthenticationEnabled),
					mon: aws.ToInt32(in.MonitoringInterval), logs: in.EnabledCloudwatchLogsExports, groups: in.VpcSecurityGroups, hasGroups: true})
			}
			for _, v := range views {
				if v.pi || v.iam || v.mon != 0 || len(v.logs) > 0 {
					t.Errorf("%s: Performance Insights %t, IAM auth %t, monitoring %ds, log exports %v; want all off", v.id, v.pi, v.iam, v.mon, v.logs)
				}
				if v.hasGroups && (len(v.groups) != 1 || aws.ToString(v.groups[0].VpcSecurityGroupId) != "sg-0quarantine") {
					t.Errorf("%s: groups %v, want only the quarantine group", v.id, v.groups)
				}
			}
		})
	}
}

// TestRestoreServerless: a db.serverless writer gets its cluster's
// Serverless v2 scaling configuration (RDS refuses the writer without).
func TestRestoreServerless(t *testing.T) {
	env := newEnv(t, rds.AuroraPostgreSQL, func(c *rds.Config) {
		c.InstanceClass, c.ServerlessMinACU, c.ServerlessMaxACU = rds.InstanceServerless, 0.5, 8
	})
	seedSource(env.fake, rds.AuroraPostgreSQL, 1)
	db, err := restore(t, env)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := env.fake.Cluster(db.ID)
	sc := cl.ServerlessV2ScalingConfiguration
	if sc == nil || aws.ToFloat64(sc.MinCapacity) != 0.5 || aws.ToFloat64(sc.MaxCapacity) != 8 {
		t.Errorf("scaling configuration %+v, want 0.5-8 ACU", sc)
	}
	w, _ := env.fake.Instance(db.WriterID)
	if aws.ToString(w.DBInstanceClass) != rds.InstanceServerless {
		t.Errorf("writer class %q", aws.ToString(w.DBInstanceClass))
	}
}
