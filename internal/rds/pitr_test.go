package rds_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
)

// seedProdSource adds a production source configured the way a copy must
// not be: production's groups, IAM auth, log exports, backtracking, tag
// copying, Performance Insights, backups.
func seedProdSource(f *rdsfake.Fake, e rds.Engine, withInstance bool) {
	if e.Aurora() {
		f.AddCluster(types.DBCluster{
			DBClusterIdentifier: aws.String(sourceID), Engine: aws.String(string(e)),
			EngineVersion: aws.String(engineVersion(e)), MasterUsername: aws.String("admin"),
			Endpoint: aws.String(sourceEndpoint(e)), Port: aws.Int32(3306), TagList: prodTags,
			DeletionProtection: aws.Bool(true), DBSubnetGroup: aws.String("prod-db"),
			VpcSecurityGroups:                []types.VpcSecurityGroupMembership{{VpcSecurityGroupId: aws.String("sg-0prod"), Status: aws.String("active")}},
			DBClusterParameterGroup:          aws.String("prod-cluster-params"),
			IAMDatabaseAuthenticationEnabled: aws.Bool(true),
			EnabledCloudwatchLogsExports:     []string{"audit"},
			CopyTagsToSnapshot:               aws.Bool(true),
			BackupRetentionPeriod:            aws.Int32(14),
			LatestRestorableTime:             aws.Time(day0),
		})
		if e == rds.AuroraMySQL {
			f.AddCluster(withBacktrack(f, sourceID))
		}
		if withInstance {
			f.AddInstance(types.DBInstance{
				DBInstanceIdentifier: aws.String(sourceID + "-1"), DBClusterIdentifier: aws.String(sourceID),
				Engine: aws.String(string(e)), TagList: prodTags,
				Endpoint: &types.Endpoint{Address: aws.String(sourceID + "-1.abc.us-east-1.rds.amazonaws.com")},
			})
		}
		return
	}
	f.AddInstance(types.DBInstance{
		DBInstanceIdentifier: aws.String(sourceID), Engine: aws.String(string(e)),
		EngineVersion: aws.String(engineVersion(e)), MasterUsername: aws.String("admin"),
		DBInstanceClass:                  aws.String("db.r6g.8xlarge"),
		Endpoint:                         &types.Endpoint{Address: aws.String(sourceEndpoint(e)), Port: aws.Int32(3306)},
		TagList:                          prodTags,
		DeletionProtection:               aws.Bool(true),
		DBSubnetGroup:                    &types.DBSubnetGroup{DBSubnetGroupName: aws.String("prod-db")},
		VpcSecurityGroups:                []types.VpcSecurityGroupMembership{{VpcSecurityGroupId: aws.String("sg-0prod"), Status: aws.String("active")}},
		DBParameterGroups:                []types.DBParameterGroupStatus{{DBParameterGroupName: aws.String("prod-params")}},
		IAMDatabaseAuthenticationEnabled: aws.Bool(true),
		EnabledCloudwatchLogsExports:     []string{"error"},
		CopyTagsToSnapshot:               aws.Bool(true),
		MultiAZ:                          aws.Bool(true),
		PerformanceInsightsEnabled:       aws.Bool(true),
		MonitoringInterval:               aws.Int32(60),
		BackupRetentionPeriod:            aws.Int32(14),
		LatestRestorableTime:             aws.Time(day0),
	})
}

// withBacktrack returns the seeded cluster id with a day of backtracking
// (Aurora MySQL only), to be added again.
func withBacktrack(f *rdsfake.Fake, id string) types.DBCluster {
	c, _ := f.Cluster(id)
	c.BacktrackWindow = aws.Int64(86400)
	c.DBClusterMembers = nil
	return c
}

func lastInput[T any](t *testing.T, f *rdsfake.Fake, op string) T {
	t.Helper()
	var got T
	found := false
	for _, c := range f.Calls() {
		if c.Op == op && c.Err == nil {
			got, found = c.Input.(T), true
		}
	}
	if !found {
		t.Fatalf("no successful %s call; calls: %v", op, ops(f, func(rdsfake.Call) bool { return true }))
	}
	return got
}

