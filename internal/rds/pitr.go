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

// SourceMode returns the configured source mode (SourceSnapshot when
// unset).
func (c *Client) SourceMode() string { return c.cfg.SourceMode }

// maskingClass is the class a copy's instance or writer is created at:
// the masking class when one is set (ScaleDown moves it to
// InstanceClass), else InstanceClass.
func (c *Client) maskingClass() string {
	if c.cfg.MaskingInstanceClass != "" {
		return c.cfg.MaskingInstanceClass
	}
	return c.cfg.InstanceClass
}

// maskingMaxACU is a Serverless v2 copy's maximum capacity while masking.
func (c *Client) maskingMaxACU() float64 {
	if c.cfg.MaskingMaxACU != 0 {
		return c.cfg.MaskingMaxACU
	}
	return c.cfg.ServerlessMaxACU
}

// RestoreFromSource copies the production source as it is at its latest
// restorable time into a new DB named id, tagged as run runID's: an
// Aurora copy-on-write clone (SourceClone) or a full point-in-time
// restore of a cluster or instance (SourcePointInTime). Everything that
// matters is explicit, as in Restore — these calls copy the source's
// configuration otherwise: the staging subnet group, the quarantine
// security groups, the configured parameter and option groups, IAM DB
// authentication off, no log exports, no backtracking, no tag copying to
// snapshots, restage's tags, the masking class. Performance Insights,
// enhanced monitoring and log exports the request can't refuse are
// turned off once the copy is available (noRestorePoints), before it is
// handed on.
//
// The source must exist and be available (an Aurora source must have an
// instance: RDS can't clone a cluster without one). Once anything may
// have been created, the DB is returned with the error so the caller can
// Delete it.
func (c *Client) RestoreFromSource(ctx context.Context, id, runID string) (*DB, error) {
	mode := c.cfg.SourceMode
	if mode != SourceClone && mode != SourcePointInTime {
		return nil, fmt.Errorf("restore %q from the source (nothing created): source mode is %q, not clone or point_in_time", id, mode)
	}
	if mode == SourceClone && !c.cfg.Engine.Aurora() {
		return nil, fmt.Errorf("restore %q from the source (nothing created, retrying will not help): %s is not Aurora, only Aurora clusters can be cloned", id, c.cfg.Engine)
	}
	if err := c.checkIDs(id, runID); err != nil {
		return nil, fmt.Errorf("restore %q (nothing created, retrying will not help): %w", id, err)
	}
	kind := c.kind("")
	src, err := c.describe(ctx, kind, c.cfg.SourceID)
	if err != nil {
		return nil, fmt.Errorf("%s of source %s %q (nothing created): %w", mode, kind, c.cfg.SourceID, err)
	}
	switch {
	case src.status != "available":
		return nil, fmt.Errorf("%s of source %s %q (nothing created, retrying may help): it is %s, not available", mode, kind, c.cfg.SourceID, src.status)
	case kind == "cluster" && len(src.members) == 0:
		return nil, fmt.Errorf("%s of source cluster %q (nothing created, retrying will not help): it has no instance", mode, c.cfg.SourceID)
	}
	tags := map[string]string{
		TagManaged: "true",
		TagTarget:  c.cfg.Target,
		TagRun:     runID,
		TagState:   StateProvisioning,
	}
	db := &DB{ID: id, Engine: c.cfg.Engine, Tags: tags, RunID: runID}
	c.log.Info("restore started", "db", id, "source", c.cfg.SourceID, "mode", mode, "engine", string(c.cfg.Engine))
	start := c.now()
	if kind == "cluster" {
		err = c.pitrCluster(ctx, db)
	} else {
		err = c.pitrInstance(ctx, db)
	}
	if err != nil {
		if db.Status == "" {
			return nil, err
		}
		return db, err
	}
	c.log.Info("restore done", "db", id, "mode", mode, "duration", c.now().Sub(start).Round(time.Second).String())
	return db, nil
}

