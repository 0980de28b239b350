locals {
  arn_prefix = "arn:${var.partition}"

  cluster_name = coalesce(var.cluster_name, var.name)
  # Built from inputs rather than read from resources so that every policy
  # is fully known at plan time (and testable offline).
  cluster_arn = "${local.arn_prefix}:ecs:${var.region}:${var.account_id}:cluster/${local.cluster_name}"

  container_name = "restage"
  log_group_name = "/ecs/${var.name}"
  log_group_arn  = "${local.arn_prefix}:logs:${var.region}:${var.account_id}:log-group:${local.log_group_name}"

  lock_table_name = "${var.name}-locks"
  lock_table_arn  = "${local.arn_prefix}:dynamodb:${var.region}:${var.account_id}:table/${local.lock_table_name}"

  rules_bucket_name = "${var.name}-rules-${var.account_id}-${var.region}"
  rules_bucket_arn  = "${local.arn_prefix}:s3:::${local.rules_bucket_name}"

  dlq_name = "${var.name}-scheduler-dlq"
  dlq_arn  = "${local.arn_prefix}:sqs:${var.region}:${var.account_id}:${local.dlq_name}"

  scheduler_role_name = "${var.name}-scheduler"
  scheduler_role_arn  = "${local.arn_prefix}:iam::${var.account_id}:role/${local.scheduler_role_name}"

  db_ports = {
    aurora-mysql      = 3306
    mysql             = 3306
    mariadb           = 3306
    aurora-postgresql = 5432
    postgres          = 5432
  }

  # ECR repository of the image, when it is one of this account and region.
  ecr_image = regex("^(?:(?P<account>[0-9]{12})\\.dkr\\.ecr\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/(?P<repository>[^:@]+))?", var.image)
  ecr_repository_arn = (
    local.ecr_image.repository != null && local.ecr_image.account == var.account_id && local.ecr_image.region == var.region
    ? "${local.arn_prefix}:ecr:${var.region}:${var.account_id}:repository/${local.ecr_image.repository}"
    : null
  )

  slack_secret_env = var.slack_secret_arn == null ? {} : {
    (var.slack_channel == null ? "RESTAGE_SLACK_WEBHOOK_URL" : "RESTAGE_SLACK_TOKEN") = var.slack_secret_arn
  }

  databases = {
    for target, db in var.databases : target => merge(db, {
      target         = target
      family         = "${var.name}-${target}"
      task_role      = "${var.name}-${target}-task"
      execution_role = "${var.name}-${target}-exec"
      schedule_name  = "${var.name}-${target}"
      is_aurora      = startswith(db.engine, "aurora-")
      port           = local.db_ports[db.engine]
      dns_name       = lower(trimsuffix(db.dns_name, "."))
      rules_key      = "rules/${target}.yaml"
      source_arn = (startswith(db.engine, "aurora-")
        ? "${local.arn_prefix}:rds:${var.region}:${var.account_id}:cluster:${db.source_id}"
      : "${local.arn_prefix}:rds:${var.region}:${var.account_id}:db:${db.source_id}")
      kms_key_arns = distinct(compact(concat(db.snapshot_kms_key_arns, [db.kms_key_id])))
      # The hand-made staging DB restage may retire (an Aurora cluster and
      # its instances, or an RDS instance); [] without adopt.
      adopt_arns = db.adopt == null ? [] : concat(
        ["${local.arn_prefix}:rds:${var.region}:${var.account_id}:${startswith(db.engine, "aurora-") ? "cluster" : "db"}:${db.adopt.id}"],
        [for id in db.adopt.instance_ids : "${local.arn_prefix}:rds:${var.region}:${var.account_id}:db:${id}"],
      )
    })
  }

  # Plain environment of each task: the contract in docs/aws-config.md.
  # Secrets are not here; they go through the task definition's secrets.
  environment = {
    for target, db in local.databases : target => merge(
      var.environment,
      db.environment,
      {
        RESTAGE_PROVIDER           = "aws"
        RESTAGE_TARGET             = target
        RESTAGE_AWS_REGION         = var.region
        RESTAGE_ENGINE             = db.engine
        RESTAGE_SOURCE_ID          = db.source_id
        RESTAGE_SOURCE_ARN         = db.source_arn
        RESTAGE_SNAPSHOT_TYPE      = db.snapshot_type
        RESTAGE_SOURCE_MODE        = db.source_mode
        RESTAGE_DB_NAME            = db.db_name
        RESTAGE_SUBNET_GROUP       = db.subnet_group
        RESTAGE_SECURITY_GROUP_IDS = local.restored_db_security_group_id
        # Every copy is created here (only this target's task gets in) and
        # moved to RESTAGE_SECURITY_GROUP_IDS after the users step.
        RESTAGE_QUARANTINE_SECURITY_GROUP_IDS = local.quarantine_security_group_ids[target]
        RESTAGE_INSTANCE_CLASS                = db.instance_class
        RESTAGE_DB_PARAMETER_GROUP            = db.db_parameter_group
        RESTAGE_TLS_CA_FILE                   = local.rds_ca_file
        RESTAGE_METRICS_NAMESPACE             = var.metrics_namespace
        RESTAGE_MASTER_PASSWORD               = db.master_password
        RESTAGE_DNS_NAME                      = db.dns_name
        RESTAGE_HOSTED_ZONE_ID                = db.hosted_zone_id
        RESTAGE_DNS_TTL                       = tostring(db.dns_ttl)
        RESTAGE_LOCK_TABLE                    = local.lock_table_name
        RESTAGE_RULES                         = "s3://${local.rules_bucket_name}/${db.rules_key}"
        # The content Terraform uploaded: the task refuses any other (the
        # object is pinned; a later upload outside Terraform cannot weaken
        # masking).
        RESTAGE_RULES_SHA256 = filesha256(db.rules_file)
      },
      db.snapshot_arn == null ? {} : { RESTAGE_SNAPSHOT_ARN = db.snapshot_arn },
      db.kms_key_id == null ? {} : { RESTAGE_KMS_KEY_ID = db.kms_key_id },
      db.cluster_parameter_group == null ? {} : { RESTAGE_CLUSTER_PARAMETER_GROUP = db.cluster_parameter_group },
      db.serverless_min_acu == null ? {} : {
        RESTAGE_SERVERLESS_MIN_ACU = tostring(db.serverless_min_acu)
        RESTAGE_SERVERLESS_MAX_ACU = tostring(db.serverless_max_acu)
      },
      db.masking_instance_class == null ? {} : { RESTAGE_MASKING_INSTANCE_CLASS = db.masking_instance_class },
      db.masking_max_acu == null ? {} : { RESTAGE_MASKING_MAX_ACU = tostring(db.masking_max_acu) },
      db.option_group == null ? {} : { RESTAGE_OPTION_GROUP = db.option_group },
      db.backup_retention == null ? {} : { RESTAGE_BACKUP_RETENTION = tostring(db.backup_retention) },
      db.wait_timeout == null ? {} : { RESTAGE_WAIT_TIMEOUT = db.wait_timeout },
      length(db.staging_users) == 0 ? {} : {
        RESTAGE_STAGING_USERS = join(",", [for u in sort(keys(db.staging_users)) : "${u}:${db.staging_users[u].privilege}"])
      },
      var.slack_channel == null ? {} : { RESTAGE_SLACK_CHANNEL = var.slack_channel },
      db.adopt == null ? {} : { RESTAGE_ADOPT = db.adopt.id },
    )
  }

  # Secrets of each task: environment variable => Secrets Manager ARN.
  secrets = {
    for target, db in local.databases : target => merge(
      { RESTAGE_MASK_KEY = var.mask_key_secret_arn },
      local.slack_secret_env,
      { for u, s in db.staging_users : "RESTAGE_STAGING_USER_${upper(u)}_PASSWORD" => s.password_secret_arn },
    )
  }

  # The container override of a run: only the reason differs between a
  # scheduled and a manual run (overrides cannot carry secrets).
  overrides = {
    for reason in ["scheduled", "manual"] : reason => {
      containerOverrides = [{
        name        = local.container_name
        environment = [{ name = "RESTAGE_RUN_REASON", value = reason }]
      }]
    }
  }

  # A sweep is the same task definition running `restage sweep`.
  sweep_overrides = {
    containerOverrides = [{
      name        = local.container_name
      command     = ["sweep"]
      environment = [{ name = "RESTAGE_RUN_REASON", value = "sweep" }]
    }]
  }

  # ECS task groups: runs keep ECS's default (family:<family>, set
  # explicitly everywhere a run starts); sweeps get their own, which the
  # rule that starts sweeps does not match.
  run_groups   = { for target, db in local.databases : target => "family:${db.family}" }
  sweep_groups = { for target, db in local.databases : target => "sweep:${db.family}" }

  # The image carries the RDS CA bundle here (Dockerfile).
  rds_ca_file = "/etc/restage/rds-ca.pem"

  tags = merge(var.tags, { "restage:module" = "true" })

  task_security_group_id        = var.task_security_group_id != null ? var.task_security_group_id : one(aws_security_group.task[*].id)
  restored_db_security_group_id = var.restored_db_security_group_id != null ? var.restored_db_security_group_id : one(aws_security_group.restored_db[*].id)

  # Per target: the group only that target's task carries, and the
  # quarantine group of its copies, which admits only that group.
  target_task_security_group_ids = {
    for target, _ in local.databases : target => lookup(var.target_task_security_group_ids, target, null) != null ? var.target_task_security_group_ids[target] : aws_security_group.target_task[target].id
  }
  quarantine_security_group_ids = {
    for target, _ in local.databases : target => lookup(var.quarantine_security_group_ids, target, null) != null ? var.quarantine_security_group_ids[target] : aws_security_group.quarantine[target].id
  }
  created_quarantine = { for target, db in local.databases : target => db if lookup(var.quarantine_security_group_ids, target, null) == null }

  # The groups of every task of a target (run and sweep).
  task_security_groups = {
    for target, _ in local.databases : target => [local.task_security_group_id, local.target_task_security_group_ids[target]]
  }
}

