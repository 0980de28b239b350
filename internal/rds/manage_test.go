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

func restored(t *testing.T, e rds.Engine, mutate ...func(*rds.Config)) (*env, *rds.DB) {
	t.Helper()
	env := newEnv(t, e, mutate...)
	seedSource(env.fake, e, 2)
	db, err := restore(t, env)
	if err != nil {
		t.Fatal(err)
	}
	return env, db
}

var allEngines = []rds.Engine{rds.AuroraMySQL, rds.AuroraPostgreSQL, rds.MySQL}

func TestSetMasterPasswordWaitsUntilApplied(t *testing.T) {
	const password = "n3w-Secret-Passw0rd"
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			env, db := restored(t, e)
			env.fake.StateFault(modifyOp(e), 2) // right after the restore
			if err := env.c.SetMasterPassword(context.Background(), db, password); err != nil {
				t.Fatal(err)
			}
			if got := env.fake.Password(db.ID); got != password {
				t.Fatalf("password not applied when SetMasterPassword returned")
			}
			status, pending := fakeState(t, env.fake, e, db.ID)
			if status != "available" || pending {
				t.Fatalf("status %q, password pending %v", status, pending)
			}
			if strings.Contains(env.log.String(), password) {
				t.Fatal("the password was logged")
			}
			// The wait saw the status cycle, not just the first
			// (still available, pending) describe.
			var statuses int
			for _, c := range env.fake.CallsTo(db.ID) {
				if strings.HasPrefix(c.Op, "Describe") {
					statuses++
				}
			}
			if statuses < 4 {
				t.Errorf("only %d describes: the wait did not follow the status cycle", statuses)
			}
		})
	}
}

func modifyOp(e rds.Engine) string {
	if e.Aurora() {
		return "ModifyDBCluster"
	}
	return "ModifyDBInstance"
}

func fakeState(t *testing.T, f *rdsfake.Fake, e rds.Engine, id string) (status string, passwordPending bool) {
	t.Helper()
	if e.Aurora() {
		cl, ok := f.Cluster(id)
		if !ok {
			t.Fatalf("cluster %s missing", id)
		}
		return aws.ToString(cl.Status), cl.PendingModifiedValues != nil && cl.PendingModifiedValues.MasterUserPassword != nil
	}
	in, ok := f.Instance(id)
	if !ok {
		t.Fatalf("instance %s missing", id)
	}
	return aws.ToString(in.DBInstanceStatus), in.PendingModifiedValues != nil && in.PendingModifiedValues.MasterUserPassword != nil
}

func TestManageMasterPassword(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			env, db := restored(t, e)
			arn, err := env.c.ManageMasterPassword(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(arn, "arn:aws:secretsmanager:") {
				t.Fatalf("secret ARN %q", arn)
			}
			pw, ok := env.fake.Secret(arn)
			if !ok || pw == "" || env.fake.Password(db.ID) != pw {
				t.Fatal("the secret is not the applied master password")
			}
			if db.MasterSecretARN != arn {
				t.Errorf("db.MasterSecretARN = %q", db.MasterSecretARN)
			}
			again, err := env.c.ManageMasterPassword(context.Background(), db)
			if err != nil || again != arn {
				t.Errorf("second call: %q, %v", again, err)
			}
		})
	}
}

func TestModifyStateFaultsExhausted(t *testing.T) {
	env, db := restored(t, rds.AuroraMySQL)
	env.fake.StateFault("ModifyDBCluster", 100)
	err := env.c.SetMasterPassword(context.Background(), db, "x-Password-1")
	var sf *types.InvalidDBClusterStateFault
	if !errors.As(err, &sf) || !strings.Contains(err.Error(), "retrying later can help") {
		t.Fatalf("err = %v", err)
	}
	if n := len(ops(env.fake, func(c rdsfake.Call) bool { return c.Op == "ModifyDBCluster" })); n < 2 || n > 10 {
		t.Errorf("%d attempts: want bounded retries", n)
	}
}

func TestModifyAccessDenied(t *testing.T) {
	env, db := restored(t, rds.MySQL)
	env.fake.DenyAccess("ModifyDBInstance")
	err := env.c.SetMasterPassword(context.Background(), db, "x-Password-1")
	if !errors.Is(err, rds.ErrAccessDenied) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "x-Password-1") {
		t.Fatal("password in the error")
	}
}

