// Package terraform_test proves, offline, that the Terraform module in
// terraform/ is formatted, valid, and plans what we intend: one schedule
// and one task per database, least-privilege IAM that matches
// internal/awsiam, alerts, and a manual-run command that works. It also
// checks the container image's build flags (Dockerfile) give a static
// binary.
//
// Needs the terraform CLI on PATH and the AWS provider in a filesystem
// mirror: RESTAGE_TF_PLUGIN_DIR, default /opt/tf-plugins. Missing either
// skips the tests locally and fails them under CI=true.
package terraform_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gruntwork-io/terratest/modules/logger"
	"github.com/gruntwork-io/terratest/modules/terraform"
	test_structure "github.com/gruntwork-io/terratest/modules/test-structure"
)

const defaultPluginDir = "/opt/tf-plugins"

// repoRoot is the repository root (this file is test/terraform/helpers_test.go).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// missing skips the test, or fails it under CI=true, where a missing tool
// must never turn into a silent pass.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// pluginDir returns the provider mirror, or skips/fails.
func pluginDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		missing(t, "terraform CLI not on PATH: %v", err)
	}
	dir := os.Getenv("RESTAGE_TF_PLUGIN_DIR")
	if dir == "" {
		dir = defaultPluginDir
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "*", "*", "terraform-provider-aws_*"))
	if len(matches) == 0 {
		missing(t, "no AWS provider in the plugin directory %s (set RESTAGE_TF_PLUGIN_DIR)", dir)
	}
	return dir
}

// tfEnv is every terraform command's environment. No provider cache: the
// plugin directory holds the provider unpacked, so each init links to it
// in place (a shared cache raced between parallel inits: "failed to
// create directory … file exists", and a provider binary gone from under
// a running validate).
func tfEnv() map[string]string {
	return map[string]string{
		"TF_IN_AUTOMATION":   "1",
		"CHECKPOINT_DISABLE": "1",
		// No credentials or config of the machine may leak into a plan.
		"TF_CLI_CONFIG_FILE":          os.DevNull,
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	}
}

// copyRoot copies the repository (without hidden files and Terraform
// state) to a temporary directory and returns the copy of rel inside it,
// so that parallel tests never share a .terraform directory and relative
// paths (../.., ../../../examples/rules) keep working.
func copyRoot(t *testing.T, rel string) string {
	t.Helper()
	dir := test_structure.CopyTerraformFolderToTemp(t, repoRoot(t), rel)
	// dir = <tmp>/<root name>/<rel>; remove <tmp> when done.
	top := dir
	for range strings.Split(filepath.ToSlash(rel), "/") {
		top = filepath.Dir(top)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(top)) })
	return dir
}

// options returns terratest options for dir, offline.
func options(t *testing.T, dir string) *terraform.Options {
	t.Helper()
	plugins := pluginDir(t)
	return &terraform.Options{
		TerraformDir: dir,
		PluginDir:    plugins,
		NoColor:      true,
		EnvVars:      tfEnv(),
		Logger:       logger.Discard,
	}
}

// plan is the part of `terraform show -json` the tests read.
type plan struct {
	ResourceChanges []resourceChange        `json:"resource_changes"`
	OutputChanges   map[string]outputChange `json:"output_changes"`
}

type resourceChange struct {
	Address string `json:"address"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Index   any    `json:"index"`
	Change  struct {
		Actions      []string       `json:"actions"`
		After        map[string]any `json:"after"`
		AfterUnknown map[string]any `json:"after_unknown"`
	} `json:"change"`
}

type outputChange struct {
	After        any `json:"after"`
	AfterUnknown any `json:"after_unknown"`
}

// planJSON inits dir, plans it and returns the JSON plan.
func planJSON(t *testing.T, opts *terraform.Options) *plan {
	t.Helper()
	opts.PlanFilePath = filepath.Join(t.TempDir(), "plan.tfplan")
	out, err := terraform.InitAndPlanAndShowE(t, opts)
	if err != nil {
		t.Fatalf("plan %s: %v", opts.TerraformDir, err)
	}
	var p plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("decode the JSON plan: %v", err)
	}
	return &p
}

// resources returns the planned resources of a type, by index key.
func (p *plan) resources(typ, name string) map[string]resourceChange {
	out := map[string]resourceChange{}
	for _, rc := range p.ResourceChanges {
		if rc.Type != typ || rc.Name != name {
			continue
		}
		key := ""
		switch i := rc.Index.(type) {
		case string:
			key = i
		case float64:
			key = strconv.Itoa(int(i))
		}
		out[key] = rc
	}
	return out
}

// str reads a string attribute of a planned resource ("" when unknown or absent).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// block reads the first element of a nested block.
func block(m map[string]any, key string) map[string]any {
	l, _ := m[key].([]any)
	if len(l) == 0 {
		return nil
	}
	b, _ := l[0].(map[string]any)
	return b
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

var spaces = regexp.MustCompile(`[\s│╷╵]+`)

// oneLine undoes Terraform's word wrapping of diagnostics.
func oneLine(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }
