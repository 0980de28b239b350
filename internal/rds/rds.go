// Package rds restores, prepares and retires restage's staging copies on
// Amazon RDS and Aurora (aws-sdk-go-v2): the newest available production
// snapshot is restored into a new cluster or instance with everything
// explicit, its master login is taken over, and restage's own copies — and
// nothing else — are deleted again.
//
// Every wait is bounded by Config.WaitTimeout, ends at once on a failure
// state, and reports AccessDenied as ErrAccessDenied, never as a timeout.
// Every mutating call on an existing DB is preceded by a check of its tags
// (restage:managed=true, restage:target=<target>) and of the production
// source (identifier, ARN and endpoint).
package rds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/restage/restage/internal/refresh"
)

// API is the narrow part of *rds.Client restage uses; rdsfake implements
// it in memory. Every action called through it is declared in
// internal/awsiam.
type API interface {
	DescribeDBClusterSnapshots(ctx context.Context, in *awsrds.DescribeDBClusterSnapshotsInput, optFns ...func(*awsrds.Options)) (*awsrds.DescribeDBClusterSnapshotsOutput, error)
	DescribeDBSnapshots(ctx context.Context, in *awsrds.DescribeDBSnapshotsInput, optFns ...func(*awsrds.Options)) (*awsrds.DescribeDBSnapshotsOutput, error)
	RestoreDBClusterFromSnapshot(ctx context.Context, in *awsrds.RestoreDBClusterFromSnapshotInput, optFns ...func(*awsrds.Options)) (*awsrds.RestoreDBClusterFromSnapshotOutput, error)
	CreateDBInstance(ctx context.Context, in *awsrds.CreateDBInstanceInput, optFns ...func(*awsrds.Options)) (*awsrds.CreateDBInstanceOutput, error)
	RestoreDBClusterToPointInTime(ctx context.Context, in *awsrds.RestoreDBClusterToPointInTimeInput, optFns ...func(*awsrds.Options)) (*awsrds.RestoreDBClusterToPointInTimeOutput, error)
	RestoreDBInstanceToPointInTime(ctx context.Context, in *awsrds.RestoreDBInstanceToPointInTimeInput, optFns ...func(*awsrds.Options)) (*awsrds.RestoreDBInstanceToPointInTimeOutput, error)
	RestoreDBInstanceFromDBSnapshot(ctx context.Context, in *awsrds.RestoreDBInstanceFromDBSnapshotInput, optFns ...func(*awsrds.Options)) (*awsrds.RestoreDBInstanceFromDBSnapshotOutput, error)
	DescribeDBClusters(ctx context.Context, in *awsrds.DescribeDBClustersInput, optFns ...func(*awsrds.Options)) (*awsrds.DescribeDBClustersOutput, error)
	DescribeDBInstances(ctx context.Context, in *awsrds.DescribeDBInstancesInput, optFns ...func(*awsrds.Options)) (*awsrds.DescribeDBInstancesOutput, error)
	ModifyDBCluster(ctx context.Context, in *awsrds.ModifyDBClusterInput, optFns ...func(*awsrds.Options)) (*awsrds.ModifyDBClusterOutput, error)
	ModifyDBInstance(ctx context.Context, in *awsrds.ModifyDBInstanceInput, optFns ...func(*awsrds.Options)) (*awsrds.ModifyDBInstanceOutput, error)
	DeleteDBCluster(ctx context.Context, in *awsrds.DeleteDBClusterInput, optFns ...func(*awsrds.Options)) (*awsrds.DeleteDBClusterOutput, error)
	DeleteDBInstance(ctx context.Context, in *awsrds.DeleteDBInstanceInput, optFns ...func(*awsrds.Options)) (*awsrds.DeleteDBInstanceOutput, error)
	ListTagsForResource(ctx context.Context, in *awsrds.ListTagsForResourceInput, optFns ...func(*awsrds.Options)) (*awsrds.ListTagsForResourceOutput, error)
	AddTagsToResource(ctx context.Context, in *awsrds.AddTagsToResourceInput, optFns ...func(*awsrds.Options)) (*awsrds.AddTagsToResourceOutput, error)
}

