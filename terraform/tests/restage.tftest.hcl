# Offline checks of values known only after apply (security group ids, the
# manual run command, the container definitions), with a mocked provider.
# Run: terraform init -plugin-dir=… && terraform test

# Computed attributes the provider validates as ARNs get ARN-shaped mocks.
mock_provider "aws" {
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:ap-northeast-1:123456789012:mocked" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = { arn = "arn:aws:sqs:ap-northeast-1:123456789012:mocked" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/restage" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = {
      arn                  = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/mocked:1"
      arn_without_revision = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/mocked"
    }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:ap-northeast-1:123456789012:rule/mocked" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:mocked" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mocked" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::123456789012:policy/mocked" }
  }
}

# Security group ids: distinct per group, so the assertions can tell them apart.
override_resource {
  target = aws_security_group.task
  values = { id = "sg-0task000000000000" }
}

override_resource {
  target = aws_security_group.restored_db
  values = { id = "sg-0restoreddb000000" }
}

override_resource {
  target = aws_security_group.target_task["shop"]
  values = { id = "sg-0shoptask00000000" }
}

override_resource {
  target = aws_security_group.target_task["legacy"]
  values = { id = "sg-0legacytask000000" }
}

override_resource {
  target = aws_security_group.quarantine["shop"]
  values = { id = "sg-0shopquarantine00" }
}

override_resource {
  target = aws_security_group.quarantine["legacy"]
  values = { id = "sg-0legacyquarantin0" }
}

variables {
  account_id          = "123456789012"
  region              = "ap-northeast-1"
  image               = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/restage:1.0.0"
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
  mask_key_secret_arn = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:restage/mask-key-AbCdEf"
  rules_writer_arns   = ["arn:aws:iam::123456789012:role/deployer"]
  databases = {
    shop = {
      engine         = "aurora-mysql"
      source_id      = "shop-prod"
      db_name        = "sakila"
      dns_name       = "shop-db.staging.example.com"
      hosted_zone_id = "Z0123456789ABCDEFGHIJ"
      subnet_group   = "staging-db"
      instance_class = "db.r6g.large"
      rules_file     = "../examples/rules/sakila-mysql.yaml"

      db_parameter_group      = "shop-mysql8"
      cluster_parameter_group = "shop-mysql8-cluster"
    }
    legacy = {
      engine         = "mysql"
      source_id      = "legacy-prod"
      db_name        = "sakila"
      dns_name       = "legacy-db.staging.example.com"
      hosted_zone_id = "Z0123456789ABCDEFGHIJ"
      subnet_group   = "staging-db"
      instance_class = "db.t4g.medium"
      enabled        = false

      db_parameter_group = "legacy-mysql80"
      rules_file         = "../examples/rules/sakila-mysql.yaml"
    }
  }
}

