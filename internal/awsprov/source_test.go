package awsprov

import (
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

// TestAWSSourceModeAndScale: a clone (Aurora) or point-in-time copy (RDS
// instance) created at the masking class goes through the whole run like a
// snapshot restore; it is scaled down to the staging class after
// verification and before the security-group move, and serves staging at
// that class. No snapshot is restored.
func TestAWSSourceModeAndScale(t *testing.T) {
	for _, tc := range []struct {
		ec   engineCase
		mode string
	}{
		{engineCases[1], rds.SourceClone},       // aurora-postgresql
		{engineCases[3], rds.SourcePointInTime}, // postgres
	} {
		t.Run(string(tc.ec.engine)+"/"+tc.mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.ec, loadSource(t, tc.ec.family()))
			defer e.checkHooks(t)
			defer e.checkProductionUntouched(t)
			e.rdsConfig = func(c *rds.Config) {
				c.SourceMode = tc.mode
				c.MaskingInstanceClass = "db.r6g.4xlarge"
			}
			rep, err := e.run(t, nil)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			id := rep.New.Name
			inst := id
			if tc.ec.engine.Aurora() {
				inst = id + rds.WriterSuffix
			}
			var scaled, moved = -1, -1
			for i, c := range e.rf.Calls() {
				switch in := c.Input.(type) {
				case *awsrds.RestoreDBClusterFromSnapshotInput, *awsrds.RestoreDBInstanceFromDBSnapshotInput:
					t.Errorf("%s: a snapshot was restored in source mode %s", c.Op, tc.mode)
				case *awsrds.ModifyDBInstanceInput:
					if in.DBInstanceClass != nil && scaled < 0 {
						scaled = i
					}
					if in.VpcSecurityGroupIds != nil && moved < 0 {
						moved = i
					}
				case *awsrds.ModifyDBClusterInput:
					if in.VpcSecurityGroupIds != nil && moved < 0 {
						moved = i
					}
				}
			}
			if scaled < 0 || moved < 0 || scaled > moved {
				t.Errorf("scale-down call #%d, security-group move #%d: want the scale-down first", scaled, moved)
			}
			got, ok := e.rf.Instance(inst)
			if !ok || aws.ToString(got.DBInstanceClass) != "db.t4g.medium" || got.PendingModifiedValues != nil {
				t.Errorf("%s serves staging at %q (pending %+v), want db.t4g.medium with nothing pending", inst, aws.ToString(got.DBInstanceClass), got.PendingModifiedValues)
			}
			if e.cname() != endpointOf(id) {
				t.Errorf("record %q, want the copy %s", e.cname(), id)
			}
		})
	}
}

// TestAWSScaleDownFails: the modification to the staging class is refused:
// the run fails at the users step, the big copy is deleted, and staging
// stays on the previous DB.
func TestAWSScaleDownFails(t *testing.T) {
	ec := engineCases[3] // postgres
	e := newEnv(t, ec, loadSource(t, ec.family()))
	defer e.checkHooks(t)
	defer e.checkProductionUntouched(t)
	const prev = "restage-shop-202611240300"
	e.seedPrevious(prev)
	e.rdsConfig = func(c *rds.Config) {
		c.SourceMode = rds.SourcePointInTime
		c.MaskingInstanceClass = "db.r6g.4xlarge"
	}
	e.rf.FaultInput = func(op, id string, in any) error {
		if m, ok := in.(*awsrds.ModifyDBInstanceInput); ok && m.DBInstanceClass != nil {
			return e.rf.AccessDeniedError(op, id)
		}
		return nil
	}
	rep, err := e.run(t, nil)
	var se *refresh.StepError
	if !errors.As(err, &se) || se.Step != refresh.StepUsers || refresh.ExitCode(err) != exitcode.Failed || !errors.Is(err, rds.ErrAccessDenied) {
		t.Fatalf("run: %v (exit %d), want an access-denied failure at the users step", err, refresh.ExitCode(err))
	}
	if rep.New == nil || !e.deleted(rep.New.Name) {
		t.Errorf("the copy %+v was not deleted", rep.New)
	}
	if e.cname() != endpointOf(prev) {
		t.Errorf("record %q, want the previous DB", e.cname())
	}
	if left := e.leftovers(prev); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, c := range e.rf.Calls() {
		if in, ok := c.Input.(*awsrds.ModifyDBInstanceInput); ok && in.VpcSecurityGroupIds != nil && !slices.Contains(in.VpcSecurityGroupIds, "sg-0quarantine") {
			t.Errorf("the copy was moved to the staging groups %v after the failed scale-down", in.VpcSecurityGroupIds)
		}
	}
}
