//go:build aws

package terraform_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/terraform"
)

// TestExampleApplyDestroyAWS applies examples/complete in a real account and
// destroys it again. Never in CI: needs `-tags aws`, real credentials in the
// environment and
//
//	RESTAGE_AWS_TEST_ACCOUNT_ID, RESTAGE_AWS_TEST_REGION, RESTAGE_AWS_TEST_VPC_ID,
//	RESTAGE_AWS_TEST_SUBNET_IDS (comma-separated), RESTAGE_AWS_TEST_ZONE_ID,
//	RESTAGE_AWS_TEST_APP_SG_ID, RESTAGE_AWS_TEST_DEPLOYER_ARN (the role or user
//	applying: the only writer of the rules bucket)
//
// It creates IAM roles, an ECS cluster, schedules (the example's), S3, SQS,
// SNS, DynamoDB and security groups; no database and no task is started
// (destroy runs right after apply, long before any schedule fires at 02:30
// / 03:00 Asia/Tokyo unless you run it then).
func TestExampleApplyDestroyAWS(t *testing.T) {
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Skipf("%s not set", name)
		}
		return v
	}
	vars := map[string]any{
		"mock_aws":                       false,
		"account_id":                     env("RESTAGE_AWS_TEST_ACCOUNT_ID"),
		"region":                         env("RESTAGE_AWS_TEST_REGION"),
		"vpc_id":                         env("RESTAGE_AWS_TEST_VPC_ID"),
		"subnet_ids":                     strings.Split(env("RESTAGE_AWS_TEST_SUBNET_IDS"), ","),
		"staging_zone_id":                env("RESTAGE_AWS_TEST_ZONE_ID"),
		"staging_app_security_group_ids": []string{env("RESTAGE_AWS_TEST_APP_SG_ID")},
		"rules_writer_arns":              []string{env("RESTAGE_AWS_TEST_DEPLOYER_ARN")},
	}
	dir := copyRoot(t, "terraform/examples/complete")
	opts := options(t, dir)
	opts.Vars = vars
	opts.Logger = logger.Default
	defer terraform.Destroy(t, opts)
	terraform.InitAndApply(t, opts)

	states := terraform.OutputMap(t, opts, "schedule_states")
	if states["legacy"] != "DISABLED" || states["shop"] != "ENABLED" {
		t.Errorf("schedule states %v", states)
	}
	for target, cmd := range terraform.OutputMap(t, opts, "manual_run_commands") {
		if _, err := shellSplit(cmd); err != nil || !strings.HasPrefix(cmd, "aws ecs run-task ") {
			t.Errorf("%s: manual run command %q (%v)", target, cmd, err)
		}
	}
	// A second plan after apply must be empty: the variables are the truth.
	if code := terraform.PlanExitCode(t, opts); code != 0 {
		t.Errorf("plan after apply exits %d, want 0 (no changes)", code)
	}
}
