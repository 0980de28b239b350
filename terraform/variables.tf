################################################################################
# Shared
################################################################################

variable "name" {
  description = "Prefix of every resource name (cluster, task families, roles, schedules, bucket, table). Lower-case letters, digits and hyphens, at most 16 characters so that role names stay within IAM's 64."
  type        = string
  default     = "restage"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 16
    error_message = "name must be lower-case letters, digits and single hyphens, start with a letter and be at most 16 characters."
  }
}

variable "account_id" {
  description = "AWS account id of the databases and of everything this module creates. An input, not a lookup, so that planning never needs credentials."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be 12 digits."
  }
}

variable "region" {
  description = "AWS region of the databases and of everything this module creates (e.g. ap-northeast-1)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like ap-northeast-1."
  }
}

variable "partition" {
  description = "AWS partition used in ARNs (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"

  validation {
    condition     = contains(["aws", "aws-cn", "aws-us-gov"], var.partition)
    error_message = "partition must be aws, aws-cn or aws-us-gov."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

################################################################################
# Container and ECS
################################################################################

variable "image" {
  description = "Container image of restage (e.g. 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/restage:1.4.0). When it is an ECR image of this account and region, the execution role may pull exactly that repository."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "create_cluster" {
  description = "Create an ECS cluster named after var.name. Set to false and give cluster_name to run in an existing cluster."
  type        = bool
  default     = true
}

variable "cluster_name" {
  description = "Name of the ECS cluster: the one to create (default: var.name) or the existing one when create_cluster is false."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture of the Fargate task: ARM64 (Graviton, cheaper) or X86_64. The image must be built for it."
  type        = string
  default     = "ARM64"

  validation {
    condition     = contains(["ARM64", "X86_64"], var.cpu_architecture)
    error_message = "cpu_architecture must be ARM64 or X86_64."
  }
}

variable "cpu" {
  description = "Fargate task CPU units (256, 512, 1024, 2048, 4096, 8192, 16384)."
  type        = number
  default     = 1024

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB; must be a valid Fargate pair with cpu (e.g. 1024 CPU: 2048-8192 in steps of 1024)."
  type        = number
  default     = 2048

  validation {
    condition = contains(lookup({
      256   = [512, 1024, 2048]
      512   = [1024, 2048, 3072, 4096]
      1024  = [for gb in range(2, 9) : gb * 1024]
      2048  = [for gb in range(4, 17) : gb * 1024]
      4096  = [for gb in range(8, 31) : gb * 1024]
      8192  = [for gb in range(16, 61, 4) : gb * 1024]
      16384 = [for gb in range(32, 121, 8) : gb * 1024]
    }, tostring(var.cpu), []), var.memory)
    error_message = "cpu/memory is not a valid Fargate pair: 256 → 512-2048, 512 → 1024-4096, 1024 → 2048-8192, 2048 → 4096-16384 (1 GiB steps), 4096 → 8192-30720 (1 GiB steps), 8192 → 16384-61440 (4 GiB steps), 16384 → 32768-122880 (8 GiB steps)."
  }
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log group of the tasks, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "Optional KMS key ARN that encrypts the log group (its key policy must allow CloudWatch Logs)."
  type        = string
  default     = null
}

################################################################################
# Network
################################################################################

variable "vpc_id" {
  description = "VPC of the tasks and of the restored staging databases."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the tasks (they need a route to the AWS APIs, ECR and Slack: NAT or VPC endpoints). Tasks never get a public IP."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must list at least one subnet."
  }
}

variable "task_security_group_id" {
  description = "Existing security group for the tasks. Null (default): the module creates one with HTTPS egress and egress to the restored databases."
  type        = string
  default     = null
}

variable "restored_db_security_group_id" {
  description = "Existing security group for the databases restage restores (RESTAGE_SECURITY_GROUP_IDS). Null (default): the module creates one admitting the task and staging_app_security_group_ids on the database port."
  type        = string
  default     = null
}

variable "staging_app_security_group_ids" {
  description = "Security groups of the staging applications; the staging group of restored databases (restored_db_security_group_id) admits them on the database port. Never the quarantine groups: a copy is moved to the staging group only after masking, verification and the users step."
  type        = list(string)
  default     = []
}

variable "target_task_security_group_ids" {
  description = "Optional, per target: an existing security group that only that target's tasks carry (next to the task group). Targets not listed get one created (`<name>-<target>-task`, egress to its quarantine group on the database port). An existing one needs that egress from its owner."
  type        = map(string)
  default     = {}
}

variable "quarantine_security_group_ids" {
  description = "Optional, per target: an existing quarantine security group (RESTAGE_QUARANTINE_SECURITY_GROUP_IDS) that must admit only that target's task group. Targets not listed get one created (`<name>-<target>-quarantine`, admitting only the target's task group, no egress)."
  type        = map(string)
  default     = {}
}

################################################################################
# Secrets and notifications
################################################################################

variable "mask_key_secret_arn" {
  description = "Secrets Manager ARN of the masking key (RESTAGE_MASK_KEY, at least 32 bytes). Injected through the task definition's secrets, never as a plain value."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.mask_key_secret_arn))
    error_message = "mask_key_secret_arn must be a Secrets Manager ARN."
  }
}

