package terraform_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/restage/restage/internal/awsiam"
	"github.com/restage/restage/internal/rds"
)

// What terraform/examples/complete declares; the plan must match it.
const (
	exAccount = "123456789012"
	exRegion  = "ap-northeast-1"
	exZone    = "Z0123456789ABCDEFGHIJ"
	exBucket  = "restage-rules-123456789012-ap-northeast-1"
	exSM      = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret"
	exRDS     = "arn:aws:rds:ap-northeast-1:123456789012"
	exKMS     = "arn:aws:kms:ap-northeast-1:123456789012:key"
)

var exSubnets = []string{"subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"}

type exampleDB struct {
	engine     string
	sourceARN  string   // the production source
	production []string // every ARN the Deny must cover
	dns        string
	enabled    bool
	kms        []string
	users      map[string]string // user => secret ARN
	rules      string            // repo-relative rules file
	adoptID    string            // RESTAGE_ADOPT ("" = no adopt)
	adopt      []string          // ARNs the adopt statement may modify/delete
}

var example = map[string]exampleDB{
	"shop": {
		engine:     "aurora-mysql",
		sourceARN:  exRDS + ":cluster:shop-prod",
		production: []string{exRDS + ":cluster:shop-prod", exRDS + ":db:shop-prod-instance-1", exRDS + ":db:shop-prod-instance-2"},
		dns:        "shop-db.staging.example.com",
		enabled:    true,
		kms:        []string{exKMS + "/1111aaaa-2222-bbbb-3333-cccc4444dddd"},
		users:      map[string]string{"app": exSM + ":staging/shop/app-MnOpQr", "readonly": exSM + ":staging/shop/readonly-StUvWx"},
		rules:      "examples/rules/sakila-mysql.yaml",
		adoptID:    "staging-shop-handmade",
		adopt:      []string{exRDS + ":cluster:staging-shop-handmade", exRDS + ":db:staging-shop-handmade-1"},
	},
	"billing": {
		engine:     "aurora-postgresql",
		sourceARN:  exRDS + ":cluster:billing-prod",
		production: []string{exRDS + ":cluster:billing-prod"},
		dns:        "billing-db.staging.example.com",
		enabled:    true,
		users:      map[string]string{"app": exSM + ":staging/billing/app-YzAbCd"},
		rules:      "examples/rules/sakila-postgres.yaml",
	},
	"legacy": {
		engine:     "mysql",
		sourceARN:  exRDS + ":db:legacy-prod",
		production: []string{exRDS + ":db:legacy-prod"},
		dns:        "legacy-db.staging.example.com",
		enabled:    false,
		kms:        []string{exKMS + "/5555eeee-6666-ffff-7777-aaaa8888bbbb"},
		rules:      "examples/rules/sakila-mysql.yaml",
	},
}

var (
	exMaskKey = exSM + ":restage/mask-key-AbCdEf"
	exSlack   = exSM + ":restage/slack-webhook-GhIjKl"
)

// Security groups given through an override file in TestExamplePlanKnownValues.
const (
	knownTaskSG = "sg-0task000000000001"
	knownDBSG   = "sg-0restoreddb000001"
)

// TestExamplePlan plans examples/complete as written (the module creates
// its security groups, so their ids and everything built from them are
// unknown until apply) and inspects the JSON plan.
func TestExamplePlan(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "terraform/examples/complete")
	p := planJSON(t, options(t, dir))

	t.Run("schedules", func(t *testing.T) { checkSchedules(t, p) })
	t.Run("task definitions", func(t *testing.T) { checkTaskDefinitions(t, p, false) })
	t.Run("environment", func(t *testing.T) { checkEnvironment(t, p) })
	t.Run("rules objects", func(t *testing.T) { checkRulesObjects(t, p) })
	t.Run("task role", func(t *testing.T) { checkTaskRoles(t, p) })
	t.Run("no broad grants", func(t *testing.T) { checkNoBroadGrants(t, p) })
	t.Run("scheduler role", func(t *testing.T) { checkSchedulerRole(t, p) })
	t.Run("execution role", func(t *testing.T) { checkExecutionRoles(t, p) })
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, p) })
	t.Run("security groups", func(t *testing.T) { checkSecurityGroups(t, p) })
}

