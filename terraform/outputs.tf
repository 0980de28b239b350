output "cluster_name" {
  description = "ECS cluster the tasks run in."
  value       = local.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = var.create_cluster ? one(aws_ecs_cluster.this[*].arn) : local.cluster_arn
}

output "task_definition_arns" {
  description = "Per database: ARN of the latest task definition revision."
  value       = { for k, td in aws_ecs_task_definition.this : k => td.arn }
}

output "task_definition_families" {
  description = "Per database: task definition family (run-task without a revision runs the latest)."
  value       = { for k, db in local.databases : k => db.family }
}

output "schedule_names" {
  description = "Per database: EventBridge Scheduler schedule name (in the schedule group schedule_group_name)."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.name }
}

output "schedule_arns" {
  description = "Per database: schedule ARN."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.arn }
}

output "schedule_group_name" {
  description = "EventBridge Scheduler schedule group of all schedules."
  value       = aws_scheduler_schedule_group.this.name
}

output "schedule_states" {
  description = "Per database: ENABLED or DISABLED, as the variables say (a later apply restores this)."
  value       = { for k, s in aws_scheduler_schedule.this : k => s.state }
}

output "task_role_arns" {
  description = "Per database: ARN of the task role (what restage itself may do)."
  value       = { for k, r in aws_iam_role.task : k => r.arn }
}

output "execution_role_arns" {
  description = "Per database: ARN of the task execution role (image pull, logs, injected secrets)."
  value       = { for k, r in aws_iam_role.execution : k => r.arn }
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler assumes to run the tasks."
  value       = aws_iam_role.scheduler.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the tasks (one stream prefix per database)."
  value       = aws_cloudwatch_log_group.this.name
}

output "rules_s3_uris" {
  description = "Per database: where the task reads its rules file (RESTAGE_RULES)."
  value       = { for k, db in local.databases : k => "s3://${local.rules_bucket_name}/${db.rules_key}" }
}

output "lock_table_name" {
  description = "DynamoDB table of run locks (RESTAGE_LOCK_TABLE)."
  value       = aws_dynamodb_table.locks.name
}

output "task_security_group_id" {
  description = "Security group of the tasks."
  value       = local.task_security_group_id
}

output "restored_db_security_group_id" {
  description = "Security group of the databases restage restores (admits the task and the staging applications)."
  value       = local.restored_db_security_group_id
}

output "target_task_security_group_ids" {
  description = "Per database: the security group only that target's tasks carry (the one client of its quarantine group)."
  value       = local.target_task_security_group_ids
}

output "quarantine_security_group_ids" {
  description = "Per database: the quarantine security group every copy is created in (RESTAGE_QUARANTINE_SECURITY_GROUP_IDS)."
  value       = local.quarantine_security_group_ids
}

output "staleness_alarm_names" {
  description = "Per database: the CloudWatch alarm that fires when no refresh succeeded for staleness_alarm_hours."
  value       = { for k, a in aws_cloudwatch_metric_alarm.stale : k => a.alarm_name }
}

output "slow_run_alarm_names" {
  description = "Per database: the CloudWatch alarm that fires when a run took more than twice the median of the recorded runs (DurationToMedian > 2)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.slow : k => a.alarm_name }
}

output "dashboard_name" {
  description = "CloudWatch dashboard with one row per database: last runs, duration per step, rows/s."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alerts_topic_arn" {
  description = "SNS topic of the alerts (failed tasks, undeliverable schedules)."
  value       = aws_sns_topic.alerts.arn
}

output "dead_letter_queue_arn" {
  description = "SQS queue of schedule invocations that could not start a task."
  value       = aws_sqs_queue.dlq.arn
}

output "environment" {
  description = "Per database: the plain environment of the task (secrets excluded)."
  value       = local.environment
}

output "secret_arns" {
  description = "Per database: environment variable => Secrets Manager ARN injected by ECS."
  value       = local.secrets
}

output "manual_run_commands" {
  description = "Per database: a ready-to-paste `aws ecs run-task` command for a manual refresh (RESTAGE_RUN_REASON=manual)."
  value = {
    for k, db in local.databases : k => join(" ", [
      "aws ecs run-task",
      "--region ${var.region}",
      "--cluster ${local.cluster_name}",
      "--task-definition ${db.family}",
      "--launch-type FARGATE",
      "--count 1",
      "--group ${local.run_groups[k]}",
      "--started-by restage-manual",
      "--network-configuration '${jsonencode({
        awsvpcConfiguration = {
          subnets        = var.subnet_ids
          securityGroups = local.task_security_groups[k]
          assignPublicIp = "DISABLED"
        }
      })}'",
      "--overrides '${jsonencode(local.overrides["manual"])}'",
    ])
  }
}