// TestRestoreFromSourceClusterExplicit: a clone or point-in-time copy of
// an Aurora cluster sets every field the restore would otherwise copy from
// production, and the copy ends up quarantined, with restage's tags and
// the masking class.
func TestRestoreFromSourceClusterExplicit(t *testing.T) {
	for _, tc := range []struct {
		mode, restoreType string
		engine            rds.Engine
	}{
		{rds.SourceClone, "copy-on-write", rds.AuroraMySQL},
		{rds.SourcePointInTime, "full-copy", rds.AuroraMySQL},
		{rds.SourceClone, "copy-on-write", rds.AuroraPostgreSQL},
	} {
		t.Run(tc.mode+"/"+string(tc.engine), func(t *testing.T) {
			e := newEnv(t, tc.engine, func(c *rds.Config) {
				c.SourceMode = tc.mode
				c.MaskingInstanceClass = "db.r6g.4xlarge"
			})
			seedProdSource(e.fake, tc.engine, true)
			id := newID(t)
			db, err := e.c.RestoreFromSource(context.Background(), id, "run-1")
			if err != nil {
				t.Fatalf("RestoreFromSource: %v", err)
			}
			in := lastInput[*awsrds.RestoreDBClusterToPointInTimeInput](t, e.fake, "RestoreDBClusterToPointInTime")
			if aws.ToString(in.SourceDBClusterIdentifier) != sourceID || aws.ToString(in.DBClusterIdentifier) != id {
				t.Errorf("source %q → %q, want %q → %q", aws.ToString(in.SourceDBClusterIdentifier), aws.ToString(in.DBClusterIdentifier), sourceID, id)
			}
			if aws.ToString(in.RestoreType) != tc.restoreType || !aws.ToBool(in.UseLatestRestorableTime) {
				t.Errorf("RestoreType %q UseLatestRestorableTime %v, want %s, true", aws.ToString(in.RestoreType), aws.ToBool(in.UseLatestRestorableTime), tc.restoreType)
			}
			if !slices.Equal(in.VpcSecurityGroupIds, e.cfg.QuarantineSecurityGroupIDs) {
				t.Errorf("security groups %v, want the quarantine groups %v", in.VpcSecurityGroupIds, e.cfg.QuarantineSecurityGroupIDs)
			}
			if aws.ToString(in.DBSubnetGroupName) != e.cfg.SubnetGroup {
				t.Errorf("subnet group %q, want %q", aws.ToString(in.DBSubnetGroupName), e.cfg.SubnetGroup)
			}
			if aws.ToString(in.DBClusterParameterGroupName) != e.cfg.ClusterParameterGroup {
				t.Errorf("cluster parameter group %q, want %q", aws.ToString(in.DBClusterParameterGroupName), e.cfg.ClusterParameterGroup)
			}
			if in.EnableIAMDatabaseAuthentication == nil || *in.EnableIAMDatabaseAuthentication {
				t.Errorf("EnableIAMDatabaseAuthentication %v, want explicitly false", in.EnableIAMDatabaseAuthentication)
			}
			if len(in.EnableCloudwatchLogsExports) != 0 {
				t.Errorf("log exports %v, want none", in.EnableCloudwatchLogsExports)
			}
			if tc.engine == rds.AuroraMySQL && (in.BacktrackWindow == nil || *in.BacktrackWindow != 0) {
				t.Errorf("BacktrackWindow %v, want explicitly 0", in.BacktrackWindow)
			}
			if tc.engine == rds.AuroraPostgreSQL && in.BacktrackWindow != nil {
				t.Errorf("BacktrackWindow %v on Aurora PostgreSQL, which has no backtracking", *in.BacktrackWindow)
			}
			if in.CopyTagsToSnapshot == nil || *in.CopyTagsToSnapshot || in.DeletionProtection == nil || *in.DeletionProtection {
				t.Errorf("CopyTagsToSnapshot %v DeletionProtection %v, want both explicitly false", in.CopyTagsToSnapshot, in.DeletionProtection)
			}
			if tags := tagMap(in.Tags); tags[rds.TagManaged] != "true" || tags[rds.TagTarget] != target || tags[rds.TagRun] != "run-1" || tags[rds.TagState] != rds.StateProvisioning || tags["env"] != "" {
				t.Errorf("tags %v, want restage's only", tags)
			}
			w := lastInput[*awsrds.CreateDBInstanceInput](t, e.fake, "CreateDBInstance")
			if aws.ToString(w.DBInstanceClass) != "db.r6g.4xlarge" {
				t.Errorf("writer class %q, want the masking class db.r6g.4xlarge", aws.ToString(w.DBInstanceClass))
			}
			if w.EnablePerformanceInsights == nil || *w.EnablePerformanceInsights || w.MonitoringInterval == nil || *w.MonitoringInterval != 0 {
				t.Errorf("writer Performance Insights %v monitoring %v, want off", w.EnablePerformanceInsights, w.MonitoringInterval)
			}
			// What the copy is, not only what was asked: the fake copies
			// the source's settings wherever the request is silent.
			cl, ok := e.fake.Cluster(id)
			if !ok {
				t.Fatal("copy cluster not found")
			}
			if g := e.fake.Groups(id); !slices.Equal(g, []string{"sg-0quarantine:active"}) {
				t.Errorf("copy is in groups %v, want the quarantine groups", g)
			}
			if aws.ToBool(cl.IAMDatabaseAuthenticationEnabled) || len(cl.EnabledCloudwatchLogsExports) != 0 || aws.ToBool(cl.CopyTagsToSnapshot) || aws.ToInt64(cl.BacktrackWindow) != 0 {
				t.Errorf("copy has IAM auth %v, log exports %v, tag copying %v, backtrack %d: want all off", aws.ToBool(cl.IAMDatabaseAuthenticationEnabled), cl.EnabledCloudwatchLogsExports, aws.ToBool(cl.CopyTagsToSnapshot), aws.ToInt64(cl.BacktrackWindow))
			}
			if db.ID != id || db.WriterID != id+rds.WriterSuffix {
				t.Errorf("db %q writer %q", db.ID, db.WriterID)
			}
			if m := mutatingCallsTo(e.fake, sourceID); len(m) != 0 {
				t.Errorf("mutating calls on the production source: %v", m)
			}
		})
	}
}