// TestExamplePlanKnownValues plans the example with existing security
// groups (an override file), so the container definitions and the manual
// run commands are known at plan time and can be read here. The
// module-created case is covered after apply by terraform/tests (mock
// provider), run in TestModuleTerraformTest.
func TestExamplePlanKnownValues(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "terraform/examples/complete")
	override := fmt.Sprintf(`module "restage" {
  task_security_group_id        = %q
  restored_db_security_group_id = %q
}
`, knownTaskSG, knownDBSG)
	if err := os.WriteFile(filepath.Join(dir, "known_security_groups_override.tf"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	p := planJSON(t, options(t, dir))

	t.Run("task definitions", func(t *testing.T) { checkTaskDefinitions(t, p, true) })
	t.Run("manual run commands", func(t *testing.T) { checkManualRunCommands(t, p) })
	if n := len(p.resources("aws_security_group", "task")) + len(p.resources("aws_security_group", "restored_db")); n != 0 {
		t.Errorf("existing security groups given, but the plan creates %d", n)
	}
}

func checkSchedules(t *testing.T, p *plan) {
	schedules := p.resources("aws_scheduler_schedule", "this")
	if got, want := sortedKeys(schedules), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("schedules for %v, want one per database %v", got, want)
	}
	for target, rc := range schedules {
		a := rc.Change.After
		want := "ENABLED"
		if !example[target].enabled {
			want = "DISABLED"
		}
		if got := str(a, "state"); got != want {
			t.Errorf("%s: state %q, want %q", target, got, want)
		}
		if got := str(a, "name"); got != "restage-"+target {
			t.Errorf("%s: name %q", target, got)
		}
		if !strings.HasPrefix(str(a, "schedule_expression"), "cron(") || str(a, "schedule_expression_timezone") != "Asia/Tokyo" {
			t.Errorf("%s: expression %q in %q", target, str(a, "schedule_expression"), str(a, "schedule_expression_timezone"))
		}
		tg := block(a, "target")
		var input struct {
			ContainerOverrides []struct {
				Name        string
				Environment []struct{ Name, Value string }
			} `json:"containerOverrides"`
		}
		if err := json.Unmarshal([]byte(str(tg, "input")), &input); err != nil {
			t.Errorf("%s: target.input is not RunTask overrides JSON: %v", target, err)
		} else if len(input.ContainerOverrides) != 1 || input.ContainerOverrides[0].Name != "restage" ||
			!slices.Contains(input.ContainerOverrides[0].Environment, struct{ Name, Value string }{"RESTAGE_RUN_REASON", "scheduled"}) {
			t.Errorf("%s: target.input %s, want the restage container with RESTAGE_RUN_REASON=scheduled", target, str(tg, "input"))
		}
		ecs := block(tg, "ecs_parameters")
		if str(ecs, "launch_type") != "FARGATE" {
			t.Errorf("%s: launch type %q", target, str(ecs, "launch_type"))
		}
		net := block(ecs, "network_configuration")
		if !sameSet(stringList(net["subnets"]), exSubnets) || net["assign_public_ip"] != false {
			t.Errorf("%s: network %v, want the example subnets without public IP", target, net)
		}
		retry := block(tg, "retry_policy")
		if retry == nil || retry["maximum_retry_attempts"] == nil {
			t.Errorf("%s: no retry policy", target)
		}
		if block(tg, "dead_letter_config") == nil {
			t.Errorf("%s: no dead-letter queue", target)
		}
	}
}

