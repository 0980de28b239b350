package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[deref(t.Key)] = deref(t.Value)
	}
	return m
}

func dbFromCluster(cl *types.DBCluster) *DB {
	db := &DB{
		ID:             deref(cl.DBClusterIdentifier),
		ARN:            deref(cl.DBClusterArn),
		Endpoint:       deref(cl.Endpoint),
		Port:           deref(cl.Port),
		Engine:         Engine(deref(cl.Engine)),
		Tags:           tagMap(cl.TagList),
		Status:         deref(cl.Status),
		MasterUsername: deref(cl.MasterUsername),
	}
	db.RunID = db.Tags[TagRun]
	if cl.MasterUserSecret != nil {
		db.MasterSecretARN = deref(cl.MasterUserSecret.SecretArn)
	}
	for _, m := range cl.DBClusterMembers {
		if deref(m.IsClusterWriter) {
			db.WriterID = deref(m.DBInstanceIdentifier)
		}
	}
	return db
}

func dbFromInstance(in *types.DBInstance) *DB {
	db := &DB{
		ID:             deref(in.DBInstanceIdentifier),
		ARN:            deref(in.DBInstanceArn),
		Engine:         Engine(deref(in.Engine)),
		Tags:           tagMap(in.TagList),
		Status:         deref(in.DBInstanceStatus),
		MasterUsername: deref(in.MasterUsername),
	}
	db.RunID = db.Tags[TagRun]
	if in.Endpoint != nil {
		db.Endpoint = deref(in.Endpoint.Address)
		db.Port = deref(in.Endpoint.Port)
	}
	if in.MasterUserSecret != nil {
		db.MasterSecretARN = deref(in.MasterUserSecret.SecretArn)
	}
	return db
}

// Get describes the cluster (Aurora) or instance id. A missing DB is
// (nil, ErrNotFound).
func (c *Client) Get(ctx context.Context, id string) (*DB, error) {
	db, err := c.get(ctx, c.kind(""), id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	}
	return db, err
}

func (c *Client) get(ctx context.Context, kind, id string) (*DB, error) {
	s, err := c.describe(ctx, kind, id)
	if err != nil {
		return nil, err
	}
	if s.cluster != nil {
		return dbFromCluster(s.cluster), nil
	}
	return dbFromInstance(s.instance), nil
}

func (c *Client) ours(tags map[string]string) bool {
	return tags[TagManaged] == "true" && tags[TagTarget] == c.cfg.Target
}

// adopted reports whether id is the configured hand-made staging DB
// (Config.Adopt).
func (c *Client) adopted(id string) bool {
	return c.cfg.Adopt != "" && eqFold(id, c.cfg.Adopt)
}

// Adopted returns the identifier of the adopted hand-made staging DB
// (Config.Adopt; empty if none).
func (c *Client) Adopted() string { return c.cfg.Adopt }