var _ API = (*awsrds.Client)(nil)

// Tags restage puts on every DB it creates. A restored DB would otherwise
// inherit production's tags, so they are always given explicitly.
const (
	TagManaged = "restage:managed" // "true"
	TagTarget  = "restage:target"  // Config.Target
	TagRun     = "restage:run"     // the run id
	TagState   = "restage:state"   // provisioning, masked, live, retiring, …
)

// StateProvisioning is the restage:state a DB is created with: the AWS
// spelling of lifecycle.Creating. The other tag values are the lifecycle
// states' own names (lifecycle.Live after the switch).
const StateProvisioning = "provisioning"

// WriterSuffix is appended to an Aurora cluster's identifier to name its
// writer instance.
const WriterSuffix = "-writer"

// Errors. Each is wrapped together with the SDK error (if any), so both
// errors.Is and errors.As work on what the Client returns.
var (
	// ErrNotFound is returned by Get when the DB does not exist (any more).
	ErrNotFound = errors.New("not found")
	// ErrNotOurs is returned by Delete (and every other call that changes an
	// existing DB) when the DB is not tagged restage:managed=true for this
	// target, or is the production source. It is refresh.ErrNotOurs.
	ErrNotOurs = refresh.ErrNotOurs
	// ErrAccessDenied is returned when AWS denied a call (IAM, SCP, KMS
	// key policy). Retrying will not help until the policy is fixed.
	ErrAccessDenied = errors.New("access denied (retrying will not help until the task role's policy is fixed)")
	// ErrFailedState is returned by a wait that saw the DB enter a failure
	// state (incompatible-parameters, incompatible-restore, failed, …).
	// Retrying will not help until its cause is fixed.
	ErrFailedState = errors.New("the DB entered a failure state (retrying will not help until its cause is fixed)")
	// ErrTimeout is returned by a wait that did not see the expected state
	// within Config.WaitTimeout. Retrying may help if RDS was only slow.
	ErrTimeout = errors.New("timed out (retrying may help; RESTAGE_WAIT_TIMEOUT bounds every wait)")
	// ErrThrottled is returned when the RDS API kept throttling through
	// every retry. Retrying later can help.
	ErrThrottled = errors.New("throttled by the RDS API (retrying later can help)")
	// ErrNoSnapshot is returned by NewestSnapshot when the source has no
	// available snapshot of the configured type. Retrying helps once a
	// snapshot is available.
	ErrNoSnapshot = errors.New("no available snapshot")
)

// Engine is an RDS engine name as the RDS API spells it.
type Engine string

// Engines restage supports.
const (
	AuroraMySQL      Engine = "aurora-mysql"
	AuroraPostgreSQL Engine = "aurora-postgresql"
	MySQL            Engine = "mysql"
	Postgres         Engine = "postgres"
	MariaDB          Engine = "mariadb"
)

// Valid reports whether e is one of the supported engines.
func (e Engine) Valid() bool {
	switch e {
	case AuroraMySQL, AuroraPostgreSQL, MySQL, Postgres, MariaDB:
		return true
	}
	return false
}

// Aurora reports whether e is an Aurora engine (a cluster with a writer
// instance) rather than an RDS instance.
func (e Engine) Aurora() bool { return e == AuroraMySQL || e == AuroraPostgreSQL }

// Family is the wire protocol: "mysql" (dsn.MySQL) or "postgres"
// (dsn.Postgres); empty for an unknown engine.
func (e Engine) Family() string {
	switch e {
	case AuroraMySQL, MySQL, MariaDB:
		return "mysql"
	case AuroraPostgreSQL, Postgres:
		return "postgres"
	}
	return ""
}

// Snapshot types.
const (
	SnapshotAutomated = "automated"
	SnapshotManual    = "manual"
	SnapshotShared    = "shared"
)

// Defaults for zero Config durations.
const (
	DefaultWaitTimeout  = 2 * time.Hour
	DefaultPollInterval = 30 * time.Second
)

