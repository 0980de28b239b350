package awsprov

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/exitcode"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53"
	"github.com/restage/restage/internal/route53/route53fake"
	"github.com/restage/restage/internal/testdb"
)

// loadSource creates the Sakila "production" database of one family.
func loadSource(t *testing.T, family string) string {
	t.Helper()
	if family == "mysql" {
		my, _ := testdb.MySQL(t)
		testdb.LoadSakilaMySQL(t, my)
		return my
	}
	pg, _ := testdb.Postgres(t)
	testdb.LoadSakilaPostgres(t, pg)
	return pg
}

// spy is a Notifier that keeps every notice.
type spy struct {
	mu      sync.Mutex
	notices []refresh.Notice
}

func (s *spy) Notify(_ context.Context, n refresh.Notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = append(s.notices, n)
}

func (s *spy) take() []refresh.Notice {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.notices
	s.notices = nil
	return n
}

func endpointOf(id string) string { return id + ".cfake.us-east-1.rds.test" }

// seedPrevious adds a live staging DB of an earlier run (tagged, no
// server behind it: nothing connects to it) and points the record at it.
func (e *env) seedPrevious(id string) {
	tags := []types.Tag{{Key: aws.String(rds.TagManaged), Value: aws.String("true")}, {Key: aws.String(rds.TagTarget), Value: aws.String(target)},
		{Key: aws.String(rds.TagRun), Value: aws.String("r0")}, {Key: aws.String(rds.TagState), Value: aws.String("live")}}
	eng := aws.String(string(e.ec.engine))
	if e.ec.engine.Aurora() {
		e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(id), Engine: eng, Endpoint: aws.String(endpointOf(id)),
			Port: aws.Int32(5432), MasterUsername: aws.String("restage_admin"), TagList: tags})
		e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id + rds.WriterSuffix), DBClusterIdentifier: aws.String(id), Engine: eng, TagList: tags})
	} else {
		e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: eng, TagList: tags,
			Endpoint:       &types.Endpoint{Address: aws.String(endpointOf(id)), Port: aws.Int32(3306)},
			MasterUsername: aws.String("restage_admin")})
	}
	e.zone.PutCNAME(record, endpointOf(id), 1)
}

// leftovers lists the clusters and instances named restage-<target>-…
// that still exist, except keep.
func (e *env) leftovers(keep string) []string {
	var out []string
	ctx := context.Background()
	cl, err := e.rf.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{MaxRecords: aws.Int32(100)})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cl.DBClusters {
		if id := aws.ToString(c.DBClusterIdentifier); strings.HasPrefix(id, "restage-"+target+"-") && id != keep {
			out = append(out, id)
		}
	}
	in, err := e.rf.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{MaxRecords: aws.Int32(100)})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, i := range in.DBInstances {
		if id := aws.ToString(i.DBInstanceIdentifier); strings.HasPrefix(id, "restage-"+target+"-") && id != keep && id != keep+rds.WriterSuffix {
			out = append(out, id)
		}
	}
	return out
}

// hasFinalSnapshot reports whether RDS kept <id>-final.
func (e *env) hasFinalSnapshot(id string) bool {
	ctx := context.Background()
	if e.ec.engine.Aurora() {
		out, err := e.rf.DescribeDBClusterSnapshots(ctx, &awsrds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id + "-final")})
		return err == nil && len(out.DBClusterSnapshots) > 0
	}
	out, err := e.rf.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id + "-final")})
	return err == nil && len(out.DBSnapshots) > 0
}