// TestRestoreFromSourceInstanceExplicit: the same for an RDS instance
// restored to its latest restorable time.
func TestRestoreFromSourceInstanceExplicit(t *testing.T) {
	e := newEnv(t, rds.MySQL, func(c *rds.Config) {
		c.SourceMode = rds.SourcePointInTime
		c.MaskingInstanceClass = "db.r6g.4xlarge"
	})
	seedProdSource(e.fake, rds.MySQL, true)
	id := newID(t)
	if _, err := e.c.RestoreFromSource(context.Background(), id, "run-1"); err != nil {
		t.Fatalf("RestoreFromSource: %v", err)
	}
	in := lastInput[*awsrds.RestoreDBInstanceToPointInTimeInput](t, e.fake, "RestoreDBInstanceToPointInTime")
	switch {
	case aws.ToString(in.SourceDBInstanceIdentifier) != sourceID || aws.ToString(in.TargetDBInstanceIdentifier) != id || !aws.ToBool(in.UseLatestRestorableTime):
		t.Errorf("source %q target %q latest %v", aws.ToString(in.SourceDBInstanceIdentifier), aws.ToString(in.TargetDBInstanceIdentifier), aws.ToBool(in.UseLatestRestorableTime))
	case !slices.Equal(in.VpcSecurityGroupIds, e.cfg.QuarantineSecurityGroupIDs):
		t.Errorf("security groups %v, want the quarantine groups", in.VpcSecurityGroupIds)
	case aws.ToString(in.DBSubnetGroupName) != e.cfg.SubnetGroup || aws.ToString(in.DBParameterGroupName) != e.cfg.DBParameterGroup || aws.ToString(in.OptionGroupName) != e.cfg.OptionGroup:
		t.Errorf("subnet %q params %q options %q", aws.ToString(in.DBSubnetGroupName), aws.ToString(in.DBParameterGroupName), aws.ToString(in.OptionGroupName))
	case in.EnableIAMDatabaseAuthentication == nil || *in.EnableIAMDatabaseAuthentication:
		t.Errorf("EnableIAMDatabaseAuthentication %v, want explicitly false", in.EnableIAMDatabaseAuthentication)
	case len(in.EnableCloudwatchLogsExports) != 0:
		t.Errorf("log exports %v, want none", in.EnableCloudwatchLogsExports)
	case in.CopyTagsToSnapshot == nil || *in.CopyTagsToSnapshot || in.PubliclyAccessible == nil || *in.PubliclyAccessible || in.MultiAZ == nil || *in.MultiAZ || in.DeletionProtection == nil || *in.DeletionProtection:
		t.Errorf("CopyTagsToSnapshot %v public %v MultiAZ %v deletion protection %v, want all explicitly false", in.CopyTagsToSnapshot, in.PubliclyAccessible, in.MultiAZ, in.DeletionProtection)
	case in.BackupRetentionPeriod == nil || *in.BackupRetentionPeriod != 0:
		t.Errorf("backup retention %v, want 0", in.BackupRetentionPeriod)
	case aws.ToString(in.DBInstanceClass) != "db.r6g.4xlarge":
		t.Errorf("class %q, want the masking class", aws.ToString(in.DBInstanceClass))
	}
	if tags := tagMap(in.Tags); tags[rds.TagManaged] != "true" || tags[rds.TagRun] != "run-1" || tags["env"] != "" {
		t.Errorf("tags %v, want restage's only", tags)
	}
	// Performance Insights, monitoring and log exports come from the
	// source (the request can't refuse them): turned off before hand-over.
	inst, ok := e.fake.Instance(id)
	if !ok {
		t.Fatal("copy not found")
	}
	if aws.ToBool(inst.PerformanceInsightsEnabled) || aws.ToInt32(inst.MonitoringInterval) != 0 || len(inst.EnabledCloudwatchLogsExports) != 0 || aws.ToBool(inst.IAMDatabaseAuthenticationEnabled) {
		t.Errorf("copy has PI %v monitoring %d logs %v IAM %v, want all off", aws.ToBool(inst.PerformanceInsightsEnabled), aws.ToInt32(inst.MonitoringInterval), inst.EnabledCloudwatchLogsExports, aws.ToBool(inst.IAMDatabaseAuthenticationEnabled))
	}
	if m := mutatingCallsTo(e.fake, sourceID); len(m) != 0 {
		t.Errorf("mutating calls on the production source: %v", m)
	}
}