// containerDef is the part of an ECS container definition the tests read.
type containerDef struct {
	Name        string
	Image       string
	Command     []string
	Environment []struct{ Name, Value string }
	Secrets     []struct {
		Name      string
		ValueFrom string `json:"valueFrom"`
	}
	StopTimeout      int `json:"stopTimeout"`
	LogConfiguration struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

func checkTaskDefinitions(t *testing.T, p *plan, known bool) {
	tds := p.resources("aws_ecs_task_definition", "this")
	if got, want := sortedKeys(tds), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("task definitions for %v, want one per database %v", got, want)
	}
	env := outputMap(t, p, "environment")
	for target, rc := range tds {
		a := rc.Change.After
		if str(a, "family") != "restage-"+target || str(a, "network_mode") != "awsvpc" || !slices.Equal(stringList(a["requires_compatibilities"]), []string{"FARGATE"}) {
			t.Errorf("%s: family %q, network mode %q, compatibilities %v", target, str(a, "family"), str(a, "network_mode"), a["requires_compatibilities"])
		}
		if rp := block(a, "runtime_platform"); str(rp, "cpu_architecture") != "ARM64" {
			t.Errorf("%s: runtime platform %v, want ARM64", target, rp)
		}
		if !known {
			continue
		}
		var defs []containerDef
		if err := json.Unmarshal([]byte(str(a, "container_definitions")), &defs); err != nil || len(defs) != 1 {
			t.Fatalf("%s: container definitions %q: %v", target, str(a, "container_definitions"), err)
		}
		c := defs[0]
		gotEnv := map[string]string{}
		for _, e := range c.Environment {
			gotEnv[e.Name] = e.Value
		}
		wantEnv := map[string]string{}
		for k, v := range env[target].(map[string]any) {
			wantEnv[k], _ = v.(string)
		}
		if !mapsEqual(gotEnv, wantEnv) {
			t.Errorf("%s: container environment\n got %v\nwant %v", target, gotEnv, wantEnv)
		}
		if gotEnv["RESTAGE_TARGET"] != target || gotEnv["RESTAGE_SECURITY_GROUP_IDS"] != knownDBSG {
			t.Errorf("%s: RESTAGE_TARGET %q, RESTAGE_SECURITY_GROUP_IDS %q", target, gotEnv["RESTAGE_TARGET"], gotEnv["RESTAGE_SECURITY_GROUP_IDS"])
		}
		gotSecrets := map[string]string{}
		for _, s := range c.Secrets {
			gotSecrets[s.Name] = s.ValueFrom
		}
		wantSecrets := map[string]string{"RESTAGE_MASK_KEY": exMaskKey, "RESTAGE_SLACK_WEBHOOK_URL": exSlack}
		for u, arn := range example[target].users {
			wantSecrets["RESTAGE_STAGING_USER_"+strings.ToUpper(u)+"_PASSWORD"] = arn
		}
		if !mapsEqual(gotSecrets, wantSecrets) {
			t.Errorf("%s: secrets\n got %v\nwant %v", target, gotSecrets, wantSecrets)
		}
		for name := range gotEnv {
			// RESTAGE_MASTER_PASSWORD is a mode (managed|random), not a password.
			secretName := strings.HasSuffix(name, "_PASSWORD") && name != "RESTAGE_MASTER_PASSWORD"
			if _, dup := gotSecrets[name]; dup || secretName || name == "RESTAGE_MASK_KEY" || name == "RESTAGE_SLACK_TOKEN" || name == "RESTAGE_SLACK_WEBHOOK_URL" {
				t.Errorf("%s: secret %s passed as a plain environment variable", target, name)
			}
		}
		if c.Name != "restage" || c.StopTimeout != 120 || !slices.Equal(c.Command, []string{"run"}) {
			t.Errorf("%s: container %q, stopTimeout %d, command %v; want restage, 120, [run]", target, c.Name, c.StopTimeout, c.Command)
		}
		if c.LogConfiguration.LogDriver != "awslogs" || c.LogConfiguration.Options["awslogs-group"] != "/ecs/restage" || c.LogConfiguration.Options["awslogs-stream-prefix"] != target {
			t.Errorf("%s: log configuration %+v", target, c.LogConfiguration)
		}
	}
}

// contract holds the variables docs/aws-config.md names, and the prefixes
// it names as families (RESTAGE_SLACK_*).
type contract struct {
	names    map[string]bool
	prefixes []string
}

func (c contract) has(name string) bool {
	if c.names[name] {
		return true
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func readContract(t *testing.T) contract {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "aws-config.md"))
	if err != nil {
		t.Fatal(err)
	}
	c := contract{names: map[string]bool{}}
	for _, m := range regexp.MustCompile(`RESTAGE_[A-Z0-9_]*[A-Z0-9](_\*)?`).FindAllString(string(b), -1) {
		if p, ok := strings.CutSuffix(m, "*"); ok {
			c.prefixes = append(c.prefixes, p)
		} else {
			c.names[m] = true
		}
	}
	return c
}

func checkEnvironment(t *testing.T, p *plan) {
	env := outputMap(t, p, "environment")
	unknown, _ := p.OutputChanges["environment"].AfterUnknown.(map[string]any)
	contract := readContract(t)
	required := []string{
		"RESTAGE_PROVIDER", "RESTAGE_TARGET", "RESTAGE_AWS_REGION", "RESTAGE_ENGINE", "RESTAGE_SOURCE_ID",
		"RESTAGE_SOURCE_ARN", "RESTAGE_SNAPSHOT_TYPE", "RESTAGE_DB_NAME", "RESTAGE_SUBNET_GROUP",
		"RESTAGE_SECURITY_GROUP_IDS", "RESTAGE_INSTANCE_CLASS", "RESTAGE_MASTER_PASSWORD", "RESTAGE_DNS_NAME",
		"RESTAGE_HOSTED_ZONE_ID", "RESTAGE_DNS_TTL", "RESTAGE_LOCK_TABLE", "RESTAGE_RULES",
	}
	for target, db := range example {
		e, _ := env[target].(map[string]any)
		u, _ := unknown[target].(map[string]any)
		for _, name := range required {
			if _, ok := e[name]; !ok && u[name] != true {
				t.Errorf("%s: %s not set", target, name)
			}
		}
		for name := range e {
			if !contract.has(name) {
				t.Errorf("%s: %s is not in the contract (docs/aws-config.md)", target, name)
			}
		}
		want := map[string]string{
			"RESTAGE_PROVIDER":       "aws",
			"RESTAGE_TARGET":         target,
			"RESTAGE_AWS_REGION":     exRegion,
			"RESTAGE_ENGINE":         db.engine,
			"RESTAGE_SOURCE_ARN":     db.sourceARN,
			"RESTAGE_DNS_NAME":       db.dns,
			"RESTAGE_HOSTED_ZONE_ID": exZone,
			"RESTAGE_LOCK_TABLE":     "restage-locks",
			"RESTAGE_RULES":          "s3://" + exBucket + "/rules/" + target + ".yaml",
		}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("%s: %s = %v, want %q", target, k, e[k], v)
			}
		}
		if got, ok := e["RESTAGE_ADOPT"]; db.adoptID == "" && ok || db.adoptID != "" && got != db.adoptID {
			t.Errorf("%s: RESTAGE_ADOPT = %v, want %q (unset when empty)", target, got, db.adoptID)
		}
	}
}