// TestAWSFailureAtEachCall: a fault at each AWS call a run makes fails the
// run at that step (exit 1) with exactly one Slack failure notice; the
// record still points at the previous DB, every DB the run created is
// deleted, production and the previous DB are untouched.
func TestAWSFailureAtEachCall(t *testing.T) {
	ec := engineCases[1] // aurora-postgresql
	src := loadSource(t, ec.family())
	const prev = "restage-shop-202611240300"
	// The run's DB: the provider's clock starts at 03:00 and ticks a
	// minute per identifier.
	const newID = "restage-shop-202611250301"
	cases := []struct {
		name   string
		step   string
		inject func(e *env)
		// created: the run got as far as creating its DB.
		created bool
		// want, if set, must be in the error.
		want error
	}{
		{"RestoreDBClusterFromSnapshot denied", refresh.StepRestore, func(e *env) { e.rf.DenyAccess("RestoreDBClusterFromSnapshot") }, false, rds.ErrAccessDenied},
		{"CreateDBInstance denied", refresh.StepRestore, func(e *env) { e.rf.DenyAccess("CreateDBInstance") }, true, rds.ErrAccessDenied},
		{"restore ends incompatible-restore", refresh.StepRestore, func(e *env) { e.rf.FailDB(newID, "incompatible-restore") }, true, rds.ErrFailedState},
		{"DescribeDBClusters denied while waiting", refresh.StepRestore, func(e *env) {
			restored, denied := false, false
			e.rf.Fault = func(op, id string) error {
				switch {
				case op == "RestoreDBClusterFromSnapshot":
					restored = true
				case op == "DescribeDBClusters" && id == newID && restored && !denied:
					denied = true
					return e.rf.AccessDeniedError(op, id)
				}
				return nil
			}
		}, true, rds.ErrAccessDenied},
		{"ModifyDBCluster denied (master password)", refresh.StepCredentials, func(e *env) { e.rf.DenyAccess("ModifyDBCluster") }, true, rds.ErrAccessDenied},
		{"AddTagsToResource denied (state live)", refresh.StepSwap, func(e *env) { e.rf.DenyAccess("AddTagsToResource") }, true, rds.ErrAccessDenied},
		{"ChangeResourceRecordSets denied", refresh.StepSwap, func(e *env) {
			e.zone.Inject(route53fake.OpChange, route53fake.AccessDenied(route53fake.OpChange))
		}, true, nil},
		{"GetChange denied", refresh.StepSwap, func(e *env) {
			e.zone.Inject(route53fake.OpGet, route53fake.AccessDenied(route53fake.OpGet))
		}, true, route53.ErrSubmitted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ec, src)
			defer e.checkHooks(t)
			defer e.checkProductionUntouched(t)
			n := &spy{}
			e.notifier = n
			e.seedPrevious(prev)
			tc.inject(e)

			rep, err := e.run(t, nil)
			var se *refresh.StepError
			if !errors.As(err, &se) || se.Step != tc.step || refresh.ExitCode(err) != exitcode.Failed {
				t.Fatalf("run: err %v (exit %d), want a failure at %s with exit %d", err, refresh.ExitCode(err), tc.step, exitcode.Failed)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("run: %v, want %v", err, tc.want)
			}
			if e.cname() != endpointOf(prev) {
				t.Errorf("record = %q, want the previous DB %q", e.cname(), endpointOf(prev))
			}
			switch {
			case tc.created && (rep.New == nil || rep.New.Name != newID):
				t.Errorf("run created %+v, want %s", rep.New, newID)
			case !tc.created && rep.New != nil:
				t.Errorf("run created %s, want nothing", rep.New.Name)
			}
			if tc.created && !e.deleted(newID) {
				t.Errorf("the run's DB %s was not deleted", newID)
			}
			if left := e.leftovers(prev); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
			if !e.exists(prev) {
				t.Errorf("the previous DB %s is gone", prev)
			}
			for _, id := range []string{prev, prev + rds.WriterSuffix} {
				for _, c := range e.rf.CallsTo(id) {
					if c.Mutating() {
						t.Errorf("mutating call %s on the previous DB %s", c.Op, id)
					}
				}
			}
			if tc.created && e.hasFinalSnapshot(newID) {
				t.Errorf("a final snapshot of the discarded copy %s was kept", newID)
			}
			notices := n.take()
			if len(notices) != 1 || notices[0].Kind != "failure" || notices[0].Step != tc.step || notices[0].ExitCode != exitcode.Failed {
				t.Errorf("notices %+v, want exactly one failure at %s", notices, tc.step)
			}
		})
	}
}