run "apply_with_mocked_provider" {
  command = apply

  assert {
    condition     = alltrue([for k, c in output.manual_run_commands : startswith(c, "aws ecs run-task --region ap-northeast-1 --cluster restage --task-definition restage-${k} --launch-type FARGATE ")])
    error_message = "manual_run_commands must start with the run-task of the database's family in the cluster"
  }

  assert {
    condition     = alltrue([for k, c in output.manual_run_commands : strcontains(c, jsonencode({ awsvpcConfiguration = { subnets = var.subnet_ids, securityGroups = [aws_security_group.task[0].id, aws_security_group.target_task[k].id], assignPublicIp = "DISABLED" } }))])
    error_message = "manual_run_commands must carry the subnets, the created task security group and the target's own task group"
  }

  assert {
    condition     = alltrue([for k, c in output.manual_run_commands : strcontains(c, "--overrides '{\"containerOverrides\":[{\"environment\":[{\"name\":\"RESTAGE_RUN_REASON\",\"value\":\"manual\"}],\"name\":\"restage\"}]}'")])
    error_message = "manual_run_commands must override RESTAGE_RUN_REASON=manual"
  }

  assert {
    condition = alltrue([for k, td in aws_ecs_task_definition.this :
      { for e in jsondecode(td.container_definitions)[0].environment : e.name => e.value } == output.environment[k]
    ])
    error_message = "each task definition's environment must be the module's environment output for that database"
  }

  assert {
    condition     = alltrue([for k, e in output.environment : e.RESTAGE_SECURITY_GROUP_IDS == aws_security_group.restored_db[0].id && e.RESTAGE_TARGET == k])
    error_message = "RESTAGE_SECURITY_GROUP_IDS must be the created restored-DB security group, RESTAGE_TARGET the key"
  }

  assert {
    condition     = alltrue([for k, td in aws_ecs_task_definition.this : jsondecode(td.container_definitions)[0].stopTimeout == 120 && td.runtime_platform[0].cpu_architecture == "ARM64"])
    error_message = "containers must stop with a 120 s timeout on ARM64"
  }

  assert {
    condition     = alltrue([for k, td in aws_ecs_task_definition.this : [for s in jsondecode(td.container_definitions)[0].secrets : s.name] == ["RESTAGE_MASK_KEY"]])
    error_message = "without slack or staging users, only the masking key is injected"
  }

  assert {
    condition     = aws_scheduler_schedule.this["legacy"].state == "DISABLED" && aws_scheduler_schedule.this["shop"].state == "ENABLED"
    error_message = "enabled = false must give a DISABLED schedule"
  }

  assert {
    condition     = alltrue([for k, s in aws_scheduler_schedule.this : s.target[0].ecs_parameters[0].network_configuration[0].security_groups == toset([aws_security_group.task[0].id, aws_security_group.target_task[k].id])])
    error_message = "schedules must run the task in the task security group and the target's own task group"
  }

  assert {
    condition     = alltrue([for k, s in aws_cloudwatch_event_target.sweep : s.ecs_target[0].network_configuration[0].security_groups == toset([aws_security_group.task[0].id, aws_security_group.target_task[k].id])])
    error_message = "sweeps must run in the same groups as the target's runs (they reach its quarantined copies)"
  }

  assert {
    condition     = aws_security_group.target_task["shop"].id != aws_security_group.target_task["legacy"].id && aws_security_group.quarantine["shop"].id != aws_security_group.quarantine["legacy"].id
    error_message = "the test needs distinct group ids per target"
  }

  assert {
    condition = alltrue([for k, r in aws_vpc_security_group_ingress_rule.quarantine :
      r.security_group_id == aws_security_group.quarantine[k].id && r.referenced_security_group_id == aws_security_group.target_task[k].id
    ]) && length(aws_vpc_security_group_ingress_rule.quarantine) == 2
    error_message = "each quarantine group must admit exactly its own target's task group"
  }

  assert {
    condition = alltrue([for r in aws_vpc_security_group_ingress_rule.quarantine :
      !contains(concat(var.staging_app_security_group_ids, [aws_security_group.task[0].id]), r.referenced_security_group_id)
    ])
    error_message = "a quarantine group must admit neither the staging applications nor the shared task group"
  }

  assert {
    condition     = alltrue([for k, e in output.environment : e.RESTAGE_QUARANTINE_SECURITY_GROUP_IDS == aws_security_group.quarantine[k].id])
    error_message = "RESTAGE_QUARANTINE_SECURITY_GROUP_IDS must be the target's own quarantine group"
  }

  assert {
    condition = alltrue([for k, r in aws_vpc_security_group_egress_rule.target_task_quarantine :
      r.security_group_id == aws_security_group.target_task[k].id && r.referenced_security_group_id == aws_security_group.quarantine[k].id
    ])
    error_message = "each target's task group must reach its own quarantine group"
  }

  assert {
    condition     = alltrue([for k, a in aws_cloudwatch_metric_alarm.stale : a.alarm_actions == toset([aws_sns_topic.alerts.arn])]) && aws_cloudwatch_event_target.sweep_failed.arn == aws_sns_topic.alerts.arn
    error_message = "staleness alarms and failed sweeps must notify the alert topic"
  }

  assert {
    condition = length(aws_cloudwatch_metric_alarm.slow) == length(aws_cloudwatch_metric_alarm.stale) && alltrue([for k, a in aws_cloudwatch_metric_alarm.slow : a.alarm_actions == toset([aws_sns_topic.alerts.arn])]) && alltrue([
      for k, a in aws_cloudwatch_metric_alarm.slow : strcontains(aws_sns_topic_policy.alerts.policy, a.arn)
    ])
    error_message = "each database's slow-run alarm must notify the alert topic, and the topic policy must let it publish"
  }

  assert {
    condition     = alltrue([for k, a in aws_iam_role_policy_attachment.task_guardrails : a.role == aws_iam_role.task[k].name && a.policy_arn == aws_iam_policy.task_guardrails[k].arn])
    error_message = "each task role must carry its guardrail (Deny) policy"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.dlq.alarm_actions == toset([aws_sns_topic.alerts.arn]) && aws_cloudwatch_event_target.task_failed.arn == aws_sns_topic.alerts.arn
    error_message = "the dead-letter alarm and the task-failed rule must notify the alert topic"
  }

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.restored_db : r.referenced_security_group_id]) == toset([aws_security_group.task[0].id])
    error_message = "the restored-DB security group must admit the task"
  }
}