variable "slack_secret_arn" {
  description = "Optional Secrets Manager ARN of the Slack credential: a bot token (xoxb-…) when slack_channel is set (RESTAGE_SLACK_TOKEN), otherwise an incoming webhook URL (RESTAGE_SLACK_WEBHOOK_URL)."
  type        = string
  default     = null

  validation {
    condition     = var.slack_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:", var.slack_secret_arn))
    error_message = "slack_secret_arn must be a Secrets Manager ARN."
  }
}

variable "slack_channel" {
  description = "Slack channel id for a bot token (RESTAGE_SLACK_CHANNEL). Leave null for a webhook."
  type        = string
  default     = null
}

variable "secrets_kms_key_arns" {
  description = "Customer-managed KMS keys that encrypt the secrets above (the execution role may decrypt with them through Secrets Manager only). Not needed for the default aws/secretsmanager key."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "Extra plain environment variables for every task (e.g. RESTAGE_WORKERS, RESTAGE_SLACK_ON_SUCCESS). Variables the module sets from other inputs win. Secret-looking names (RESTAGE_MASK_KEY, *_PASSWORD, *_TOKEN, *WEBHOOK*) are refused: plain values are readable by anyone who can describe the task definition."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, _ in var.environment : !can(regex("^RESTAGE_MASK_KEY$|_PASSWORD$|_TOKEN$|WEBHOOK", upper(k)))])
    error_message = "environment must not hold secrets: RESTAGE_MASK_KEY, *_PASSWORD, *_TOKEN and *WEBHOOK* names go through Secrets Manager (mask_key_secret_arn, slack_secret_arn, staging_users[*].password_secret_arn)."
  }
}

variable "rules_writer_arns" {
  description = "IAM principal ARNs (roles or users; aws:PrincipalArn) that may write the rules bucket — whoever applies this module. The bucket policy denies every write and every change of its protection to anyone else: the rules decide what is masked and run post-mask SQL as the copy's master."
  type        = list(string)

  validation {
    condition     = length(var.rules_writer_arns) > 0 && alltrue([for a in var.rules_writer_arns : can(regex("^arn:[a-z-]+:iam::[0-9]{12}:(role|user)/[^*?]+$", a))])
    error_message = "rules_writer_arns must list at least one IAM role or user ARN (arn:aws:iam::<account>:role/<name>), without wildcards."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics each run emits (RESTAGE_METRICS_NAMESPACE; dimension Target): RefreshSucceeded, RunSucceeded, RunDuration, <Step>Duration, RowsMasked, RowsPerSecond, DurationToMedian. The staleness and slow-run alarms and the dashboard read them."
  type        = string
  default     = "restage"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ / # : - and must not start with AWS/."
  }
}