func TestEnableBackups(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			env, db := restored(t, e)
			before := len(env.fake.Calls())
			if err := env.c.EnableBackups(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			if e.Aurora() {
				if calls := env.fake.Calls()[before:]; len(calls) != 0 {
					t.Fatalf("Aurora: calls %v, want none", calls)
				}
				return
			}
			in, _ := env.fake.Instance(db.ID)
			if got := aws.ToInt32(in.BackupRetentionPeriod); got != env.cfg.BackupRetention || in.PendingModifiedValues != nil || aws.ToString(in.DBInstanceStatus) != "available" {
				t.Fatalf("retention %d, pending %+v, status %s", got, in.PendingModifiedValues, aws.ToString(in.DBInstanceStatus))
			}
		})
	}
}

func TestSetState(t *testing.T) {
	env, db := restored(t, rds.AuroraPostgreSQL)
	if err := env.c.SetState(context.Background(), db, "masked"); err != nil {
		t.Fatal(err)
	}
	cl, _ := env.fake.Cluster(db.ID)
	if got := tagMap(cl.TagList)[rds.TagState]; got != "masked" {
		t.Fatalf("state tag %q", got)
	}
	if db.Tags[rds.TagState] != "masked" {
		t.Errorf("db.Tags not updated")
	}
	if err := env.c.SetState(context.Background(), &rds.DB{ID: sourceID}, "masked"); !errors.Is(err, rds.ErrNotOurs) {
		t.Fatalf("on the source: %v", err)
	}
	if m := mutatingCallsTo(env.fake, sourceID); len(m) != 0 {
		t.Fatalf("mutating calls to the source: %v", m)
	}
}

func TestGet(t *testing.T) {
	env, db := restored(t, rds.AuroraMySQL)
	got, err := env.c.Get(context.Background(), db.ID)
	if err != nil || got.ID != db.ID || got.WriterID != db.ID+rds.WriterSuffix || got.Endpoint == "" || got.RunID != "run-1" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	got, err = env.c.Get(context.Background(), "restage-shop-190001010000")
	if got != nil || err != rds.ErrNotFound {
		t.Fatalf("Get(missing) = %+v, %v; want nil, ErrNotFound", got, err)
	}
}

func ourTags(tgt, run string) []types.Tag {
	return []types.Tag{
		{Key: aws.String(rds.TagManaged), Value: aws.String("true")},
		{Key: aws.String(rds.TagTarget), Value: aws.String(tgt)},
		{Key: aws.String(rds.TagRun), Value: aws.String(run)},
	}
}

func TestManaged(t *testing.T) {
	env := newEnv(t, rds.AuroraMySQL)
	f := env.fake
	seedSource(f, rds.AuroraMySQL, 1)
	for _, c := range []struct {
		id   string
		tags []types.Tag
	}{
		{"restage-shop-202603010300", ourTags(target, "r1")},
		{"restage-shop-202603020300", ourTags(target, "r2")},
		{"restage-shop-202603030300", ourTags(target, "r3")},
		{"restage-cart-202603030300", ourTags("cart", "r9")},
		{"hand-made-staging", nil},
		{"restage-shop-202603040300", ourTags(target, "r4")[1:]}, // no managed tag
	} {
		f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(c.id), Engine: aws.String("aurora-mysql"), TagList: c.tags})
		f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(c.id + "-writer"), DBClusterIdentifier: aws.String(c.id), Engine: aws.String("aurora-mysql"), TagList: c.tags})
	}
	// A stand-alone leftover from before an engine change.
	f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("restage-shop-202602010300"), Engine: aws.String("mysql"), TagList: ourTags(target, "r0")})
	f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("restage-cart-202602010300"), Engine: aws.String("mysql"), TagList: ourTags("cart", "r0")})

	dbs, err := env.c.Managed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, db := range dbs {
		got = append(got, db.ID+"/"+db.RunID)
	}
	slices.Sort(got)
	want := []string{"restage-shop-202602010300/r0", "restage-shop-202603010300/r1", "restage-shop-202603020300/r2", "restage-shop-202603030300/r3"}
	if !slices.Equal(got, want) {
		t.Fatalf("Managed() = %v, want %v", got, want)
	}
	if m := ops(f, rdsfake.Call.Mutating); len(m) != 0 {
		t.Fatalf("Managed made changing calls: %v", m)
	}
}