// Managed lists every cluster and every stand-alone instance tagged
// restage:managed=true and restage:target=<target>, whatever the
// configured engine (a leftover from before an engine change is found
// too). Aurora cluster members are not listed: they go with their cluster.
func (c *Client) Managed(ctx context.Context) ([]*DB, error) {
	var dbs []*DB
	cp := awsrds.NewDescribeDBClustersPaginator(c.api, &awsrds.DescribeDBClustersInput{})
	for cp.HasMorePages() {
		var out *awsrds.DescribeDBClustersOutput
		err := c.call(ctx, "DescribeDBClusters", false, func(ctx context.Context) (err error) {
			out, err = cp.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list clusters: %w", err)
		}
		for i := range out.DBClusters {
			if db := dbFromCluster(&out.DBClusters[i]); c.ours(db.Tags) && !eqFold(db.ID, c.cfg.SourceID) {
				dbs = append(dbs, db)
			}
		}
	}
	ip := awsrds.NewDescribeDBInstancesPaginator(c.api, &awsrds.DescribeDBInstancesInput{})
	for ip.HasMorePages() {
		var out *awsrds.DescribeDBInstancesOutput
		err := c.call(ctx, "DescribeDBInstances", false, func(ctx context.Context) (err error) {
			out, err = ip.NextPage(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		for i := range out.DBInstances {
			in := &out.DBInstances[i]
			if in.DBClusterIdentifier != nil {
				continue
			}
			if db := dbFromInstance(in); c.ours(db.Tags) && !eqFold(db.ID, c.cfg.SourceID) {
				dbs = append(dbs, db)
			}
		}
	}
	return dbs, nil
}

// guard is the check before every call that changes an existing DB: it
// describes db afresh (trusting nothing but db.ID and db.Engine), reads
// its tags with ListTagsForResource, and describes the production source.
// It returns ErrNotOurs unless the DB carries restage:managed=true and
// restage:target=<target> — or is exactly the adopted DB (Config.Adopt)
// — and is not the source by identifier, ARN or endpoint. A DB that no longer exists is (state{}, false, nil).
func (c *Client) guard(ctx context.Context, db *DB) (s state, exists bool, err error) {
	if db == nil || db.ID == "" {
		return state{}, false, errors.New("no DB given")
	}
	kind := c.kind(db.Engine)
	if eqFold(db.ID, c.cfg.SourceID) {
		return state{}, false, fmt.Errorf("%s %q is the production source: %w", kind, db.ID, ErrNotOurs)
	}
	s, err = c.describe(ctx, kind, db.ID)
	if errors.Is(err, ErrNotFound) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, err
	}
	var out *awsrds.ListTagsForResourceOutput
	err = c.call(ctx, "ListTagsForResource", false, func(ctx context.Context) (err error) {
		out, err = c.api.ListTagsForResource(ctx, &awsrds.ListTagsForResourceInput{ResourceName: aws.String(s.arn)})
		return err
	})
	if err != nil {
		return state{}, true, fmt.Errorf("list tags of %s %q: %w", kind, db.ID, err)
	}
	tags := tagMap(out.TagList)
	if !c.ours(tags) && !c.adopted(db.ID) {
		return state{}, true, fmt.Errorf("%s %q is not tagged %s=true, %s=%s: %w", kind, db.ID, TagManaged, TagTarget, c.cfg.Target, ErrNotOurs)
	}
	if eqFold(s.arn, c.cfg.SourceARN) {
		return state{}, true, fmt.Errorf("%s %q has the production source's ARN: %w", kind, db.ID, ErrNotOurs)
	}
	src, err := c.describe(ctx, c.kind(""), c.cfg.SourceID)
	switch {
	case errors.Is(err, ErrNotFound):
		// Another account's source (shared snapshots): nothing here can
		// share its endpoint.
		c.log.Debug("source not visible in this account", "db", c.cfg.SourceID)
	case err != nil:
		return state{}, true, fmt.Errorf("describe the production source to tell it apart: %w", err)
	default:
		for _, a := range s.endpoints {
			for _, b := range src.endpoints {
				if eqFold(a, b) {
					return state{}, true, fmt.Errorf("%s %q has the production source's endpoint %s: %w", kind, db.ID, a, ErrNotOurs)
				}
			}
		}
	}
	return s, true, nil
}

// SetMasterPassword sets a new master password on db and waits until it is
// really applied: the status has cycled (resetting-master-credentials,
// modifying) back to available and no password change is pending any more.
// The password is never logged nor put in an error.
func (c *Client) SetMasterPassword(ctx context.Context, db *DB, password string) error {
	if password == "" {
		return errors.New("set master password: empty password")
	}
	return c.modify(ctx, db, "master password set", modification{password: &password}, func(s state, seen *seen) bool {
		return seen.changed() && !s.pendingPassword
	})
}

// ManageMasterPassword hands db's master password to RDS (Secrets
// Manager), waits until the secret is active and returns its ARN. A DB
// whose password RDS already manages returns its secret unchanged.
func (c *Client) ManageMasterPassword(ctx context.Context, db *DB) (secretARN string, err error) {
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return "", fmt.Errorf("manage master password of %q: %w", db.ID, err)
	}
	if !exists {
		return "", fmt.Errorf("manage master password of %q: %w", db.ID, ErrNotFound)
	}
	if s.secretARN != "" && s.secretStatus == "active" {
		return s.secretARN, nil
	}
	var arn string
	err = c.modifyGuarded(ctx, db, s, "master password managed by RDS", modification{manage: true}, func(s state, seen *seen) bool {
		arn = s.secretARN
		return !s.pendingPassword && s.secretARN != "" && s.secretStatus == "active"
	})
	return arn, err
}

// EnableBackups turns automated backups on an RDS instance on
// (Config.BackupRetention days; 0 leaves them off) and waits until they
// are. On Aurora it does nothing: a cluster always keeps at least one day
// of backups (Restore asks for that minimum), so a point in time before
// masking — unmasked production data — stays restorable from this
// cluster's backups for that day, by anyone allowed to restore from them
// (rds:RestoreDBClusterToPointInTime on this cluster), and until the
// cluster is deleted (Delete drops its automated backups too). Keep that
// permission as tight as production's.
func (c *Client) EnableBackups(ctx context.Context, db *DB) error {
	if db != nil && (db.Engine.Aurora() || (db.Engine == "" && c.cfg.Engine.Aurora())) {
		return nil
	}
	want := c.cfg.BackupRetention
	if want == 0 {
		return nil
	}
	return c.modify(ctx, db, fmt.Sprintf("backed up (%d days)", want), modification{retention: &want}, func(s state, _ *seen) bool {
		return !s.pendingRetention && s.retention == want
	})
}

// SetState sets db's restage:state tag.
func (c *Client) SetState(ctx context.Context, db *DB, st string) error {
	if st == "" || len(st) > 256 {
		return fmt.Errorf("set state of %q: invalid state %q", db.ID, st)
	}
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return fmt.Errorf("set state of %q: %w", db.ID, err)
	}
	if !exists {
		return fmt.Errorf("set state of %q: %w", db.ID, ErrNotFound)
	}
	err = c.call(ctx, "AddTagsToResource", false, func(ctx context.Context) error {
		_, err := c.api.AddTagsToResource(ctx, &awsrds.AddTagsToResourceInput{
			ResourceName: aws.String(s.arn),
			Tags:         []types.Tag{{Key: aws.String(TagState), Value: aws.String(st)}},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("set state of %q: %w", db.ID, err)
	}
	if db.Tags != nil {
		db.Tags[TagState] = st
	}
	return nil
}

type modification struct {
	password           *string
	manage             bool
	retention          *int32
	deletionProtection *bool
}

// seen is what a wait after a modification has observed: a change only
// counts as applied after RDS showed it pending or went through a busy
// status, or — should both have been too quick to see — after a few polls
// in a row saw the DB available with nothing pending.
type seen struct {
	busy, pending bool
	quiet         int
}

const quietPolls = 3

func (s *seen) changed() bool { return s.busy || s.pending || s.quiet >= quietPolls }

func (c *Client) modify(ctx context.Context, db *DB, what string, m modification, done func(state, *seen) bool) error {
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return fmt.Errorf("%s: %q: %w", what, db.ID, err)
	}
	if !exists {
		return fmt.Errorf("%s: %q: %w", what, db.ID, ErrNotFound)
	}
	return c.modifyGuarded(ctx, db, s, what, m, done)
}

// modifyGuarded applies m to a DB guard has just checked and waits until
// done (a nil done does not wait).
func (c *Client) modifyGuarded(ctx context.Context, db *DB, s state, what string, m modification, done func(state, *seen) bool) error {
	kind := "instance"
	if s.cluster != nil {
		kind = "cluster"
	}
	var after state
	err := c.call(ctx, "Modify", true, func(ctx context.Context) error {
		if kind == "cluster" {
			out, err := c.api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{
				DBClusterIdentifier:      aws.String(db.ID),
				ApplyImmediately:         aws.Bool(true),
				MasterUserPassword:       m.password,
				ManageMasterUserPassword: boolIf(m.manage),
				BackupRetentionPeriod:    m.retention,
				DeletionProtection:       m.deletionProtection,
			})
			if err == nil && out.DBCluster != nil {
				after = clusterState(out.DBCluster)
			}
			return err
		}
		out, err := c.api.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{
			DBInstanceIdentifier:     aws.String(db.ID),
			ApplyImmediately:         aws.Bool(true),
			MasterUserPassword:       m.password,
			ManageMasterUserPassword: boolIf(m.manage),
			BackupRetentionPeriod:    m.retention,
			DeletionProtection:       m.deletionProtection,
		})
		if err == nil && out.DBInstance != nil {
			after = instanceState(out.DBInstance)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("modify %s %q (%s): %w", kind, db.ID, what, err)
	}
	if done == nil {
		return nil
	}
	sn := &seen{pending: after.pendingPassword || after.pendingRetention, busy: after.status != "" && after.status != "available"}
	err = c.wait(ctx, what, kind, db.ID, false, func(s state) bool {
		if s.status != "available" {
			sn.busy, sn.quiet = true, 0
			return false
		}
		if s.pendingPassword || s.pendingRetention {
			sn.pending, sn.quiet = true, 0
			return false
		}
		sn.quiet++
		return done(s, sn)
	})
	if err != nil {
		return fmt.Errorf("modify %s %q: %w", kind, db.ID, err)
	}
	if s, err := c.get(ctx, kind, db.ID); err == nil {
		*db = *s
	}
	return nil
}

func boolIf(b bool) *bool {
	if !b {
		return nil
	}
	return aws.Bool(true)
}

// ErrCreating is returned by StartDelete without waitCreating for a DB
// (or an Aurora member) RDS is still creating: RDS refuses to delete it
// until it has finished. The sweep task waits for it; the start-of-run
// sweep skips it and reports it.
var ErrCreating = errors.New("still being created (RDS deletes it only once created; the sweep task waits for that)")

// Delete deletes db and waits until it is gone — only if it is restage's
// own DB of this target (see guard; otherwise ErrNotOurs, with no
// changing call made). A DB still being created is waited for first
// (bounded by WaitTimeout and ctx). See StartDelete.
func (c *Client) Delete(ctx context.Context, db *DB, finalSnapshot bool) error {
	if err := c.StartDelete(ctx, db, finalSnapshot, true); err != nil {
		return err
	}
	return c.WaitDeleted(ctx, db)
}

// StartDelete issues the deletes of db and returns without waiting for
// them to finish — only if it is restage's own DB of this target (see
// guard). Deletion protection is turned off first, only on such a DB.
// Aurora: every instance of the cluster is deleted at once (no waiting
// instance by instance), then the cluster. finalSnapshot keeps a snapshot
// named <id>-final; only ask for it for a DB whose masking passed.
// Automated backups are deleted with the DB. A DB (or member) still
// being created is waited for with waitCreating, else ErrCreating. A DB
// that is gone or being deleted already succeeds (idempotent).
func (c *Client) StartDelete(ctx context.Context, db *DB, finalSnapshot, waitCreating bool) error {
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return fmt.Errorf("delete %q: %w", dbID(db), err)
	}
	if !exists {
		c.log.Info("already deleted", "db", db.ID)
		return nil
	}
	id := db.ID
	kind := "instance"
	if s.cluster != nil {
		kind = "cluster"
	}
	if s.status == "creating" {
		if !waitCreating {
			return fmt.Errorf("delete %s %q: %w", kind, id, ErrCreating)
		}
		if err := c.waitCreated(ctx, kind, id); err != nil {
			return fmt.Errorf("delete %s %q: %w", kind, id, err)
		}
		if s, exists, err = c.guard(ctx, db); err != nil || !exists {
			return err
		}
	}
	if s.deletionProtection && s.status != "deleting" {
		// Applied at once, and whatever state the DB is in (a failed
		// restore too): no wait.
		off := false
		if err := c.modifyGuarded(ctx, &DB{ID: id, Engine: db.Engine}, s, "deletion protection off", modification{deletionProtection: &off}, nil); err != nil {
			return fmt.Errorf("delete %q: %w", id, err)
		}
	}
	c.log.Info("delete started", "db", id, "final_snapshot", finalSnapshot)
	if s.cluster == nil {
		if err := c.deleteInstance(ctx, id, s.status, false, finalSnapshot); err != nil {
			return fmt.Errorf("delete instance %q: %w", id, err)
		}
		return nil
	}
	for _, m := range s.members {
		mid := deref(m.DBInstanceIdentifier)
		ms, err := c.describe(ctx, "instance", mid)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil && ms.status == "creating" {
			if !waitCreating {
				return fmt.Errorf("delete instance %q of cluster %q: %w", mid, id, ErrCreating)
			}
			if err = c.waitCreated(ctx, "instance", mid); err == nil {
				ms, err = c.describe(ctx, "instance", mid)
			}
		}
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete instance %q of cluster %q: %w", mid, id, err)
		}
		if err := c.deleteInstance(ctx, mid, ms.status, true, false); err != nil {
			return fmt.Errorf("delete instance %q of cluster %q: %w", mid, id, err)
		}
	}
	if s.status != "deleting" {
		in := &awsrds.DeleteDBClusterInput{
			DBClusterIdentifier:    aws.String(id),
			SkipFinalSnapshot:      aws.Bool(!finalSnapshot),
			DeleteAutomatedBackups: aws.Bool(true),
		}
		if finalSnapshot {
			in.FinalDBSnapshotIdentifier = aws.String(id + "-final")
		}
		err := c.call(ctx, "DeleteDBCluster", true, func(ctx context.Context) error {
			_, err := c.api.DeleteDBCluster(ctx, in)
			return err
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete cluster %q: %w", id, err)
		}
	}
	return nil
}

// WaitDeleted waits until db (Aurora: its cluster, which goes after its
// instances) is gone, bounded by WaitTimeout.
func (c *Client) WaitDeleted(ctx context.Context, db *DB) error {
	kind := c.kind(db.Engine)
	if err := c.waitGone(ctx, kind, db.ID); err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, db.ID, err)
	}
	return nil
}