func checkRulesObjects(t *testing.T, p *plan) {
	objs := p.resources("aws_s3_object", "rules")
	if got, want := sortedKeys(objs), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("rules objects for %v, want %v", got, want)
	}
	for target, rc := range objs {
		want, err := os.ReadFile(filepath.Join(repoRoot(t), example[target].rules))
		if err != nil {
			t.Fatal(err)
		}
		a := rc.Change.After
		if str(a, "key") != "rules/"+target+".yaml" || str(a, "bucket") != exBucket && a["bucket"] != nil {
			t.Errorf("%s: object %s/%s", target, str(a, "bucket"), str(a, "key"))
		}
		if str(a, "content") != string(want) {
			t.Errorf("%s: object content differs from %s", target, example[target].rules)
		}
	}
}

func checkTaskRoles(t *testing.T, p *plan) {
	policies := p.resources("aws_iam_role_policy", "task")
	if got, want := sortedKeys(policies), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("task role policies for %v, want one per database %v", got, want)
	}
	scopeOf := map[string]awsiam.Scope{}
	for _, a := range awsiam.Actions {
		scopeOf[a.Name] = a.Scope
	}
	var union []string
	for target, rc := range policies {
		db := example[target]
		doc := parsePolicy(t, target, str(rc.Change.After, "policy"))
		restage := []string{exRDS + ":cluster:restage-" + target + "-*", exRDS + ":db:restage-" + target + "-*"}
		requestTags := map[string][]string{"aws:RequestTag/restage:managed": {"true"}, "aws:RequestTag/restage:target": {target}}
		resourceTags := map[string][]string{"aws:ResourceTag/restage:managed": {"true"}, "aws:ResourceTag/restage:target": {target}}
		finalSnapshots := []string{exRDS + ":cluster-snapshot:restage-" + target + "-*-final", exRDS + ":snapshot:restage-" + target + "-*-final"}
		snapshotActions := []string{"rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"}
		// Each final-snapshot action must be granted on both sides: on the
		// DB (restage's tagged ones) and on the new <id>-final snapshot.
		finalOnDB, finalOnSnapshot := map[string]bool{}, map[string]bool{}

		var allowed []string
		var denies []statement
		var adopts, adoptSnapshots int
		var tagOnCreate, tagState bool
		for _, s := range doc.Statement {
			if len(s.NotAction) > 0 {
				t.Errorf("%s %s: NotAction is not least privilege", target, s.Sid)
			}
			if s.Effect == "Deny" {
				denies = append(denies, s)
				continue
			}
			allowed = append(allowed, s.Action...)
			for _, r := range s.Resource {
				for _, prod := range db.production {
					if r == prod || strings.HasPrefix(prod, strings.TrimSuffix(r, "*")) && strings.HasSuffix(r, "*") && r != "*" {
						t.Errorf("%s %s: allows %v on production %s", target, s.Sid, s.Action, prod)
					}
				}
			}
			if s.Sid == "RetireAdoptedDatabase" {
				// The one grant on a database without restage's tags: exactly
				// the adopted cluster/instances, exactly retire's actions.
				adopts++
				want := []string{"rds:DeleteDBCluster", "rds:DeleteDBInstance", "rds:ModifyDBCluster", "rds:ModifyDBInstance"}
				if len(db.adopt) == 0 {
					t.Errorf("%s: adopt statement %v on %v, but the database adopts nothing", target, s.Action, s.Resource)
				} else if !sameSet(s.Action, want) || len(s.Action) != len(want) || !sameSet(s.Resource, db.adopt) || len(s.Resource) != len(db.adopt) {
					t.Errorf("%s %s: %v on %v, want exactly %v on %v", target, s.Sid, s.Action, s.Resource, want, db.adopt)
				}
				continue
			}
			if s.Sid == "FinalSnapshotOfAdoptedDatabase" {
				// The adopted cluster/instance itself (not its Aurora
				// members: they take no snapshot) and exactly its
				// <id>-final snapshot, no more.
				adoptSnapshots++
				var want []string
				if len(db.adopt) > 0 {
					kind := "snapshot"
					if strings.HasPrefix(db.engine, "aurora-") {
						kind = "cluster-snapshot"
					}
					want = []string{db.adopt[0], exRDS + ":" + kind + ":" + db.adoptID + "-final"}
				}
				if len(db.adopt) == 0 {
					t.Errorf("%s: adopt final-snapshot statement %v on %v, but the database adopts nothing", target, s.Action, s.Resource)
				} else if !sameSet(s.Action, snapshotActions) || len(s.Action) != len(snapshotActions) || !sameSet(s.Resource, want) || len(s.Resource) != len(want) || len(s.Condition) != 0 {
					t.Errorf("%s %s: %v on %v (conditions %v), want exactly %v on %v", target, s.Sid, s.Action, s.Resource, s.Condition, snapshotActions, want)
				}
				continue
			}
			for _, action := range s.Action {
				switch scopeOf[action] {
				case awsiam.FinalSnapshot:
					// Either side of the final snapshot, never both in one
					// statement: the new snapshot has no tags, so a tag
					// condition there would deny it, and no condition on
					// the DB side would reach any DB.
					switch {
					case sameSet(s.Resource, restage) && len(s.Resource) == len(restage):
						for k, v := range resourceTags {
							if !slices.Equal(s.cond("StringEquals", k), v) {
								t.Errorf("%s %s: %s without StringEquals %s = %v", target, s.Sid, action, k, v)
							}
						}
						finalOnDB[action] = true
					case sameSet(s.Resource, finalSnapshots) && len(s.Resource) == len(finalSnapshots):
						if len(s.Condition) != 0 {
							t.Errorf("%s %s: %s on the new snapshots with conditions %v: it carries no tags", target, s.Sid, action, s.Condition)
						}
						finalOnSnapshot[action] = true
					default:
						t.Errorf("%s %s: %s on %v, want either %v (tagged) or %v", target, s.Sid, action, s.Resource, restage, finalSnapshots)
					}
				case awsiam.Create:
					for _, r := range s.Resource {
						if !slices.Contains(restage, r) && regexp.MustCompile(`:rds:[^:]+:[^:]+:(cluster|db):`).MatchString(r) {
							t.Errorf("%s %s: %s may create %s, want only %v", target, s.Sid, action, r, restage)
						}
					}
					for k, v := range requestTags {
						if !slices.Equal(s.cond("StringEquals", k), v) {
							t.Errorf("%s %s: %s without StringEquals %s = %v", target, s.Sid, action, k, v)
						}
					}
				case awsiam.Tag:
					// Either at create (the restage request tags) or on
					// restage's own DBs of this target, restage:state only.
					if !sameSet(s.Resource, restage) {
						t.Errorf("%s %s: %s on %v, want only %v", target, s.Sid, action, s.Resource, restage)
					}
					hasAll := func(tags map[string][]string) bool {
						for k, v := range tags {
							if !slices.Equal(s.cond("StringEquals", k), v) {
								return false
							}
						}
						return true
					}
					switch keys := s.cond("ForAllValues:StringEquals", "aws:TagKeys"); {
					case hasAll(requestTags):
						tagOnCreate = true
					case hasAll(resourceTags) && slices.Equal(keys, []string{rds.TagState}):
						tagState = true
					default:
						t.Errorf("%s %s: %s with conditions %v: want the restage request tags, or restage's resource tags and aws:TagKeys [%s]", target, s.Sid, action, s.Condition, rds.TagState)
					}
				case awsiam.ManagedSecrets:
					if !slices.Equal(s.Resource, []string{exSM + ":rds!*"}) {
						t.Errorf("%s %s: %s on %v, want only the RDS-managed secrets %s", target, s.Sid, action, s.Resource, exSM+":rds!*")
					}
				case awsiam.Managed:
					if !sameSet(s.Resource, restage) {
						t.Errorf("%s %s: %s on %v, want %v", target, s.Sid, action, s.Resource, restage)
					}
					for k, v := range resourceTags {
						if !slices.Equal(s.cond("StringEquals", k), v) {
							t.Errorf("%s %s: %s without StringEquals %s = %v", target, s.Sid, action, k, v)
						}
					}
				case awsiam.DNS:
					if action == "route53:GetChange" {
						continue
					}
					if !slices.Equal(s.Resource, []string{"arn:aws:route53:::hostedzone/" + exZone}) {
						t.Errorf("%s %s: %s on %v, want the staging zone only", target, s.Sid, action, s.Resource)
					}
					if action == "route53:ChangeResourceRecordSets" {
						names := s.cond("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsNormalizedRecordNames")
						if !slices.Equal(names, []string{db.dns}) {
							t.Errorf("%s %s: record names %v, want exactly [%s]", target, s.Sid, names, db.dns)
						}
					}
				case awsiam.Lock:
					if !slices.Equal(s.Resource, []string{"arn:aws:dynamodb:" + exRegion + ":" + exAccount + ":table/restage-locks"}) {
						t.Errorf("%s %s: %s on %v", target, s.Sid, action, s.Resource)
					}
					if keys := s.Condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]; !slices.Equal([]string(keys), []string{target}) {
						t.Errorf("%s %s: %s not limited to the target's lock item (LeadingKeys %v)", target, s.Sid, action, keys)
					}
				case awsiam.KMS:
					if !sameSet(s.Resource, db.kms) {
						t.Errorf("%s %s: %s on %v, want the listed keys %v", target, s.Sid, action, s.Resource, db.kms)
					}
				case awsiam.Secrets:
					for _, r := range s.Resource {
						if !slices.Contains(mapValues(db.users), r) && !(strings.HasSuffix(r, ":secret:rds!*") && len(s.Condition["StringLike"]) == 1) {
							t.Errorf("%s %s: %s on %s: neither a listed secret nor an RDS-managed secret of restage-%s-*", target, s.Sid, action, r, target)
						}
					}
				case awsiam.Rules:
					if !slices.Equal(s.Resource, []string{"arn:aws:s3:::" + exBucket + "/rules/" + target + ".yaml"}) {
						t.Errorf("%s %s: %s on %v", target, s.Sid, action, s.Resource)
					}
				case awsiam.Describe:
				default:
					t.Errorf("%s %s: %s is not declared in internal/awsiam", target, s.Sid, action)
				}
			}
		}

		if !tagOnCreate || !tagState {
			t.Errorf("%s: rds:AddTagsToResource with request tags %v, on restage's tagged DBs %v; want both", target, tagOnCreate, tagState)
		}
		if want := min(len(db.adopt), 1); adopts != want || adoptSnapshots != want {
			t.Errorf("%s: %d adopt and %d adopt final-snapshot statements, want %d each", target, adopts, adoptSnapshots, want)
		}
		for _, a := range snapshotActions {
			if scopeOf[a] != awsiam.FinalSnapshot {
				t.Errorf("%s is not declared with scope %s in internal/awsiam", a, awsiam.FinalSnapshot)
			}
			if !finalOnDB[a] || !finalOnSnapshot[a] {
				t.Errorf("%s: %s on restage's tagged DBs %v, on the new %v %v; want both", target, a, finalOnDB[a], finalSnapshots, finalOnSnapshot[a])
			}
		}

		// The actions equal the declared list (KMS only where keys are listed).
		want := awsiam.Names()
		if len(db.kms) == 0 {
			want = slices.DeleteFunc(want, func(a string) bool { return scopeOf[a] == awsiam.KMS })
		}
		if !sameSet(allowed, want) {
			t.Errorf("%s: task role actions\n got %v\nwant %v (internal/awsiam)", target, sortedUnique(allowed), sortedUnique(want))
		}
		union = append(union, allowed...)

		// The production Deny.
		if len(denies) != 1 {
			t.Fatalf("%s: %d Deny statements, want the one production Deny", target, len(denies))
		}
		if d := denies[0]; !sameSet(d.Action, awsiam.ProductionDeny) || !sameSet(d.Resource, db.production) || len(d.Condition) != 0 {
			t.Errorf("%s: production Deny %v on %v (conditions %v), want %v on %v unconditionally", target, d.Action, d.Resource, d.Condition, awsiam.ProductionDeny, db.production)
		}
	}
	if !sameSet(union, awsiam.Names()) {
		t.Errorf("task roles together grant %v, want every declared action %v", sortedUnique(union), awsiam.Names())
	}
}

