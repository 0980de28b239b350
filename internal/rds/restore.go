package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// NewestSnapshot returns the newest snapshot of the source in status
// "available" (every page read; snapshots still being created or failed
// are skipped). With Config.SnapshotARN it returns exactly that snapshot,
// or an error if it is not available. No snapshot is ErrNoSnapshot.
func (c *Client) NewestSnapshot(ctx context.Context) (*Snapshot, error) {
	var (
		all []listedSnapshot
		err error
	)
	if c.cfg.Engine.Aurora() {
		all, err = c.clusterSnapshots(ctx)
	} else {
		all, err = c.instanceSnapshots(ctx)
	}
	if arn := c.cfg.SnapshotARN; arn != "" && isSnapshotNotFound(err) {
		return nil, fmt.Errorf("snapshot %q: not found or not shared with this account: %w: %w", arn, ErrNoSnapshot, err)
	}
	if err != nil {
		return nil, err
	}
	if arn := c.cfg.SnapshotARN; arn != "" {
		for i := range all {
			if all[i].ARN == arn || all[i].ID == arn {
				if !eqFold(all[i].Source, c.cfg.SourceID) {
					return nil, fmt.Errorf("snapshot %q was taken of %q, not of the source %q: restage restores only the source's snapshots: %w", arn, all[i].Source, c.cfg.SourceID, ErrNoSnapshot)
				}
				if all[i].status != "available" {
					return nil, fmt.Errorf("snapshot %q is %q, not available (retrying later can help): %w", arn, all[i].status, ErrNoSnapshot)
				}
				c.log.Info("snapshot chosen", "snapshot", all[i].ID, "created", all[i].Created)
				return &all[i].Snapshot, nil
			}
		}
		return nil, fmt.Errorf("snapshot %q: not found or not shared with this account: %w", arn, ErrNoSnapshot)
	}
	var best *Snapshot
	for i := range all {
		s := &all[i]
		if s.status != "available" || s.Created.IsZero() || !eqFold(s.Source, c.cfg.SourceID) {
			continue
		}
		if c.cfg.SnapshotType == SnapshotAutomated && !c.automatedName(s.ID) {
			// rds:<source>-* also matches another source whose name
			// starts the same (prod and prod-2).
			c.log.Warn("snapshot skipped: not named like an automated snapshot of the source", "snapshot", s.ID)
			continue
		}
		if best == nil || s.Created.After(best.Created) || (s.Created.Equal(best.Created) && s.ID > best.ID) {
			best = &s.Snapshot
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s snapshots of %q (%d seen, none available; retrying helps once one is): %w", c.cfg.SnapshotType, c.cfg.SourceID, len(all), ErrNoSnapshot)
	}
	c.log.Info("snapshot chosen", "snapshot", best.ID, "created", best.Created, "seen", len(all))
	return best, nil
}

// automatedName reports whether id is exactly rds:<source>-YYYY-MM-DD-HH-MM,
// the name RDS gives an automated snapshot of the source.
func (c *Client) automatedName(id string) bool {
	rest, ok := strings.CutPrefix(strings.ToLower(id), "rds:"+strings.ToLower(c.cfg.SourceID)+"-")
	if !ok {
		return false
	}
	_, err := time.Parse("2006-01-02-15-04", rest)
	return err == nil && len(rest) == len("2006-01-02-15-04")
}

func isSnapshotNotFound(err error) bool {
	var cf *types.DBClusterSnapshotNotFoundFault
	var sf *types.DBSnapshotNotFoundFault
	return errors.As(err, &cf) || errors.As(err, &sf)
}

type listedSnapshot struct {
	Snapshot
	status string
}

func (c *Client) clusterSnapshots(ctx context.Context) ([]listedSnapshot, error) {
	in := &awsrds.DescribeDBClusterSnapshotsInput{}
	switch {
	case c.cfg.SnapshotARN != "":
		in.DBClusterSnapshotIdentifier = aws.String(c.cfg.SnapshotARN)
		in.IncludeShared = aws.Bool(true)
	case c.cfg.SnapshotType == SnapshotShared:
		// A shared snapshot's cluster lives in another account: filter
		// on the identifier below, not in the request.
		in.SnapshotType = aws.String(SnapshotShared)
		in.IncludeShared = aws.Bool(true)
	default:
		in.DBClusterIdentifier = aws.String(c.cfg.SourceID)
		in.SnapshotType = aws.String(c.cfg.SnapshotType)
	}
	var all []listedSnapshot
	p := awsrds.NewDescribeDBClusterSnapshotsPaginator(c.api, in)
	for p.HasMorePages() {
		var out *awsrds.DescribeDBClusterSnapshotsOutput
		err := c.call(ctx, "DescribeDBClusterSnapshots", false, func(ctx context.Context) (err error) {
			out, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list cluster snapshots of %q: %w", c.cfg.SourceID, err)
		}
		for _, s := range out.DBClusterSnapshots {
			all = append(all, listedSnapshot{status: deref(s.Status), Snapshot: Snapshot{
				ID:            deref(s.DBClusterSnapshotIdentifier),
				ARN:           deref(s.DBClusterSnapshotArn),
				Source:        deref(s.DBClusterIdentifier),
				Engine:        Engine(deref(s.Engine)),
				Created:       deref(s.SnapshotCreateTime),
				EngineVersion: deref(s.EngineVersion),
				Encrypted:     deref(s.StorageEncrypted),
				KMSKeyID:      deref(s.KmsKeyId),
			}})
		}
	}
	return all, nil
}

func (c *Client) instanceSnapshots(ctx context.Context) ([]listedSnapshot, error) {
	in := &awsrds.DescribeDBSnapshotsInput{}
	switch {
	case c.cfg.SnapshotARN != "":
		in.DBSnapshotIdentifier = aws.String(c.cfg.SnapshotARN)
		in.IncludeShared = aws.Bool(true)
	case c.cfg.SnapshotType == SnapshotShared:
		in.SnapshotType = aws.String(SnapshotShared)
		in.IncludeShared = aws.Bool(true)
	default:
		in.DBInstanceIdentifier = aws.String(c.cfg.SourceID)
		in.SnapshotType = aws.String(c.cfg.SnapshotType)
	}
	var all []listedSnapshot
	p := awsrds.NewDescribeDBSnapshotsPaginator(c.api, in)
	for p.HasMorePages() {
		var out *awsrds.DescribeDBSnapshotsOutput
		err := c.call(ctx, "DescribeDBSnapshots", false, func(ctx context.Context) (err error) {
			out, err = p.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list snapshots of %q: %w", c.cfg.SourceID, err)
		}
		for _, s := range out.DBSnapshots {
			all = append(all, listedSnapshot{status: deref(s.Status), Snapshot: Snapshot{
				ID:            deref(s.DBSnapshotIdentifier),
				ARN:           deref(s.DBSnapshotArn),
				Source:        deref(s.DBInstanceIdentifier),
				Engine:        Engine(deref(s.Engine)),
				Created:       deref(s.SnapshotCreateTime),
				EngineVersion: deref(s.EngineVersion),
				Encrypted:     deref(s.Encrypted),
				KMSKeyID:      deref(s.KmsKeyId),
			}})
		}
	}
	return all, nil
}

// Restore restores snap into a new DB named id, tagged as run runID's,
// and waits until it is available: for Aurora the cluster, then its writer
// instance id+WriterSuffix. Everything is explicit — a restore otherwise
// takes production's tags, groups and settings: engine and engine version
// from the snapshot, the staging subnet group, the isolated security
// groups, the configured parameter and option groups, instance class, not
// publicly accessible, no deletion protection, no tag copying to
// snapshots, restage's tags (restage:state=provisioning). RDS instances
// are restored with backups off (retention 0, so no binary logs either and
// no restore point holding unmasked data); EnableBackups turns them on
// before the switch. Aurora clusters get the minimum of 1 day (see
// EnableBackups).
//
// Once anything may have been created, the DB is returned with the error
// so the caller can Delete it.
func (c *Client) Restore(ctx context.Context, snap *Snapshot, id, runID string) (*DB, error) {
	if err := c.checkRestore(snap, id, runID); err != nil {
		return nil, err
	}
	tags := map[string]string{
		TagManaged: "true",
		TagTarget:  c.cfg.Target,
		TagRun:     runID,
		TagState:   StateProvisioning,
	}
	db := &DB{ID: id, Engine: c.cfg.Engine, Tags: tags, RunID: runID}
	c.log.Info("restore started", "db", id, "snapshot", snap.ID, "engine", string(c.cfg.Engine), "engine_version", snap.EngineVersion)
	start := c.now()
	var err error
	if c.cfg.Engine.Aurora() {
		err = c.restoreCluster(ctx, snap, db)
	} else {
		err = c.restoreInstance(ctx, snap, db)
	}
	if err != nil {
		if db.Status == "" {
			return nil, err
		}
		return db, err
	}
	c.log.Info("restore done", "db", id, "duration", c.now().Sub(start).Round(time.Second).String())
	return db, nil
}

func (c *Client) checkRestore(snap *Snapshot, id, runID string) error {
	var errs []error
	if snap == nil || (snap.ID == "" && snap.ARN == "") {
		errs = append(errs, errors.New("no snapshot"))
	} else if snap.Engine != "" && snap.Engine != c.cfg.Engine {
		errs = append(errs, fmt.Errorf("snapshot %q is %s, the configuration says %s", snap.ID, snap.Engine, c.cfg.Engine))
	}
	if err := c.checkIDs(id, runID); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("restore %q (nothing created, retrying will not help): %w", id, err)
	}
	return nil
}

func snapshotRef(s *Snapshot) *string {
	if s.ARN != "" {
		return aws.String(s.ARN) // required for shared snapshots
	}
	return aws.String(s.ID)
}

func sdkTags(m map[string]string) []types.Tag {
	keys := []string{TagManaged, TagTarget, TagRun, TagState}
	out := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// created records on db that a create call may have taken effect: AWS
// answering with an error means it did not; anything else (a lost
// response, a cancelled context) leaves it open.
func created(db *DB, err error) {
	if err == nil || !isAPIError(err) {
		db.Status = "creating"
	}
}

func (c *Client) restoreCluster(ctx context.Context, snap *Snapshot, db *DB) error {
	id := db.ID
	in := &awsrds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier:         aws.String(id),
		SnapshotIdentifier:          snapshotRef(snap),
		Engine:                      aws.String(string(c.cfg.Engine)),
		EngineVersion:               optional(snap.EngineVersion),
		DBSubnetGroupName:           aws.String(c.cfg.SubnetGroup),
		VpcSecurityGroupIds:         c.cfg.QuarantineSecurityGroupIDs,
		DBClusterParameterGroupName: optional(c.cfg.ClusterParameterGroup),
		OptionGroupName:             optional(c.cfg.OptionGroup),
		PubliclyAccessible:          aws.Bool(false),
		DeletionProtection:          aws.Bool(false),
		CopyTagsToSnapshot:          aws.Bool(false),
		// Aurora's minimum: the unmasked restore point ages out after a
		// day instead of production's retention.
		BackupRetentionPeriod: aws.Int32(1),
		// No IAM logins and no log exports: neither may reach the
		// unmasked copy or copy its contents elsewhere.
		EnableIAMDatabaseAuthentication: aws.Bool(false),
		Tags:                            sdkTags(db.Tags),
	}
	if c.cfg.InstanceClass == InstanceServerless {
		in.ServerlessV2ScalingConfiguration = &types.ServerlessV2ScalingConfiguration{
			MinCapacity: aws.Float64(c.cfg.ServerlessMinACU), MaxCapacity: aws.Float64(c.cfg.ServerlessMaxACU)}
	}
	if snap.Encrypted {
		in.KmsKeyId = optional(c.cfg.KMSKeyID)
		if in.KmsKeyId == nil {
			in.KmsKeyId = optional(snap.KMSKeyID)
		}
	}
	if in.ServerlessV2ScalingConfiguration != nil {
		in.ServerlessV2ScalingConfiguration.MaxCapacity = aws.Float64(c.maskingMaxACU())
	}
	err := c.call(ctx, "RestoreDBClusterFromSnapshot", false, func(ctx context.Context) error {
		_, err := c.api.RestoreDBClusterFromSnapshot(ctx, in)
		return err
	})
	created(db, err)
	if err != nil {
		return fmt.Errorf("restore cluster %q: %w", id, err)
	}
	return c.finishCluster(ctx, db)
}

// finishCluster waits for a just-created copy cluster, creates its
// writer (at the masking class, see ScaleDown) and turns off whatever
// could keep or export unmasked data.
func (c *Client) finishCluster(ctx context.Context, db *DB) error {
	id := db.ID
	if err := c.waitAvailable(ctx, "cluster", id); err != nil {
		return fmt.Errorf("restore cluster %q: %w", id, err)
	}

	writer := id + WriterSuffix
	db.WriterID = writer
	win := &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(writer),
		DBClusterIdentifier:  aws.String(id),
		Engine:               aws.String(string(c.cfg.Engine)),
		DBInstanceClass:      aws.String(c.maskingClass()),
		DBParameterGroupName: optional(c.cfg.DBParameterGroup),
		PubliclyAccessible:   aws.Bool(false),
		// Performance Insights and enhanced monitoring would record
		// unmasked statements and rows outside the copy.
		EnablePerformanceInsights: aws.Bool(false),
		MonitoringInterval:        aws.Int32(0),
		Tags:                      sdkTags(db.Tags),
	}
	// The cluster may still be settling right after its restore.
	err := c.call(ctx, "CreateDBInstance", true, func(ctx context.Context) error {
		_, err := c.api.CreateDBInstance(ctx, win)
		return err
	})
	if err != nil {
		return fmt.Errorf("create writer instance %q of cluster %q: %w", writer, id, err)
	}
	if err := c.waitAvailable(ctx, "instance", writer); err != nil {
		return fmt.Errorf("create writer instance %q of cluster %q: %w", writer, id, err)
	}
	if err := c.waitAvailable(ctx, "cluster", id); err != nil {
		return fmt.Errorf("restore cluster %q: %w", id, err)
	}
	if err := c.noRestorePoints(ctx, "cluster", id); err != nil {
		return err
	}
	if err := c.noRestorePoints(ctx, "instance", writer); err != nil {
		return err
	}
	return c.refresh(ctx, db)
}

func (c *Client) restoreInstance(ctx context.Context, snap *Snapshot, db *DB) error {
	id := db.ID
	// RestoreDBInstanceFromDBSnapshot has no engine version or KMS key
	// parameter: an instance restores at the snapshot's version, encrypted
	// with the snapshot's key.
	in := &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier:  aws.String(id),
		DBSnapshotIdentifier:  snapshotRef(snap),
		Engine:                aws.String(string(c.cfg.Engine)),
		DBInstanceClass:       aws.String(c.maskingClass()),
		DBSubnetGroupName:     aws.String(c.cfg.SubnetGroup),
		VpcSecurityGroupIds:   c.cfg.QuarantineSecurityGroupIDs,
		DBParameterGroupName:  optional(c.cfg.DBParameterGroup),
		OptionGroupName:       optional(c.cfg.OptionGroup),
		PubliclyAccessible:    aws.Bool(false),
		DeletionProtection:    aws.Bool(false),
		CopyTagsToSnapshot:    aws.Bool(false),
		MultiAZ:               aws.Bool(false),
		BackupRetentionPeriod: aws.Int32(0),
		// Performance Insights and enhanced monitoring can't be set here:
		// noRestorePoints turns them off once the instance is available.
		EnableIAMDatabaseAuthentication: aws.Bool(false),
		Tags:                            sdkTags(db.Tags),
	}
	if snap.Encrypted && c.cfg.KMSKeyID != "" && snap.KMSKeyID != "" && c.cfg.KMSKeyID != snap.KMSKeyID {
		c.log.Warn("RDS instances restore with the snapshot's KMS key; the configured key is not used", "db", id, "snapshot", snap.ID)
	}
	err := c.call(ctx, "RestoreDBInstanceFromDBSnapshot", false, func(ctx context.Context) error {
		_, err := c.api.RestoreDBInstanceFromDBSnapshot(ctx, in)
		return err
	})
	created(db, err)
	if err != nil {
		return fmt.Errorf("restore instance %q: %w", id, err)
	}
	return c.finishInstance(ctx, db)
}

