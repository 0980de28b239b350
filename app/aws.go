package main

import (
	"io"

	"context"
	"errors"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/restage/restage/internal/awsprov"
	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53"
)

// awsEnv is the RESTAGE_* AWS configuration (docs/aws-config.md).
type awsEnv struct {
	region  string
	rds     rds.Config
	dns     route53.Config
	lock    ddblock.Config
	prov    awsprov.Config
	problem []error
}

func (e *awsEnv) fail(err error) { e.problem = append(e.problem, err) }

func (e *awsEnv) duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.fail(fmt.Errorf("%s %q: want a positive duration such as 2h or 90m", name, v))
		return def
	}
	return d
}

func (e *awsEnv) integer(name string, def, lo, hi int64) int64 {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		e.fail(fmt.Errorf("%s %q: want a whole number from %d to %d", name, v, lo, hi))
		return def
	}
	return n
}

func (e *awsEnv) float(name string) float64 {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(fmt.Errorf("%s %q: want a number such as 0.5 or 8", name, v))
		return 0
	}
	return f
}

func (e *awsEnv) boolean(name string, def bool) bool {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.fail(fmt.Errorf("%s %q: want true or false", name, v))
		return def
	}
	return b
}

func (e *awsEnv) required(name, why string) string {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		e.fail(fmt.Errorf("%s is required (%s)", name, why))
	}
	return v
}

// readAWSEnv reads and validates every AWS variable; every problem at once.
func readAWSEnv(s *config.Settings) (*awsEnv, error) {
	e := &awsEnv{}
	get := func(n string) string { return strings.TrimSpace(os.Getenv(n)) }
	e.region = e.required("RESTAGE_AWS_REGION", "region of the databases")
	engine := e.required("RESTAGE_ENGINE", "aurora-mysql, aurora-postgresql, mysql, postgres or mariadb")
	list := func(v string) []string {
		var out []string
		for _, g := range strings.Split(v, ",") {
			if g = strings.TrimSpace(g); g != "" {
				out = append(out, g)
			}
		}
		return out
	}
	quarantine := list(e.required("RESTAGE_QUARANTINE_SECURITY_GROUP_IDS", "comma-separated security groups of this target that admit only its restage task; every copy starts there"))
	sgs := list(e.required("RESTAGE_SECURITY_GROUP_IDS", "comma-separated staging security groups the copy moves to after the users step"))
	waitTimeout := e.duration("RESTAGE_WAIT_TIMEOUT", rds.DefaultWaitTimeout)
	e.rds = rds.Config{
		Target:                     s.Target,
		Engine:                     rds.Engine(engine),
		SourceID:                   e.required("RESTAGE_SOURCE_ID", "production cluster or instance identifier"),
		SourceARN:                  get("RESTAGE_SOURCE_ARN"),
		SnapshotType:               get("RESTAGE_SNAPSHOT_TYPE"),
		SnapshotARN:                get("RESTAGE_SNAPSHOT_ARN"),
		KMSKeyID:                   get("RESTAGE_KMS_KEY_ID"),
		SubnetGroup:                e.required("RESTAGE_SUBNET_GROUP", "the staging DB subnet group"),
		SecurityGroupIDs:           sgs,
		QuarantineSecurityGroupIDs: quarantine,
		ServerlessMinACU:           e.float("RESTAGE_SERVERLESS_MIN_ACU"),
		ServerlessMaxACU:           e.float("RESTAGE_SERVERLESS_MAX_ACU"),
		InstanceClass:              e.required("RESTAGE_INSTANCE_CLASS", "e.g. db.r6g.large"),
		DBParameterGroup:           get("RESTAGE_DB_PARAMETER_GROUP"),
		ClusterParameterGroup:      get("RESTAGE_CLUSTER_PARAMETER_GROUP"),
		OptionGroup:                get("RESTAGE_OPTION_GROUP"),
		BackupRetention:            int32(e.integer("RESTAGE_BACKUP_RETENTION", 0, 0, 35)),
		WaitTimeout:                waitTimeout,
		Adopt:                      s.Adopt,
	}
	e.dns = route53.Config{
		ZoneID: e.required("RESTAGE_HOSTED_ZONE_ID", "the staging record's hosted zone"),
		Name:   e.required("RESTAGE_DNS_NAME", "the staging CNAME"),
		TTL:    e.integer("RESTAGE_DNS_TTL", route53.DefaultTTL, 1, 86400),
	}
	e.lock = ddblock.Config{Table: e.required("RESTAGE_LOCK_TABLE", "DynamoDB table of run locks")}
	e.prov = awsprov.Config{
		Target:             s.Target,
		Engine:             engine,
		DBName:             e.required("RESTAGE_DB_NAME", "the database inside the server to mask"),
		MasterPasswordMode: get("RESTAGE_MASTER_PASSWORD"),
		DNSName:            e.dns.Name,
		TLS:                get("RESTAGE_TLS"),
		TLSCAFile:          get("RESTAGE_TLS_CA_FILE"),
		ReadyTimeout:       e.duration("RESTAGE_READY_TIMEOUT", awsprov.DefaultReadyTimeout),
		Adopt:              s.Adopt,
		FinalSnapshot:      e.boolean("RESTAGE_FINAL_SNAPSHOT", false),
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

// Referenced until run.go selects it for RESTAGE_PROVIDER=aws.

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
	return b, nil
}