// TestAWSAdoptAndFinalSnapshot: the staging record points at a hand-made
// DB. Without adoption the run warns and leaves it; with RESTAGE_ADOPT the
// run retires it (and, with RESTAGE_FINAL_SNAPSHOT, keeps a final
// snapshot of it). A discarded copy never gets a final snapshot.
func TestAWSAdoptAndFinalSnapshot(t *testing.T) {
	ec := engineCases[2] // mysql
	e := newEnv(t, ec, loadSource(t, ec.family()))
	defer e.checkHooks(t)
	defer e.checkProductionUntouched(t)
	n := &spy{}
	e.notifier = n
	const handMade = "staging-shop"
	handHost := handMade + ".abc.us-east-1.rds.amazonaws.com"
	e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(handMade), Engine: aws.String("mysql"),
		Endpoint:       &types.Endpoint{Address: aws.String(handHost), Port: aws.Int32(3306)},
		MasterUsername: aws.String("admin"), DeletionProtection: aws.Bool(true),
		TagList: []types.Tag{{Key: aws.String("env"), Value: aws.String("staging")}}})
	e.zone.PutCNAME(record, handHost, 1)
	untouched := func() {
		t.Helper()
		if !e.exists(handMade) {
			t.Fatalf("the hand-made DB is gone")
		}
		for _, c := range e.rf.CallsTo(handMade) {
			if c.Mutating() {
				t.Fatalf("mutating call %s on the hand-made DB", c.Op)
			}
		}
	}

	// Not adopted: the run succeeds, retire warns, the DB stays.
	e.finalSnapshot = true
	rep, err := e.run(t, nil)
	if err != nil {
		t.Fatalf("run without adoption: %v", err)
	}
	first := rep.New.Name
	if e.cname() != endpointOf(first) {
		t.Fatalf("record = %q, want %q", e.cname(), endpointOf(first))
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "RESTAGE_ADOPT") {
		t.Errorf("warnings %v, want one naming RESTAGE_ADOPT", rep.Warnings)
	}
	if last := rep.Steps[len(rep.Steps)-1]; last.Step != refresh.StepRetire || last.Status != "warning" {
		t.Errorf("retire step %+v, want a warning", last)
	}
	if ns := n.take(); len(ns) != 2 || ns[0].Kind != "warning" || ns[0].Step != refresh.StepRetire || ns[1].Kind != "success" {
		t.Errorf("notices %+v, want a retire warning then success", ns)
	}
	untouched()

	// The record is put back on the hand-made DB (as if ops had), and
	// it is adopted. A run that fails after the restore discards its
	// copy without a final snapshot, final snapshot flag or not.
	e.zone.PutCNAME(record, handHost, 1)
	e.adopt = handMade
	rep, err = e.run(t, failAt(refresh.StepVerify))
	if !errors.Is(err, errInjected) || rep.New == nil {
		t.Fatalf("failed run: %v", err)
	}
	if failed := rep.New.Name; !e.deleted(failed) || e.hasFinalSnapshot(failed) {
		t.Errorf("discarded %s: deleted %t, final snapshot %t; want deleted without", failed, e.deleted(failed), e.hasFinalSnapshot(failed))
	}
	for _, c := range e.rf.Calls() {
		if in, ok := c.Input.(*awsrds.DeleteDBInstanceInput); ok && c.ID == rep.New.Name && in.FinalDBSnapshotIdentifier != nil {
			t.Errorf("discard asked for a final snapshot: %+v", c)
		}
	}
	untouched()
	n.take()

	// Adopted: retired, with a final snapshot; the first run's DB (no
	// longer behind the record) is swept without one.
	rep, err = e.run(t, nil)
	if err != nil {
		t.Fatalf("run with adoption: %v\n%+v", err, rep.Steps)
	}
	if rep.Previous == nil || rep.Previous.Name != handMade || len(rep.Warnings) != 0 {
		t.Fatalf("previous %+v, warnings %v; want %s retired", rep.Previous, rep.Warnings, handMade)
	}
	if e.exists(handMade) || !e.deleted(handMade) {
		t.Errorf("adopted %s not retired", handMade)
	}
	if !e.hasFinalSnapshot(handMade) {
		t.Errorf("no final snapshot of the retired %s", handMade)
	}
	if e.exists(first) || e.hasFinalSnapshot(first) {
		t.Errorf("first DB %s: exists %t, final snapshot %t; want swept without", first, e.exists(first), e.hasFinalSnapshot(first))
	}
	if e.cname() != endpointOf(rep.New.Name) {
		t.Errorf("record = %q, want %q", e.cname(), endpointOf(rep.New.Name))
	}
	e.checkServed(t, rep.New.Name)
	if ns := n.take(); len(ns) != 1 || ns[0].Kind != "success" {
		t.Errorf("notices %+v, want one success", ns)
	}
}