// waitCreated waits until RDS has finished creating kind id: any other
// status (available, a failure state) can be deleted; a DB that is gone
// is fine too.
func (c *Client) waitCreated(ctx context.Context, kind, id string) error {
	c.log.Info("waiting for RDS to finish creating it before deleting it", "db", id)
	return c.wait(ctx, "created (deletable)", kind, id, true, func(s state) bool { return s.status != "creating" })
}

// deleteInstance deletes instance id unless it is being deleted already;
// it does not wait. Aurora members take no snapshot options: the
// cluster's snapshot holds their data.
func (c *Client) deleteInstance(ctx context.Context, id, status string, member, finalSnapshot bool) error {
	if status == "deleting" {
		return nil
	}
	in := &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id)}
	if !member {
		in.SkipFinalSnapshot = aws.Bool(!finalSnapshot)
		in.DeleteAutomatedBackups = aws.Bool(true)
		if finalSnapshot {
			in.FinalDBSnapshotIdentifier = aws.String(id + "-final")
		}
	}
	err := c.call(ctx, "DeleteDBInstance", true, func(ctx context.Context) error {
		_, err := c.api.DeleteDBInstance(ctx, in)
		return err
	})
	if err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

func dbID(db *DB) string {
	if db == nil {
		return ""
	}
	return db.ID
}