func checkNoBroadGrants(t *testing.T, p *plan) {
	for _, rc := range p.ResourceChanges {
		var doc string
		switch rc.Type {
		case "aws_iam_role_policy", "aws_iam_policy":
			doc = str(rc.Change.After, "policy")
		case "aws_iam_role_policy_attachment":
			if arn := str(rc.Change.After, "policy_arn"); strings.Contains(arn, "FullAccess") || strings.HasSuffix(arn, "/AdministratorAccess") || strings.HasSuffix(arn, "/PowerUserAccess") {
				t.Errorf("%s attaches %s", rc.Address, arn)
			}
			continue
		case "aws_iam_role":
			for _, arn := range stringList(rc.Change.After["managed_policy_arns"]) {
				t.Errorf("%s: managed policy %s attached", rc.Address, arn)
			}
			continue
		default:
			continue
		}
		for _, s := range parsePolicy(t, rc.Address, doc).Statement {
			if s.Effect != "Allow" {
				continue
			}
			for _, a := range s.Action {
				if strings.Contains(a, "*") || strings.Contains(a, "FullAccess") {
					t.Errorf("%s %s: wildcard action %s", rc.Address, s.Sid, a)
				}
			}
		}
	}
}

func checkSchedulerRole(t *testing.T, p *plan) {
	rc, ok := p.resources("aws_iam_role_policy", "scheduler")[""]
	if !ok {
		t.Fatal("no scheduler role policy")
	}
	var families, roles []string
	for target := range example {
		families = append(families, "arn:aws:ecs:"+exRegion+":"+exAccount+":task-definition/restage-"+target+":*")
	}
	for _, kind := range []string{"task", "execution"} {
		for target, r := range p.resources("aws_iam_role", kind) {
			roles = append(roles, "arn:aws:iam::"+exAccount+":role/"+str(r.Change.After, "name"))
			_ = target
		}
	}
	if len(roles) != 2*len(example) {
		t.Fatalf("%d task/execution roles, want %d", len(roles), 2*len(example))
	}
	for _, s := range parsePolicy(t, "scheduler", str(rc.Change.After, "policy")).Statement {
		switch {
		case slices.Equal(s.Action, []string{"ecs:RunTask"}):
			if !sameSet(s.Resource, families) {
				t.Errorf("RunTask on %v, want the task families %v", s.Resource, families)
			}
		case slices.Equal(s.Action, []string{"iam:PassRole"}):
			if !sameSet(s.Resource, roles) {
				t.Errorf("PassRole on %v, want exactly the task and execution roles %v", s.Resource, roles)
			}
			if got := s.cond("StringEquals", "iam:PassedToService"); !slices.Equal(got, []string{"ecs-tasks.amazonaws.com"}) {
				t.Errorf("PassRole to %v, want ecs-tasks.amazonaws.com only", got)
			}
		case slices.Equal(s.Action, []string{"sqs:SendMessage"}):
			if !slices.Equal(s.Resource, []string{"arn:aws:sqs:" + exRegion + ":" + exAccount + ":restage-scheduler-dlq"}) {
				t.Errorf("SendMessage on %v, want the dead-letter queue", s.Resource)
			}
		default:
			t.Errorf("scheduler role: unexpected statement %s %v", s.Sid, s.Action)
		}
	}
}

