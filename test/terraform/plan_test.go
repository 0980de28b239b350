package terraform_test

import (
	"crypto/sha256"
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
	pg         string            // RESTAGE_DB_PARAMETER_GROUP
	clusterPG  string            // RESTAGE_CLUSTER_PARAMETER_GROUP ("" = unset)
	acu        [2]string         // RESTAGE_SERVERLESS_MIN_ACU / _MAX_ACU ("" = unset)
	mode       string            // RESTAGE_SOURCE_MODE
	maskClass  string            // RESTAGE_MASKING_INSTANCE_CLASS ("" = unset)
	maskACU    string            // RESTAGE_MASKING_MAX_ACU ("" = unset)
}

// pointInTime is the point-in-time restore of the DB's kind.
func (db exampleDB) pointInTime() string {
	if strings.HasPrefix(db.engine, "aurora-") {
		return "rds:RestoreDBClusterToPointInTime"
	}
	return "rds:RestoreDBInstanceToPointInTime"
}

// sourceID is the production identifier (the last ARN segment).
func (db exampleDB) sourceID() string {
	return db.sourceARN[strings.LastIndex(db.sourceARN, ":")+1:]
}

// snapshotKind is the RDS resource type of the DB's snapshots.
func (db exampleDB) snapshotKind() string {
	if strings.HasPrefix(db.engine, "aurora-") {
		return "cluster-snapshot"
	}
	return "snapshot"
}

// dbKind is the RDS resource type of the DB itself.
func (db exampleDB) dbKind() string {
	if strings.HasPrefix(db.engine, "aurora-") {
		return "cluster"
	}
	return "db"
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
		pg:         "shop-aurora-mysql8",
		clusterPG:  "shop-aurora-mysql8-cluster",
		mode:       "clone",
		maskClass:  "db.r6g.4xlarge",
	},
	"billing": {
		engine:     "aurora-postgresql",
		sourceARN:  exRDS + ":cluster:billing-prod",
		production: []string{exRDS + ":cluster:billing-prod"},
		dns:        "billing-db.staging.example.com",
		enabled:    true,
		users:      map[string]string{"app": exSM + ":staging/billing/app-YzAbCd"},
		rules:      "examples/rules/sakila-postgres.yaml",
		pg:         "billing-aurora-pg16",
		clusterPG:  "billing-aurora-pg16-cluster",
		acu:        [2]string{"0.5", "8"},
		mode:       "snapshot",
		maskACU:    "32",
	},
	"legacy": {
		engine:     "mysql",
		sourceARN:  exRDS + ":db:legacy-prod",
		production: []string{exRDS + ":db:legacy-prod"},
		dns:        "legacy-db.staging.example.com",
		enabled:    false,
		kms:        []string{exKMS + "/5555eeee-6666-ffff-7777-aaaa8888bbbb"},
		rules:      "examples/rules/sakila-mysql.yaml",
		pg:         "legacy-mysql80",
		mode:       "point_in_time",
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

// Per target: its own task group and its quarantine group (override file).
func knownTargetTaskSG(target string) string { return "sg-0" + target + "task" }
func knownQuarantineSG(target string) string { return "sg-0" + target + "quarantine" }

const exDeployer = "arn:aws:iam::123456789012:role/platform-deployer"

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
	t.Run("sweep after an abnormal stop", func(t *testing.T) { checkSweep(t, p) })
	t.Run("events role", func(t *testing.T) { checkEventsRole(t, p) })
	t.Run("staleness alarms", func(t *testing.T) { checkStalenessAlarms(t, p) })
	t.Run("dashboard", func(t *testing.T) { checkDashboard(t, p) })
	t.Run("slow-run alarms", func(t *testing.T) { checkSlowAlarms(t, p) })
	t.Run("rules bucket", func(t *testing.T) { checkRulesBucket(t, p) })
}

