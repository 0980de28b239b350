package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/restage/restage/internal/awsprov"
	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53"
)

// awsSettings are the RESTAGE_* variables of the AWS provider
// (docs/aws-config.md), read by envconfig in one pass like
// config.Settings. Required ones are checked after, all at once.
type awsSettings struct {
	Region                     string        `envconfig:"AWS_REGION"`
	Engine                     string        `envconfig:"ENGINE"`
	SourceID                   string        `envconfig:"SOURCE_ID"`
	SourceARN                  string        `envconfig:"SOURCE_ARN"`
	SnapshotType               string        `envconfig:"SNAPSHOT_TYPE"`
	SnapshotARN                string        `envconfig:"SNAPSHOT_ARN"`
	KMSKeyID                   string        `envconfig:"KMS_KEY_ID"`
	SubnetGroup                string        `envconfig:"SUBNET_GROUP"`
	QuarantineSecurityGroupIDs []string      `envconfig:"QUARANTINE_SECURITY_GROUP_IDS"`
	SecurityGroupIDs           []string      `envconfig:"SECURITY_GROUP_IDS"`
	InstanceClass              string        `envconfig:"INSTANCE_CLASS"`
	ServerlessMinACU           float64       `envconfig:"SERVERLESS_MIN_ACU"`
	ServerlessMaxACU           float64       `envconfig:"SERVERLESS_MAX_ACU"`
	SourceMode                 string        `envconfig:"SOURCE_MODE" default:"snapshot"`
	MaskingInstanceClass       string        `envconfig:"MASKING_INSTANCE_CLASS"`
	MaskingMaxACU              float64       `envconfig:"MASKING_MAX_ACU"`
	DBParameterGroup           string        `envconfig:"DB_PARAMETER_GROUP"`
	ClusterParameterGroup      string        `envconfig:"CLUSTER_PARAMETER_GROUP"`
	OptionGroup                string        `envconfig:"OPTION_GROUP"`
	BackupRetention            int32         `envconfig:"BACKUP_RETENTION"`
	WaitTimeout                time.Duration `envconfig:"WAIT_TIMEOUT" default:"2h"`
	HostedZoneID               string        `envconfig:"HOSTED_ZONE_ID"`
	DNSName                    string        `envconfig:"DNS_NAME"`
	DNSTTL                     int64         `envconfig:"DNS_TTL" default:"60"`
	LockTable                  string        `envconfig:"LOCK_TABLE"`
	DBName                     string        `envconfig:"DB_NAME"`
	MasterPassword             string        `envconfig:"MASTER_PASSWORD"`
	TLSInsecureSkipVerify      bool          `envconfig:"TLS_INSECURE_SKIP_VERIFY"`
	TLSCAFile                  string        `envconfig:"TLS_CA_FILE" default:"/etc/restage/rds-ca.pem"`
	ReadyTimeout               time.Duration `envconfig:"READY_TIMEOUT" default:"10m"`
	FinalSnapshot              bool          `envconfig:"FINAL_SNAPSHOT"`
	MetricsNamespace           string        `envconfig:"METRICS_NAMESPACE" default:"restage"`
}

// awsRequired names the required variables and why.
var awsRequired = []struct{ name, why string }{
	{"RESTAGE_AWS_REGION", "region of the databases"},
	{"RESTAGE_ENGINE", "aurora-mysql, aurora-postgresql, mysql, postgres or mariadb"},
	{"RESTAGE_SOURCE_ID", "production cluster or instance identifier"},
	{"RESTAGE_SUBNET_GROUP", "the staging DB subnet group"},
	{"RESTAGE_QUARANTINE_SECURITY_GROUP_IDS", "comma-separated security groups of this target that admit only its restage task; every copy starts there"},
	{"RESTAGE_SECURITY_GROUP_IDS", "comma-separated staging security groups the copy moves to after the users step"},
	{"RESTAGE_INSTANCE_CLASS", "e.g. db.r6g.large, or db.serverless for Aurora Serverless v2"},
	{"RESTAGE_DB_PARAMETER_GROUP", "the instance's or writer's parameter group; engine defaults may not fit the snapshot"},
	{"RESTAGE_HOSTED_ZONE_ID", "the staging record's hosted zone"},
	{"RESTAGE_DNS_NAME", "the staging CNAME"},
	{"RESTAGE_LOCK_TABLE", "DynamoDB table of run locks"},
	{"RESTAGE_DB_NAME", "the database inside the server to mask"},
}