variable "staleness_alarm_hours" {
  description = "Hours without a successful refresh after which a database's staleness alarm notifies the alert topic (default 36: a daily schedule that missed one run plus slack). Hourly periods, missing data counts as no refresh, so a schedule that silently stopped is caught too. 2-168."
  type        = number
  default     = 36

  validation {
    condition     = var.staleness_alarm_hours >= 2 && var.staleness_alarm_hours <= 168 && floor(var.staleness_alarm_hours) == var.staleness_alarm_hours
    error_message = "staleness_alarm_hours must be a whole number of hours from 2 to 168 (CloudWatch evaluates hourly periods over at most 7 days)."
  }
}

variable "alert_subscriptions" {
  description = "Subscriptions of the alert SNS topic (failed or crashed tasks, schedules that never started a task), e.g. [{ protocol = \"email\", endpoint = \"ops@example.com\" }]."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []

  validation {
    condition     = alltrue([for s in var.alert_subscriptions : contains(["email", "email-json", "http", "https", "sqs", "lambda", "sms", "firehose", "application"], s.protocol)])
    error_message = "alert_subscriptions: protocol must be one of email, email-json, http, https, sqs, lambda, sms, firehose, application."
  }
}

variable "alerts_kms_key_arn" {
  description = "Optional KMS key of the alert topic. Its key policy must let events.amazonaws.com and cloudwatch.amazonaws.com use it (the AWS-managed aws/sns key does not)."
  type        = string
  default     = null
}

################################################################################
# Scheduling
################################################################################

variable "schedule_retry" {
  description = "Retry policy of every schedule: how long (seconds, 60-86400) and how often (0-185) EventBridge Scheduler retries a RunTask that failed to start. Invocations that still fail go to the dead-letter queue (alarmed)."
  type = object({
    maximum_event_age_in_seconds = optional(number, 3600)
    maximum_retry_attempts       = optional(number, 3)
  })
  default = {}

  validation {
    condition = (
      var.schedule_retry.maximum_event_age_in_seconds >= 60 && var.schedule_retry.maximum_event_age_in_seconds <= 86400 &&
      var.schedule_retry.maximum_retry_attempts >= 0 && var.schedule_retry.maximum_retry_attempts <= 185
    )
    error_message = "schedule_retry: maximum_event_age_in_seconds must be 60-86400 and maximum_retry_attempts 0-185."
  }
}

################################################################################
# Databases
################################################################################