// Config configures the Client (docs/aws-config.md).
type Config struct {
	// Target names the staging database ([a-z0-9] and single hyphens);
	// restored DBs are named restage-<target>-<yyyymmddhhmm>.
	Target string
	Engine Engine
	// SourceID is the production cluster (Aurora) or instance identifier.
	// restage only reads its snapshots and its endpoint; it never changes
	// it.
	SourceID string
	// SourceARN is the same as an ARN (optional; compared too before any
	// delete).
	SourceARN string
	// SnapshotType is automated (default), manual or shared.
	SnapshotType string
	// SnapshotARN restores exactly this (cross-account) snapshot.
	SnapshotARN string
	// KMSKeyID is the key restored Aurora clusters are encrypted with when
	// the snapshot is encrypted (empty: the snapshot's key). RDS instances
	// always use the snapshot's key (RestoreDBInstanceFromDBSnapshot has
	// no key parameter).
	KMSKeyID    string
	SubnetGroup string
	// QuarantineSecurityGroupIDs are the groups every copy is created in:
	// they admit only this target's restage task, so nobody else can
	// reach the unmasked copy. OpenToStaging moves the copy to
	// SecurityGroupIDs (the staging applications' groups) once it is
	// masked, verified and its users are set up. The two sets must not
	// share a group.
	QuarantineSecurityGroupIDs []string
	SecurityGroupIDs           []string
	// InstanceClass is the instance's or writer's class; InstanceServerless
	// (Aurora only) makes the writer Serverless v2, scaled between
	// ServerlessMinACU and ServerlessMaxACU.
	InstanceClass    string
	ServerlessMinACU float64
	ServerlessMaxACU float64
	// SourceMode is where the copy comes from: SourceSnapshot (the
	// default: the newest snapshot), SourceClone (Aurora only: a
	// copy-on-write clone of the source at its latest restorable time)
	// or SourcePointInTime (a full copy at the source's latest
	// restorable time). See docs/aws-config.md for what each costs.
	SourceMode string
	// MaskingInstanceClass, if set, is the class the copy's instance or
	// writer is created at; ScaleDown moves it to InstanceClass after
	// verification. MaskingMaxACU is the same for a Serverless v2
	// writer's maximum capacity (ScaleDown sets ServerlessMaxACU).
	MaskingInstanceClass string
	MaskingMaxACU        float64
	// DBParameterGroup is the instance's (RDS) or the writer's (Aurora)
	// parameter group (required); ClusterParameterGroup is Aurora's
	// cluster parameter group (required for Aurora). Both are explicit:
	// a snapshot taken with settings such as lower_case_table_names or
	// shared_preload_libraries does not start with the engine defaults.
	// OptionGroup is the option group (empty: the engine default).
	DBParameterGroup      string
	ClusterParameterGroup string
	OptionGroup           string
	// BackupRetention is the number of days of backups EnableBackups turns
	// on for RDS instances (0-35; 0 leaves them off). Aurora ignores it.
	BackupRetention int32
	// WaitTimeout bounds every wait for an RDS state change (default 2h).
	WaitTimeout time.Duration
	// PollInterval is the time between two describes while waiting
	// (default 30s); retries back off from half of it.
	PollInterval time.Duration
	// Adopt is the identifier of a hand-made staging cluster (Aurora) or
	// instance that restage may change and delete although it does not
	// carry restage's tags (adoption: the first run retires it). It is
	// accepted in place of the tags and nowhere else: the production
	// source is still refused by identifier, ARN and endpoint, and Managed
	// does not list it (Sweep never deletes it).
	Adopt string
}

