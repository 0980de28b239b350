package config

import (
	"errors"
	"fmt"
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
}

// LoadSettings reads the environment. Every problem is reported at once.
func LoadSettings() (*Settings, error) {
	var s Settings
	if err := envconfig.Process(EnvPrefix, &s); err != nil {
		// envconfig's messages name the variable and the bad value; the
		// value of these variables is never secret except MASK_KEY, which
		// is a string and can't fail to parse.
		return nil, err
	}
	return &s, nil
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

// Validate checks value domains.
func (s *Settings) Validate() error {
	var errs []error
	if s.Workers < 1 || s.Workers > 64 {
		errs = append(errs, fmt.Errorf("RESTAGE_WORKERS must be between 1 and 64, got %d", s.Workers))
	}
	if s.BatchSize < 100 || s.BatchSize > 100_000 {
		errs = append(errs, fmt.Errorf("RESTAGE_BATCH_SIZE must be between 100 and 100000, got %d", s.BatchSize))
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("RESTAGE_LOG_LEVEL must be debug, info, warn or error, got %q", s.LogLevel))
	}
	return errors.Join(errs...)
}
