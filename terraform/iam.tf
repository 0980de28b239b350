################################################################################
# Trust policies
################################################################################

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = var.account_id }
        ArnLike      = { "aws:SourceArn" = "${local.arn_prefix}:ecs:${var.region}:${var.account_id}:*" }
      }
    }]
  })

  rds_arn = "${local.arn_prefix}:rds:${var.region}:${var.account_id}"

  restage_request_tags = {
    for target, _ in local.databases : target => {
      "aws:RequestTag/restage:managed" = "true"
      "aws:RequestTag/restage:target"  = target
    }
  }
  restage_resource_tags = {
    for target, _ in local.databases : target => {
      "aws:ResourceTag/restage:managed" = "true"
      "aws:ResourceTag/restage:target"  = target
    }
  }
}

################################################################################
# Execution role (per database): pull the image, write logs, read exactly
# the secrets injected into this database's task.
################################################################################

resource "aws_iam_role" "execution" {
  for_each = local.databases

  name                 = each.value.execution_role
  description          = "restage ${each.key}: ECS task execution (image pull, logs, injected secrets)"
  assume_role_policy   = local.ecs_tasks_trust
  max_session_duration = 3600
  tags                 = merge(local.tags, { "restage:target" = each.key })
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.databases

  name = "execution"
  role = aws_iam_role.execution[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [for s in [
        {
          Sid      = "EcrAuth"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = "*"
        },
        {
          Sid      = "EcrPull"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = [local.ecr_repository_arn]
        },
      ] : s if local.ecr_repository_arn != null],
      [
        {
          Sid      = "Logs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
          Resource = ["${local.log_group_arn}:log-stream:*"]
        },
        {
          Sid      = "InjectedSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = sort(distinct(values(local.secrets[each.key])))
        },
      ],
      [for s in [{
        Sid       = "InjectedSecretsKms"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = var.secrets_kms_key_arns
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${var.region}.amazonaws.com" } }
      }] : s if length(var.secrets_kms_key_arns) > 0],
    )
  })
}

################################################################################
# Task role (per database): exactly the actions internal/awsiam declares,
# each scoped as its awsiam.Scope says, plus the production Deny.
################################################################################

resource "aws_iam_role" "task" {
  for_each = local.databases

  name                 = each.value.task_role
  description          = "restage ${each.key}: refresh restage-${each.key}-* from ${each.value.source_id} snapshots"
  assume_role_policy   = local.ecs_tasks_trust
  max_session_duration = 3600
  tags                 = merge(local.tags, { "restage:target" = each.key })
}

