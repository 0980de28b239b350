package awsprov

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
)

func sweepTags(run, state string) []types.Tag {
	return []types.Tag{{Key: aws.String(rds.TagManaged), Value: aws.String("true")}, {Key: aws.String(rds.TagTarget), Value: aws.String(target)},
		{Key: aws.String(rds.TagRun), Value: aws.String(run)}, {Key: aws.String(rds.TagState), Value: aws.String(state)}}
}

func (e *env) addInstance(id, run, state, status string) {
	e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: aws.String("mysql"), DBInstanceStatus: aws.String(status),
		Endpoint:       &types.Endpoint{Address: aws.String(id + ".cfake.us-east-1.rds.test"), Port: aws.Int32(3306)},
		MasterUsername: aws.String("admin"), TagList: sweepTags(run, state)})
}

func (e *env) mutating() []string {
	var out []string
	for _, c := range e.rf.Calls() {
		if c.Mutating() {
			out = append(out, c.Op+" "+c.ID)
		}
	}
	return out
}

// TestAWSSweepLiveTagged: a DB tagged live is deleted only when the
// staging record points exactly at another of restage's DBs of this
// target; with no record, or a record naming the writer instance's
// endpoint instead of the cluster's, nothing at all is deleted and the
// sweep fails (the run alerts).
func TestAWSSweepLiveTagged(t *testing.T) {
	ctx := context.Background()
	t.Run("provably another", func(t *testing.T) {
		e := newEnv(t, engineCases[2], "unused")
		e.addInstance("restage-shop-202611240300", "r1", "live", "available")
		e.addInstance("restage-shop-202611240400", "r2", "live", "available") // a switch that failed after tagging
		e.zone.PutCNAME(record, "restage-shop-202611240300.cfake.us-east-1.rds.test", 1)
		p := e.provider(t)
		swept, err := p.Sweep(ctx)
		if err != nil || !slices.Equal(swept, []string{"restage-shop-202611240400"}) {
			t.Fatalf("swept %v, %v; want the one not behind the record", swept, err)
		}
	})
	for name, value := range map[string]string{"no record": "", "unexpected spelling": "restage-shop-202611240300-writer.cfake.us-east-1.rds.test"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, engineCases[0], "unused")
			e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("restage-shop-202611240300"), Engine: aws.String("aurora-mysql"),
				Endpoint: aws.String("restage-shop-202611240300.cluster-cfake.us-east-1.rds.test"), Port: aws.Int32(3306), TagList: sweepTags("r1", "live")})
			e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("restage-shop-202611240300-writer"), DBClusterIdentifier: aws.String("restage-shop-202611240300"),
				Engine: aws.String("aurora-mysql"), TagList: sweepTags("r1", "live")})
			e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("restage-shop-202611240400"), Engine: aws.String("aurora-mysql"),
				TagList: sweepTags("r2", "provisioning")})
			if value != "" {
				e.zone.PutCNAME(record, value, 1)
			}
			p := e.provider(t)
			swept, err := p.Sweep(ctx)
			if !errors.Is(err, ErrRecordUnproven) || len(swept) != 0 {
				t.Fatalf("swept %v, %v; want nothing and ErrRecordUnproven", swept, err)
			}
			if m := e.mutating(); len(m) != 0 {
				t.Errorf("changing calls %v", m)
			}
			// The run's prepare fails (and so alerts).
			rep, err := e.run(t, nil)
			var se *refresh.StepError
			if !errors.As(err, &se) || se.Step != refresh.StepPrepare || rep.New != nil {
				t.Errorf("run: %v; want a prepare failure before anything is created", err)
			}
		})
	}
}

