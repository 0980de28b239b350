package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restage/restage/internal/awsprov"
	"github.com/restage/restage/internal/config"
)

func setAWSEnv(t *testing.T, ca string, extra map[string]string) {
	t.Helper()
	env := map[string]string{
		"RESTAGE_AWS_REGION": "ap-northeast-1", "RESTAGE_ENGINE": "aurora-mysql", "RESTAGE_SOURCE_ID": "prod-shop",
		"RESTAGE_SUBNET_GROUP": "staging-db", "RESTAGE_QUARANTINE_SECURITY_GROUP_IDS": "sg-0q1, sg-0q2",
		"RESTAGE_SECURITY_GROUP_IDS": "sg-0s1", "RESTAGE_INSTANCE_CLASS": "db.serverless",
		"RESTAGE_SERVERLESS_MIN_ACU": "0.5", "RESTAGE_SERVERLESS_MAX_ACU": "8",
		"RESTAGE_DB_PARAMETER_GROUP": "restage-shop", "RESTAGE_CLUSTER_PARAMETER_GROUP": "restage-shop-cluster",
		"RESTAGE_HOSTED_ZONE_ID": "Z1", "RESTAGE_DNS_NAME": "shop.staging.example.com", "RESTAGE_LOCK_TABLE": "restage-locks",
		"RESTAGE_DB_NAME": "shop", "RESTAGE_TLS_CA_FILE": ca,
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rds-ca.pem")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadAWSEnv: typed settings in one pass; quarantine and staging
// groups, Serverless v2 capacity; TLS verified by default, the opt-out
// explicit; every problem at once.
func TestReadAWSEnv(t *testing.T) {
	s := &config.Settings{Target: "shop"}
	setAWSEnv(t, caFile(t), nil)
	e, err := readAWSEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.rds.QuarantineSecurityGroupIDs, ","); got != "sg-0q1,sg-0q2" {
		t.Errorf("quarantine %q", got)
	}
	if e.rds.ServerlessMaxACU != 8 || e.prov.TLS != awsprov.TLSVerify || e.set.MetricsNamespace != "restage" || e.rds.WaitTimeout != 2*time.Hour {
		t.Errorf("settings %+v / %+v", e.rds, e.prov)
	}

	setAWSEnv(t, "", map[string]string{"RESTAGE_TLS_INSECURE_SKIP_VERIFY": "true"})
	if e, err = readAWSEnv(s); err != nil || e.prov.TLS != awsprov.TLSOn {
		t.Errorf("opt-out: %v", err)
	}

	setAWSEnv(t, filepath.Join(t.TempDir(), "missing.pem"), nil)
	if _, err = readAWSEnv(s); err == nil || !strings.Contains(err.Error(), "TLS CA file") {
		t.Errorf("missing CA bundle: %v", err)
	}

	setAWSEnv(t, caFile(t), map[string]string{"RESTAGE_QUARANTINE_SECURITY_GROUP_IDS": "", "RESTAGE_DB_PARAMETER_GROUP": "",
		"RESTAGE_CLUSTER_PARAMETER_GROUP": "", "RESTAGE_LOCK_TABLE": "", "RESTAGE_TLS": "off"})
	_, err = readAWSEnv(s)
	for _, want := range []string{"RESTAGE_QUARANTINE_SECURITY_GROUP_IDS is required", "RESTAGE_DB_PARAMETER_GROUP is required",
		"RESTAGE_CLUSTER_PARAMETER_GROUP is required", "RESTAGE_LOCK_TABLE is required", `RESTAGE_TLS "off" is no longer read`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %s", err, want)
		}
	}
}

// TestSuccessMetric: one embedded-metric-format line, RefreshSucceeded=1
// with dimension Target in the configured namespace.
func TestSuccessMetric(t *testing.T) {
	var b bytes.Buffer
	if err := writeSuccessMetric(&b, "restage", "shop", time.UnixMilli(1700000000000)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("%d lines", n)
	}
	var m struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Target           string
		RefreshSucceeded float64
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	cm := m.AWS.CloudWatchMetrics
	if m.AWS.Timestamp != 1700000000000 || len(cm) != 1 || cm[0].Namespace != "restage" || len(cm[0].Dimensions) != 1 ||
		cm[0].Dimensions[0][0] != "Target" || cm[0].Metrics[0].Name != "RefreshSucceeded" || m.Target != "shop" || m.RefreshSucceeded != 1 {
		t.Errorf("metric line %s", b.String())
	}
}