################################################################################
# Rules files: one S3 object per database, read by the task (RESTAGE_RULES)
################################################################################

resource "aws_s3_bucket" "rules" {
  bucket = local.rules_bucket_name
  tags   = local.tags
}

resource "aws_s3_bucket_public_access_block" "rules" {
  bucket = aws_s3_bucket.rules.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "rules" {
  bucket = aws_s3_bucket.rules.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "rules" {
  bucket = aws_s3_bucket.rules.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "rules" {
  bucket = aws_s3_bucket.rules.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_policy" "rules" {
  bucket = aws_s3_bucket.rules.id
  policy = jsonencode(local.rules_bucket_policy)

  depends_on = [aws_s3_bucket_public_access_block.rules]
}

locals {
  # Whoever can write the rules can weaken masking or run post-mask SQL as
  # the copy's master: only the named deployers may change the objects or
  # the bucket's protection (the task only reads).
  rules_bucket_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.rules_bucket_arn, "${local.rules_bucket_arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "OnlyDeployersWrite"
        Effect    = "Deny"
        Principal = "*"
        Action = [
          "s3:DeleteBucketPolicy", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketAcl", "s3:PutBucketOwnershipControls",
          "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutEncryptionConfiguration",
          "s3:PutLifecycleConfiguration", "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutReplicationConfiguration",
          "s3:RestoreObject",
        ]
        Resource  = [local.rules_bucket_arn, "${local.rules_bucket_arn}/*"]
        Condition = { ArnNotEquals = { "aws:PrincipalArn" = sort(var.rules_writer_arns) } }
      },
    ]
  }
}