// TestAWSSweepCreating: the start-of-run sweep deletes what it can and
// skips (and reports) a leftover RDS is still creating, issuing every
// delete before waiting for any; the sweep task waits for the dead run's
// lease to expire and for the leftover to be created, then deletes it.
func TestAWSSweepCreating(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, engineCases[0], "unused")
	e.rf.CreatePolls = 20
	e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("restage-shop-202611240400"), Engine: aws.String("aurora-mysql"),
		Status: aws.String("creating"), TagList: sweepTags("r2", "provisioning")})
	for _, id := range []string{"restage-shop-202611230300", "restage-shop-202611220300"} {
		e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(id), Engine: aws.String("aurora-mysql"), TagList: sweepTags("r0", "retiring")})
		for _, m := range []string{"-writer", "-reader"} {
			e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id + m), DBClusterIdentifier: aws.String(id),
				Engine: aws.String("aurora-mysql"), TagList: sweepTags("r0", "retiring")})
		}
	}
	p := e.provider(t)
	swept, err := p.Sweep(ctx)
	slices.Sort(swept)
	if err != nil || !slices.Equal(swept, []string{"restage-shop-202611220300", "restage-shop-202611230300"}) {
		t.Fatalf("start-of-run sweep: %v, %v", swept, err)
	}
	if got := p.Skipped(); !slices.Equal(got, []string{"restage-shop-202611240400"}) {
		t.Errorf("skipped %v, want the one still creating", got)
	}
	// Every delete was issued before the first wait: the six deletes come
	// first among the changing calls and no describe of a deleted member
	// lies between two of them.
	var deletes []int
	calls := e.rf.Calls()
	for i, c := range calls {
		if c.Op == "DeleteDBInstance" || c.Op == "DeleteDBCluster" {
			deletes = append(deletes, i)
		}
	}
	if len(deletes) != 6 {
		t.Fatalf("%d deletes, want 6", len(deletes))
	}
	deleted := map[string]bool{}
	for _, c := range calls[deletes[0]:deletes[5]] {
		switch c.Op {
		case "DeleteDBInstance", "DeleteDBCluster":
			deleted[c.ID] = true
		case "DescribeDBInstances", "DescribeDBClusters":
			if deleted[c.ID] {
				t.Errorf("waited on %s before issuing every delete", c.ID)
			}
		}
	}

	// The killed run's lease is still there for a moment.
	e.locks.Put(map[string]ddbtypes.AttributeValue{
		ddblock.AttrTarget:    &ddbtypes.AttributeValueMemberS{Value: target},
		ddblock.AttrOwner:     &ddbtypes.AttributeValueMemberS{Value: "dead-run"},
		ddblock.AttrExpiresAt: &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(300*time.Millisecond).UnixMilli(), 10)},
	})
	p = e.provider(t)
	p.cfg.LockPoll = 50 * time.Millisecond
	start := time.Now()
	swept, err = p.SweepTask(ctx, "sweep-1")
	if err != nil || !slices.Equal(swept, []string{"restage-shop-202611240400"}) {
		t.Fatalf("sweep task: %v, %v", swept, err)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Errorf("sweep task did not wait for the lease (%s)", time.Since(start))
	}
	if e.exists("restage-shop-202611240400") {
		t.Error("leftover still there")
	}
	if _, ok := e.locks.Get(target); ok {
		t.Error("sweep task left the lock item")
	}
	e.checkProductionUntouched(t)

	// A lock held beyond LockWait: ErrLocked, nothing touched.
	e.addInstance("restage-shop-202611250300", "r3", "provisioning", "available")
	release, err := e.provider(t).Lock(ctx, "live-run")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	p = e.provider(t)
	p.cfg.LockWait, p.cfg.LockPoll = 100*time.Millisecond, 20*time.Millisecond
	if _, err := p.SweepTask(ctx, "sweep-2"); !errors.Is(err, refresh.ErrLocked) {
		t.Errorf("sweep task under a live run's lock: %v, want ErrLocked", err)
	}
	if _, ok := e.rf.Instance("restage-shop-202611250300"); !ok {
		t.Error("deleted under a live run's lock")
	}
}
