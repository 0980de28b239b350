package rds

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// Scaled reports whether copies are created bigger than they serve
// staging (a masking class or a masking max ACU is set), so ScaleDown has
// work to do.
func (c *Client) Scaled() bool {
	return (c.cfg.MaskingInstanceClass != "" && c.cfg.MaskingInstanceClass != c.cfg.InstanceClass) ||
		(c.cfg.MaskingMaxACU != 0 && c.cfg.MaskingMaxACU != c.cfg.ServerlessMaxACU)
}

// ScaleDown moves db, created at the masking size, to the staging size:
// the instance or Aurora writer to InstanceClass, a Serverless v2
// cluster's maximum to ServerlessMaxACU. It applies the change
// immediately and waits until nothing is pending and the DB reports the
// staging size, so a big instance never serves staging: the caller fails
// the run (and deletes the copy) on any error. Without a masking size it
// does nothing. Like every change, it is made only on restage's own DB.
func (c *Client) ScaleDown(ctx context.Context, db *DB) error {
	if !c.Scaled() {
		return nil
	}
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return fmt.Errorf("scale down %q: %w", db.ID, err)
	}
	if !exists {
		return fmt.Errorf("scale down %q: %w", db.ID, ErrNotFound)
	}
	if c.cfg.InstanceClass == InstanceServerless {
		return c.scaleACU(ctx, db)
	}
	id := db.ID
	if s.cluster != nil {
		id = db.WriterID
		if id == "" {
			id = db.ID + WriterSuffix
		}
	}
	want := c.cfg.InstanceClass
	c.log.Info("scaling down after verification", "db", id, "from", c.cfg.MaskingInstanceClass, "to", want)
	err = c.call(ctx, "ModifyDBInstance", true, func(ctx context.Context) error {
		_, err := c.api.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{
			DBInstanceIdentifier: aws.String(id),
			DBInstanceClass:      aws.String(want),
			ApplyImmediately:     aws.Bool(true),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("scale down instance %q to %s: %w", id, want, err)
	}
	err = c.wait(ctx, "scaled down to "+want, "instance", id, false, func(s state) bool {
		return s.status == "available" && !s.pendingClass && s.class == want
	})
	if err != nil {
		return fmt.Errorf("scale down instance %q to %s: %w", id, want, err)
	}
	return c.refresh(ctx, db)
}

func (c *Client) scaleACU(ctx context.Context, db *DB) error {
	want := c.cfg.ServerlessMaxACU
	c.log.Info("scaling down after verification", "db", db.ID, "from_max_acu", c.cfg.MaskingMaxACU, "to_max_acu", want)
	err := c.call(ctx, "ModifyDBCluster", true, func(ctx context.Context) error {
		_, err := c.api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{
			DBClusterIdentifier: aws.String(db.ID),
			ServerlessV2ScalingConfiguration: &types.ServerlessV2ScalingConfiguration{
				MinCapacity: aws.Float64(c.cfg.ServerlessMinACU), MaxCapacity: aws.Float64(want)},
			ApplyImmediately: aws.Bool(true),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("scale down cluster %q to %g ACU: %w", db.ID, want, err)
	}
	err = c.wait(ctx, fmt.Sprintf("scaled down to %g ACU", want), "cluster", db.ID, false, func(s state) bool {
		return s.status == "available" && s.maxACU == want
	})
	if err != nil {
		return fmt.Errorf("scale down cluster %q to %g ACU: %w", db.ID, want, err)
	}
	return c.refresh(ctx, db)
}