// TestExamplePlanKnownValues plans the example with existing security
// groups (an override file), so the container definitions and the manual
// run commands are known at plan time and can be read here. The
// module-created case is covered after apply by terraform/tests (mock
// provider), run in TestModuleTerraformTest.
func TestExamplePlanKnownValues(t *testing.T) {
	t.Parallel()
	dir := copyRoot(t, "terraform/examples/complete")
	var targetSGs, quarantineSGs []string
	for _, target := range sortedKeys(example) {
		targetSGs = append(targetSGs, fmt.Sprintf("%s = %q", target, knownTargetTaskSG(target)))
		quarantineSGs = append(quarantineSGs, fmt.Sprintf("%s = %q", target, knownQuarantineSG(target)))
	}
	override := fmt.Sprintf(`module "restage" {
  task_security_group_id         = %q
  restored_db_security_group_id  = %q
  target_task_security_group_ids = { %s }
  quarantine_security_group_ids  = { %s }
}
`, knownTaskSG, knownDBSG, strings.Join(targetSGs, ", "), strings.Join(quarantineSGs, ", "))
	if err := os.WriteFile(filepath.Join(dir, "known_security_groups_override.tf"), []byte(override), 0o644); err != nil {
		t.Fatal(err)
	}
	p := planJSON(t, options(t, dir))

	t.Run("task definitions", func(t *testing.T) { checkTaskDefinitions(t, p, true) })
	t.Run("manual run commands", func(t *testing.T) { checkManualRunCommands(t, p) })
	if n := len(p.resources("aws_security_group", "task")) + len(p.resources("aws_security_group", "restored_db")) +
		len(p.resources("aws_security_group", "target_task")) + len(p.resources("aws_security_group", "quarantine")); n != 0 {
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
		if got := str(ecs, "group"); got != "family:restage-"+target {
			t.Errorf("%s: task group %q, want family:restage-%s (the group the sweep rule watches)", target, got, target)
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
		if got := gotEnv["RESTAGE_QUARANTINE_SECURITY_GROUP_IDS"]; got != knownQuarantineSG(target) {
			t.Errorf("%s: RESTAGE_QUARANTINE_SECURITY_GROUP_IDS %q, want the target's own quarantine group %q", target, got, knownQuarantineSG(target))
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
		// The success metric is a log line: never dropped.
		if c.LogConfiguration.Options["mode"] != "blocking" {
			t.Errorf("%s: awslogs mode %q, want blocking", target, c.LogConfiguration.Options["mode"])
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
		"RESTAGE_QUARANTINE_SECURITY_GROUP_IDS", "RESTAGE_DB_PARAMETER_GROUP", "RESTAGE_TLS_CA_FILE",
		"RESTAGE_METRICS_NAMESPACE", "RESTAGE_RULES_SHA256", "RESTAGE_SOURCE_MODE",
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
			"RESTAGE_SOURCE_MODE":    db.mode,
		}
		for k, v := range want {
			if e[k] != v {
				t.Errorf("%s: %s = %v, want %q", target, k, e[k], v)
			}
		}
		if got, ok := e["RESTAGE_ADOPT"]; db.adoptID == "" && ok || db.adoptID != "" && got != db.adoptID {
			t.Errorf("%s: RESTAGE_ADOPT = %v, want %q (unset when empty)", target, got, db.adoptID)
		}
		rules, err := os.ReadFile(filepath.Join(repoRoot(t), db.rules))
		if err != nil {
			t.Fatal(err)
		}
		optional := map[string]string{
			"RESTAGE_DB_PARAMETER_GROUP":      db.pg,
			"RESTAGE_CLUSTER_PARAMETER_GROUP": db.clusterPG,
			"RESTAGE_SERVERLESS_MIN_ACU":      db.acu[0],
			"RESTAGE_SERVERLESS_MAX_ACU":      db.acu[1],
			"RESTAGE_MASKING_INSTANCE_CLASS":  db.maskClass,
			"RESTAGE_MASKING_MAX_ACU":         db.maskACU,
			"RESTAGE_TLS_CA_FILE":             "/etc/restage/rds-ca.pem",
			"RESTAGE_METRICS_NAMESPACE":       "restage",
			"RESTAGE_RULES_SHA256":            fmt.Sprintf("%x", sha256.Sum256(rules)),
		}
		for k, v := range optional {
			if got, ok := e[k]; v == "" && ok || v != "" && got != v {
				t.Errorf("%s: %s = %v, want %q (unset when empty)", target, k, got, v)
			}
		}
		// Nothing may turn on what would keep unmasked data outside the
		// copy (Performance Insights, enhanced monitoring, log exports) or
		// let logins in another way (IAM DB auth).
		for name := range e {
			if regexp.MustCompile(`PERFORMANCE_INSIGHTS|MONITORING|LOG_EXPORTS|IAM_AUTH|IAM_DATABASE`).MatchString(name) {
				t.Errorf("%s: %s set: the module must not enable it on the copy", target, name)
			}
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
	guardrails := p.resources("aws_iam_policy", "task_guardrails")
	if got, want := sortedKeys(guardrails), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("task guardrail policies for %v, want one per database %v", got, want)
	}
	if got, want := sortedKeys(p.resources("aws_iam_role_policy_attachment", "task_guardrails")), sortedKeys(example); !slices.Equal(got, want) {
		t.Fatalf("guardrail attachments for %v, want one per database %v", got, want)
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
		var adopts, adoptSnapshots, pitFromSource int
		var tagOnCreate, tagState bool
		guard := parsePolicy(t, target+" guardrails", str(guardrails[target].Change.After, "policy"))
		for _, s := range guard.Statement {
			if s.Effect != "Deny" {
				t.Errorf("%s guardrails %s: %s, want only Deny statements", target, s.Sid, s.Effect)
			}
		}
		// IAM's limit for all inline policies of a role together, without
		// whitespace: the guardrails are a managed policy for this reason.
		if n := len(compactJSON(t, str(rc.Change.After, "policy"))); n > 10240 {
			t.Errorf("%s: inline task policy is %d characters, IAM allows 10,240 per role", target, n)
		}
		if n := len(compactJSON(t, str(guardrails[target].Change.After, "policy"))); n > 6144 {
			t.Errorf("%s: guardrail policy is %d characters, IAM allows 6,144 per managed policy", target, n)
		}
		for _, s := range append(slices.Clone(doc.Statement), guard.Statement...) {
			if len(s.NotAction) > 0 {
				t.Errorf("%s %s: NotAction is not least privilege", target, s.Sid)
			}
			if s.Effect == "Deny" {
				denies = append(denies, s)
				continue
			}
			if strings.HasPrefix(s.Sid, "ManagedSecretsKey") {
				checkManagedSecretKey(t, target, s)
				allowed = append(allowed, s.Action...)
				continue
			}
			allowed = append(allowed, s.Action...)
			if s.Sid == "PointInTimeFromProductionSource" {
				// The one grant naming production: exactly the source
				// (never its members or other production ARNs), exactly
				// the restore of its kind, only into a tagged copy.
				pitFromSource++
				want := []string{db.sourceARN, exRDS + ":subgrp:staging-db", exRDS + ":pg:" + db.pg, exRDS + ":og:default:*"}
				if db.clusterPG != "" {
					want = append(want, exRDS+":cluster-pg:"+db.clusterPG)
				}
				if !slices.Equal(s.Action, []string{db.pointInTime()}) || !sameSet(s.Resource, want) || len(s.Resource) != len(want) ||
					len(s.Condition) != 1 || !slices.Equal(s.cond("StringEquals", "aws:RequestTag/restage:managed"), []string{"true"}) ||
					!slices.Equal(s.cond("StringEquals", "aws:RequestTag/restage:target"), []string{target}) {
					t.Errorf("%s %s: %v on %v (conditions %v), want exactly [%s] on %v with the restage request tags", target, s.Sid, s.Action, s.Resource, s.Condition, db.pointInTime(), want)
				}
				continue
			}
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
						// Only the source's automated snapshots, by their
						// exact shape rds:<source>-YYYY-MM-DD-HH-MM.
						if regexp.MustCompile(`:(cluster-)?snapshot:`).MatchString(r) && r != exRDS+":"+db.snapshotKind()+":rds:"+db.sourceID()+"-????-??-??-??-??" {
							t.Errorf("%s %s: %s from snapshots %s, want only %s's automated ones", target, s.Sid, action, r, db.sourceID())
						}
						if strings.Contains(r, ":pg:") && r != exRDS+":pg:"+db.pg || strings.Contains(r, ":cluster-pg:") && r != exRDS+":cluster-pg:"+db.clusterPG {
							t.Errorf("%s %s: %s with parameter group %s, want exactly the configured one", target, s.Sid, action, r)
						}
					}
					for k, v := range requestTags {
						if !slices.Equal(s.cond("StringEquals", k), v) {
							t.Errorf("%s %s: %s without StringEquals %s = %v", target, s.Sid, action, k, v)
						}
					}
				case awsiam.SourceRestore:
					// Into restage's own DBs of this target, tagged at
					// restore; from the source: the statement above.
					if db.mode == "snapshot" {
						t.Errorf("%s %s: %s granted, but source_mode is snapshot", target, s.Sid, action)
					}
					if action != db.pointInTime() {
						t.Errorf("%s %s: %s, want only %s for %s", target, s.Sid, action, db.pointInTime(), db.engine)
					}
					if !sameSet(s.Resource, restage) || len(s.Resource) != len(restage) {
						t.Errorf("%s %s: %s on %v, want only %v", target, s.Sid, action, s.Resource, restage)
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
					// Either tagged by RDS as a secret of restage's own DB,
					// or created by RDS on the task's behalf; never bare.
					tagKey := "aws:RequestTag/aws:rds:primaryDBInstanceArn"
					if strings.HasPrefix(db.engine, "aurora-") {
						tagKey = "aws:RequestTag/aws:rds:primaryDBClusterArn"
					}
					tagged := len(s.Condition) == 1 && slices.Equal(s.cond("StringLike", tagKey), []string{exRDS + ":" + db.dbKind() + ":restage-" + target + "-*"})
					viaRDS := len(s.Condition) == 1 && slices.Equal(s.cond("Bool", "aws:ViaAWSService"), []string{"true"})
					if !tagged && !viaRDS {
						t.Errorf("%s %s: %s with conditions %v, want %s like restage-%s-* or aws:ViaAWSService", target, s.Sid, action, s.Condition, tagKey, target)
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
					// Exactly the target's lock item and its run history item.
					if keys := s.Condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]; !slices.Equal([]string(keys), []string{target, target + "#history"}) {
						t.Errorf("%s %s: %s not limited to the target's lock and history items (LeadingKeys %v)", target, s.Sid, action, keys)
					}
				case awsiam.KMS:
					if !sameSet(s.Resource, db.kms) {
						t.Errorf("%s %s: %s on %v, want the listed keys %v", target, s.Sid, action, s.Resource, db.kms)
					}
					// Production's keys only through RDS (the restore).
					if action != "kms:DescribeKey" && !slices.Equal(s.cond("StringEquals", "kms:ViaService"), []string{"rds." + exRegion + ".amazonaws.com"}) {
						t.Errorf("%s %s: %s without kms:ViaService rds.%s.amazonaws.com", target, s.Sid, action, exRegion)
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
		if want := map[bool]int{false: 0, true: 1}[db.mode != "snapshot"]; pitFromSource != want {
			t.Errorf("%s: %d point-in-time grants on the production source, want %d (source_mode %s)", target, pitFromSource, want, db.mode)
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

		// The actions equal the declared list (KMS only where keys are
		// listed; the point-in-time restore of the DB's kind only where the
		// source mode needs it).
		want := slices.DeleteFunc(awsiam.Names(), func(a string) bool {
			return scopeOf[a] == awsiam.SourceRestore && (db.mode == "snapshot" || a != db.pointInTime())
		})
		if len(db.kms) == 0 {
			want = slices.DeleteFunc(want, func(a string) bool {
				return scopeOf[a] == awsiam.KMS && !slices.Contains(awsiam.ManagedSecretKeyActions, a)
			})
		}
		if !sameSet(allowed, want) {
			t.Errorf("%s: task role actions\n got %v\nwant %v (internal/awsiam)", target, sortedUnique(allowed), sortedUnique(want))
		}
		union = append(union, allowed...)

		// The production Deny, and the Deny of restore points of copies.
		checkDenies(t, target, db, doc, denies)
		checkGuardrailScenarios(t, target, db, []policyDoc{doc, guard})
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
		// The schedule names the family without a revision: both forms.
		families = append(families, "arn:aws:ecs:"+exRegion+":"+exAccount+":task-definition/restage-"+target+":*",
			"arn:aws:ecs:"+exRegion+":"+exAccount+":task-definition/restage-"+target)
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

	// Quarantine: one group per target, one ingress rule each (its own
	// task group, the engine's port), never a staging application, and no
	// egress; the target's task group reaches it.
	ports := map[string]float64{"aurora-mysql": 3306, "mysql": 3306, "aurora-postgresql": 5432}
	for _, r := range [][2]string{
		{"aws_security_group", "quarantine"}, {"aws_vpc_security_group_ingress_rule", "quarantine"},
		{"aws_security_group", "target_task"}, {"aws_vpc_security_group_egress_rule", "target_task_quarantine"},
	} {
		if got := sortedKeys(p.resources(r[0], r[1])); !slices.Equal(got, sortedKeys(example)) {
			t.Errorf("%s.%s for %v, want one per database %v", r[0], r[1], got, sortedKeys(example))
		}
	}
	for target, rc := range p.resources("aws_security_group", "quarantine") {
		a := rc.Change.After
		if len(stringList(a["ingress"])) != 0 || a["egress"] != nil && len(a["egress"].([]any)) != 0 {
			t.Errorf("%s: quarantine group with inline rules %v / %v", target, a["ingress"], a["egress"])
		}
	}
	for target, rc := range p.resources("aws_vpc_security_group_ingress_rule", "quarantine") {
		a := rc.Change.After
		if a["from_port"] != ports[example[target].engine] || a["to_port"] != ports[example[target].engine] || str(a, "ip_protocol") != "tcp" || a["cidr_ipv4"] != nil || a["cidr_ipv6"] != nil || a["prefix_list_id"] != nil {
			t.Errorf("%s: quarantine ingress %v, want tcp %v from a group only", target, a, ports[example[target].engine])
		}
		if ref := str(a, "referenced_security_group_id"); ref != "" {
			t.Errorf("%s: quarantine ingress from %s, want the target's created task group (known after apply)", target, ref)
		}
	}
	for _, rc := range p.ResourceChanges {
		if rc.Type == "aws_vpc_security_group_ingress_rule" && rc.Name != "restored_db" && str(rc.Change.After, "referenced_security_group_id") == "sg-0cccccccccccccccc" {
			t.Errorf("%s admits the staging applications: only the staging group may", rc.Address)
		}
	}
}

// checkSweep: a run of a target that stopped abnormally starts that
// target's sweep, in a group no sweep rule matches.
func checkSweep(t *testing.T, p *plan) {
	rules := p.resources("aws_cloudwatch_event_rule", "sweep")
	targets := p.resources("aws_cloudwatch_event_target", "sweep")
	if !slices.Equal(sortedKeys(rules), sortedKeys(example)) || !slices.Equal(sortedKeys(targets), sortedKeys(example)) {
		t.Fatalf("sweep rules %v and targets %v, want one per database %v", sortedKeys(rules), sortedKeys(targets), sortedKeys(example))
	}
	type pattern struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			ClusterArn []string `json:"clusterArn"`
			LastStatus []string `json:"lastStatus"`
			Group      []string `json:"group"`
			Containers struct {
				ExitCode []map[string][]float64 `json:"exitCode"`
			} `json:"containers"`
			Or []map[string]any `json:"$or"`
		} `json:"detail"`
	}
	var sweepGroups []string
	for target, rc := range targets {
		ecs := block(rc.Change.After, "ecs_target")
		sweepGroups = append(sweepGroups, str(ecs, "group"))
		if str(ecs, "group") != "sweep:restage-"+target || str(ecs, "launch_type") != "FARGATE" || ecs["task_count"] != float64(1) {
			t.Errorf("%s: sweep target %v, want one Fargate task in group sweep:restage-%s", target, ecs, target)
		}
		if net := block(ecs, "network_configuration"); net == nil || net["assign_public_ip"] != false || !sameSet(stringList(net["subnets"]), exSubnets) {
			t.Errorf("%s: sweep network %v", target, net)
		}
		var input struct {
			ContainerOverrides []struct {
				Name        string
				Command     []string
				Environment []struct{ Name, Value string }
			} `json:"containerOverrides"`
		}
		if err := json.Unmarshal([]byte(str(rc.Change.After, "input")), &input); err != nil || len(input.ContainerOverrides) != 1 ||
			input.ContainerOverrides[0].Name != "restage" || !slices.Equal(input.ContainerOverrides[0].Command, []string{"sweep"}) {
			t.Errorf("%s: sweep input %s (%v), want the restage container with command [sweep]", target, str(rc.Change.After, "input"), err)
		}
		if block(rc.Change.After, "dead_letter_config") == nil {
			t.Errorf("%s: sweep target without a dead-letter queue", target)
		}
	}
	for target, rc := range rules {
		var pt pattern
		if err := json.Unmarshal([]byte(str(rc.Change.After, "event_pattern")), &pt); err != nil {
			t.Fatalf("%s: sweep pattern: %v", target, err)
		}
		d := pt.Detail
		if !slices.Equal(pt.Source, []string{"aws.ecs"}) || !slices.Equal(pt.DetailType, []string{"ECS Task State Change"}) ||
			!slices.Equal(d.ClusterArn, []string{"arn:aws:ecs:" + exRegion + ":" + exAccount + ":cluster/restage"}) ||
			!slices.Equal(d.LastStatus, []string{"STOPPED"}) || !slices.Equal(d.Group, []string{"family:restage-" + target}) || len(d.Or) != 0 {
			t.Errorf("%s: sweep pattern %s, want STOPPED tasks of exactly the run group family:restage-%s", target, str(rc.Change.After, "event_pattern"), target)
		}
		// Not 0 (done), 2 (bad input) or 4 (a gate refused, cleanup done).
		if len(d.Containers.ExitCode) != 1 || !slices.Equal(d.Containers.ExitCode[0]["anything-but"], []float64{0, 2, 4}) {
			t.Errorf("%s: sweep exit codes %v, want anything-but [0 2 4]", target, d.Containers.ExitCode)
		}
		for _, g := range sweepGroups {
			if slices.Contains(d.Group, g) {
				t.Errorf("%s: the sweep rule matches the sweep group %s: a failed sweep would start another", target, g)
			}
		}
	}
	// Every rule that starts a task: none matches a sweep group.
	for _, rc := range p.ResourceChanges {
		if rc.Type == "aws_cloudwatch_event_target" && block(rc.Change.After, "ecs_target") != nil && rc.Name != "sweep" {
			t.Errorf("%s starts a task: only the sweep rules may", rc.Address)
		}
	}

	failed, ok := p.resources("aws_cloudwatch_event_rule", "sweep_failed")[""]
	if !ok {
		t.Fatal("no sweep-failed rule")
	}
	var pt pattern
	if err := json.Unmarshal([]byte(str(failed.Change.After, "event_pattern")), &pt); err != nil {
		t.Fatal(err)
	}
	orJSON, _ := json.Marshal(pt.Detail.Or)
	if !sameSet(pt.Detail.Group, sweepGroups) || len(pt.Detail.Group) != len(sweepGroups) || !slices.Equal(pt.Detail.LastStatus, []string{"STOPPED"}) ||
		!strings.Contains(string(orJSON), `{"containers":{"exitCode":[{"anything-but":0}]}}`) || !strings.Contains(string(orJSON), `{"stopCode":["TaskFailedToStart"]}`) {
		t.Errorf("sweep-failed pattern %s, want STOPPED sweeps %v with a non-zero exit code or TaskFailedToStart", str(failed.Change.After, "event_pattern"), sweepGroups)
	}
	if tg, ok := p.resources("aws_cloudwatch_event_target", "sweep_failed")[""]; !ok || block(tg.Change.After, "ecs_target") != nil {
		t.Error("the sweep-failed rule must notify (SNS) and start nothing")
	}
}

func checkEventsRole(t *testing.T, p *plan) {
	rc, ok := p.resources("aws_iam_role_policy", "events")[""]
	if !ok {
		t.Fatal("no EventBridge role policy")
	}
	var families, roles []string
	for target := range example {
		families = append(families, "arn:aws:ecs:"+exRegion+":"+exAccount+":task-definition/restage-"+target+":*",
			"arn:aws:ecs:"+exRegion+":"+exAccount+":task-definition/restage-"+target)
		roles = append(roles, "arn:aws:iam::"+exAccount+":role/restage-"+target+"-task", "arn:aws:iam::"+exAccount+":role/restage-"+target+"-exec")
	}
	for _, s := range parsePolicy(t, "events", str(rc.Change.After, "policy")).Statement {
		switch {
		case slices.Equal(s.Action, []string{"ecs:RunTask"}):
			if !sameSet(s.Resource, families) || !slices.Equal(s.cond("ArnEquals", "ecs:cluster"), []string{"arn:aws:ecs:" + exRegion + ":" + exAccount + ":cluster/restage"}) {
				t.Errorf("RunTask on %v (conditions %v), want the task families %v in the cluster", s.Resource, s.Condition, families)
			}
		case slices.Equal(s.Action, []string{"iam:PassRole"}):
			if !sameSet(s.Resource, roles) || !slices.Equal(s.cond("StringEquals", "iam:PassedToService"), []string{"ecs-tasks.amazonaws.com"}) {
				t.Errorf("PassRole on %v (conditions %v), want exactly %v to ecs-tasks", s.Resource, s.Condition, roles)
			}
		default:
			t.Errorf("events role: unexpected statement %s %v", s.Sid, s.Action)
		}
	}
}

// checkStalenessAlarms: one alarm per database on the success metric,
// hourly, missing data breaching, over 36 hours by default.
func checkStalenessAlarms(t *testing.T, p *plan) {
	alarms := p.resources("aws_cloudwatch_metric_alarm", "stale")
	if !slices.Equal(sortedKeys(alarms), sortedKeys(example)) {
		t.Fatalf("staleness alarms for %v, want one per database %v", sortedKeys(alarms), sortedKeys(example))
	}
	for target, rc := range alarms {
		a := rc.Change.After
		dims, _ := a["dimensions"].(map[string]any)
		period, _ := a["period"].(float64)
		if str(a, "namespace") != "restage" || str(a, "metric_name") != "RefreshSucceeded" || len(dims) != 1 || dims["Target"] != target {
			t.Errorf("%s: alarm on %s/%s %v, want restage/RefreshSucceeded Target=%s", target, str(a, "namespace"), str(a, "metric_name"), dims, target)
		}
		if period < 3600 || str(a, "treat_missing_data") != "breaching" || str(a, "statistic") != "Sum" {
			t.Errorf("%s: period %v, missing data %q, statistic %q; want >= 3600, breaching, Sum", target, period, str(a, "treat_missing_data"), str(a, "statistic"))
		}
		// Fires when every hourly period of the last 36 hours saw no success.
		if hours := period * a["evaluation_periods"].(float64) / 3600; hours != 36 || a["datapoints_to_alarm"] != a["evaluation_periods"] ||
			str(a, "comparison_operator") != "LessThanThreshold" || a["threshold"] != float64(1) {
			t.Errorf("%s: %v hours, %v of %v datapoints, %s %v; want 36 hours, all datapoints, LessThanThreshold 1", target, hours, a["datapoints_to_alarm"], a["evaluation_periods"], str(a, "comparison_operator"), a["threshold"])
		}
		if a["actions_enabled"] != example[target].enabled {
			t.Errorf("%s: actions enabled %v, want %v (as the schedule)", target, a["actions_enabled"], example[target].enabled)
		}
		if rc.Change.AfterUnknown["alarm_actions"] != true {
			t.Errorf("%s: no alarm action (the alert topic)", target)
		}
	}
}

// checkRulesBucket: only the deployer may write the rules.
func checkRulesBucket(t *testing.T, p *plan) {
	rc, ok := p.resources("aws_s3_bucket_policy", "rules")[""]
	if !ok {
		t.Fatal("no rules bucket policy")
	}
	var found bool
	for _, s := range parsePolicy(t, "rules bucket", str(rc.Change.After, "policy")).Statement {
		if s.Sid != "OnlyDeployersWrite" {
			continue
		}
		found = true
		for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning"} {
			if !slices.Contains(s.Action, a) {
				t.Errorf("OnlyDeployersWrite does not deny %s", a)
			}
		}
		if s.Effect != "Deny" || !slices.Equal(s.cond("ArnNotEquals", "aws:PrincipalArn"), []string{exDeployer}) || !sameSet(s.Resource, []string{"arn:aws:s3:::" + exBucket, "arn:aws:s3:::" + exBucket + "/*"}) {
			t.Errorf("OnlyDeployersWrite %s on %v with %v, want Deny on the bucket and objects unless aws:PrincipalArn is %s", s.Effect, s.Resource, s.Condition, exDeployer)
		}
	}
	if !found {
		t.Error("the rules bucket policy has no OnlyDeployersWrite statement")
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
			"--group":           "family:restage-" + target,
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
		if !slices.Equal(n.Subnets, exSubnets) || !slices.Equal(n.SecurityGroups, []string{knownTaskSG, knownTargetTaskSG(target)}) || n.AssignPublicIP != "DISABLED" {
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

func compactJSON(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("decode policy: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkManagedSecretKey: the aws/secretsmanager key (its id is unknown, so
// any key of the account matched by alias); Decrypt/GenerateDataKey only
// through Secrets Manager.
func checkManagedSecretKey(t *testing.T, target string, s statement) {
	t.Helper()
	if !slices.Equal(s.Resource, []string{"arn:aws:kms:" + exRegion + ":" + exAccount + ":key/*"}) {
		t.Errorf("%s %s: on %v, want the account's keys matched by alias", target, s.Sid, s.Resource)
	}
	for _, a := range s.Action {
		if !slices.Contains(awsiam.ManagedSecretKeyActions, a) {
			t.Errorf("%s %s: %s is not in awsiam.ManagedSecretKeyActions", target, s.Sid, a)
		}
	}
	alias := []string{"alias/aws/secretsmanager"}
	byResource := slices.Equal(s.cond("ForAnyValue:StringEquals", "kms:ResourceAliases"), alias)
	byRequest := slices.Equal(s.cond("StringEquals", "kms:RequestAlias"), alias)
	if !byResource && !byRequest {
		t.Errorf("%s %s: conditions %v, want the alias alias/aws/secretsmanager", target, s.Sid, s.Condition)
	}
	if !sameSet(s.Action, []string{"kms:DescribeKey"}) && (!byResource || !slices.Equal(s.cond("StringEquals", "kms:ViaService"), []string{"secretsmanager." + exRegion + ".amazonaws.com"})) {
		t.Errorf("%s %s: %v with conditions %v, want kms:ResourceAliases and kms:ViaService secretsmanager", target, s.Sid, s.Action, s.Condition)
	}
}

// checkDenies: the task role's Deny statements, exactly.
func checkDenies(t *testing.T, target string, db exampleDB, inline policyDoc, denies []statement) {
	t.Helper()
	for _, s := range inline.Statement {
		if s.Effect == "Deny" {
			t.Errorf("%s: Deny %s in the inline policy, want all Deny statements in the guardrail policy", target, s.Sid)
		}
	}
	bySid := map[string]statement{}
	for _, d := range denies {
		if _, dup := bySid[d.Sid]; dup {
			t.Errorf("%s: Deny %s twice", target, d.Sid)
		}
		bySid[d.Sid] = d
	}
	if len(denies) != 4 {
		t.Errorf("%s: %d Deny statements %v, want production, restore points, and point-in-time restores (two forms)", target, len(denies), sortedKeys(bySid))
	}

	prod, ok := bySid["ProtectProduction"]
	wantProd := append(slices.Clone(db.production), exRDS+":"+db.snapshotKind()+":rds:"+db.sourceID()+"-*")
	if !ok || !sameSet(prod.Action, awsiam.ProductionDeny) || len(prod.Action) != len(awsiam.ProductionDeny) || !sameSet(prod.Resource, wantProd) || len(prod.Condition) != 0 {
		t.Errorf("%s: production Deny %v on %v (conditions %v), want %v on %v unconditionally", target, prod.Action, prod.Resource, prod.Condition, awsiam.ProductionDeny, wantProd)
	}
	for _, a := range prod.Action {
		// Restoring never changes the source; a later source mode clones
		// production by point-in-time restore.
		if strings.HasPrefix(a, "rds:RestoreDB") {
			t.Errorf("%s: production Deny holds %s: restores from the source must stay possible", target, a)
		}
	}

	rp, ok := bySid["DenyRestorePointsOfCopies"]
	wantExcept := []string{
		exRDS + ":cluster:restage-" + target + "-*", exRDS + ":db:restage-" + target + "-*",
		exRDS + ":cluster-snapshot:restage-" + target + "-*-final", exRDS + ":snapshot:restage-" + target + "-*-final",
	}
	if len(db.adopt) > 0 {
		wantExcept = append(wantExcept, db.adopt...)
		wantExcept = append(wantExcept, exRDS+":"+db.snapshotKind()+":"+db.adoptID+"-final")
	}
	if !ok || !sameSet(rp.Action, awsiam.RestorePointDeny) || len(rp.Resource) != 0 || !sameSet(rp.NotResource, wantExcept) || len(rp.NotResource) != len(wantExcept) || len(rp.Condition) != 0 {
		t.Errorf("%s: restore-point Deny %v NotResource %v (Resource %v, conditions %v), want %v NotResource %v", target, rp.Action, rp.NotResource, rp.Resource, rp.Condition, awsiam.RestorePointDeny, wantExcept)
	}

	copies := []string{exRDS + ":cluster:restage-*", exRDS + ":db:restage-*"}
	for sid, key := range map[string]string{
		"DenyPointInTimeRestoresOfCopies":        "aws:ResourceTag/restage:managed",
		"DenyPointInTimeRestoresOfCopiesRdsTags": "rds:" + db.dbKind() + "-tag/restage:managed",
	} {
		d, ok := bySid[sid]
		if !ok || !sameSet(d.Action, awsiam.PointInTimeDeny) || !sameSet(d.Resource, copies) || len(d.Condition) != 1 || !slices.Equal(d.cond("StringEquals", key), []string{"true"}) {
			t.Errorf("%s: %s %v on %v (conditions %v), want %v on %v when %s = true", target, sid, d.Action, d.Resource, d.Condition, awsiam.PointInTimeDeny, copies, key)
		}
	}
}

// checkGuardrailScenarios evaluates the planned policies against the
// authorizations RDS makes, the way IAM combines Allow and Deny.
func checkGuardrailScenarios(t *testing.T, target string, db exampleDB, docs []policyDoc) {
	t.Helper()
	kind, snap := db.dbKind(), db.snapshotKind()
	copyARN := exRDS + ":" + kind + ":restage-" + target + "-202501010300"
	nextARN := exRDS + ":" + kind + ":restage-" + target + "-202501020300"
	prodSnap := exRDS + ":" + snap + ":rds:" + db.sourceID() + "-2025-01-01-03-00"
	restageTags := map[string]map[string]string{copyARN: {"restage:managed": "true", "restage:target": target}}
	pitr := "rds:RestoreDBInstanceToPointInTime"
	createSnap, copySnap, restore := "rds:CreateDBSnapshot", "rds:CopyDBSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"
	if kind == "cluster" {
		pitr, createSnap, copySnap, restore = "rds:RestoreDBClusterToPointInTime", "rds:CreateDBClusterSnapshot", "rds:CopyDBClusterSnapshot", "rds:RestoreDBClusterFromSnapshot"
	}
	cases := []struct {
		name       string
		req        request
		wantDenied bool
	}{
		{"final snapshot of a retired copy", request{createSnap, []string{copyARN, exRDS + ":" + snap + ":restage-" + target + "-202501010300-final"}, restageTags}, false},
		{"any other snapshot of a copy", request{createSnap, []string{copyARN, exRDS + ":" + snap + ":restage-" + target + "-202501010300-keep"}, restageTags}, true},
		{"copy of a copy's automated snapshot", request{copySnap, []string{exRDS + ":" + snap + ":rds:restage-" + target + "-202501010300-2025-01-01-03-00", exRDS + ":" + snap + ":restage-" + target + "-x-final"}, nil}, true},
		{"point-in-time restore from a copy", request{pitr, []string{copyARN, nextARN}, restageTags}, true},
		{"point-in-time restore from production into a new copy", request{pitr, []string{db.sourceARN, nextARN}, nil}, false},
		{"snapshot of production", request{createSnap, []string{db.sourceARN, exRDS + ":" + snap + ":restage-" + target + "-x-final"}, nil}, true},
		{"copy of production's snapshot", request{copySnap, []string{prodSnap, exRDS + ":" + snap + ":restage-" + target + "-x-final"}, nil}, true},
		{"restore from production's snapshot", request{restore, []string{prodSnap, nextARN}, nil}, false},
	}
	if kind == "cluster" {
		cases = append(cases, struct {
			name       string
			req        request
			wantDenied bool
		}{"an instance added to production", request{"rds:CreateDBInstance", []string{db.sourceARN, exRDS + ":db:restage-" + target + "-x"}, nil}, true})
	}
	if db.adoptID != "" {
		cases = append(cases, struct {
			name       string
			req        request
			wantDenied bool
		}{"final snapshot of the adopted DB", request{createSnap, []string{db.adopt[0], exRDS + ":" + snap + ":" + db.adoptID + "-final"}, nil}, false})
	}
	for _, c := range cases {
		if got := denied(t, docs, c.req); got != c.wantDenied {
			t.Errorf("%s: %s (%s on %v): denied %v, want %v", target, c.name, c.req.action, c.req.resources, got, c.wantDenied)
		}
	}
	// A clone or point-in-time restore from production is allowed exactly
	// when the source mode needs it, and only from the source itself.
	fromProd := request{db.pointInTime(), []string{db.sourceARN, nextARN}, nil}
	if got, want := allowed(docs, fromProd), db.mode != "snapshot"; got != want {
		t.Errorf("%s: %s from production allowed %v, want %v (source_mode %s)", target, fromProd.action, got, want, db.mode)
	}
	for _, other := range db.production[1:] {
		if allowed(docs, request{db.pointInTime(), []string{other, nextARN}, nil}) {
			t.Errorf("%s: %s from %s allowed: only the source itself", target, db.pointInTime(), other)
		}
	}
	// The grant on the source gives nothing else on it: every change stays
	// denied.
	for _, a := range []string{"rds:Modify" + map[bool]string{true: "DBCluster", false: "DBInstance"}[kind == "cluster"], "rds:AddTagsToResource"} {
		if !denied(t, docs, request{a, []string{db.sourceARN}, nil}) {
			t.Errorf("%s: %s on the production source not denied", target, a)
		}
	}
	// What restage itself does must also be allowed.
	for _, req := range []request{
		{restore, []string{prodSnap}, nil},
		{createSnap, []string{copyARN, exRDS + ":" + snap + ":restage-" + target + "-202501010300-final"}, nil},
	} {
		if !allowed(docs, req) {
			t.Errorf("%s: %s on %v is not allowed", target, req.action, req.resources)
		}
	}
	// Another source sharing the prefix: not one of its snapshots.
	other := exRDS + ":" + snap + ":rds:" + db.sourceID() + "-eu-2025-01-01-03-00"
	if allowed(docs, request{restore, []string{other}, nil}) {
		t.Errorf("%s: %s allowed from %s, another source's snapshot", target, restore, other)
	}
}

// checkDashboard: one row per database — last runs, duration per step,
// rows/s — on the metrics the task emits (namespace and Target as the
// staleness metric).
func checkDashboard(t *testing.T, p *plan) {
	d, ok := p.resources("aws_cloudwatch_dashboard", "this")[""]
	if !ok {
		t.Fatal("no CloudWatch dashboard")
	}
	var body struct {
		Widgets []struct {
			Type       string `json:"type"`
			Y          int    `json:"y"`
			Properties struct {
				Title   string  `json:"title"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(str(d.Change.After, "dashboard_body")), &body); err != nil {
		t.Fatalf("dashboard body: %v", err)
	}
	rows := map[int]string{}
	seen := map[string]map[string]bool{} // target => metric names
	for _, w := range body.Widgets {
		target, _, _ := strings.Cut(w.Properties.Title, ":")
		if _, ok := example[target]; !ok {
			t.Errorf("widget %q: not titled after a database", w.Properties.Title)
			continue
		}
		if r, ok := rows[w.Y]; ok && r != target {
			t.Errorf("row y=%d holds %s and %s, want one row per database", w.Y, r, target)
		}
		rows[w.Y] = target
		if seen[target] == nil {
			seen[target] = map[string]bool{}
		}
		for _, m := range w.Properties.Metrics {
			if len(m) < 4 || m[0] != "restage" || m[2] != "Target" || m[3] != target {
				t.Errorf("%s: metric %v, want namespace restage and Target=%s", w.Properties.Title, m, target)
				continue
			}
			seen[target][m[1].(string)] = true
		}
	}
	if len(rows) != len(example) {
		t.Errorf("%d dashboard rows, want one per database (%d)", len(rows), len(example))
	}
	want := []string{"RunDuration", "RunSucceeded", "DurationToMedian", "RowsPerSecond", "RowsMasked", "RestoreDuration", "MaskDuration", "VerifyDuration"}
	for target := range example {
		for _, m := range want {
			if !seen[target][m] {
				t.Errorf("%s: dashboard row without %s", target, m)
			}
		}
	}
}

// checkSlowAlarms: a database's run that took more than twice the median
// of the recorded ones notifies the alert topic.
func checkSlowAlarms(t *testing.T, p *plan) {
	alarms := p.resources("aws_cloudwatch_metric_alarm", "slow")
	if !slices.Equal(sortedKeys(alarms), sortedKeys(example)) {
		t.Fatalf("slow-run alarms for %v, want one per database %v", sortedKeys(alarms), sortedKeys(example))
	}
	for target, rc := range alarms {
		a := rc.Change.After
		dims, _ := a["dimensions"].(map[string]any)
		if str(a, "namespace") != "restage" || str(a, "metric_name") != "DurationToMedian" || len(dims) != 1 || dims["Target"] != target {
			t.Errorf("%s: alarm on %s/%s %v, want restage/DurationToMedian Target=%s", target, str(a, "namespace"), str(a, "metric_name"), dims, target)
		}
		if str(a, "comparison_operator") != "GreaterThanThreshold" || a["threshold"] != float64(2) || str(a, "statistic") != "Maximum" {
			t.Errorf("%s: %s %v (%s), want Maximum GreaterThanThreshold 2", target, str(a, "comparison_operator"), a["threshold"], str(a, "statistic"))
		}
		// No run is no data: the staleness alarm's business, not this one's.
		if str(a, "treat_missing_data") != "notBreaching" {
			t.Errorf("%s: missing data %q, want notBreaching", target, str(a, "treat_missing_data"))
		}
		if a["actions_enabled"] != example[target].enabled || rc.Change.AfterUnknown["alarm_actions"] != true {
			t.Errorf("%s: actions enabled %v (want %v, as the schedule), alarm action unknown %v (the alert topic)", target, a["actions_enabled"], example[target].enabled, rc.Change.AfterUnknown["alarm_actions"])
		}
	}
}