func TestDeleteRefuses(t *testing.T) {
	tests := []struct {
		name   string
		engine rds.Engine
		seed   func(f *rdsfake.Fake) *rds.DB
	}{
		{"aurora source", rds.AuroraMySQL, func(*rdsfake.Fake) *rds.DB { return &rds.DB{ID: sourceID} }},
		{"instance source", rds.MySQL, func(*rdsfake.Fake) *rds.DB { return &rds.DB{ID: sourceID} }},
		{"source in upper case", rds.MySQL, func(*rdsfake.Fake) *rds.DB { return &rds.DB{ID: strings.ToUpper(sourceID)} }},
		{"untagged cluster", rds.AuroraMySQL, func(f *rdsfake.Fake) *rds.DB {
			f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("staging-shop"), Engine: aws.String("aurora-mysql")})
			f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("staging-shop-1"), DBClusterIdentifier: aws.String("staging-shop")})
			return &rds.DB{ID: "staging-shop"}
		}},
		{"another target's instance", rds.MySQL, func(f *rdsfake.Fake) *rds.DB {
			f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("restage-cart-202603010300"), Engine: aws.String("mysql"), TagList: ourTags("cart", "r1")})
			return &rds.DB{ID: "restage-cart-202603010300"}
		}},
		{"managed tag missing", rds.MySQL, func(f *rdsfake.Fake) *rds.DB {
			f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("restage-shop-202603010300"), Engine: aws.String("mysql"), TagList: ourTags(target, "r1")[1:]})
			return &rds.DB{ID: "restage-shop-202603010300"}
		}},
		{"tagged but the source's endpoint", rds.MySQL, func(f *rdsfake.Fake) *rds.DB {
			f.AddInstance(types.DBInstance{
				DBInstanceIdentifier: aws.String("restage-shop-202603010300"), Engine: aws.String("mysql"), TagList: ourTags(target, "r1"),
				Endpoint: &types.Endpoint{Address: aws.String(strings.ToUpper(sourceEndpoint(rds.MySQL)))},
			})
			return &rds.DB{ID: "restage-shop-202603010300"}
		}},
		{"tagged but the source's cluster endpoint", rds.AuroraPostgreSQL, func(f *rdsfake.Fake) *rds.DB {
			f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("restage-shop-202603010300"), Engine: aws.String("aurora-postgresql"), TagList: ourTags(target, "r1"), Endpoint: aws.String(sourceEndpoint(rds.AuroraPostgreSQL))})
			return &rds.DB{ID: "restage-shop-202603010300"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, tt.engine)
			seedSource(env.fake, tt.engine, 1)
			db := tt.seed(env.fake)
			err := env.c.Delete(context.Background(), db, false)
			if !errors.Is(err, rds.ErrNotOurs) {
				t.Fatalf("Delete(%s) = %v, want ErrNotOurs", db.ID, err)
			}
			if m := ops(env.fake, rdsfake.Call.Mutating); len(m) != 0 {
				t.Fatalf("changing calls made: %v", m)
			}
			if strings.EqualFold(db.ID, sourceID) && len(env.fake.Calls()) != 0 {
				t.Errorf("the source was not even to be described: %v", env.fake.Calls())
			}
		})
	}
}