// TestRulesDigest: rules from S3 must have the SHA-256 Terraform pinned.
func TestRulesDigest(t *testing.T) {
	b := []byte("version: 1\n")
	const sum = "0f1d6a3c5c7a8b0a1e6f3b0d2f3c4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e" // not b's
	if err := checkRulesDigest(b, ""); err != nil {
		t.Errorf("no pin: %v", err)
	}
	if err := checkRulesDigest(b, sum); err == nil || !strings.Contains(err.Error(), "RESTAGE_RULES_SHA256") {
		t.Errorf("wrong digest: %v", err)
	}
	good := sha256.Sum256(b)
	if err := checkRulesDigest(b, strings.ToUpper(hex.EncodeToString(good[:]))); err != nil {
		t.Errorf("right digest: %v", err)
	}
}

// TestReadAWSEnvSourceModes: the source mode and masking size settings
// reach the RDS configuration; a clone of an RDS instance, an unknown
// mode, a masking class on Serverless v2 and a masking max ACU below the
// staging maximum are all reported at once, naming the variables.
func TestReadAWSEnvSourceModes(t *testing.T) {
	s := &config.Settings{Target: "shop"}
	ca := caFile(t)
	setAWSEnv(t, ca, map[string]string{"RESTAGE_SOURCE_MODE": "clone", "RESTAGE_MASKING_MAX_ACU": "64"})
	e, err := readAWSEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	if e.rds.SourceMode != "clone" || e.rds.MaskingMaxACU != 64 {
		t.Errorf("source mode %q masking max ACU %g", e.rds.SourceMode, e.rds.MaskingMaxACU)
	}
	os.Unsetenv("RESTAGE_SOURCE_MODE")
	os.Unsetenv("RESTAGE_MASKING_MAX_ACU")
	if e, err := readAWSEnv(s); err != nil || e.rds.SourceMode != "snapshot" {
		t.Errorf("default source mode: %v, %v", e, err)
	}
	setAWSEnv(t, ca, map[string]string{"RESTAGE_SOURCE_MODE": "clone", "RESTAGE_ENGINE": "mysql", "RESTAGE_CLUSTER_PARAMETER_GROUP": "",
		"RESTAGE_INSTANCE_CLASS": "db.r6g.large", "RESTAGE_SERVERLESS_MIN_ACU": "0", "RESTAGE_SERVERLESS_MAX_ACU": "0",
		"RESTAGE_MASKING_INSTANCE_CLASS": "r6g.4xlarge", "RESTAGE_MASKING_MAX_ACU": "2"})
	_, err = readAWSEnv(s)
	if err == nil {
		t.Fatal("clone of an RDS instance accepted")
	}
	for _, want := range []string{"RESTAGE_SOURCE_MODE", "only Aurora", "RESTAGE_MASKING_INSTANCE_CLASS", "RESTAGE_MASKING_MAX_ACU"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	setAWSEnv(t, ca, map[string]string{"RESTAGE_SOURCE_MODE": "latest", "RESTAGE_MASKING_INSTANCE_CLASS": "db.r6g.4xlarge", "RESTAGE_MASKING_MAX_ACU": "4"})
	_, err = readAWSEnv(s)
	for _, want := range []string{`"latest"`, "set RESTAGE_MASKING_MAX_ACU instead", "at least the serverless max ACU"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

// TestReadAWSEnvEveryParseError: every AWS variable that does not parse is
// reported in one pass, naming it and what it wants, with no second
// problem made up from its zero value.
func TestReadAWSEnvEveryParseError(t *testing.T) {
	s := &config.Settings{Target: "shop"}
	setAWSEnv(t, caFile(t), map[string]string{"RESTAGE_DNS_TTL": "sixty", "RESTAGE_WAIT_TIMEOUT": "2 hours", "RESTAGE_FINAL_SNAPSHOT": "maybe", "RESTAGE_SERVERLESS_MAX_ACU": "lots"})
	_, err := readAWSEnv(s)
	if err == nil {
		t.Fatal("unparsable variables accepted")
	}
	for _, want := range []string{`RESTAGE_DNS_TTL="sixty": want a whole number`, `RESTAGE_WAIT_TIMEOUT="2 hours": want a duration`, `RESTAGE_FINAL_SNAPSHOT="maybe": want true or false`, `RESTAGE_SERVERLESS_MAX_ACU="lots"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "want 1 to 86400") {
		t.Errorf("error %q adds a range problem for a TTL that did not parse", err)
	}
}