// awsEnv is the validated AWS configuration.
type awsEnv struct {
	region  string
	set     awsSettings
	rds     rds.Config
	dns     route53.Config
	lock    ddblock.Config
	prov    awsprov.Config
	problem []error
}

func (e *awsEnv) fail(err error) { e.problem = append(e.problem, err) }

// readAWSEnv reads and validates every AWS variable; every problem at
// once, nothing touched.
func readAWSEnv(s *config.Settings) (*awsEnv, error) {
	e := &awsEnv{}
	var a awsSettings
	// Field by field, so that every variable that does not parse is
	// reported; checks of a variable that did not parse are skipped (its
	// zero value would only add a second, misleading problem).
	failed, err := config.Load(config.EnvPrefix, &a)
	if err != nil {
		e.fail(err)
	}
	parsed := func(names ...string) bool {
		for _, n := range names {
			if slices.Contains(failed, n) {
				return false
			}
		}
		return true
	}
	for _, r := range awsRequired {
		if strings.TrimSpace(os.Getenv(r.name)) == "" {
			e.fail(fmt.Errorf("%s is required (%s)", r.name, r.why))
		}
	}
	if rds.Engine(a.Engine).Aurora() && strings.TrimSpace(a.ClusterParameterGroup) == "" {
		e.fail(errors.New("RESTAGE_CLUSTER_PARAMETER_GROUP is required for Aurora (the cluster parameter group; engine defaults may not fit the snapshot)"))
	}
	if parsed("RESTAGE_WAIT_TIMEOUT", "RESTAGE_READY_TIMEOUT") && (a.WaitTimeout < 0 || a.ReadyTimeout < 0) {
		e.fail(errors.New("RESTAGE_WAIT_TIMEOUT and RESTAGE_READY_TIMEOUT must not be negative"))
	}
	if parsed("RESTAGE_DNS_TTL") && (a.DNSTTL < 1 || a.DNSTTL > 86400) {
		e.fail(fmt.Errorf("RESTAGE_DNS_TTL %d: want 1 to 86400 seconds", a.DNSTTL))
	}
	if v := os.Getenv("RESTAGE_TLS"); v != "" {
		e.fail(fmt.Errorf("RESTAGE_TLS %q is no longer read: certificates are verified against RESTAGE_TLS_CA_FILE; the only opt-out is RESTAGE_TLS_INSECURE_SKIP_VERIFY=true", v))
	}
	e.set, e.region = a, a.Region
	e.rds = rds.Config{
		Target:                     s.Target,
		Engine:                     rds.Engine(a.Engine),
		SourceID:                   a.SourceID,
		SourceARN:                  a.SourceARN,
		SnapshotType:               a.SnapshotType,
		SnapshotARN:                a.SnapshotARN,
		KMSKeyID:                   a.KMSKeyID,
		SubnetGroup:                a.SubnetGroup,
		QuarantineSecurityGroupIDs: trimAll(a.QuarantineSecurityGroupIDs),
		SecurityGroupIDs:           trimAll(a.SecurityGroupIDs),
		InstanceClass:              a.InstanceClass,
		ServerlessMinACU:           a.ServerlessMinACU,
		ServerlessMaxACU:           a.ServerlessMaxACU,
		SourceMode:                 strings.TrimSpace(a.SourceMode),
		MaskingInstanceClass:       strings.TrimSpace(a.MaskingInstanceClass),
		MaskingMaxACU:              a.MaskingMaxACU,
		DBParameterGroup:           a.DBParameterGroup,
		ClusterParameterGroup:      a.ClusterParameterGroup,
		OptionGroup:                a.OptionGroup,
		BackupRetention:            a.BackupRetention,
		WaitTimeout:                a.WaitTimeout,
		Adopt:                      s.Adopt,
	}
	e.dns = route53.Config{ZoneID: a.HostedZoneID, Name: a.DNSName, TTL: a.DNSTTL}
	e.lock = ddblock.Config{Table: a.LockTable}
	tls := awsprov.TLSVerify
	if a.TLSInsecureSkipVerify {
		tls = awsprov.TLSOn
	}
	e.prov = awsprov.Config{
		Target:             s.Target,
		Engine:             a.Engine,
		DBName:             a.DBName,
		MasterPasswordMode: a.MasterPassword,
		DNSName:            a.DNSName,
		TLS:                tls,
		TLSCAFile:          a.TLSCAFile,
		ReadyTimeout:       a.ReadyTimeout,
		LockWait:           a.WaitTimeout,
		Adopt:              s.Adopt,
		FinalSnapshot:      a.FinalSnapshot,
		AcceptSharedLogins: s.AcceptSharedLogins,
	}
	if strings.TrimSpace(s.Preserve) != "" {
		// Preserve reads the current staging DB as the first staging user
		// (run.go reports problems with the list itself).
		users, _ := parseStagingUsers(s.StagingUsers, false)
		if len(users) == 0 || users[0].Password == "" {
			e.fail(errors.New("RESTAGE_PRESERVE on AWS reads the current staging DB as the first staging user: set RESTAGE_STAGING_USERS and its password"))
		} else {
			e.prov.PreserveUser, e.prov.PreservePassword = users[0].Name, users[0].Password
		}
	}
	// The detailed checks only once every required variable is there, so
	// a missing one is reported once.
	if len(e.problem) == 0 {
		if err := e.rds.Validate(); err != nil {
			e.fail(fmt.Errorf("RDS settings: %w", err))
		}
		if err := e.dns.Validate(); err != nil {
			e.fail(fmt.Errorf("DNS settings: %w", err))
		}
		if err := e.lock.Validate(); err != nil {
			e.fail(fmt.Errorf("lock settings: %w", err))
		}
		if err := e.prov.Validate(); err != nil {
			e.fail(fmt.Errorf("provider settings: %w", err))
		}
	}
	if len(e.problem) > 0 {
		return nil, errors.Join(e.problem...)
	}
	return e, nil
}