locals {
  # Resources a restore/create reads from (never creates): the source's
  # snapshots, the subnet group and the parameter/option groups.
  #
  # Automated snapshots are named rds:<source>-YYYY-MM-DD-HH-MM. IAM's "?"
  # matches exactly one character, so the pattern below matches only that
  # shape: "rds:<source>-*" would also match rds:<source>-eu-… of another
  # source sharing the prefix. Manual snapshots carry any name; they are
  # bound to manual_snapshot_names (default "<source>-*").
  source_snapshots = {
    for target, db in local.databases : target => (
      db.snapshot_arn != null ? [db.snapshot_arn] : (
        db.snapshot_type == "automated"
        ? ["${local.rds_arn}:${db.is_aurora ? "cluster-snapshot" : "snapshot"}:rds:${db.source_id}-????-??-??-??-??"]
        : [for n in coalesce(db.manual_snapshot_names, ["${db.source_id}-*"]) : "${local.rds_arn}:${db.is_aurora ? "cluster-snapshot" : "snapshot"}:${n}"]
      )
    )
  }

  # The configuration a new DB is created with, whatever its source.
  restore_config_inputs = {
    for target, db in local.databases : target => concat(
      ["${local.rds_arn}:subgrp:${db.subnet_group}"],
      db.is_aurora ? ["${local.rds_arn}:cluster-pg:${db.cluster_parameter_group}"] : [],
      ["${local.rds_arn}:pg:${db.db_parameter_group}"],
      ["${local.rds_arn}:og:${coalesce(db.option_group, "default:*")}"],
    )
  }

  restore_inputs = {
    for target, db in local.databases : target => concat(local.source_snapshots[target], local.restore_config_inputs[target])
  }

  # clone and point_in_time restore the production source itself to its
  # latest restorable time (a clone is RestoreDBClusterToPointInTime with
  # RestoreType copy-on-write): the Aurora form for a cluster, the RDS one
  # for an instance; snapshot mode gets neither.
  point_in_time_actions = {
    for target, db in local.databases : target => db.source_mode == "snapshot" ? [] : [
      db.is_aurora ? "rds:RestoreDBClusterToPointInTime" : "rds:RestoreDBInstanceToPointInTime"
    ]
  }

  # What the production Deny covers: the source, production_arns, and the
  # source's automated snapshots (any suffix: denying more is harmless),
  # plus the exact snapshot restage restores when one is configured.
  production_deny_resources = {
    for target, db in local.databases : target => distinct(concat(
      [db.source_arn],
      db.production_arns,
      ["${local.rds_arn}:${db.is_aurora ? "cluster-snapshot" : "snapshot"}:rds:${db.source_id}-*"],
      db.snapshot_arn == null ? [] : [db.snapshot_arn],
    ))
  }

  restage_resources = {
    for target, db in local.databases : target => [
      "${local.rds_arn}:cluster:restage-${target}-*",
      "${local.rds_arn}:db:restage-${target}-*",
    ]
  }

  # The final snapshot a retire keeps with RESTAGE_FINAL_SNAPSHOT=true:
  # <id>-final of a restage-<target>-* DB (a cluster snapshot on Aurora).
  restage_final_snapshots = {
    for target, db in local.databases : target => [
      "${local.rds_arn}:cluster-snapshot:restage-${target}-*-final",
      "${local.rds_arn}:snapshot:restage-${target}-*-final",
    ]
  }

  # NotResource of the restore-point Deny: the only resources a snapshot
  # or snapshot copy may involve are restage's own DBs of the target and
  # their <id>-final snapshots (and an adopted DB and its <id>-final).
  restore_point_exceptions = {
    for target, db in local.databases : target => concat(
      local.restage_resources[target],
      local.restage_final_snapshots[target],
      db.adopt_arns,
      db.adopt == null ? [] : ["${local.rds_arn}:${db.is_aurora ? "cluster-snapshot" : "snapshot"}:${db.adopt.id}-final"],
    )
  }

  # The AWS-managed aws/secretsmanager key has a different id in every
  # account and region: matched by alias.
  secretsmanager_key_arns = ["${local.arn_prefix}:kms:${var.region}:${var.account_id}:key/*"]

  task_policy = {
    for target, db in local.databases : target => {
      Version = "2012-10-17"
      Statement = concat(
        [
          {
            # Most RDS Describe* calls support no resource-level permissions.
            Sid      = "Describe"
            Effect   = "Allow"
            Action   = ["rds:DescribeDBClusterSnapshots", "rds:DescribeDBClusters", "rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:ListTagsForResource"]
            Resource = "*"
          },
          {
            Sid       = "CreateRestageDatabases"
            Effect    = "Allow"
            Action    = ["rds:AddTagsToResource", "rds:CreateDBInstance", "rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"]
            Resource  = local.restage_resources[target]
            Condition = { StringEquals = local.restage_request_tags[target] }
          },
          {
            Sid       = "CreateFromSourceSnapshot"
            Effect    = "Allow"
            Action    = ["rds:CreateDBInstance", "rds:RestoreDBClusterFromSnapshot", "rds:RestoreDBInstanceFromDBSnapshot"]
            Resource  = local.restore_inputs[target]
            Condition = { StringEquals = local.restage_request_tags[target] }
          },
          {
            # restage:state on restage's own databases of this target only,
            # and no other tag key: the restage tags themselves cannot be
            # changed after create (request tags are checked above).
            Sid      = "TagStateOfRestageDatabases"
            Effect   = "Allow"
            Action   = ["rds:AddTagsToResource"]
            Resource = local.restage_resources[target]
            Condition = {
              StringEquals                = local.restage_resource_tags[target]
              "ForAllValues:StringEquals" = { "aws:TagKeys" = ["restage:state"] }
            }
          },
          {
            Sid       = "ModifyDeleteRestageDatabases"
            Effect    = "Allow"
            Action    = ["rds:DeleteDBCluster", "rds:DeleteDBInstance", "rds:ModifyDBCluster", "rds:ModifyDBInstance"]
            Resource  = local.restage_resources[target]
            Condition = { StringEquals = local.restage_resource_tags[target] }
          },
          {
            # RESTAGE_FINAL_SNAPSHOT=true: DeleteDB* with a final snapshot is
            # authorized as CreateDB*Snapshot on the database too (restage's
            # own of this target only, like modify/delete)…
            Sid       = "FinalSnapshotOfRestageDatabases"
            Effect    = "Allow"
            Action    = ["rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"]
            Resource  = local.restage_resources[target]
            Condition = { StringEquals = local.restage_resource_tags[target] }
          },
          {
            # …and on the new snapshot, which carries no tags yet (and gets
            # none: CopyTagsToSnapshot=false), so it is named: <id>-final.
            Sid      = "FinalSnapshotsOfRestageDatabases"
            Effect   = "Allow"
            Action   = ["rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"]
            Resource = local.restage_final_snapshots[target]
          },
          {
            Sid      = "ReadStagingRecord"
            Effect   = "Allow"
            Action   = ["route53:ListResourceRecordSets"]
            Resource = ["${local.arn_prefix}:route53:::hostedzone/${db.hosted_zone_id}"]
          },
          {
            Sid      = "UpsertStagingRecord"
            Effect   = "Allow"
            Action   = ["route53:ChangeResourceRecordSets"]
            Resource = ["${local.arn_prefix}:route53:::hostedzone/${db.hosted_zone_id}"]
            Condition = {
              "ForAllValues:StringEquals" = {
                "route53:ChangeResourceRecordSetsNormalizedRecordNames" = [db.dns_name]
                "route53:ChangeResourceRecordSetsRecordTypes"           = ["CNAME"]
                "route53:ChangeResourceRecordSetsActions"               = ["UPSERT"]
              }
            }
          },
          {
            Sid      = "WaitForRecordChange"
            Effect   = "Allow"
            Action   = ["route53:GetChange"]
            Resource = ["${local.arn_prefix}:route53:::change/*"]
          },
          {
            # Only this target's two items: its lock (partition key = the
            # target name) and its run history ("<target>#history",
            # internal/ddblock/history.go).
            Sid       = "RunLock"
            Effect    = "Allow"
            Action    = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
            Resource  = [local.lock_table_arn]
            Condition = { "ForAllValues:StringEquals" = { "dynamodb:LeadingKeys" = [target, "${target}#history"] } }
          },
          {
            # RDS-managed master passwords of restage's own databases only:
            # RDS tags the secret with the database it belongs to.
            Sid      = "ManagedMasterSecrets"
            Effect   = "Allow"
            Action   = ["secretsmanager:GetSecretValue"]
            Resource = ["${local.arn_prefix}:secretsmanager:${var.region}:${var.account_id}:secret:rds!*"]
            Condition = {
              StringLike = {
                (db.is_aurora ? "secretsmanager:ResourceTag/aws:rds:primaryDBClusterArn" : "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn") = "${local.rds_arn}:${db.is_aurora ? "cluster" : "db"}:restage-${target}-*"
              }
            }
          },
          {
            # ModifyDB* with ManageMasterUserPassword: RDS creates and tags
            # the master-password secret with the caller's permissions. Its
            # name is always rds!…, and RDS tags it with the DB it belongs
            # to (aws:rds:primaryDB*Arn; aws:-prefixed tags cannot be set by
            # anyone but AWS): only secrets of restage's own DBs.
            Sid      = "CreateManagedMasterSecrets"
            Effect   = "Allow"
            Action   = ["secretsmanager:CreateSecret", "secretsmanager:TagResource"]
            Resource = ["${local.arn_prefix}:secretsmanager:${var.region}:${var.account_id}:secret:rds!*"]
            Condition = {
              StringLike = {
                (db.is_aurora ? "aws:RequestTag/aws:rds:primaryDBClusterArn" : "aws:RequestTag/aws:rds:primaryDBInstanceArn") = "${local.rds_arn}:${db.is_aurora ? "cluster" : "db"}:restage-${target}-*"
              }
            }
          },
          {
            # The same, second form (docs/aws-config.md: AWS does not say
            # whether RDS sends the tags with CreateSecret or tags after):
            # only when RDS makes the call on the task's behalf, never the
            # task itself.
            Sid       = "CreateManagedMasterSecretsViaRDS"
            Effect    = "Allow"
            Action    = ["secretsmanager:CreateSecret", "secretsmanager:TagResource"]
            Resource  = ["${local.arn_prefix}:secretsmanager:${var.region}:${var.account_id}:secret:rds!*"]
            Condition = { Bool = { "aws:ViaAWSService" = "true" } }
          },
          {
            # RDS describes the aws/secretsmanager key as the caller when it
            # creates the managed secret; its key policy gives DescribeKey
            # to the account (IAM must allow it), not to every principal.
            Sid       = "ManagedSecretsKeyDescribe"
            Effect    = "Allow"
            Action    = ["kms:DescribeKey"]
            Resource  = local.secretsmanager_key_arns
            Condition = { "ForAnyValue:StringEquals" = { "kms:ResourceAliases" = ["alias/aws/secretsmanager"] } }
          },
          {
            # Second form: the key named by its alias in the request.
            Sid       = "ManagedSecretsKeyDescribeByAlias"
            Effect    = "Allow"
            Action    = ["kms:DescribeKey"]
            Resource  = local.secretsmanager_key_arns
            Condition = { StringEquals = { "kms:RequestAlias" = "alias/aws/secretsmanager" } }
          },
          {
            # Encrypting the secret: only through Secrets Manager.
            Sid      = "ManagedSecretsKeyViaSecretsManager"
            Effect   = "Allow"
            Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
            Resource = local.secretsmanager_key_arns
            Condition = {
              "ForAnyValue:StringEquals" = { "kms:ResourceAliases" = ["alias/aws/secretsmanager"] }
              StringEquals               = { "kms:ViaService" = "secretsmanager.${var.region}.amazonaws.com" }
            }
          },
          {
            Sid      = "RulesFile"
            Effect   = "Allow"
            Action   = ["s3:GetObject"]
            Resource = ["${local.rules_bucket_arn}/${db.rules_key}"]
          },
        ],
        [for s in [
          {
            Sid       = "PointInTimeIntoRestageDatabases"
            Effect    = "Allow"
            Action    = local.point_in_time_actions[target]
            Resource  = local.restage_resources[target]
            Condition = { StringEquals = local.restage_request_tags[target] }
          },
          {
            # The one Allow that names production: a point-in-time restore
            # (or clone) reads the source and never changes it. Exactly the
            # source's ARN (not production_arns: an Aurora member is no
            # restore source), and only with restage's request tags, so the
            # new DB can only be a tagged restage-<target>-* one. Every
            # change to the source stays denied (ProtectProduction).
            Sid       = "PointInTimeFromProductionSource"
            Effect    = "Allow"
            Action    = local.point_in_time_actions[target]
            Resource  = concat([db.source_arn], local.restore_config_inputs[target])
            Condition = { StringEquals = local.restage_request_tags[target] }
          },
        ] : s if db.source_mode != "snapshot"],
        [for s in [{
          Sid      = "StagingUserSecrets"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = sort(distinct([for u in values(db.staging_users) : u.password_secret_arn]))
        }] : s if length(db.staging_users) > 0],
        [for s in [
          {
            Sid      = "SnapshotKeys"
            Effect   = "Allow"
            Action   = ["kms:DescribeKey"]
            Resource = db.kms_key_arns
          },
          {
            # Production's keys decrypt and encrypt only through RDS (the
            # restore), never directly.
            Sid       = "SnapshotKeysViaRDS"
            Effect    = "Allow"
            Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
            Resource  = db.kms_key_arns
            Condition = { StringEquals = { "kms:ViaService" = "rds.${var.region}.amazonaws.com" } }
          },
          {
            # Grants only for AWS resources (RDS restoring the snapshot).
            Sid      = "SnapshotKeyGrants"
            Effect   = "Allow"
            Action   = ["kms:CreateGrant"]
            Resource = db.kms_key_arns
            Condition = {
              Bool         = { "kms:GrantIsForAWSResource" = "true" }
              StringEquals = { "kms:ViaService" = "rds.${var.region}.amazonaws.com" }
            }
          },
        ] : s if length(db.kms_key_arns) > 0],
        [for s in [
          {
            # adopt: the one hand-made staging database restage may retire
            # (deletion protection off, then delete). It carries no restage
            # tags, so it is named exactly; validated never to be production.
            Sid      = "RetireAdoptedDatabase"
            Effect   = "Allow"
            Action   = ["rds:DeleteDBCluster", "rds:DeleteDBInstance", "rds:ModifyDBCluster", "rds:ModifyDBInstance"]
            Resource = db.adopt_arns
          },
          {
            # adopt with RESTAGE_FINAL_SNAPSHOT=true: the final snapshot of
            # exactly the adopted cluster/instance (Aurora members take none),
            # named exactly <id>-final.
            Sid    = "FinalSnapshotOfAdoptedDatabase"
            Effect = "Allow"
            Action = ["rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"]
            Resource = [
              try(db.adopt_arns[0], ""),
              "${local.rds_arn}:${db.is_aurora ? "cluster-snapshot" : "snapshot"}:${try(db.adopt.id, "")}-final",
            ]
          },
        ] : s if length(db.adopt_arns) > 0],
      )
    }
  }
}