// finishInstance waits for a just-created copy instance and turns off
// whatever could keep or export unmasked data.
func (c *Client) finishInstance(ctx context.Context, db *DB) error {
	id := db.ID
	if err := c.waitAvailable(ctx, "instance", id); err != nil {
		return fmt.Errorf("restore instance %q: %w", id, err)
	}
	if err := c.noRestorePoints(ctx, "instance", id); err != nil {
		return err
	}
	return c.refresh(ctx, db)
}

// restorePoints names what, on a DB described as s, keeps or exports
// data of the (still unmasked) copy outside it or lets IAM principals
// log in: Performance Insights, enhanced monitoring, log exports, IAM DB
// authentication.
func restorePoints(s state) []string {
	var on []string
	if s.performanceInsights {
		on = append(on, "Performance Insights")
	}
	if s.monitoringInterval > 0 {
		on = append(on, fmt.Sprintf("enhanced monitoring (%ds)", s.monitoringInterval))
	}
	if len(s.logExports) > 0 {
		on = append(on, "log exports ("+strings.Join(s.logExports, ",")+")")
	}
	if s.iamAuth {
		on = append(on, "IAM DB authentication")
	}
	return on
}

// noRestorePoints turns off on kind id whatever restorePoints finds (a
// restore may inherit it from the snapshot or the account's defaults,
// and RestoreDBInstanceFromDBSnapshot can't say no to all of it), waits
// until the change is applied, and checks again from a fresh describe.
// It runs before the copy is handed to the ready step.
func (c *Client) noRestorePoints(ctx context.Context, kind, id string) error {
	s, err := c.describe(ctx, kind, id)
	if err != nil {
		return fmt.Errorf("check %s %q for restore points: %w", kind, id, err)
	}
	on := restorePoints(s)
	if len(on) == 0 {
		return nil
	}
	c.log.Info("turning off on the copy", "db", id, "settings", strings.Join(on, ", "))
	err = c.call(ctx, "Modify", true, func(ctx context.Context) error {
		var logs *types.CloudwatchLogsExportConfiguration
		if len(s.logExports) > 0 {
			logs = &types.CloudwatchLogsExportConfiguration{DisableLogTypes: s.logExports}
		}
		if kind == "cluster" {
			_, err := c.api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{
				DBClusterIdentifier:               aws.String(id),
				ApplyImmediately:                  aws.Bool(true),
				EnableIAMDatabaseAuthentication:   offIf(s.iamAuth),
				CloudwatchLogsExportConfiguration: logs,
			})
			return err
		}
		in := &awsrds.ModifyDBInstanceInput{
			DBInstanceIdentifier:              aws.String(id),
			ApplyImmediately:                  aws.Bool(true),
			EnablePerformanceInsights:         offIf(s.performanceInsights),
			CloudwatchLogsExportConfiguration: logs,
		}
		if s.monitoringInterval > 0 {
			in.MonitoringInterval = aws.Int32(0)
		}
		if s.instance != nil && s.instance.DBClusterIdentifier == nil {
			// Aurora members take IAM authentication from their cluster.
			in.EnableIAMDatabaseAuthentication = offIf(s.iamAuth)
		}
		_, err := c.api.ModifyDBInstance(ctx, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("turn off %s on %s %q: %w", strings.Join(on, ", "), kind, id, err)
	}
	err = c.wait(ctx, "without restore points", kind, id, false, func(s state) bool {
		return s.status == "available" && len(restorePoints(s)) == 0
	})
	if err != nil {
		return fmt.Errorf("turn off %s on %s %q: %w", strings.Join(on, ", "), kind, id, err)
	}
	return nil
}

// refresh re-reads db's endpoint, status and master login.
func (c *Client) refresh(ctx context.Context, db *DB) error {
	got, err := c.get(ctx, c.kind(db.Engine), db.ID)
	if err != nil {
		return err
	}
	*db = *got
	return nil
}

// offIf asks to turn a setting off only when it is on.
func offIf(on bool) *bool {
	if !on {
		return nil
	}
	return aws.Bool(false)
}