func trimAll(in []string) []string {
	var out []string
	for _, v := range in {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// newAWSProvider builds the AWS provider from the RESTAGE_* AWS variables
// (docs/aws-config.md) and the default AWS credential chain (the ECS task
// role).
func newAWSProvider(ctx context.Context, s *config.Settings, log *slog.Logger) (refresh.Provider, error) {
	e, err := readAWSEnv(s)
	if err != nil {
		return nil, err
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(e.region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	rdsc := rds.New(awsrds.NewFromConfig(cfg), e.rds, log)
	dns := route53.New(r53.NewFromConfig(cfg), e.dns, log)
	lock := ddblock.New(dynamodb.NewFromConfig(cfg), e.lock, log)
	var secrets awsprov.SecretReader = secretsmanager.NewFromConfig(cfg)
	return awsprov.New(e.prov, rdsc, dns, lock, secrets, log)
}

// readS3Rules fetches a rules file given as s3://bucket/key (the Terraform
// module uploads one object per database).
func readS3Rules(ctx context.Context, region, uri string) ([]byte, error) {
	bucket, key, ok := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
	if !ok || bucket == "" || key == "" {
		return nil, fmt.Errorf("RESTAGE_RULES %q: want s3://bucket/key", uri)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	out, err := s3.NewFromConfig(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("read rules from %s: %w", uri, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("read rules from %s: %w", uri, err)
	}
	if err := checkRulesDigest(b, os.Getenv("RESTAGE_RULES_SHA256")); err != nil {
		return nil, fmt.Errorf("rules from %s: %w", uri, err)
	}
	return b, nil
}

// checkRulesDigest refuses rules whose SHA-256 is not want (hex), when
// want is set: the Terraform module pins the content it uploaded, so an
// object written to the bucket later, outside Terraform, can't weaken
// masking or add post-mask SQL.
func checkRulesDigest(b []byte, want string) error {
	want = strings.ToLower(strings.TrimSpace(want))
	if want == "" {
		return nil
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("SHA-256 %s is not the pinned %s (RESTAGE_RULES_SHA256): the object changed outside Terraform; refusing to mask with it", got, want)
	}
	return nil
}