func checkExecutionRoles(t *testing.T, p *plan) {
	for target, rc := range p.resources("aws_iam_role_policy", "execution") {
		want := []string{exMaskKey, exSlack}
		want = append(want, mapValues(example[target].users)...)
		for _, s := range parsePolicy(t, target, str(rc.Change.After, "policy")).Statement {
			for _, a := range s.Action {
				switch {
				case a == "secretsmanager:GetSecretValue":
					if !sameSet(s.Resource, want) {
						t.Errorf("%s: execution role reads %v, want exactly %v", target, s.Resource, want)
					}
				case a == "ecr:GetAuthorizationToken":
				case strings.HasPrefix(a, "ecr:"):
					if !slices.Equal(s.Resource, []string{"arn:aws:ecr:" + exRegion + ":" + exAccount + ":repository/restage"}) {
						t.Errorf("%s: %s on %v", target, a, s.Resource)
					}
				case strings.HasPrefix(a, "logs:"):
					if !slices.Equal(s.Resource, []string{"arn:aws:logs:" + exRegion + ":" + exAccount + ":log-group:/ecs/restage:log-stream:*"}) {
						t.Errorf("%s: %s on %v", target, a, s.Resource)
					}
				default:
					t.Errorf("%s: unexpected execution role action %s", target, a)
				}
			}
		}
	}
}