func (c *Client) pitrCluster(ctx context.Context, db *DB) error {
	id := db.ID
	restoreType := "full-copy"
	if c.cfg.SourceMode == SourceClone {
		restoreType = "copy-on-write"
	}
	in := &awsrds.RestoreDBClusterToPointInTimeInput{
		DBClusterIdentifier:         aws.String(id),
		SourceDBClusterIdentifier:   aws.String(c.cfg.SourceID),
		RestoreType:                 aws.String(restoreType),
		UseLatestRestorableTime:     aws.Bool(true),
		DBSubnetGroupName:           aws.String(c.cfg.SubnetGroup),
		VpcSecurityGroupIds:         c.cfg.QuarantineSecurityGroupIDs,
		DBClusterParameterGroupName: optional(c.cfg.ClusterParameterGroup),
		OptionGroupName:             optional(c.cfg.OptionGroup),
		DeletionProtection:          aws.Bool(false),
		CopyTagsToSnapshot:          aws.Bool(false),
		// Aurora's minimum, as for a snapshot restore.
		BackupRetentionPeriod: aws.Int32(1),
		// No IAM logins and no log exports: neither may reach the
		// unmasked copy or copy its contents elsewhere. An empty
		// EnableCloudwatchLogsExports can't refuse the source's exports:
		// noRestorePoints turns off whatever the copy still has.
		EnableIAMDatabaseAuthentication: aws.Bool(false),
		Tags:                            sdkTags(db.Tags),
	}
	if c.cfg.Engine == AuroraMySQL {
		// Backtracking would let the copy be rewound to unmasked data.
		in.BacktrackWindow = aws.Int64(0)
	}
	if restoreType == "full-copy" {
		// A clone shares the source's pages and so its key; a full copy
		// can be re-encrypted.
		in.KmsKeyId = optional(c.cfg.KMSKeyID)
	}
	if c.cfg.InstanceClass == InstanceServerless {
		in.ServerlessV2ScalingConfiguration = &types.ServerlessV2ScalingConfiguration{
			MinCapacity: aws.Float64(c.cfg.ServerlessMinACU), MaxCapacity: aws.Float64(c.maskingMaxACU())}
	}
	err := c.call(ctx, "RestoreDBClusterToPointInTime", false, func(ctx context.Context) error {
		_, err := c.api.RestoreDBClusterToPointInTime(ctx, in)
		return err
	})
	created(db, err)
	if err != nil {
		return fmt.Errorf("%s of cluster %q into %q: %w", c.cfg.SourceMode, c.cfg.SourceID, id, err)
	}
	return c.finishCluster(ctx, db)
}

func (c *Client) pitrInstance(ctx context.Context, db *DB) error {
	id := db.ID
	in := &awsrds.RestoreDBInstanceToPointInTimeInput{
		TargetDBInstanceIdentifier: aws.String(id),
		SourceDBInstanceIdentifier: aws.String(c.cfg.SourceID),
		UseLatestRestorableTime:    aws.Bool(true),
		Engine:                     aws.String(string(c.cfg.Engine)),
		DBInstanceClass:            aws.String(c.maskingClass()),
		DBSubnetGroupName:          aws.String(c.cfg.SubnetGroup),
		VpcSecurityGroupIds:        c.cfg.QuarantineSecurityGroupIDs,
		DBParameterGroupName:       optional(c.cfg.DBParameterGroup),
		OptionGroupName:            optional(c.cfg.OptionGroup),
		PubliclyAccessible:         aws.Bool(false),
		DeletionProtection:         aws.Bool(false),
		CopyTagsToSnapshot:         aws.Bool(false),
		MultiAZ:                    aws.Bool(false),
		// No backups, no binary logs, no restore point of unmasked data
		// (EnableBackups turns them on before the switch).
		BackupRetentionPeriod:           aws.Int32(0),
		EnableIAMDatabaseAuthentication: aws.Bool(false),
		Tags:                            sdkTags(db.Tags),
	}
	err := c.call(ctx, "RestoreDBInstanceToPointInTime", false, func(ctx context.Context) error {
		_, err := c.api.RestoreDBInstanceToPointInTime(ctx, in)
		return err
	})
	created(db, err)
	if err != nil {
		return fmt.Errorf("point_in_time of instance %q into %q: %w", c.cfg.SourceID, id, err)
	}
	return c.finishInstance(ctx, db)
}

// checkIDs checks the new DB's identifier and the run id (see
// checkRestore).
func (c *Client) checkIDs(id, runID string) error {
	var errs []error
	if err := validIdentifier(id); err != nil {
		errs = append(errs, err)
	} else if c.cfg.Engine.Aurora() {
		if err := validIdentifier(id + WriterSuffix); err != nil {
			errs = append(errs, fmt.Errorf("writer instance: %w", err))
		}
	}
	if !strings.HasPrefix(id, "restage-"+c.cfg.Target+"-") {
		errs = append(errs, fmt.Errorf("identifier %q is not restage-%s-…", id, c.cfg.Target))
	}
	if eqFold(id, c.cfg.SourceID) {
		errs = append(errs, fmt.Errorf("identifier %q is the production source", id))
	}
	if runID == "" {
		errs = append(errs, errors.New("empty run id"))
	}
	return errors.Join(errs...)
}