resource "aws_s3_object" "rules" {
  for_each = local.databases

  bucket       = aws_s3_bucket.rules.id
  key          = each.value.rules_key
  content      = file(each.value.rules_file)
  content_type = "application/yaml"
  tags         = merge(local.tags, { "restage:target" = each.key })
}

################################################################################
# Run lock (partition key "target")
################################################################################

resource "aws_dynamodb_table" "locks" {
  name         = local.lock_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "target"

  attribute {
    name = "target"
    type = "S"
  }

  server_side_encryption {
    enabled = true
  }

  tags = local.tags
}

################################################################################
# Security groups
################################################################################

# Created unless existing groups are given (then their owner manages the rules).
resource "aws_security_group" "task" {
  count = var.task_security_group_id == null ? 1 : 0

  name        = "${var.name}-task"
  description = "restage tasks: HTTPS to AWS APIs, ECR and Slack; the database port of restored databases"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-task" })
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  count = var.task_security_group_id == null ? 1 : 0

  security_group_id = aws_security_group.task[0].id
  description       = "AWS APIs, ECR, S3, Slack"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "task_db" {
  for_each = var.task_security_group_id == null ? toset([for db in local.databases : tostring(db.port)]) : toset([])

  security_group_id            = aws_security_group.task[0].id
  description                  = "restored staging databases"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = local.restored_db_security_group_id
  tags                         = local.tags
}

# The staging groups (RESTAGE_SECURITY_GROUP_IDS): a copy enters them only
# after masking, verification and the users step.
resource "aws_security_group" "restored_db" {
  count = var.restored_db_security_group_id == null ? 1 : 0

  name        = "${var.name}-restored-db"
  description = "Databases restored by restage, after masking: reachable from the restage task and the staging applications only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-restored-db" })
}

