resource "aws_scheduler_schedule_group" "this" {
  name = var.name
  tags = local.tags
}

# Invocations EventBridge Scheduler could not deliver even after retrying
# (RunTask refused, capacity, permissions) land here and raise an alarm.
resource "aws_sqs_queue" "dlq" {
  name                      = local.dlq_name
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.tags
}

# One schedule per database. enabled = false keeps the schedule but
# DISABLED; a later apply always restores the state the variables say.
resource "aws_scheduler_schedule" "this" {
  for_each = local.databases

  name                         = each.value.schedule_name
  group_name                   = aws_scheduler_schedule_group.this.name
  description                  = "restage: refresh ${each.key} from ${each.value.source_id}"
  schedule_expression          = each.value.schedule_expression
  schedule_expression_timezone = each.value.schedule_timezone
  state                        = each.value.enabled ? "ENABLED" : "DISABLED"

  lifecycle {
    precondition {
      condition     = var.create_cluster || var.cluster_name != null
      error_message = "create_cluster = false needs cluster_name (the existing ECS cluster)."
    }
  }

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = var.create_cluster ? one(aws_ecs_cluster.this[*].arn) : local.cluster_arn
    role_arn = aws_iam_role.scheduler.arn
    # Provider 5.x: the RunTask overrides of each run go in input.
    input = jsonencode(local.overrides["scheduled"])

    ecs_parameters {
      task_definition_arn = aws_ecs_task_definition.this[each.key].arn_without_revision
      launch_type         = "FARGATE"
      platform_version    = "LATEST"
      task_count          = 1
      group               = local.run_groups[each.key]

      network_configuration {
        subnets          = var.subnet_ids
        security_groups  = local.task_security_groups[each.key]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_event_age_in_seconds = var.schedule_retry.maximum_event_age_in_seconds
      maximum_retry_attempts       = var.schedule_retry.maximum_retry_attempts
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq.arn
    }
  }
}
