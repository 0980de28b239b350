package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLoadSettingsReportsEveryVariable: every variable that doesn't parse
// is named at once, with what it should hold; the others still load.
func TestLoadSettingsReportsEveryVariable(t *testing.T) {
	t.Setenv("RESTAGE_WORKERS", "abc")
	t.Setenv("RESTAGE_BATCH_SIZE", "1x")
	t.Setenv("RESTAGE_MAX_DURATION", "forever")
	t.Setenv("RESTAGE_SLACK_ON_SUCCESS", "maybe")
	t.Setenv("RESTAGE_TARGET", "shop")
	s, err := LoadSettings()
	if err == nil {
		t.Fatal("LoadSettings accepted unparsable variables")
	}
	for _, want := range []string{
		`RESTAGE_WORKERS="abc": want a whole number`,
		`RESTAGE_BATCH_SIZE="1x": want a whole number`,
		`RESTAGE_MAX_DURATION="forever": want a duration`,
		`RESTAGE_SLACK_ON_SUCCESS="maybe": want true or false`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if s == nil || s.Target != "shop" || s.ControlDB != "restage_control" {
		t.Fatalf("settings = %+v, want the variables that parsed, and defaults", s)
	}
	// The unparsable ones are not judged again as out of range.
	if err := s.Validate(); err != nil && strings.Contains(err.Error(), "WORKERS") {
		t.Errorf("Validate judged the zero of an unparsable variable: %v", err)
	}
}

// TestValidateNames: every name from the settings that restage uses in
// SQL or to find a database is a plain identifier, or bad input.
func TestValidateNames(t *testing.T) {
	base := func() *Settings {
		return &Settings{Workers: 2, BatchSize: 10000, LogLevel: "info", Provider: "local", Target: "shop", ControlDB: "restage_control"}
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid settings: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Settings)
		want string
	}{
		{"control DB with SQL", func(s *Settings) { s.ControlDB = "x`; DROP DATABASE prod; -- " }, "RESTAGE_CONTROL_DB"},
		{"control DB upper case", func(s *Settings) { s.ControlDB = "Restage" }, "RESTAGE_CONTROL_DB"},
		{"control DB too long", func(s *Settings) { s.ControlDB = strings.Repeat("a", 64) }, "RESTAGE_CONTROL_DB"},
		{"target", func(s *Settings) { s.Target = "Bad-Name" }, "RESTAGE_TARGET"},
		{"adopt with a quote", func(s *Settings) { s.Adopt = `old"; DROP` }, "RESTAGE_ADOPT"},
		{"production login", func(s *Settings) { s.ProductionLogins = "app, x'@'%' IDENTIFIED" }, "RESTAGE_PRODUCTION_LOGINS"},
		{"negative duration", func(s *Settings) { s.MaxDuration = -1 }, "RESTAGE_MAX_DURATION"},
	}
	for _, tt := range tests {
		s := base()
		tt.mod(s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	s := base()
	s.Adopt, s.ProductionLogins = "legacy-staging_1", "app, app@10.0.%, report@localhost"
	if err := s.Validate(); err != nil {
		t.Errorf("ordinary names refused: %v", err)
	}
}

// TestFlagBlamed: a value that came from a flag is blamed on the flag.
func TestFlagBlamed(t *testing.T) {
	s := &Settings{Workers: 1000, BatchSize: 10000, LogLevel: "info"}
	s.FromFlag("WORKERS", "--workers")
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "--workers must be between 1 and 64, got 1000") || strings.Contains(err.Error(), "RESTAGE_WORKERS") {
		t.Errorf("Validate() = %v, want it to blame --workers", err)
	}
}

// TestRulesBounded: a rules file over MaxRulesBytes is refused before it is
// parsed, and a file with many problems lists the first hundred.
func TestRulesBounded(t *testing.T) {
	big := make([]byte, MaxRulesBytes+1)
	for i := range big {
		big[i] = '\n'
	}
	_, err := ParseRules("big.yaml", big)
	if err == nil || !strings.Contains(err.Error(), "big.yaml:1: rules file is 2.0 MiB; restage reads at most 2 MiB") {
		t.Errorf("ParseRules of %d bytes: %v, want the limit named", len(big), err)
	}
	var b strings.Builder
	b.WriteString("version: 1\ntables:\n  t:\n    columns:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "      c%d: no_such_transformer\n", i)
	}
	_, err = ParseRules("many.yaml", []byte(b.String()))
	var re *RulesError
	if !errors.As(err, &re) || len(re.Problems) != 101 || !strings.Contains(re.Problems[100].Msg, "and 200 more problems") {
		t.Fatalf("300 problems: %v, want the first 100 and a count of the rest", err)
	}
}