# Kept equal to internal/awsiam (ProductionDeny, RestorePointDeny,
# PointInTimeDeny); test/terraform compares them.
locals {
  production_deny_actions = [
    "rds:AddRoleToDBCluster", "rds:AddRoleToDBInstance", "rds:AddTagsToResource", "rds:BacktrackDBCluster",
    "rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:CreateDBInstance",
    "rds:CreateDBInstanceReadReplica", "rds:CreateDBSnapshot", "rds:DeleteDBCluster", "rds:DeleteDBClusterSnapshot",
    "rds:DeleteDBInstance", "rds:DeleteDBSnapshot", "rds:FailoverDBCluster", "rds:ModifyCurrentDBClusterCapacity",
    "rds:ModifyDBCluster", "rds:ModifyDBClusterSnapshotAttribute", "rds:ModifyDBInstance", "rds:ModifyDBSnapshotAttribute",
    "rds:PromoteReadReplica", "rds:RebootDBCluster", "rds:RebootDBInstance", "rds:RemoveRoleFromDBCluster",
    "rds:RemoveRoleFromDBInstance", "rds:RemoveTagsFromResource", "rds:StartDBCluster", "rds:StartDBInstance",
    "rds:StopDBCluster", "rds:StopDBInstance",
  ]
  restore_point_deny_actions = ["rds:CopyDBClusterSnapshot", "rds:CopyDBSnapshot", "rds:CreateDBClusterSnapshot", "rds:CreateDBSnapshot"]
  point_in_time_deny_actions = ["rds:RestoreDBClusterToPointInTime", "rds:RestoreDBInstanceToPointInTime"]

  # RunTask is authorized against the task definition the caller names: the
  # schedules (and the sweep rule) name the family without a revision (the
  # latest), which AWS documents ambiguously, so both forms are granted
  # (docs/aws-config.md).
  run_task_definition_arns = sort(flatten([for db in local.databases : [
    "${local.arn_prefix}:ecs:${var.region}:${var.account_id}:task-definition/${db.family}",
    "${local.arn_prefix}:ecs:${var.region}:${var.account_id}:task-definition/${db.family}:*",
  ]]))

  # The Deny statements: a managed policy of their own (an inline policy
  # shares the role's 10,240-character budget with the grants, which grow
  # with staging users, keys and production ARNs).
  task_guardrails_policy = {
    for target, db in local.databases : target => {
      Version = "2012-10-17"
      Statement = [
        {
          # No bug and no tag trick can touch production: an explicit Deny
          # beats every Allow, whatever tags the source carries. Restores
          # from the source (from a snapshot or to a point in time) are
          # not here: they never change it.
          Sid      = "ProtectProduction"
          Effect   = "Deny"
          Action   = sort(local.production_deny_actions)
          Resource = local.production_deny_resources[target]
        },
        {
          # No restore point of an unmasked copy: no snapshot and no
          # snapshot copy involving anything but restage's own DBs of this
          # target and their <id>-final snapshots (the one a retire keeps
          # of a masked, verified DB).
          Sid         = "DenyRestorePointsOfCopies"
          Effect      = "Deny"
          Action      = sort(local.restore_point_deny_actions)
          NotResource = local.restore_point_exceptions[target]
        },
        {
          # No point-in-time restore from a restage copy (tagged
          # restage:managed=true). The new DB of a restore does not exist
          # yet and carries no tags, so a later clone of production into
          # restage-<target>-* is not hit.
          Sid       = "DenyPointInTimeRestoresOfCopies"
          Effect    = "Deny"
          Action    = sort(local.point_in_time_deny_actions)
          Resource  = ["${local.rds_arn}:cluster:restage-*", "${local.rds_arn}:db:restage-*"]
          Condition = { StringEquals = { "aws:ResourceTag/restage:managed" = "true" } }
        },
        {
          # Second form of the same (RDS's own tag condition keys).
          Sid      = "DenyPointInTimeRestoresOfCopiesRdsTags"
          Effect   = "Deny"
          Action   = sort(local.point_in_time_deny_actions)
          Resource = ["${local.rds_arn}:cluster:restage-*", "${local.rds_arn}:db:restage-*"]
          Condition = {
            StringEquals = {
              (db.is_aurora ? "rds:cluster-tag/restage:managed" : "rds:db-tag/restage:managed") = "true"
            }
          }
        },
      ]
    }
  }
}

