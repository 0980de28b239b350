package terraform_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/terraform"
)

// TestFormat: terraform fmt leaves terraform/ and the test roots unchanged.
func TestFormat(t *testing.T) {
	t.Parallel()
	pluginDir(t) // skip/fail without the CLI like every other test
	for _, dir := range []string{"terraform", "test/terraform/testdata"} {
		opts := &terraform.Options{TerraformDir: filepath.Join(repoRoot(t), dir), NoColor: true, EnvVars: map[string]string{"TF_CLI_CONFIG_FILE": os.DevNull}}
		if out, err := terraform.RunTerraformCommandE(t, opts, "fmt", "-check", "-recursive", "-diff"); err != nil {
			t.Errorf("terraform fmt -check %s: %v\n%s\nrun: terraform fmt -recursive %s", dir, err, out, dir)
		}
	}
}

// TestModuleValidateAndTerraformTest validates the module on its own and
// runs terraform/tests (mock provider, command = apply): the values known
// only after apply — created security group ids in the environment and the
// manual run command, container definitions — are asserted there.
func TestModuleValidateAndTerraformTest(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "terraform")
	opts := options(t, dir)
	if _, err := terraform.InitAndValidateE(t, opts); err != nil {
		t.Fatalf("validate the module: %v", err)
	}
	out, err := terraform.RunTerraformCommandE(t, opts, "test", "-no-color")
	if err != nil {
		t.Fatalf("terraform test: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Success!") || strings.Contains(out, " 0 passed") {
		t.Errorf("terraform test ran no passing test:\n%s", out)
	}
}

// TestExampleValidate validates examples/complete.
func TestExampleValidate(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "terraform/examples/complete")
	if _, err := terraform.InitAndValidateE(t, options(t, dir)); err != nil {
		t.Fatalf("validate the example: %v", err)
	}
}