variable "databases" {
  description = <<-EOT
    The staging databases to refresh, keyed by target name. The key becomes RESTAGE_TARGET and the prefix of every
    database restage creates (restage-<target>-<yyyymmddhhmm>), so it must be a valid RDS identifier part:
    lower-case letters, digits and single hyphens, starting with a letter, at most 42 characters.
    Each database gets its own task definition, schedule, task role and execution role.
      engine                  aurora-mysql | aurora-postgresql | mysql | postgres | mariadb
      source_id               production cluster (Aurora) or instance identifier; restage only reads its snapshots
      production_arns         more production ARNs to protect with the explicit Deny (e.g. the Aurora cluster's instances)
      source_mode             where the copy comes from: snapshot (default: the newest snapshot), clone (Aurora
                              only: a copy-on-write clone of the production cluster at its latest restorable
                              time) or point_in_time (RDS and Aurora: a full restore to the latest restorable
                              time); see README "Source modes"
      snapshot_type           automated (default) | manual | shared
      snapshot_arn            restore exactly this (e.g. cross-account) snapshot
      snapshot_kms_key_arns   KMS keys of encrypted snapshots, and with clone / point_in_time the production source's
                              own key (the task may use them through RDS only, nothing else)
      kms_key_id              KMS key for the restored database (RESTAGE_KMS_KEY_ID); granted like the snapshot keys
      db_name                 database inside the server to mask
      dns_name, hosted_zone_id  the staging CNAME restage UPSERTs, and its Route53 zone
      dns_ttl                 record TTL in seconds (default 60)
      subnet_group            staging DB subnet group
      instance_class          e.g. db.r6g.large
      db_parameter_group      required: the DB parameter group of the restored instance(s) (no engine default: a
                              snapshot taken with e.g. lower_case_table_names=1 or shared_preload_libraries needs its own)
      cluster_parameter_group required for Aurora engines: the DB cluster parameter group (same reason)
      option_group            optional explicit option group (default: the engine's default)
      serverless_min_acu, serverless_max_acu  Aurora Serverless v2 scaling (instance_class = "db.serverless" needs both)
      masking_instance_class  optional: the copy's writer is created at this class and scaled down to instance_class
                              after verification, before users and the switch (RESTAGE_MASKING_INSTANCE_CLASS)
      masking_max_acu         optional, Serverless v2 only: the max ACU while masking, scaled back to
                              serverless_max_acu after verification (RESTAGE_MASKING_MAX_ACU)
      manual_snapshot_names   snapshot_type = manual: name patterns of the source's manual snapshots restage may
                              restore (IAM wildcards; default ["<source_id>-*"])
      master_password         managed (default) | random
      backup_retention        days of backups turned on before the switch
      wait_timeout            maximum wait for any RDS state change (Go duration, default 2h)
      schedule_expression     cron(...), rate(...) or at(...); default every day at 03:00
      schedule_timezone       IANA time zone of the expression (default Asia/Tokyo)
      enabled                 false: the schedule exists but is DISABLED
      rules_file              path of the rules YAML; uploaded to S3, the task reads it from there
      staging_users           user name => { privilege = read|write, password_secret_arn }
      environment             extra plain environment variables of this database's task
      adopt                   { id, instance_ids }: a hand-made staging cluster (Aurora; instance_ids = its
                              instances) or instance (RDS) that restage may retire once, after its first switch
                              (RESTAGE_ADOPT); never the production source or a restage-* database
  EOT
  type = map(object({
    engine                  = string
    source_id               = string
    production_arns         = optional(list(string), [])
    source_mode             = optional(string, "snapshot")
    snapshot_type           = optional(string, "automated")
    snapshot_arn            = optional(string)
    snapshot_kms_key_arns   = optional(list(string), [])
    kms_key_id              = optional(string)
    db_name                 = string
    dns_name                = string
    hosted_zone_id          = string
    dns_ttl                 = optional(number, 60)
    subnet_group            = string
    instance_class          = string
    db_parameter_group      = string
    cluster_parameter_group = optional(string)
    serverless_min_acu      = optional(number)
    serverless_max_acu      = optional(number)
    masking_instance_class  = optional(string)
    masking_max_acu         = optional(number)
    manual_snapshot_names   = optional(list(string))
    option_group            = optional(string)
    master_password         = optional(string, "managed")
    backup_retention        = optional(number)
    wait_timeout            = optional(string)
    schedule_expression     = optional(string, "cron(0 3 * * ? *)")
    schedule_timezone       = optional(string, "Asia/Tokyo")
    enabled                 = optional(bool, true)
    rules_file              = string
    staging_users = optional(map(object({
      privilege           = optional(string, "read")
      password_secret_arn = string
    })), {})
    environment = optional(map(string), {})
    adopt = optional(object({
      id           = string
      instance_ids = optional(list(string), [])
    }))
  }))

  validation {
    condition     = length(var.databases) > 0
    error_message = "databases must name at least one database."
  }

  validation {
    condition     = alltrue([for k, _ in var.databases : can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", k)) && length(k) <= 42])
    error_message = "database keys (target names) must be lower-case letters, digits and single hyphens, start with a letter, not end with a hyphen, and be at most 42 characters, so that restage-<target>-<yyyymmddhhmm> is a valid RDS identifier (at most 63 characters)."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : contains(["aurora-mysql", "aurora-postgresql", "mysql", "postgres", "mariadb"], d.engine)])
    error_message = "engine must be one of aurora-mysql, aurora-postgresql, mysql, postgres, mariadb."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : can(regex("^(cron\\([^()]+\\)|rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|at\\([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\))$", d.schedule_expression)) && (!startswith(d.schedule_expression, "cron(") || length(split(" ", trimsuffix(trimprefix(d.schedule_expression, "cron("), ")"))) == 6)])
    error_message = "schedule_expression must be cron(minutes hours day-of-month month day-of-week year) with 6 fields, rate(<n> minutes|hours|days) or at(yyyy-mm-ddThh:mm:ss)."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : contains(["automated", "manual", "shared"], d.snapshot_type)])
    error_message = "snapshot_type must be automated, manual or shared."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : d.snapshot_type != "shared" || d.snapshot_arn != null])
    error_message = "snapshot_type shared needs snapshot_arn (the shared snapshot restage restores)."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : contains(["snapshot", "clone", "point_in_time"], d.source_mode)])
    error_message = "source_mode must be snapshot, clone or point_in_time."
  }

  # A copy-on-write clone exists only for Aurora clusters.
  validation {
    condition     = alltrue([for _, d in var.databases : d.source_mode != "clone" || startswith(d.engine, "aurora-")])
    error_message = "source_mode clone is for Aurora engines only (aurora-mysql, aurora-postgresql); use point_in_time for an RDS instance."
  }

  # Without a snapshot these would be silently ignored.
  validation {
    condition     = alltrue([for _, d in var.databases : d.source_mode == "snapshot" || (d.snapshot_type == "automated" && d.snapshot_arn == null && d.manual_snapshot_names == null)])
    error_message = "snapshot_type, snapshot_arn and manual_snapshot_names are for source_mode = snapshot only (clone and point_in_time restore from the production source itself)."
  }

  validation {
    condition = alltrue([for _, d in var.databases : d.masking_instance_class == null ? true : (
      can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", d.masking_instance_class)) && d.masking_instance_class != "db.serverless" && d.instance_class != "db.serverless"
    )])
    error_message = "masking_instance_class must be a provisioned RDS instance class such as db.r6g.4xlarge, for a provisioned instance_class (Serverless v2 scales with masking_max_acu)."
  }

  validation {
    condition = alltrue([for _, d in var.databases : d.masking_max_acu == null ? true : (
      d.instance_class == "db.serverless" && d.serverless_max_acu != null ? (
        d.masking_max_acu >= d.serverless_max_acu && d.masking_max_acu <= 256 && floor(d.masking_max_acu * 2) == d.masking_max_acu * 2
      ) : false
    )])
    error_message = "masking_max_acu is for instance_class = \"db.serverless\" only; it must be at least serverless_max_acu, at most 256, in steps of 0.5."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : contains(["managed", "random"], d.master_password)])
    error_message = "master_password must be managed or random."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : can(regex("^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$", d.source_id)) && !startswith(d.source_id, "restage-")])
    error_message = "source_id must be an RDS identifier (letters, digits, hyphens) of the production source, and never a restage-* database."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", lower(trimsuffix(d.dns_name, "."))))])
    error_message = "dns_name must be a fully qualified DNS name such as shop.staging.example.com."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : can(regex("^Z[A-Z0-9]+$", d.hosted_zone_id))])
    error_message = "hosted_zone_id must be a Route53 hosted zone id (Z…), without the /hostedzone/ prefix."
  }

  validation {
    condition     = alltrue(flatten([for _, d in var.databases : [for u, s in d.staging_users : can(regex("^[a-z0-9_]+$", u)) && contains(["read", "write"], s.privilege)]]))
    error_message = "staging_users: user names must be lower-case letters, digits and underscores; privilege must be read or write."
  }

  validation {
    condition = alltrue([for _, d in var.databases : d.adopt == null ? true : alltrue([
      for id in concat([d.adopt.id], d.adopt.instance_ids) : can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", id)) && length(id) <= 63
    ])])
    error_message = "adopt: id and instance_ids must be RDS identifiers in lower case (letters, digits, single hyphens, starting with a letter)."
  }

  validation {
    condition = alltrue([for _, d in var.databases : d.adopt == null ? true : (
      startswith(d.engine, "aurora-") ? length(d.adopt.instance_ids) > 0 : length(d.adopt.instance_ids) == 0
    )])
    error_message = "adopt: an Aurora cluster needs instance_ids (its instances, deleted before the cluster); an RDS instance takes none."
  }

  # The adopted DB may be deleted: it can never be a production database
  # (any database's source or production ARN) nor one of restage's own.
  validation {
    condition = alltrue([for _, d in var.databases : d.adopt == null ? true : alltrue([
      for id in concat([d.adopt.id], d.adopt.instance_ids) : !startswith(id, "restage-") && !contains(flatten([
        for _, o in var.databases : concat([lower(o.source_id)], [
          for arn in o.production_arns : lower(element(split(":", arn), length(split(":", arn)) - 1))
          if can(regex(":rds:[^:]*:[^:]*:(cluster|db):[^:]+$", arn))
        ])
      ]), id)
    ])])
    error_message = "adopt must name a hand-made staging database: never a production source_id or production_arns database, and never a restage-* database (restage deletes its own without adoption)."
  }

  validation {
    condition     = alltrue(flatten([for _, d in var.databases : [for k, _ in d.environment : !can(regex("^RESTAGE_MASK_KEY$|_PASSWORD$|_TOKEN$|WEBHOOK", upper(k)))]]))
    error_message = "databases[*].environment must not hold secrets: RESTAGE_MASK_KEY, *_PASSWORD, *_TOKEN and *WEBHOOK* names go through Secrets Manager (mask_key_secret_arn, slack_secret_arn, staging_users[*].password_secret_arn)."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : length(trimspace(d.db_parameter_group)) > 0 && (!startswith(d.engine, "aurora-") || try(length(trimspace(d.cluster_parameter_group)) > 0, false))])
    error_message = "every database needs an explicit db_parameter_group, and Aurora databases a cluster_parameter_group too: an engine default cannot carry what the snapshot was taken with (lower_case_table_names, shared_preload_libraries, …)."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : startswith(d.engine, "aurora-") || d.cluster_parameter_group == null])
    error_message = "cluster_parameter_group is for Aurora engines only."
  }

  validation {
    condition = alltrue([for _, d in var.databases : (d.serverless_min_acu == null) == (d.serverless_max_acu == null) && (
      d.instance_class == "db.serverless" ? (startswith(d.engine, "aurora-") && d.serverless_min_acu != null) : d.serverless_min_acu == null
      # HCL's && does not short-circuit: only ?: keeps a null out of the
      # comparisons below.
      ) && (d.serverless_min_acu == null || d.serverless_max_acu == null ? true : (
        d.serverless_min_acu >= 0 && d.serverless_max_acu >= 1 && d.serverless_max_acu <= 256 && d.serverless_min_acu <= d.serverless_max_acu &&
        floor(d.serverless_min_acu * 2) == d.serverless_min_acu * 2 && floor(d.serverless_max_acu * 2) == d.serverless_max_acu * 2
    ))])
    error_message = "serverless_min_acu and serverless_max_acu: both or neither; required with instance_class = \"db.serverless\" (Aurora only) and only then; 0 <= min <= max, 1 <= max <= 256, in steps of 0.5."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : d.manual_snapshot_names == null || (d.snapshot_type == "manual" && alltrue([for n in coalesce(d.manual_snapshot_names, []) : length(trimspace(n)) > 0 && n != "*"]))])
    error_message = "manual_snapshot_names is for snapshot_type = manual only, and each pattern must name something (not empty, not \"*\")."
  }

  validation {
    condition     = alltrue([for _, d in var.databases : can(regex("^db\\.", d.instance_class))])
    error_message = "instance_class must be an RDS instance class such as db.r6g.large."
  }
}
