// Package awsiam declares, in one place, every IAM action restage's AWS
// provider calls — directly, or implied by a call (tags on create need
// rds:AddTagsToResource; restoring an encrypted snapshot needs the KMS
// grant actions). The Terraform module's task-role policy is tested
// against this list, so the code and the policy cannot drift apart.
package awsiam

// Scope says which resources an action may touch; the policy conditions
// follow from it.
type Scope string

// Scopes.
const (
	// Describe actions read metadata of any RDS resource (no conditions
	// are possible for most RDS Describe* calls).
	Describe Scope = "describe"
	// Create actions make restage-<target>-* resources and must carry the
	// restage request tags.
	Create Scope = "create"
	// Tag actions tag restage-<target>-* resources: at create/restore only
	// with the restage request tags, and afterwards (restage:state on
	// restage's own DBs) only on resources already tagged
	// restage:managed=true and restage:target=<target>, and only the
	// restage:state key.
	Tag Scope = "tag"
	// Managed actions modify or delete only resources tagged
	// restage:managed=true and restage:target=<target>.
	Managed Scope = "managed"
	// FinalSnapshot actions keep the final snapshot <id>-final of a
	// retired DB (RESTAGE_FINAL_SNAPSHOT=true): DeleteDBCluster /
	// DeleteDBInstance with FinalDBSnapshotIdentifier is also authorized
	// as CreateDBClusterSnapshot / CreateDBSnapshot, against both the DB
	// (only restage's tagged DBs of the target, or exactly the adopted
	// one) and the new snapshot (only restage-<target>-*-final, or exactly
	// <adopted id>-final). The snapshot carries no tags (the restore sets
	// CopyTagsToSnapshot=false), so no tagging permission is needed.
	FinalSnapshot Scope = "final-snapshot"
	// DNS actions change exactly the configured staging record.
	DNS Scope = "dns"
	// Lock actions use the run-lock table.
	Lock Scope = "lock"
	// KMS actions use the listed snapshot keys.
	KMS Scope = "kms"
	// Secrets actions read the listed secrets (staging users, masking key,
	// RDS-managed master passwords of restage's own DBs).
	Secrets Scope = "secrets"
	// ManagedSecrets actions let RDS create the master-password secret of
	// a DB restage hands to RDS (ModifyDB* with ManageMasterUserPassword):
	// RDS creates and tags that secret with the caller's permissions, so
	// the task needs them on secret:rds!* (and nothing else). The default
	// aws/secretsmanager key needs no KMS permission; restage never asks
	// for a customer key (MasterUserSecretKmsKeyId).
	ManagedSecrets Scope = "managed-secrets"
	// SourceRestore actions copy the production source itself (source
	// modes clone and point_in_time): allowed on exactly the source's ARN
	// (and the new restage-<target>-* DB with the restage request tags),
	// with the source's KMS key through RDS (kms:CreateGrant with
	// kms:ViaService). They never change the source, so ProductionDeny
	// does not list them.
	SourceRestore Scope = "source-restore"
	// Rules actions read the rules file object.
	Rules Scope = "rules"
)

// Action is one IAM action and why restage needs it.
type Action struct {
	Name    string
	Scope   Scope
	Purpose string
}

// Actions is the complete list.
var Actions = []Action{
	{"rds:DescribeDBClusters", Describe, "find the source, restored clusters, leftovers"},
	{"rds:DescribeDBInstances", Describe, "find instances, wait for available"},
	{"rds:DescribeDBClusterSnapshots", Describe, "newest available Aurora snapshot"},
	{"rds:DescribeDBSnapshots", Describe, "newest available RDS instance snapshot"},
	{"rds:ListTagsForResource", Describe, "check restage's tags before modify/delete"},

	{"rds:RestoreDBClusterFromSnapshot", Create, "restore the Aurora cluster"},
	{"rds:CreateDBInstance", Create, "create the Aurora writer instance"},
	{"rds:RestoreDBInstanceFromDBSnapshot", Create, "restore the RDS instance"},
	{"rds:RestoreDBClusterToPointInTime", SourceRestore, "source mode clone / point_in_time: copy the production Aurora cluster at its latest restorable time"},
	{"rds:RestoreDBInstanceToPointInTime", SourceRestore, "source mode point_in_time: copy the production RDS instance at its latest restorable time"},
	{"rds:AddTagsToResource", Tag, "tags given on create/restore; restage:state on restage's own DBs"},

	{"rds:ModifyDBCluster", Managed, "master password, backups, quarantine → staging security groups, the masking → staging Serverless v2 max ACU, IAM auth and log exports off on restage's clusters"},
	{"rds:ModifyDBInstance", Managed, "master password, backups, the masking → staging instance class, quarantine → staging security groups, Performance Insights, enhanced monitoring, log exports and IAM auth off on restage's instances"},
	{"rds:DeleteDBCluster", Managed, "retire/cleanup restage's clusters"},
	{"rds:DeleteDBInstance", Managed, "retire/cleanup restage's instances"},

	{"rds:CreateDBClusterSnapshot", FinalSnapshot, "retire an Aurora cluster keeping <id>-final (DeleteDBCluster with FinalDBSnapshotIdentifier)"},
	{"rds:CreateDBSnapshot", FinalSnapshot, "retire an RDS instance keeping <id>-final (DeleteDBInstance with FinalDBSnapshotIdentifier)"},

	{"route53:ListResourceRecordSets", DNS, "read the current staging record"},
	{"route53:ChangeResourceRecordSets", DNS, "UPSERT the staging CNAME"},
	{"route53:GetChange", DNS, "wait until INSYNC"},

	{"dynamodb:GetItem", Lock, "read the run lock and the run history (<target>#history)"},
	{"dynamodb:PutItem", Lock, "take the run lock (conditional write)"},
	{"dynamodb:UpdateItem", Lock, "renew the lease; record a run in <target>#history"},
	{"dynamodb:DeleteItem", Lock, "release the run lock"},

	{"kms:DescribeKey", KMS, "restore encrypted snapshots"},
	{"kms:CreateGrant", KMS, "restore encrypted snapshots"},
	{"kms:Decrypt", KMS, "restore encrypted snapshots"},
	{"kms:GenerateDataKey", KMS, "restore encrypted snapshots"},

	{"secretsmanager:GetSecretValue", Secrets, "staging users' passwords, RDS-managed master passwords"},

	{"secretsmanager:CreateSecret", ManagedSecrets, "RDS creates the managed master-password secret as the caller"},
	{"secretsmanager:TagResource", ManagedSecrets, "RDS tags the managed master-password secret as the caller"},

	{"s3:GetObject", Rules, "read the rules file"},
}

