package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/restage/restage/internal/transform"
)

// EnvPrefix prefixes every environment variable restage reads.
const EnvPrefix = "RESTAGE"

// Settings are read from RESTAGE_* environment variables. The README's
// configuration table documents each one.
type Settings struct {
	// MaskKey is the masking key (≥ 32 bytes). Never logged.
	MaskKey string `envconfig:"MASK_KEY"`
	// SourceDSN names the production source; restage mask refuses it.
	SourceDSN string `envconfig:"SOURCE_DSN"`
	Workers   int    `envconfig:"WORKERS" default:"2"`
	BatchSize int    `envconfig:"BATCH_SIZE" default:"10000"`
	LogLevel  string `envconfig:"LOG_LEVEL" default:"info"`

	// restage run (the refresh pipeline).
	Target     string `envconfig:"TARGET"`
	Provider   string `envconfig:"PROVIDER" default:"local"`
	StagingDSN string `envconfig:"STAGING_DSN"`
	Rules      string `envconfig:"RULES"`
	// MaxDuration aborts a run (cleanup, alert) when exceeded.
	MaxDuration time.Duration `envconfig:"MAX_DURATION" default:"6h"`
	RetireGrace time.Duration `envconfig:"RETIRE_GRACE" default:"0s"`
	KeepLast    int           `envconfig:"KEEP_LAST" default:"0"`
	Adopt       string        `envconfig:"ADOPT"`
	ControlDB   string        `envconfig:"CONTROL_DB" default:"restage_control"`
	// StagingUsers: "name:read,other:write"; each password from
	// RESTAGE_STAGING_USER_<NAME>_PASSWORD or …_PASSWORD_FILE.
	StagingUsers       string `envconfig:"STAGING_USERS"`
	ProductionLogins   string `envconfig:"PRODUCTION_LOGINS"`
	AcceptSharedLogins bool   `envconfig:"ACCEPT_SHARED_LOGINS"`
	// Preserve: "table[: where predicate]; table2 …".
	Preserve string `envconfig:"PRESERVE"`

	// RunReason says why this run started ("scheduled", "manual"; the
	// Terraform module sets it); logged at the start of every run.
	RunReason string `envconfig:"RUN_REASON" default:"unspecified"`

	SlackToken     string        `envconfig:"SLACK_TOKEN"`
	SlackChannel   string        `envconfig:"SLACK_CHANNEL"`
	SlackWebhook   string        `envconfig:"SLACK_WEBHOOK_URL"`
	SlackOnSuccess bool          `envconfig:"SLACK_ON_SUCCESS"`
	SlackTimeout   time.Duration `envconfig:"SLACK_TIMEOUT" default:"10s"`

	// TestPauseAt is a test hook of the local provider's swap: the
	// process stops after the named sub-step (test/swap_test.go SIGKILLs
	// it there). Never set in production.
	TestPauseAt string `envconfig:"TEST_PAUSE_AT"`

	// failed lists the variables that did not parse: Validate does not
	// judge their (zero) values again.
	failed []string
	// flags names the flag a value came from instead of its variable
	// (FromFlag), so a message blames what the user typed.
	flags map[string]string
}

// LoadSettings reads the environment. Every variable that does not parse
// is reported at once; the settings are returned either way, so a caller
// can go on validating and report the rest with them.
func LoadSettings() (*Settings, error) {
	var s Settings
	failed, err := Load(EnvPrefix, &s)
	s.failed = failed
	return &s, err
}

// Load fills the exported fields of the struct dst points to from the
// environment with envconfig, one field at a time so that every variable
// that does not parse is reported, not only the first. It returns the
// variables that failed. Nested structs are processed whole.
func Load(prefix string, dst any) (failed []string, err error) {
	v := reflect.ValueOf(dst).Elem()
	t := v.Type()
	var errs []error
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.Process(prefix, one.Interface()); err != nil {
			var pe *envconfig.ParseError
			if errors.As(err, &pe) {
				failed = append(failed, pe.KeyName)
				errs = append(errs, parseProblem(pe))
			} else {
				errs = append(errs, err)
			}
			continue
		}
		v.Field(i).Set(one.Elem().Field(0))
	}
	return failed, errors.Join(errs...)
}

// parseProblem says what a variable should hold. The value is named: a
// setting that fails to parse is a number, a flag or a duration, never a
// secret (those are strings and can't fail).
func parseProblem(pe *envconfig.ParseError) error {
	want := "a " + pe.TypeName
	switch pe.TypeName {
	case "int", "int64", "uint", "uint64":
		want = "a whole number"
	case "bool":
		want = "true or false"
	case "Duration", "time.Duration":
		want = "a duration such as 90s, 30m or 6h"
	}
	return fmt.Errorf("%s=%q: want %s", pe.KeyName, pe.Value, want)
}

