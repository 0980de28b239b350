# Mock credentials by default, so that `terraform plan` works offline (the
# module's tests plan this root). Set mock_aws = false to use your real
# credentials (profile, SSO, environment) and apply.
provider "aws" {
  region = var.region

  access_key                  = var.mock_aws ? "mock" : null
  secret_key                  = var.mock_aws ? "mock" : null
  skip_credentials_validation = var.mock_aws
  skip_requesting_account_id  = var.mock_aws
  skip_metadata_api_check     = var.mock_aws
  skip_region_validation      = var.mock_aws

  default_tags {
    tags = { project = "restage", environment = "staging" }
  }
}

locals {
  rds = "arn:aws:rds:${var.region}:${var.account_id}"
  sm  = "arn:aws:secretsmanager:${var.region}:${var.account_id}:secret"
  kms = "arn:aws:kms:${var.region}:${var.account_id}:key"
}

module "restage" {
  source = "../.."

  name       = "restage"
  account_id = var.account_id
  region     = var.region
  image      = "${var.account_id}.dkr.ecr.${var.region}.amazonaws.com/restage:${var.image_tag}"

  vpc_id                         = var.vpc_id
  subnet_ids                     = var.subnet_ids
  staging_app_security_group_ids = var.staging_app_security_group_ids

  cpu_architecture   = "ARM64"
  cpu                = 1024
  memory             = 2048
  log_retention_days = 90

  rules_writer_arns = var.rules_writer_arns

  mask_key_secret_arn = "${local.sm}:restage/mask-key-AbCdEf"
  slack_secret_arn    = "${local.sm}:restage/slack-webhook-GhIjKl"

  environment = {
    RESTAGE_WORKERS          = "4"
    RESTAGE_SLACK_ON_SUCCESS = "false"
  }

  alert_subscriptions = [
    { protocol = "email", endpoint = var.alert_email },
  ]

  databases = {
    # Aurora MySQL cluster, cloned (copy-on-write) from production at its
    # latest restorable time, masked on a bigger writer that is scaled down
    # to instance_class before staging gets it.
    shop = {
      engine                 = "aurora-mysql"
      source_id              = "shop-prod"
      source_mode            = "clone"
      production_arns        = ["${local.rds}:db:shop-prod-instance-1", "${local.rds}:db:shop-prod-instance-2"]
      snapshot_kms_key_arns  = ["${local.kms}/1111aaaa-2222-bbbb-3333-cccc4444dddd"]
      kms_key_id             = "${local.kms}/1111aaaa-2222-bbbb-3333-cccc4444dddd"
      db_name                = "sakila"
      dns_name               = "shop-db.staging.example.com"
      hosted_zone_id         = var.staging_zone_id
      subnet_group           = "staging-db"
      instance_class         = "db.r6g.large"
      masking_instance_class = "db.r6g.4xlarge"
      # Explicit groups: the ones production runs with (the copy must
      # accept what the snapshot was taken with).
      db_parameter_group      = "shop-aurora-mysql8"
      cluster_parameter_group = "shop-aurora-mysql8-cluster"
      schedule_expression     = "cron(0 3 * * ? *)"
      rules_file              = "${path.module}/../../../examples/rules/sakila-mysql.yaml"
      staging_users = {
        app      = { privilege = "write", password_secret_arn = "${local.sm}:staging/shop/app-MnOpQr" }
        readonly = { privilege = "read", password_secret_arn = "${local.sm}:staging/shop/readonly-StUvWx" }
      }
      # The staging cluster made by hand before restage: the first refresh
      # switches away from it, then retires it (RESTAGE_ADOPT).
      adopt = { id = "staging-shop-handmade", instance_ids = ["staging-shop-handmade-1"] }
    }

    # Aurora PostgreSQL Serverless v2 cluster restored from its newest
    # snapshot (unencrypted), its own schedule; up to 32 ACU while masking,
    # 8 once staging uses it.
    billing = {
      engine                  = "aurora-postgresql"
      source_id               = "billing-prod"
      source_mode             = "snapshot"
      db_name                 = "sakila"
      dns_name                = "billing-db.staging.example.com"
      hosted_zone_id          = var.staging_zone_id
      subnet_group            = "staging-db"
      instance_class          = "db.serverless"
      serverless_min_acu      = 0.5
      serverless_max_acu      = 8
      masking_max_acu         = 32
      db_parameter_group      = "billing-aurora-pg16"
      cluster_parameter_group = "billing-aurora-pg16-cluster"
      schedule_expression     = "cron(30 2 ? * MON-FRI *)"
      rules_file              = "${path.module}/../../../examples/rules/sakila-postgres.yaml"
      staging_users = {
        app = { privilege = "write", password_secret_arn = "${local.sm}:staging/billing/app-YzAbCd" }
      }
      environment = { RESTAGE_MAX_DURATION = "3h" }
    }

    # RDS MySQL instance restored to production's latest restorable time
    # (its key: snapshot_kms_key_arns); its schedule exists but is DISABLED
    # (enabled = false).
    legacy = {
      engine                = "mysql"
      source_id             = "legacy-prod"
      source_mode           = "point_in_time"
      snapshot_kms_key_arns = ["${local.kms}/5555eeee-6666-ffff-7777-aaaa8888bbbb"]
      db_name               = "sakila"
      dns_name              = "legacy-db.staging.example.com"
      hosted_zone_id        = var.staging_zone_id
      subnet_group          = "staging-db"
      instance_class        = "db.t4g.medium"
      db_parameter_group    = "legacy-mysql80"
      backup_retention      = 1
      enabled               = false
      rules_file            = "${path.module}/../../../examples/rules/sakila-mysql.yaml"
    }
  }

  tags = { owner = "platform" }
}