// TestInvalidInputs: each bad input fails plan with the module's own
// validation message, before anything could be created.
func TestInvalidInputs(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "test/terraform/testdata/invalid")
	opts := options(t, dir)
	if _, err := terraform.InitE(t, opts); err != nil {
		t.Fatalf("init: %v", err)
	}
	rules := filepath.Join(repoRoot(t), "examples", "rules", "sakila-mysql.yaml")
	db := func(edit func(map[string]any)) map[string]any {
		d := map[string]any{
			"engine":         "aurora-mysql",
			"source_id":      "shop-prod",
			"db_name":        "sakila",
			"dns_name":       "shop-db.staging.example.com",
			"hosted_zone_id": "Z0123456789ABCDEFGHIJ",
			"subnet_group":   "staging-db",
			"instance_class": "db.r6g.large",
			"rules_file":     rules,

			"db_parameter_group":      "shop-mysql8",
			"cluster_parameter_group": "shop-mysql8-cluster",
		}
		if edit != nil {
			edit(d)
		}
		return d
	}
	adopt := func(id string, instances ...string) func(map[string]any) {
		return func(d map[string]any) {
			d["adopt"] = map[string]any{"id": id, "instance_ids": append([]string{}, instances...)}
		}
	}
	const adoptNotProduction = "adopt must name a hand-made staging database: never a production source_id or production_arns database, and never a restage-* database"
	one := func(target string, edit func(map[string]any)) map[string]any {
		return map[string]any{"databases": map[string]any{target: db(edit)}}
	}
	with := func(vars map[string]any, key string, value any) map[string]any {
		vars[key] = value
		return vars
	}
	instance := func(d map[string]any) {
		d["engine"], d["source_id"] = "mysql", "legacy-prod"
		delete(d, "cluster_parameter_group")
	}
	const noSecrets = "environment must not hold secrets: RESTAGE_MASK_KEY, *_PASSWORD, *_TOKEN and *WEBHOOK* names go through Secrets Manager"
	const groups = "every database needs an explicit db_parameter_group, and Aurora databases a cluster_parameter_group too"
	const acu = "serverless_min_acu and serverless_max_acu: both or neither"
	cases := []struct {
		name string
		vars map[string]any
		want string // start of the validation message ("" = must plan)
	}{
		{"valid baseline", one("shop", nil), ""},
		{"source mode clone of Aurora", one("shop", func(d map[string]any) { d["source_mode"] = "clone" }), ""},
		{"source mode point_in_time of RDS", one("legacy", func(d map[string]any) { instance(d); d["source_mode"] = "point_in_time" }), ""},
		{"source mode unknown", one("shop", func(d map[string]any) { d["source_mode"] = "latest" }), "source_mode must be snapshot, clone or point_in_time"},
		{"source mode clone of RDS", one("legacy", func(d map[string]any) { instance(d); d["source_mode"] = "clone" }), "source_mode clone is for Aurora engines only"},
		{"snapshot_arn with clone", one("shop", func(d map[string]any) {
			d["source_mode"], d["snapshot_arn"] = "clone", "arn:aws:rds:ap-northeast-1:123456789012:cluster-snapshot:shop-x"
		}), "snapshot_type, snapshot_arn and manual_snapshot_names are for source_mode = snapshot only"},
		{"masking class valid", one("shop", func(d map[string]any) { d["masking_instance_class"] = "db.r6g.4xlarge" }), ""},
		{"masking class not a class", one("shop", func(d map[string]any) { d["masking_instance_class"] = "r6g.4xlarge" }), "masking_instance_class must be a provisioned RDS instance class"},
		{"masking class on serverless", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"], d["masking_instance_class"] = "db.serverless", 0.5, 8, "db.r6g.4xlarge"
		}), "masking_instance_class must be a provisioned RDS instance class"},
		{"masking ACU valid", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"], d["masking_max_acu"] = "db.serverless", 0.5, 8, 32
		}), ""},
		{"masking ACU below staging", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"], d["masking_max_acu"] = "db.serverless", 0.5, 8, 4
		}), "masking_max_acu is for instance_class"},
		{"masking ACU on a provisioned class", one("shop", func(d map[string]any) { d["masking_max_acu"] = 32 }), "masking_max_acu is for instance_class"},
		{"unknown engine", one("shop", func(d map[string]any) { d["engine"] = "oracle-ee" }), "engine must be one of aurora-mysql, aurora-postgresql, mysql, postgres, mariadb"},
		{"schedule in words", one("shop", func(d map[string]any) { d["schedule_expression"] = "daily at 03:00" }), "schedule_expression must be cron("},
		{"cron with 5 fields", one("shop", func(d map[string]any) { d["schedule_expression"] = "cron(0 3 * * *)" }), "schedule_expression must be cron("},
		{"rate without unit", one("shop", func(d map[string]any) { d["schedule_expression"] = "rate(1)" }), "schedule_expression must be cron("},
		{"cpu/memory pair", map[string]any{"databases": one("shop", nil)["databases"], "cpu": 1024, "memory": 1024}, "cpu/memory is not a valid Fargate pair"},
		{"cpu not Fargate", map[string]any{"databases": one("shop", nil)["databases"], "cpu": 1000, "memory": 2048}, "cpu must be one of 256"},
		{"target with underscore", one("shop_db", nil), "database keys (target names) must be lower-case letters"},
		{"target with capitals", one("Shop", nil), "database keys (target names) must be lower-case letters"},
		{"target with double hyphen", one("shop--db", nil), "database keys (target names) must be lower-case letters"},
		{"target ending in hyphen", one("shop-", nil), "database keys (target names) must be lower-case letters"},
		{"target starting with digit", one("1shop", nil), "database keys (target names) must be lower-case letters"},
		{"target too long for RDS", one(strings.Repeat("a", 43), nil), "database keys (target names) must be lower-case letters"},
		{"valid adopt", one("shop", adopt("staging-shop-handmade", "staging-shop-handmade-1")), ""},
		{"adopt the source", one("shop", adopt("shop-prod", "staging-shop-handmade-1")), adoptNotProduction},
		{"adopt a production instance", one("shop", func(d map[string]any) {
			d["production_arns"] = []string{"arn:aws:rds:ap-northeast-1:123456789012:db:shop-prod-instance-1"}
			adopt("staging-shop-handmade", "shop-prod-instance-1")(d)
		}), adoptNotProduction},
		{"adopt another database's source", map[string]any{"databases": map[string]any{
			"shop": db(adopt("billing-prod", "billing-prod-instance-1")),
			"billing": db(func(d map[string]any) {
				d["engine"], d["source_id"], d["dns_name"] = "aurora-postgresql", "billing-prod", "billing-db.staging.example.com"
			}),
		}}, adoptNotProduction},
		{"adopt a restage database", one("shop", adopt("restage-shop-202501010300", "restage-shop-202501010300-1")), adoptNotProduction},
		{"adopt a cluster without instances", one("shop", adopt("staging-shop-handmade")), "adopt: an Aurora cluster needs instance_ids"},
		{"adopt an instance with instances", one("legacy", func(d map[string]any) {
			d["engine"], d["source_id"] = "mysql", "legacy-prod"
			adopt("staging-legacy-handmade", "staging-legacy-handmade-1")(d)
		}), "adopt: an Aurora cluster needs instance_ids"},
		{"adopt with capitals", one("shop", adopt("Staging-Shop", "staging-shop-1")), "adopt: id and instance_ids must be RDS identifiers"},

		// Secrets never in plain environment.
		{"masking key in environment", with(one("shop", nil), "environment", map[string]any{"RESTAGE_MASK_KEY": "k"}), noSecrets},
		{"password in environment", with(one("shop", nil), "environment", map[string]any{"RESTAGE_STAGING_USER_APP_PASSWORD": "p"}), noSecrets},
		{"lower-case token in environment", with(one("shop", nil), "environment", map[string]any{"restage_slack_token": "t"}), noSecrets},
		{"webhook in a database's environment", one("shop", func(d map[string]any) {
			d["environment"] = map[string]any{"RESTAGE_SLACK_WEBHOOK_URL": "https://hooks"}
		}), "databases[*]." + noSecrets},
		{"master password in a database's environment", one("shop", func(d map[string]any) { d["environment"] = map[string]any{"RESTAGE_MASTER_PASSWORD": "random"} }), "databases[*]." + noSecrets},
		{"harmless environment", with(one("shop", nil), "environment", map[string]any{"RESTAGE_WORKERS": "4"}), ""},

		// Explicit parameter groups.
		{"no db parameter group", one("shop", func(d map[string]any) { delete(d, "db_parameter_group") }), `attribute "db_parameter_group" is required`},
		{"empty db parameter group", one("shop", func(d map[string]any) { d["db_parameter_group"] = " " }), groups},
		{"Aurora without cluster parameter group", one("shop", func(d map[string]any) { delete(d, "cluster_parameter_group") }), groups},
		{"instance with a cluster parameter group", one("legacy", func(d map[string]any) { instance(d); d["cluster_parameter_group"] = "x" }), "cluster_parameter_group is for Aurora engines only"},
		{"valid instance", one("legacy", instance), ""},

		// Serverless v2 scaling.
		{"valid serverless", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"] = "db.serverless", 0.5, 8
		}), ""},
		{"serverless without scaling", one("shop", func(d map[string]any) { d["instance_class"] = "db.serverless" }), acu},
		{"serverless with min only", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"] = "db.serverless", 1
		}), acu},
		{"serverless min above max", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"] = "db.serverless", 4, 2
		}), acu},
		{"serverless in 0.25 steps", one("shop", func(d map[string]any) {
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"] = "db.serverless", 0.25, 2
		}), acu},
		{"scaling on a provisioned class", one("shop", func(d map[string]any) { d["serverless_min_acu"], d["serverless_max_acu"] = 1, 2 }), acu},
		{"serverless RDS instance", one("legacy", func(d map[string]any) {
			instance(d)
			d["instance_class"], d["serverless_min_acu"], d["serverless_max_acu"] = "db.serverless", 1, 2
		}), acu},

		// Manual snapshots bound by name.
		{"manual snapshot names", one("shop", func(d map[string]any) {
			d["snapshot_type"], d["manual_snapshot_names"] = "manual", []string{"shop-prod-nightly-*"}
		}), ""},
		{"manual snapshot names any", one("shop", func(d map[string]any) {
			d["snapshot_type"], d["manual_snapshot_names"] = "manual", []string{"*"}
		}), "manual_snapshot_names is for snapshot_type = manual only"},
		{"manual snapshot names on automated", one("shop", func(d map[string]any) { d["manual_snapshot_names"] = []string{"shop-prod-*"} }), "manual_snapshot_names is for snapshot_type = manual only"},

		// Staleness alarm and rules writers.
		{"staleness of one hour", with(one("shop", nil), "staleness_alarm_hours", 1), "staleness_alarm_hours must be a whole number of hours from 2 to 168"},
		{"staleness over a week", with(one("shop", nil), "staleness_alarm_hours", 169), "staleness_alarm_hours must be a whole number of hours from 2 to 168"},
		{"staleness in fractions", with(one("shop", nil), "staleness_alarm_hours", 1.5), "staleness_alarm_hours must be a whole number of hours from 2 to 168"},
		{"valid staleness", with(one("shop", nil), "staleness_alarm_hours", 24), ""},
		{"no rules writer", with(one("shop", nil), "rules_writer_arns", []string{}), "rules_writer_arns must list at least one IAM role or user ARN"},
		{"wildcard rules writer", with(one("shop", nil), "rules_writer_arns", []string{"arn:aws:iam::123456789012:role/*"}), "rules_writer_arns must list at least one IAM role or user ARN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			varFile := filepath.Join(t.TempDir(), "vars.tfvars.json")
			if err := os.WriteFile(varFile, b, 0o644); err != nil {
				t.Fatal(err)
			}
			o := *opts
			o.VarFiles = []string{varFile}
			out, err := terraform.PlanE(t, &o) // -lock=false: parallel plans share the directory
			if tc.want == "" {
				if err != nil {
					t.Fatalf("valid input failed to plan: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("plan succeeded, want the validation error %q", tc.want)
			}
			msg := oneLine(out + " " + err.Error())
			// A validation fails with "Invalid value for variable", a
			// missing required attribute with "… for input variable".
			if !strings.Contains(msg, "Invalid value for variable") && !strings.Contains(msg, "Invalid value for input variable") || !strings.Contains(msg, tc.want) {
				t.Errorf("plan failed without the validation message %q:\n%s", tc.want, msg)
			}
		})
	}
}

// TestReadme: the module README documents every input and output.
func TestReadme(t *testing.T) {
	root := repoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "terraform", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for file, kind := range map[string]string{"variables.tf": "variable", "outputs.tf": "output"} {
		src, err := os.ReadFile(filepath.Join(root, "terraform", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^`+kind+` "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
			if !strings.Contains(string(readme), "| `"+m[1]+"` |") {
				t.Errorf("terraform/README.md has no table row for %s %s", kind, m[1])
			}
		}
	}
}