// FromFlag records that key's value (e.g. "WORKERS") came from flag
// ("--workers"): Validate's messages then name the flag.
func (s *Settings) FromFlag(key, flag string) {
	if s.flags == nil {
		s.flags = map[string]string{}
	}
	s.flags[key] = flag
}

// name is what a message calls key: the flag it came from, or its
// variable.
func (s *Settings) name(key string) string {
	if f, ok := s.flags[key]; ok {
		return f
	}
	return EnvPrefix + "_" + key
}

func (s *Settings) parsed(key string) bool {
	_, flag := s.flags[key]
	return flag || !slices.Contains(s.failed, EnvPrefix+"_"+key)
}

// Key validates and returns the masking key.
func (s *Settings) Key() (transform.Key, error) {
	if s.MaskKey == "" {
		return transform.Key{}, errors.New("RESTAGE_MASK_KEY is not set: restage refuses to mask without a key (at least 32 bytes, e.g. `openssl rand -base64 48`)")
	}
	k, err := transform.NewKey([]byte(s.MaskKey))
	if err != nil {
		return transform.Key{}, fmt.Errorf("RESTAGE_MASK_KEY is too short (%d bytes): %w", len(s.MaskKey), err)
	}
	return k, nil
}

// Validate checks value domains, and every name from the settings that
// restage puts into SQL or uses to find a database: each is held to a
// plain identifier (the local provider's names; the AWS names are
// app/aws.go's), so no setting can carry SQL.
func (s *Settings) Validate() error {
	var errs []error
	if s.parsed("WORKERS") && (s.Workers < 1 || s.Workers > 64) {
		errs = append(errs, fmt.Errorf("%s must be between 1 and 64, got %d", s.name("WORKERS"), s.Workers))
	}
	if s.parsed("BATCH_SIZE") && (s.BatchSize < 100 || s.BatchSize > 100_000) {
		errs = append(errs, fmt.Errorf("%s must be between 100 and 100000, got %d", s.name("BATCH_SIZE"), s.BatchSize))
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("RESTAGE_LOG_LEVEL must be debug, info, warn or error, got %q", s.LogLevel))
	}
	if s.Provider == "local" {
		if s.Target != "" && !LocalTargetRE.MatchString(s.Target) {
			errs = append(errs, fmt.Errorf("RESTAGE_TARGET %q: want 1-30 lower-case letters, digits or underscores, starting with a letter", s.Target))
		}
		if !controlDBRE.MatchString(s.ControlDB) {
			errs = append(errs, fmt.Errorf("RESTAGE_CONTROL_DB %q: want 1-63 lower-case letters, digits or underscores, starting with a letter", clip(s.ControlDB)))
		}
		if s.Adopt != "" {
			errs = append(errs, CheckDatabaseName("RESTAGE_ADOPT", s.Adopt))
		}
		for _, l := range strings.Split(s.ProductionLogins, ",") {
			if l = strings.TrimSpace(l); l != "" && !loginRE.MatchString(l) {
				errs = append(errs, fmt.Errorf("RESTAGE_PRODUCTION_LOGINS: %q: want a login name, or user@host on MySQL", clip(l)))
			}
		}
	}
	if s.MaxDuration < 0 && s.parsed("MAX_DURATION") {
		errs = append(errs, fmt.Errorf("RESTAGE_MAX_DURATION must not be negative, got %s", s.MaxDuration))
	}
	if s.RetireGrace < 0 && s.parsed("RETIRE_GRACE") {
		errs = append(errs, fmt.Errorf("RESTAGE_RETIRE_GRACE must not be negative, got %s", s.RetireGrace))
	}
	if s.KeepLast < 0 && s.parsed("KEEP_LAST") {
		errs = append(errs, fmt.Errorf("RESTAGE_KEEP_LAST must not be negative, got %d", s.KeepLast))
	}
	return errors.Join(errs...)
}

// Names restage reads from settings and uses in SQL or to find databases.
var (
	// LocalTargetRE is a target on local servers: it becomes part of
	// database names, which must fit 63 bytes with restage's prefix and
	// run id.
	LocalTargetRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)
	controlDBRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	dbNameRE      = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$`)
	loginRE       = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}(@[A-Za-z0-9_.%:-]{1,255})?$`)
)

// CheckDatabaseName holds a database name from a setting (the staging
// name in RESTAGE_STAGING_DSN, RESTAGE_ADOPT) to letters, digits,
// underscores and hyphens, 63 bytes at most (PostgreSQL's limit).
func CheckDatabaseName(setting, name string) error {
	if dbNameRE.MatchString(name) {
		return nil
	}
	return fmt.Errorf("%s: database name %q: want 1-63 letters, digits, underscores or hyphens", setting, clip(name))
}

// clip shortens a bad value for a message: it names the problem, not
// a whole pasted payload.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
