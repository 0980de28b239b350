package awsprov

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53/route53fake"
)

// watchedZone calls onChange before every change of a record.
type watchedZone struct {
	*route53fake.Zone
	onChange func()
}

func (z *watchedZone) ChangeResourceRecordSets(ctx context.Context, in *r53.ChangeResourceRecordSetsInput, opts ...func(*r53.Options)) (*r53.ChangeResourceRecordSetsOutput, error) {
	z.onChange()
	return z.Zone.ChangeResourceRecordSets(ctx, in, opts...)
}

// TestAWSQuarantine: at every step boundary the copy is in the quarantine
// group only, until the swap moves it to exactly the staging group (the
// record changes only once RDS shows that group active); a run that fails
// never takes its copy out of quarantine. Aurora (cluster) and RDS
// (instance).
func TestAWSQuarantine(t *testing.T) {
	srcs := loadSources(t)
	for _, ec := range []engineCase{engineCases[0], engineCases[2]} {
		t.Run(string(ec.engine), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ec, srcs[ec.family()])
			defer e.checkHooks(t)
			var mu sync.Mutex
			var seen []string
			// groups of every copy that exists, as "id=groups".
			groups := func() string {
				e.mu.Lock()
				ids := slices.Sorted(maps.Keys(e.instances))
				e.mu.Unlock()
				var out []string
				for _, id := range ids {
					if g := e.rf.Groups(id); len(g) > 0 {
						out = append(out, strings.Join(g, ","))
					}
				}
				return strings.Join(out, " ")
			}
			hook := func(fail string) func(context.Context, string) error {
				return func(_ context.Context, step string) error {
					mu.Lock()
					seen = append(seen, step+": "+groups())
					mu.Unlock()
					if step == fail {
						return errInjected
					}
					return nil
				}
			}
			e.onDNSChange = func() {
				mu.Lock()
				seen = append(seen, "dns change: "+groups())
				mu.Unlock()
			}

			// The snapshot or the account turns on everything that would
			// keep or export the unmasked data; the copy has none of it.
			e.rf.Inherited = rdsfake.Inherited{PerformanceInsights: true, MonitoringInterval: 60, LogExports: []string{"error", "slowquery"}, IAMAuth: true}
			rep, err := e.run(t, hook(""))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if ec.engine.Aurora() {
				cl, _ := e.rf.Cluster(rep.New.Name)
				w, _ := e.rf.Instance(rep.New.Name + rds.WriterSuffix)
				if aws.ToBool(cl.IAMDatabaseAuthenticationEnabled) || len(cl.EnabledCloudwatchLogsExports) > 0 || aws.ToBool(w.PerformanceInsightsEnabled) || aws.ToInt32(w.MonitoringInterval) != 0 {
					t.Errorf("cluster IAM %v logs %v, writer PI %v monitoring %d", aws.ToBool(cl.IAMDatabaseAuthenticationEnabled), cl.EnabledCloudwatchLogsExports, aws.ToBool(w.PerformanceInsightsEnabled), aws.ToInt32(w.MonitoringInterval))
				}
			} else {
				in, _ := e.rf.Instance(rep.New.Name)
				if aws.ToBool(in.IAMDatabaseAuthenticationEnabled) || len(in.EnabledCloudwatchLogsExports) > 0 || aws.ToBool(in.PerformanceInsightsEnabled) || aws.ToInt32(in.MonitoringInterval) != 0 {
					t.Errorf("instance IAM %v logs %v PI %v monitoring %d", aws.ToBool(in.IAMDatabaseAuthenticationEnabled), in.EnabledCloudwatchLogsExports, aws.ToBool(in.PerformanceInsightsEnabled), aws.ToInt32(in.MonitoringInterval))
				}
			}
			q, s := "sg-0quarantine:active", "sg-0staging:active"
			want := []string{"prepare: ", "restore: ", "credentials: " + q, "ready: " + q, "mask: " + q, "verify: " + q,
				"users: " + q, "swap: " + q, "dns change: " + s}
			if !slices.Equal(seen, want) {
				t.Errorf("groups at each step:\n got %q\nwant %q", seen, want)
			}
			if got := e.rf.Groups(rep.New.Name); !slices.Equal(got, []string{s}) {
				t.Errorf("after the run: %v, want %s", got, s)
			}

			// A run that fails — after the users step too — never leaves
			// quarantine: no call names a staging group for its copy.
			for _, step := range []string{refresh.StepUsers, refresh.StepSwap} {
				rep, err = e.run(t, hook(step))
				if !errors.Is(err, errInjected) || rep.New == nil {
					t.Fatalf("failure at %s: %v", step, err)
				}
				for _, c := range e.rf.CallsTo(rep.New.Name) {
					switch in := c.Input.(type) {
					case *awsrds.ModifyDBClusterInput:
						if in.VpcSecurityGroupIds != nil {
							t.Errorf("failure at %s: %s moved groups to %v", step, c.Op, in.VpcSecurityGroupIds)
						}
					case *awsrds.ModifyDBInstanceInput:
						if in.VpcSecurityGroupIds != nil {
							t.Errorf("failure at %s: %s moved groups to %v", step, c.Op, in.VpcSecurityGroupIds)
						}
					}
				}
			}
		})
	}
}
