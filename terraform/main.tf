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
        RESTAGE_DB_NAME            = db.db_name
        RESTAGE_SUBNET_GROUP       = db.subnet_group
        RESTAGE_SECURITY_GROUP_IDS = local.restored_db_security_group_id
        RESTAGE_INSTANCE_CLASS     = db.instance_class
        RESTAGE_MASTER_PASSWORD    = db.master_password
        RESTAGE_DNS_NAME           = db.dns_name
        RESTAGE_HOSTED_ZONE_ID     = db.hosted_zone_id
        RESTAGE_DNS_TTL            = tostring(db.dns_ttl)
        RESTAGE_LOCK_TABLE         = local.lock_table_name
        RESTAGE_RULES              = "s3://${local.rules_bucket_name}/${db.rules_key}"
      },
      db.snapshot_arn == null ? {} : { RESTAGE_SNAPSHOT_ARN = db.snapshot_arn },
      db.kms_key_id == null ? {} : { RESTAGE_KMS_KEY_ID = db.kms_key_id },
      db.db_parameter_group == null ? {} : { RESTAGE_DB_PARAMETER_GROUP = db.db_parameter_group },
      db.cluster_parameter_group == null ? {} : { RESTAGE_CLUSTER_PARAMETER_GROUP = db.cluster_parameter_group },
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

  tags = merge(var.tags, { "restage:module" = "true" })

  task_security_group_id        = var.task_security_group_id != null ? var.task_security_group_id : one(aws_security_group.task[*].id)
  restored_db_security_group_id = var.restored_db_security_group_id != null ? var.restored_db_security_group_id : one(aws_security_group.restored_db[*].id)
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
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [local.rules_bucket_arn, "${local.rules_bucket_arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.rules]
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

resource "aws_security_group" "restored_db" {
  count = var.restored_db_security_group_id == null ? 1 : 0

  name        = "${var.name}-restored-db"
  description = "Databases restored by restage: reachable from the restage task and the staging applications only"
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