resource "aws_vpc_security_group_ingress_rule" "restored_db" {
  for_each = var.restored_db_security_group_id != null ? {} : {
    for pair in setproduct(
      concat(["task"], var.staging_app_security_group_ids),
      distinct([for db in local.databases : db.port]),
    ) : "${pair[0]}:${pair[1]}" => { source = pair[0], port = pair[1] }
  }

  security_group_id            = aws_security_group.restored_db[0].id
  description                  = each.value.source == "task" ? "restage task" : "staging application"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.source == "task" ? local.task_security_group_id : each.value.source
  tags                         = local.tags
}

# One group per target that only that target's tasks carry (next to the
# shared task group): the one client its quarantined copies admit.
resource "aws_security_group" "target_task" {
  for_each = { for target, db in local.databases : target => db if lookup(var.target_task_security_group_ids, target, null) == null }

  name        = "${var.name}-${each.key}-task"
  description = "restage tasks of ${each.key}: the only client of its quarantined copies"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-${each.key}-task", "restage:target" = each.key })
}

resource "aws_vpc_security_group_egress_rule" "target_task_quarantine" {
  for_each = { for target, db in local.databases : target => db if lookup(var.target_task_security_group_ids, target, null) == null }

  security_group_id            = aws_security_group.target_task[each.key].id
  description                  = "quarantined copies of ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = local.quarantine_security_group_ids[each.key]
  tags                         = local.tags
}

# Quarantine: every copy is created here and stays here until the users
# step passed (the unmasked window). Only this target's task gets in: not
# the staging applications, not another target's task. No egress rule.
resource "aws_security_group" "quarantine" {
  for_each = local.created_quarantine

  name        = "${var.name}-${each.key}-quarantine"
  description = "Unmasked restage copies of ${each.key}: reachable from the restage task of ${each.key} only"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-${each.key}-quarantine", "restage:target" = each.key })
}

resource "aws_vpc_security_group_ingress_rule" "quarantine" {
  for_each = local.created_quarantine

  security_group_id            = aws_security_group.quarantine[each.key].id
  description                  = "restage task of ${each.key} only"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = local.target_task_security_group_ids[each.key]
  tags                         = local.tags
}
