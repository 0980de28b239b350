package rdsfake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/restage/restage/internal/rds/rdsfake"
)

func status(t *testing.T, f *rdsfake.Fake, id string) string {
	t.Helper()
	out, err := f.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var nf *types.DBInstanceNotFoundFault
	if errors.As(err, &nf) {
		return "gone"
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DBInstanceStatus)
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	f := rdsfake.New()
	f.AddDBSnapshot(types.DBSnapshot{DBSnapshotIdentifier: aws.String("s1"), DBInstanceIdentifier: aws.String("prod"), Engine: aws.String("mysql"),
		Status: aws.String("available"), TagList: []types.Tag{{Key: aws.String("env"), Value: aws.String("production")}}})
	if _, err := f.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String("copy"), DBSnapshotIdentifier: aws.String("s1"), DeletionProtection: aws.Bool(true),
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		got = append(got, status(t, f, "copy"))
	}
	if want := "[creating creating available available]"; fmt.Sprint(got) != want {
		t.Fatalf("statuses %v, want %s", got, want)
	}
	// Without explicit tags a restore looks like production.
	tags, err := f.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String("arn:aws:rds:us-east-1:123456789012:db:copy")})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "production" {
		t.Fatalf("tags %+v, %v", tags, err)
	}

	if _, err := f.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("copy"), MasterUserPassword: aws.String("pw")}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("copy"), MasterUserPassword: aws.String("pw2")}); err == nil {
		t.Fatal("a second modification while one is pending was accepted")
	}
	got = nil
	for range 5 {
		got = append(got, status(t, f, "copy"))
	}
	if want := "[available resetting-master-credentials resetting-master-credentials available available]"; fmt.Sprint(got) != want {
		t.Fatalf("statuses %v, want %s", got, want)
	}
	if f.Password("copy") != "pw" {
		t.Fatal("password not applied")
	}

	_, err = f.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("copy"), SkipFinalSnapshot: aws.Bool(true)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterCombination" {
		t.Fatalf("delete with deletion protection: %v", err)
	}
	if _, err := f.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("copy"), DeletionProtection: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("copy"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	got = nil
	for range 3 {
		got = append(got, status(t, f, "copy"))
	}
	if want := "[deleting gone gone]"; fmt.Sprint(got) != want {
		t.Fatalf("statuses %v, want %s", got, want)
	}
}

func TestPagination(t *testing.T) {
	f := rdsfake.New()
	f.PageSize = 3
	for i := range 7 {
		f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(fmt.Sprintf("db-%d", i))})
	}
	p := awsrds.NewDescribeDBInstancesPaginator(f, &awsrds.DescribeDBInstancesInput{})
	var pages, n int
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n += len(out.DBInstances)
	}
	if pages != 3 || n != 7 {
		t.Fatalf("%d pages, %d instances; want 3, 7", pages, n)
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	f := rdsfake.New()
	f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("c")})
	f.Throttle("DescribeDBClusters", 1)
	f.StateFault("ModifyDBCluster", 1)
	f.DenyAccess("DeleteDBCluster")
	in := &awsrds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("c")}
	if _, err := f.DescribeDBClusters(ctx, in); apiCode(err) != "Throttling" {
		t.Fatalf("first describe: %v", err)
	}
	if _, err := f.DescribeDBClusters(ctx, in); err != nil {
		t.Fatalf("second describe: %v", err)
	}
	mod := &awsrds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("c"), DeletionProtection: aws.Bool(false)}
	var sf *types.InvalidDBClusterStateFault
	if _, err := f.ModifyDBCluster(ctx, mod); !errors.As(err, &sf) {
		t.Fatalf("first modify: %v", err)
	}
	if _, err := f.ModifyDBCluster(ctx, mod); err != nil {
		t.Fatalf("second modify: %v", err)
	}
	if _, err := f.DeleteDBCluster(ctx, &awsrds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("c")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("delete: %v", err)
	}
	calls := f.Calls()
	if len(calls) != 5 || calls[4].Op != "DeleteDBCluster" || calls[4].ID != "c" || calls[4].Err == nil || !calls[4].Mutating() || calls[0].Mutating() {
		t.Fatalf("calls %+v", calls)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestFault(t *testing.T) {
	f := rdsfake.New()
	f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("a"), Engine: aws.String("mysql")})
	f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("b"), Engine: aws.String("mysql")})
	n := 0
	f.Fault = func(op, id string) error {
		if op == "DescribeDBInstances" && id == "a" && n == 0 {
			n++
			return f.AccessDeniedError(op, id)
		}
		return nil
	}
	ctx := context.Background()
	_, err := f.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("a")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("first describe of a: %v, want AccessDenied", err)
	}
	if got := status(t, f, "b"); got != "available" {
		t.Errorf("b: %s", got)
	}
	if got := status(t, f, "a"); got != "available" {
		t.Errorf("a after the one fault: %s", got)
	}
	if c := f.Calls()[0]; c.Op != "DescribeDBInstances" || c.ID != "a" || c.Err == nil {
		t.Errorf("first call recorded as %+v", c)
	}
}