// TestRestoreFromSourceNeedsUsableSource: no source, a source without an
// instance (clone) or without a restorable time (point in time) creates
// nothing.
func TestRestoreFromSourceNeedsUsableSource(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, rds.AuroraMySQL, func(c *rds.Config) { c.SourceMode = rds.SourceClone })
	if _, err := e.c.RestoreFromSource(ctx, newID(t), "run-1"); !errors.Is(err, rds.ErrNotFound) {
		t.Errorf("missing source: %v, want ErrNotFound", err)
	}
	seedProdSource(e.fake, rds.AuroraMySQL, false)
	_, err := e.c.RestoreFromSource(ctx, newID(t), "run-1")
	if err == nil || !strings.Contains(err.Error(), "no instance") {
		t.Errorf("source without instance: %v", err)
	}
	e2 := newEnv(t, rds.Postgres, func(c *rds.Config) { c.SourceMode = rds.SourcePointInTime })
	e2.fake.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(sourceID), Engine: aws.String("postgres")})
	db, err := e2.c.RestoreFromSource(ctx, newID(t), "run-1")
	if err == nil || db != nil {
		t.Errorf("source without backups: db %v err %v, want an error and nothing created", db, err)
	}
	for _, f := range []*rdsfake.Fake{e.fake, e2.fake} {
		if _, ok := f.Cluster(newID(t)); ok {
			t.Error("a copy was created")
		}
		if _, ok := f.Instance(newID(t)); ok {
			t.Error("a copy was created")
		}
	}
}