// ManagedSecretKeyActions are granted on the AWS-managed aws/secretsmanager
// key (matched by its alias, its key id differs per account and region),
// not on the listed snapshot keys: RDS needs kms:DescribeKey on it as the
// caller when it creates a managed master-password secret, and that
// permission is not in the key's own policy for principals other than
// Secrets Manager's own calls. Decrypt/GenerateDataKey are granted only
// through Secrets Manager (kms:ViaService). See docs/aws-config.md for what
// AWS leaves unsure.
var ManagedSecretKeyActions = []string{"kms:DescribeKey", "kms:Decrypt", "kms:GenerateDataKey"}

// ProductionDeny lists the RDS actions the task role is explicitly denied
// on the production source ARNs and the source's automated snapshots:
// every change to the source, new members (CreateDBInstance into the
// production cluster), and every snapshot, snapshot copy or share of it —
// an unmasked copy outside restage's control. Restoring from the source
// (RestoreDB*FromSnapshot, RestoreDB*ToPointInTime) never changes it and
// stays allowed where the Allow statements grant it (a later source mode
// clones production by point-in-time restore).
var ProductionDeny = []string{
	"rds:ModifyDBCluster", "rds:ModifyDBInstance",
	"rds:DeleteDBCluster", "rds:DeleteDBInstance",
	"rds:AddTagsToResource", "rds:RemoveTagsFromResource",
	"rds:RebootDBCluster", "rds:RebootDBInstance",
	"rds:StopDBCluster", "rds:StopDBInstance",
	"rds:StartDBCluster", "rds:StartDBInstance",
	"rds:FailoverDBCluster", "rds:PromoteReadReplica",
	"rds:CreateDBInstance", "rds:CreateDBInstanceReadReplica",
	"rds:BacktrackDBCluster", "rds:ModifyCurrentDBClusterCapacity",
	"rds:AddRoleToDBCluster", "rds:RemoveRoleFromDBCluster",
	"rds:AddRoleToDBInstance", "rds:RemoveRoleFromDBInstance",
	"rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot",
	"rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot",
	"rds:DeleteDBClusterSnapshot", "rds:DeleteDBSnapshot",
	"rds:ModifyDBClusterSnapshotAttribute", "rds:ModifyDBSnapshotAttribute",
}

// RestorePointDeny lists the actions that would make a restore point of
// restage's unmasked copies (a snapshot, a copy of one, a point-in-time
// restore). The task role denies them with NotResource: everything except
// restage's own DBs of the target and the final snapshots
// restage-<target>-*-final (and an adopted DB's <id>-final), so that a
// retire with RESTAGE_FINAL_SNAPSHOT=true still works and no other
// snapshot name can ever be created. Point-in-time restores from a copy
// are denied separately on restage's tagged DBs (a restore from production
// into a new restage-* DB must stay possible).
var RestorePointDeny = []string{
	"rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot",
	"rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot",
}

// PointInTimeDeny lists the point-in-time restores denied whenever a
// restage copy (a DB tagged restage:managed=true) is their source.
var PointInTimeDeny = []string{
	"rds:RestoreDBClusterToPointInTime", "rds:RestoreDBInstanceToPointInTime",
}

// Names returns the action names.
func Names() []string {
	out := make([]string, len(Actions))
	for i, a := range Actions {
		out[i] = a.Name
	}
	return out
}