var (
	targetRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	idRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$`)
)

// Source modes (Config.SourceMode).
const (
	SourceSnapshot    = "snapshot"
	SourceClone       = "clone"
	SourcePointInTime = "point_in_time"
)

// InstanceServerless is the instance class of an Aurora Serverless v2
// writer.
const InstanceServerless = "db.serverless"

// idTimeLayout is the <yyyymmddhhmm> part of an identifier.
const idTimeLayout = "200601021504"

// maxTarget keeps restage-<target>-<yyyymmddhhmm>-writer within RDS's 63
// characters.
const maxTarget = 63 - len("restage-") - len("-"+idTimeLayout) - len(WriterSuffix)

// Validate checks the configuration offline and reports every problem at
// once.
func (c Config) Validate() error {
	var errs []error
	if !targetRE.MatchString(c.Target) || len(c.Target) > maxTarget {
		errs = append(errs, fmt.Errorf("target %q: want 1-%d lower-case letters, digits or single hyphens, starting with a letter, not ending with a hyphen (it becomes part of RDS identifiers)", c.Target, maxTarget))
	}
	if !c.Engine.Valid() {
		errs = append(errs, fmt.Errorf("engine %q: want aurora-mysql, aurora-postgresql, mysql, postgres or mariadb", c.Engine))
	}
	if err := validIdentifier(c.SourceID); err != nil {
		errs = append(errs, fmt.Errorf("source id: %w", err))
	} else if c.Target != "" && strings.HasPrefix(strings.ToLower(c.SourceID), "restage-"+c.Target+"-") {
		errs = append(errs, fmt.Errorf("source id %q looks like one of restage's own copies of target %q", c.SourceID, c.Target))
	}
	kind := "db"
	if c.Engine.Aurora() {
		kind = "cluster"
	}
	if c.Adopt != "" {
		switch err := validIdentifier(c.Adopt); {
		case err != nil:
			errs = append(errs, fmt.Errorf("adopt: %w", err))
		case eqFold(c.Adopt, c.SourceID):
			errs = append(errs, fmt.Errorf("adopt %q is the production source: restage never deletes it", c.Adopt))
		case c.SourceARN != "" && strings.HasSuffix(strings.ToLower(c.SourceARN), ":"+strings.ToLower(c.Adopt)):
			errs = append(errs, fmt.Errorf("adopt %q names the production source's ARN: restage never deletes it", c.Adopt))
		}
	}
	if c.SourceARN != "" {
		if !strings.HasPrefix(c.SourceARN, "arn:") || !strings.Contains(c.SourceARN, ":rds:") || !strings.HasSuffix(strings.ToLower(c.SourceARN), ":"+kind+":"+strings.ToLower(c.SourceID)) {
			errs = append(errs, fmt.Errorf("source ARN %q: want arn:…:rds:<region>:<account>:%s:%s", c.SourceARN, kind, c.SourceID))
		}
	}
	switch c.SnapshotType {
	case "", SnapshotAutomated, SnapshotManual, SnapshotShared:
	default:
		errs = append(errs, fmt.Errorf("snapshot type %q: want automated, manual or shared", c.SnapshotType))
	}
	if c.SnapshotARN != "" {
		want := ":snapshot:"
		if c.Engine.Aurora() {
			want = ":cluster-snapshot:"
		}
		if !strings.HasPrefix(c.SnapshotARN, "arn:") || !strings.Contains(c.SnapshotARN, ":rds:") || !strings.Contains(c.SnapshotARN, want) {
			errs = append(errs, fmt.Errorf("snapshot ARN %q: want arn:…:rds:<region>:<account>%s<name>", c.SnapshotARN, want))
		}
	}
	if c.SubnetGroup == "" {
		errs = append(errs, errors.New("subnet group: required (the staging DB subnet group)"))
	}
	if len(c.QuarantineSecurityGroupIDs) == 0 {
		errs = append(errs, errors.New("quarantine security group ids: at least one is required (a group of this target that admits only its restage task)"))
	}
	if len(c.SecurityGroupIDs) == 0 {
		errs = append(errs, errors.New("security group ids: at least one staging security group is required (the copy moves there after the users step)"))
	}
	for _, sg := range slices.Concat(c.QuarantineSecurityGroupIDs, c.SecurityGroupIDs) {
		if !strings.HasPrefix(sg, "sg-") {
			errs = append(errs, fmt.Errorf("security group id %q: want sg-…", sg))
		}
	}
	for _, sg := range c.QuarantineSecurityGroupIDs {
		if slices.Contains(c.SecurityGroupIDs, sg) {
			errs = append(errs, fmt.Errorf("security group %s is both a quarantine and a staging group: the unmasked copy would be reachable by the staging applications", sg))
		}
	}
	if !strings.HasPrefix(c.InstanceClass, "db.") {
		errs = append(errs, fmt.Errorf("instance class %q: want db.<family>.<size>, e.g. db.r6g.large, or db.serverless", c.InstanceClass))
	}
	if c.InstanceClass == InstanceServerless {
		switch {
		case c.Engine.Valid() && !c.Engine.Aurora():
			errs = append(errs, fmt.Errorf("instance class db.serverless: only Aurora engines have Serverless v2, %s is an RDS instance", c.Engine))
		case c.ServerlessMinACU < 0.5 || c.ServerlessMaxACU > 256 || c.ServerlessMaxACU < c.ServerlessMinACU || c.ServerlessMaxACU < 1:
			errs = append(errs, fmt.Errorf("serverless capacity %g-%g ACU: db.serverless needs a minimum of at least 0.5 and a maximum of 1-256, not below the minimum (RESTAGE_SERVERLESS_MIN_ACU, RESTAGE_SERVERLESS_MAX_ACU)", c.ServerlessMinACU, c.ServerlessMaxACU))
		}
	} else if c.ServerlessMinACU != 0 || c.ServerlessMaxACU != 0 {
		errs = append(errs, fmt.Errorf("serverless capacity is set but the instance class is %q, not db.serverless", c.InstanceClass))
	}
	switch c.SourceMode {
	case "", SourceSnapshot:
	case SourceClone:
		if c.Engine.Valid() && !c.Engine.Aurora() {
			errs = append(errs, fmt.Errorf("source mode clone (RESTAGE_SOURCE_MODE): only Aurora clusters can be cloned, %s is an RDS instance (use point_in_time)", c.Engine))
		}
	case SourcePointInTime:
	default:
		errs = append(errs, fmt.Errorf("source mode %q (RESTAGE_SOURCE_MODE): want snapshot, clone or point_in_time", c.SourceMode))
	}
	if c.SourceMode == SourceClone || c.SourceMode == SourcePointInTime {
		if c.SnapshotARN != "" {
			errs = append(errs, fmt.Errorf("snapshot ARN (RESTAGE_SNAPSHOT_ARN) is set but the source mode is %s: it restores from the source, not a snapshot", c.SourceMode))
		}
		if c.SnapshotType == SnapshotShared {
			errs = append(errs, fmt.Errorf("snapshot type shared with source mode %s: a point-in-time restore or clone needs the source in this account", c.SourceMode))
		}
	}
	if m := c.MaskingInstanceClass; m != "" {
		switch {
		case !strings.HasPrefix(m, "db."):
			errs = append(errs, fmt.Errorf("masking instance class %q (RESTAGE_MASKING_INSTANCE_CLASS): want db.<family>.<size>, e.g. db.r6g.4xlarge", m))
		case m == InstanceServerless || c.InstanceClass == InstanceServerless:
			errs = append(errs, fmt.Errorf("masking instance class %q with instance class %q: a Serverless v2 writer scales by ACU, set RESTAGE_MASKING_MAX_ACU instead", m, c.InstanceClass))
		}
	}
	if a := c.MaskingMaxACU; a != 0 {
		switch {
		case c.InstanceClass != InstanceServerless:
			errs = append(errs, fmt.Errorf("masking max ACU %g (RESTAGE_MASKING_MAX_ACU) is set but the instance class is %q, not db.serverless", a, c.InstanceClass))
		case a > 256 || a < c.ServerlessMaxACU:
			errs = append(errs, fmt.Errorf("masking max ACU %g (RESTAGE_MASKING_MAX_ACU): want at most 256 and at least the serverless max ACU %g (it is the capacity while masking, scaled down after)", a, c.ServerlessMaxACU))
		}
	}
	if c.DBParameterGroup == "" {
		errs = append(errs, errors.New("DB parameter group: required (RESTAGE_DB_PARAMETER_GROUP; the engine default may not fit the snapshot's settings)"))
	}
	switch {
	case c.Engine.Aurora() && c.ClusterParameterGroup == "":
		errs = append(errs, errors.New("cluster parameter group: required for Aurora (RESTAGE_CLUSTER_PARAMETER_GROUP)"))
	case c.ClusterParameterGroup != "" && c.Engine.Valid() && !c.Engine.Aurora():
		errs = append(errs, fmt.Errorf("cluster parameter group %q: only Aurora engines have one, %s is an RDS instance", c.ClusterParameterGroup, c.Engine))
	}
	if c.BackupRetention < 0 || c.BackupRetention > 35 {
		errs = append(errs, fmt.Errorf("backup retention %d: want 0-35 days", c.BackupRetention))
	}
	if c.WaitTimeout < 0 {
		errs = append(errs, fmt.Errorf("wait timeout %s: must not be negative", c.WaitTimeout))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("poll interval %s: must not be negative", c.PollInterval))
	}
	if c.WaitTimeout > 0 && c.PollInterval > c.WaitTimeout {
		errs = append(errs, fmt.Errorf("poll interval %s is longer than the wait timeout %s", c.PollInterval, c.WaitTimeout))
	}
	return errors.Join(errs...)
}

// Snapshot is a production snapshot restage can restore.
type Snapshot struct {
	ID  string
	ARN string
	// Source is the identifier of the cluster or instance it was taken
	// of.
	Source        string
	Engine        Engine
	Created       time.Time
	EngineVersion string
	Encrypted     bool
	KMSKeyID      string
}

// DB is a cluster (Aurora) or instance (RDS) as restage sees it.
type DB struct {
	// ID is the cluster or instance identifier.
	ID  string
	ARN string
	// WriterID is the Aurora writer instance's identifier.
	WriterID string
	// Endpoint is the (writer) address and Port its port.
	Endpoint string
	Port     int32
	Engine   Engine
	Tags     map[string]string
	// RunID is the restage:run tag.
	RunID          string
	Status         string
	MasterUsername string
	// MasterSecretARN is the RDS-managed master password's secret, if any.
	MasterSecretARN string
}

// Client restores and retires restage's DBs of one target.
type Client struct {
	api API
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns a Client. cfg must have passed Validate; zero durations get
// their defaults. A nil log discards.
func New(api API, cfg Config, log *slog.Logger) *Client {
	if cfg.SnapshotType == "" {
		cfg.SnapshotType = SnapshotAutomated
	}
	if cfg.SourceMode == "" {
		cfg.SourceMode = SourceSnapshot
	}
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = DefaultWaitTimeout
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{api: api, cfg: cfg, log: log.With("target", cfg.Target), now: time.Now}
}

// Identifier returns the identifier of target's copy made at t:
// restage-<target>-<yyyymmddhhmm> (UTC, lower case as RDS stores it).
func Identifier(target string, t time.Time) (string, error) {
	id := strings.ToLower("restage-" + target + "-" + t.UTC().Format(idTimeLayout))
	if err := validIdentifier(id); err != nil {
		return "", fmt.Errorf("identifier for target %q: %w", target, err)
	}
	return id, nil
}

// validIdentifier checks RDS's rules for cluster and instance identifiers.
func validIdentifier(id string) error {
	switch {
	case id == "":
		return errors.New("empty identifier")
	case len(id) > 63:
		return fmt.Errorf("identifier %q is %d characters, RDS allows 63", id, len(id))
	case !idRE.MatchString(id):
		return fmt.Errorf("identifier %q: want letters, digits and single hyphens, starting with a letter, not ending with a hyphen", id)
	}
	return nil
}

func (c *Client) kind(e Engine) string {
	if e == "" {
		e = c.cfg.Engine
	}
	if e.Aurora() {
		return "cluster"
	}
	return "instance"
}