// TestScaleDown: the copy created at the masking class is modified to the
// staging class with ApplyImmediately and ScaleDown returns only once the
// class is applied and nothing is pending.
func TestScaleDown(t *testing.T) {
	ctx := context.Background()
	for _, eng := range []rds.Engine{rds.AuroraPostgreSQL, rds.MariaDB} {
		t.Run(string(eng), func(t *testing.T) {
			e := newEnv(t, eng, func(c *rds.Config) {
				c.SourceMode = rds.SourcePointInTime
				c.MaskingInstanceClass = "db.r6g.4xlarge"
			})
			seedProdSource(e.fake, eng, true)
			id := newID(t)
			db, err := e.c.RestoreFromSource(ctx, id, "run-1")
			if err != nil {
				t.Fatal(err)
			}
			inst := id
			if eng.Aurora() {
				inst = id + rds.WriterSuffix
			}
			if i, _ := e.fake.Instance(inst); aws.ToString(i.DBInstanceClass) != "db.r6g.4xlarge" {
				t.Fatalf("created at %q, want the masking class", aws.ToString(i.DBInstanceClass))
			}
			if err := e.c.ScaleDown(ctx, db); err != nil {
				t.Fatalf("ScaleDown: %v", err)
			}
			i, _ := e.fake.Instance(inst)
			if aws.ToString(i.DBInstanceClass) != e.cfg.InstanceClass || i.PendingModifiedValues != nil {
				t.Errorf("after ScaleDown: class %q pending %+v, want %s with nothing pending", aws.ToString(i.DBInstanceClass), i.PendingModifiedValues, e.cfg.InstanceClass)
			}
			m := lastInput[*awsrds.ModifyDBInstanceInput](t, e.fake, "ModifyDBInstance")
			if aws.ToString(m.DBInstanceIdentifier) != inst || !aws.ToBool(m.ApplyImmediately) {
				t.Errorf("ModifyDBInstance on %q apply immediately %v", aws.ToString(m.DBInstanceIdentifier), aws.ToBool(m.ApplyImmediately))
			}
		})
	}
}

// TestScaleDownServerless: the masking max ACU goes back to the staging
// maximum.
func TestScaleDownServerless(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, rds.AuroraMySQL, func(c *rds.Config) {
		c.SourceMode = rds.SourceClone
		c.InstanceClass = rds.InstanceServerless
		c.ServerlessMinACU, c.ServerlessMaxACU, c.MaskingMaxACU = 0.5, 4, 64
	})
	seedProdSource(e.fake, rds.AuroraMySQL, true)
	db, err := e.c.RestoreFromSource(ctx, newID(t), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	in := lastInput[*awsrds.RestoreDBClusterToPointInTimeInput](t, e.fake, "RestoreDBClusterToPointInTime")
	if got := aws.ToFloat64(in.ServerlessV2ScalingConfiguration.MaxCapacity); got != 64 {
		t.Errorf("created with max %g ACU, want the masking max 64", got)
	}
	if err := e.c.ScaleDown(ctx, db); err != nil {
		t.Fatalf("ScaleDown: %v", err)
	}
	cl, _ := e.fake.Cluster(db.ID)
	if got := aws.ToFloat64(cl.ServerlessV2ScalingConfiguration.MaxCapacity); got != 4 {
		t.Errorf("after ScaleDown max %g ACU, want 4", got)
	}
}

// TestScaleDownFails: a refused modification is an error (the run fails
// and cleans up), and a change that never applies times out instead of
// being reported done.
func TestScaleDownFails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, rds.Postgres, func(c *rds.Config) {
		c.SourceMode = rds.SourcePointInTime
		c.MaskingInstanceClass = "db.r6g.4xlarge"
	})
	seedProdSource(e.fake, rds.Postgres, true)
	db, err := e.c.RestoreFromSource(ctx, newID(t), "run-1")
	if err != nil {
		t.Fatal(err)
	}
	e.fake.DenyAccess("ModifyDBInstance")
	if err := e.c.ScaleDown(ctx, db); !errors.Is(err, rds.ErrAccessDenied) {
		t.Errorf("denied modification: %v, want ErrAccessDenied", err)
	}
	if i, _ := e.fake.Instance(db.ID); aws.ToString(i.DBInstanceClass) != "db.r6g.4xlarge" {
		t.Errorf("class %q", aws.ToString(i.DBInstanceClass))
	}
	// Without a masking class there is nothing to do and nothing is
	// called.
	e2 := newEnv(t, rds.Postgres)
	before := len(e2.fake.Calls())
	if err := e2.c.ScaleDown(ctx, &rds.DB{ID: "restage-shop-x"}); err != nil || len(e2.fake.Calls()) != before {
		t.Errorf("ScaleDown without a masking class: %v, %d calls", err, len(e2.fake.Calls())-before)
	}
}