resource "aws_iam_policy" "task_guardrails" {
  for_each = local.databases

  name        = "${each.value.task_role}-guardrails"
  description = "restage ${each.key}: never touch production, never keep a restore point of an unmasked copy"
  policy      = jsonencode(local.task_guardrails_policy[each.key])
  tags        = merge(local.tags, { "restage:target" = each.key })
}

resource "aws_iam_role_policy_attachment" "task_guardrails" {
  for_each = local.databases

  role       = aws_iam_role.task[each.key].name
  policy_arn = aws_iam_policy.task_guardrails[each.key].arn
}

resource "aws_iam_role_policy" "task" {
  for_each = local.databases

  name   = "restage"
  role   = aws_iam_role.task[each.key].id
  policy = jsonencode(local.task_policy[each.key])

  lifecycle {
    precondition {
      condition     = length(setintersection(toset(each.value.adopt_arns), toset(concat([each.value.source_arn], each.value.production_arns)))) == 0
      error_message = "adopt of ${each.key} names a database the production Deny protects."
    }
  }
}

################################################################################
# Scheduler role: run exactly these task families, pass exactly their roles,
# dead-letter undeliverable invocations.
################################################################################

resource "aws_iam_role" "scheduler" {
  name        = local.scheduler_role_name
  description = "EventBridge Scheduler: start the restage tasks"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name = "run-restage-tasks"
  role = aws_iam_role.scheduler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "RunTask"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = local.run_task_definition_arns
        Condition = { ArnEquals = { "ecs:cluster" = local.cluster_arn } }
      },
      {
        Sid    = "PassTaskRoles"
        Effect = "Allow"
        Action = ["iam:PassRole"]
        Resource = sort(flatten([for db in local.databases : [
          "${local.arn_prefix}:iam::${var.account_id}:role/${db.task_role}",
          "${local.arn_prefix}:iam::${var.account_id}:role/${db.execution_role}",
        ]]))
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
      {
        Sid      = "DeadLetter"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [local.dlq_arn]
      },
    ]
  })
}

################################################################################
# EventBridge role: start the sweep of a target (RunTask of the families,
# the same task and execution roles).
################################################################################

resource "aws_iam_role" "events" {
  name        = "${var.name}-events"
  description = "EventBridge: start restage sweep tasks after an abnormal stop"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy" "events" {
  name = "run-restage-sweeps"
  role = aws_iam_role.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "RunTask"
        Effect    = "Allow"
        Action    = ["ecs:RunTask"]
        Resource  = local.run_task_definition_arns
        Condition = { ArnEquals = { "ecs:cluster" = local.cluster_arn } }
      },
      {
        Sid    = "PassTaskRoles"
        Effect = "Allow"
        Action = ["iam:PassRole"]
        Resource = sort(flatten([for db in local.databases : [
          "${local.arn_prefix}:iam::${var.account_id}:role/${db.task_role}",
          "${local.arn_prefix}:iam::${var.account_id}:role/${db.execution_role}",
        ]]))
        Condition = { StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" } }
      },
    ]
  })
}