// OpenToStaging moves db out of quarantine: its VPC security groups
// become exactly Config.SecurityGroupIDs (Aurora: on the cluster, which
// its instances follow; RDS: on the instance). It waits until RDS shows
// exactly that set with every group active — the DB's status alone says
// nothing, a group change is applied in the background — so that the
// staging record is switched only to a DB the applications can reach.
// Call it only after the copy is masked, verified and its logins are
// set up.
func (c *Client) OpenToStaging(ctx context.Context, db *DB) error {
	s, exists, err := c.guard(ctx, db)
	if err != nil {
		return fmt.Errorf("open %q to staging: %w", dbID(db), err)
	}
	if !exists {
		return fmt.Errorf("open %q to staging: %w", db.ID, ErrNotFound)
	}
	want := c.cfg.SecurityGroupIDs
	kind := "instance"
	if s.cluster != nil {
		kind = "cluster"
	}
	if !exactGroups(s.groups, want) {
		err = c.call(ctx, "Modify", true, func(ctx context.Context) error {
			if kind == "cluster" {
				_, err := c.api.ModifyDBCluster(ctx, &awsrds.ModifyDBClusterInput{
					DBClusterIdentifier: aws.String(db.ID), ApplyImmediately: aws.Bool(true), VpcSecurityGroupIds: want})
				return err
			}
			_, err := c.api.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{
				DBInstanceIdentifier: aws.String(db.ID), ApplyImmediately: aws.Bool(true), VpcSecurityGroupIds: want})
			return err
		})
		if err != nil {
			return fmt.Errorf("open %s %q to staging (security groups %s): %w", kind, db.ID, strings.Join(want, ","), err)
		}
	}
	err = c.wait(ctx, "in the staging security groups", kind, db.ID, false, func(s state) bool {
		return s.status == "available" && exactGroups(s.groups, want)
	})
	if err != nil {
		return fmt.Errorf("open %s %q to staging: %w", kind, db.ID, err)
	}
	c.log.Info("copy moved from quarantine to the staging security groups", "db", db.ID, "groups", strings.Join(want, ","))
	return nil
}

// exactGroups reports whether got holds exactly the groups want, each
// active.
func exactGroups(got map[string]string, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, g := range want {
		if got[g] != "active" {
			return false
		}
	}
	return true
}

// SecurityGroups returns the VPC security groups of db by id, with their
// status (adding, active, removing).
func (c *Client) SecurityGroups(ctx context.Context, db *DB) (map[string]string, error) {
	s, err := c.describe(ctx, c.kind(db.Engine), db.ID)
	if err != nil {
		return nil, err
	}
	return s.groups, nil
}