func TestDeleteAurora(t *testing.T) {
	env, db := restored(t, rds.AuroraMySQL)
	ctx := context.Background()
	// A reader someone added, and deletion protection turned on by hand.
	env.fake.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(db.ID + "-reader"), DBClusterIdentifier: aws.String(db.ID), Engine: aws.String("aurora-mysql")})
	before := len(env.fake.Calls())
	if err := env.c.Delete(ctx, &rds.DB{ID: db.ID}, false); err != nil {
		t.Fatal(err)
	}
	var seq []string
	for _, c := range env.fake.Calls()[before:] {
		if c.Mutating() && c.Err == nil {
			seq = append(seq, c.Op+" "+c.ID)
		}
	}
	want := []string{"DeleteDBInstance " + db.ID + "-reader", "DeleteDBInstance " + db.WriterID, "DeleteDBCluster " + db.ID}
	slices.Sort(seq[:2])
	slices.Sort(want[:2])
	if !slices.Equal(seq, want) {
		t.Fatalf("delete calls %v, want instances then cluster %v", seq, want)
	}
	for _, id := range []string{db.ID + "-reader", db.WriterID} {
		if _, ok := env.fake.Instance(id); ok {
			t.Errorf("instance %s still there", id)
		}
	}
	if _, ok := env.fake.Cluster(db.ID); ok {
		t.Fatal("cluster still there")
	}
	if err := env.c.Delete(ctx, db, false); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, ok := env.fake.Cluster(sourceID); !ok {
		t.Fatal("the source is gone")
	}
	if m := mutatingCallsTo(env.fake, sourceID); len(m) != 0 {
		t.Fatalf("mutating calls to the source: %v", m)
	}
}

func TestDeleteProtectedAndFinalSnapshot(t *testing.T) {
	for _, e := range []rds.Engine{rds.AuroraPostgreSQL, rds.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			env := newEnv(t, e)
			f := env.fake
			seedSource(f, e, 1)
			id := "restage-shop-202603010300"
			if e.Aurora() {
				f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(id), Engine: aws.String(string(e)), TagList: ourTags(target, "r1"), DeletionProtection: aws.Bool(true)})
				f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id + "-writer"), DBClusterIdentifier: aws.String(id), Engine: aws.String(string(e))})
			} else {
				f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: aws.String(string(e)), TagList: ourTags(target, "r1"), DeletionProtection: aws.Bool(true)})
			}
			f.Throttle("DeleteDB"+map[bool]string{true: "Cluster", false: "Instance"}[e.Aurora()], 2)
			if err := env.c.Delete(context.Background(), &rds.DB{ID: id}, true); err != nil {
				t.Fatal(err)
			}
			first := ops(f, func(c rdsfake.Call) bool { return c.Mutating() && c.ID == id })
			if len(first) == 0 || !strings.HasPrefix(first[0], "Modify") {
				t.Fatalf("deletion protection not turned off first: %v", first)
			}
			if !hasSnapshot(f, e, id+"-final") {
				t.Fatal("no final snapshot")
			}
		})
	}
}

func hasSnapshot(f *rdsfake.Fake, e rds.Engine, id string) bool {
	ctx := context.Background()
	if e.Aurora() {
		out, err := f.DescribeDBClusterSnapshots(ctx, &awsrds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)})
		return err == nil && len(out.DBClusterSnapshots) == 1
	}
	out, err := f.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
	return err == nil && len(out.DBSnapshots) == 1
}

// TestOpenToStaging: the copy leaves quarantine for exactly the staging
// groups, and OpenToStaging returns only once RDS shows them all active
// (the DB's status is available throughout the change); Aurora on the
// cluster, RDS on the instance.
func TestOpenToStaging(t *testing.T) {
	for _, e := range allEngines {
		t.Run(string(e), func(t *testing.T) {
			env, db := restored(t, e)
			env.fake.GroupPolls = 5
			if got := env.fake.Groups(db.ID); !slices.Equal(got, []string{"sg-0quarantine:active"}) {
				t.Fatalf("after restore: groups %v, want quarantine only", got)
			}
			before := len(env.fake.Calls())
			if err := env.c.OpenToStaging(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			if got, want := env.fake.Groups(db.ID), []string{"sg-0staging1:active", "sg-0staging2:active"}; !slices.Equal(got, want) {
				t.Errorf("after OpenToStaging: groups %v, want %v", got, want)
			}
			var mods []string
			for _, c := range env.fake.Calls()[before:] {
				if c.Mutating() {
					mods = append(mods, c.Op+" "+c.ID)
				}
			}
			if want := []string{modifyOp(e) + " " + db.ID}; !slices.Equal(mods, want) {
				t.Errorf("changing calls %v, want %v", mods, want)
			}
			if e.Aurora() {
				w, _ := env.fake.Instance(db.WriterID)
				if len(w.VpcSecurityGroups) != 2 {
					t.Errorf("writer groups %v, want the cluster's", w.VpcSecurityGroups)
				}
			}
		})
	}
}