func checkAlerts(t *testing.T, p *plan) {
	rule, ok := p.resources("aws_cloudwatch_event_rule", "task_failed")[""]
	if !ok {
		t.Fatal("no task-failed EventBridge rule")
	}
	var pattern struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			LastStatus []string         `json:"lastStatus"`
			Group      []string         `json:"group"`
			Or         []map[string]any `json:"$or"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(str(rule.Change.After, "event_pattern")), &pattern); err != nil {
		t.Fatalf("event pattern: %v", err)
	}
	var groups []string
	for target := range example {
		groups = append(groups, "family:restage-"+target)
	}
	orJSON, _ := json.Marshal(pattern.Detail.Or)
	if !slices.Equal(pattern.Source, []string{"aws.ecs"}) || !slices.Equal(pattern.DetailType, []string{"ECS Task State Change"}) ||
		!slices.Equal(pattern.Detail.LastStatus, []string{"STOPPED"}) || !sameSet(pattern.Detail.Group, groups) ||
		!strings.Contains(string(orJSON), `{"containers":{"exitCode":[{"anything-but":0}]}}`) ||
		!strings.Contains(string(orJSON), `{"stopCode":["TaskFailedToStart"]}`) {
		t.Errorf("event pattern %s: want STOPPED tasks of %v with a non-zero exit code or TaskFailedToStart", str(rule.Change.After, "event_pattern"), groups)
	}
	if len(p.resources("aws_cloudwatch_event_target", "task_failed")) != 1 {
		t.Error("the rule has no SNS target")
	}
	subs := p.resources("aws_sns_topic_subscription", "alerts")
	if s, ok := subs["email:ops@example.com"]; !ok || str(s.Change.After, "protocol") != "email" {
		t.Errorf("subscriptions %v, want the example's email", sortedKeys(subs))
	}
	alarm, ok := p.resources("aws_cloudwatch_metric_alarm", "dlq")[""]
	// The action is the topic's ARN, known after apply (asserted in terraform/tests).
	if !ok || str(alarm.Change.After, "namespace") != "AWS/SQS" || alarm.Change.AfterUnknown["alarm_actions"] != true {
		t.Error("no dead-letter queue alarm with an action")
	}
	lg, ok := p.resources("aws_cloudwatch_log_group", "this")[""]
	if !ok || lg.Change.After["retention_in_days"] != float64(90) {
		t.Errorf("log group retention %v, want 90", lg.Change.After["retention_in_days"])
	}
}

func checkSecurityGroups(t *testing.T, p *plan) {
	ingress := p.resources("aws_vpc_security_group_ingress_rule", "restored_db")
	want := []string{"task:3306", "task:5432", "sg-0cccccccccccccccc:3306", "sg-0cccccccccccccccc:5432"}
	if !sameSet(sortedKeys(ingress), want) {
		t.Errorf("restored-DB ingress %v, want %v", sortedKeys(ingress), want)
	}
	if e := p.resources("aws_vpc_security_group_egress_rule", "task_db"); !sameSet(sortedKeys(e), []string{"3306", "5432"}) {
		t.Errorf("task egress to databases on %v", sortedKeys(e))
	}
}

func checkManualRunCommands(t *testing.T, p *plan) {
	cmds := outputMap(t, p, "manual_run_commands")
	if got, want := sortedKeys(cmds), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("manual run commands for %v, want %v", got, want)
	}
	for target, v := range cmds {
		cmd, _ := v.(string)
		args, err := shellSplit(cmd)
		if err != nil {
			t.Errorf("%s: %v: %s", target, err, cmd)
			continue
		}
		if len(args) < 3 || args[0] != "aws" || args[1] != "ecs" || args[2] != "run-task" {
			t.Errorf("%s: %q is not an aws ecs run-task", target, cmd)
			continue
		}
		flags := map[string]string{}
		for i := 3; i < len(args); i += 2 {
			if !strings.HasPrefix(args[i], "--") || i+1 >= len(args) {
				t.Fatalf("%s: cannot read flag %q in %q", target, args[i], cmd)
			}
			flags[args[i]] = args[i+1]
		}
		for flag, want := range map[string]string{
			"--cluster":         "restage",
			"--task-definition": "restage-" + target,
			"--launch-type":     "FARGATE",
			"--region":          exRegion,
		} {
			if flags[flag] != want {
				t.Errorf("%s: %s %q, want %q", target, flag, flags[flag], want)
			}
		}
		var network struct {
			AwsvpcConfiguration struct {
				Subnets        []string `json:"subnets"`
				SecurityGroups []string `json:"securityGroups"`
				AssignPublicIP string   `json:"assignPublicIp"`
			} `json:"awsvpcConfiguration"`
		}
		if err := json.Unmarshal([]byte(flags["--network-configuration"]), &network); err != nil {
			t.Errorf("%s: --network-configuration: %v", target, err)
		}
		n := network.AwsvpcConfiguration
		if !slices.Equal(n.Subnets, exSubnets) || !slices.Equal(n.SecurityGroups, []string{knownTaskSG}) || n.AssignPublicIP != "DISABLED" {
			t.Errorf("%s: network configuration %+v", target, n)
		}
		var overrides struct {
			ContainerOverrides []struct {
				Name        string
				Environment []struct{ Name, Value string }
			} `json:"containerOverrides"`
		}
		if err := json.Unmarshal([]byte(flags["--overrides"]), &overrides); err != nil {
			t.Errorf("%s: --overrides: %v", target, err)
		}
		if len(overrides.ContainerOverrides) != 1 || overrides.ContainerOverrides[0].Name != "restage" ||
			!slices.Contains(overrides.ContainerOverrides[0].Environment, struct{ Name, Value string }{"RESTAGE_RUN_REASON", "manual"}) {
			t.Errorf("%s: overrides %s, want the restage container with RESTAGE_RUN_REASON=manual", target, flags["--overrides"])
		}
		// The family the command names is the planned task definition's.
		if td, ok := p.resources("aws_ecs_task_definition", "this")[target]; !ok || str(td.Change.After, "family") != flags["--task-definition"] {
			t.Errorf("%s: --task-definition %q is not the planned family", target, flags["--task-definition"])
		}
	}
}

// shellSplit splits a POSIX shell command line with single quotes (what
// the module emits) into words.
func shellSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case quoted:
			if r == '\'' {
				quoted = false
			} else {
				cur.WriteRune(r)
			}
		case r == '\'':
			quoted, inWord = true, true
		case r == '"' || r == '\\' || r == '$' || r == '`':
			return nil, fmt.Errorf("unquoted %q: the shell would interpret it", r)
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

func outputMap(t *testing.T, p *plan, name string) map[string]any {
	t.Helper()
	oc, ok := p.OutputChanges[name]
	if !ok {
		t.Fatalf("no output %s", name)
	}
	m, _ := oc.After.(map[string]any)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
