resource "aws_sns_topic" "alerts" {
  name              = "${var.name}-alerts"
  kms_master_key_id = var.alerts_kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn = aws_sns_topic.alerts.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "TaskStoppedRule"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { ArnEquals = { "aws:SourceArn" = [aws_cloudwatch_event_rule.task_failed.arn, aws_cloudwatch_event_rule.sweep_failed.arn] } }
      },
      {
        Sid       = "DeadLetterAlarm"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alerts.arn
        Condition = { ArnEquals = { "aws:SourceArn" = concat([aws_cloudwatch_metric_alarm.dlq.arn], [for k in sort(keys(aws_cloudwatch_metric_alarm.stale)) : aws_cloudwatch_metric_alarm.stale[k].arn], [for k in sort(keys(aws_cloudwatch_metric_alarm.slow)) : aws_cloudwatch_metric_alarm.slow[k].arn]) } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "alerts" {
  for_each = { for s in var.alert_subscriptions : "${s.protocol}:${s.endpoint}" => s }

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

# The container itself died: restage could not report (OOM, crash, killed
# after stopTimeout) or the task never started (image pull, secrets, ENI).
resource "aws_cloudwatch_event_rule" "task_failed" {
  name        = "${var.name}-task-failed"
  description = "restage task stopped with a non-zero exit code or failed to start"
  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn = [local.cluster_arn]
      lastStatus = ["STOPPED"]
      group      = sort([for db in local.databases : "family:${db.family}"])
      "$or" = [
        { containers = { exitCode = [{ anything-but = 0 }] } },
        { stopCode = ["TaskFailedToStart"] },
      ]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "task_failed" {
  rule      = aws_cloudwatch_event_rule.task_failed.name
  target_id = "sns"
  arn       = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      group    = "$.detail.group"
      stopCode = "$.detail.stopCode"
      reason   = "$.detail.stoppedReason"
      task     = "$.detail.taskArn"
    }
    input_template = "\"restage task <group> stopped (<stopCode>): <reason>. Task: <task>. Logs: ${local.log_group_name}\""
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  alarm_name          = "${var.name}-scheduler-dlq"
  alarm_description   = "EventBridge Scheduler could not start a restage task (see the messages in ${local.dlq_name})"
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}

################################################################################
# Killed runs are swept within minutes
################################################################################

# A run that stopped abnormally — not 0 (done), 2 (bad input, nothing
# created) or 4 (a gate refused, cleanup done) — may have left an unmasked
# copy behind (killed, OOM, SIGKILL after stopTimeout, crash). Its sweep
# starts right away instead of at the next scheduled run. Only the run
# group matches: a sweep runs under its own group (sweep:<family>), so a
# failed sweep never starts another one (it alerts, below).
resource "aws_cloudwatch_event_rule" "sweep" {
  for_each = local.databases

  name        = "${var.name}-${each.key}-sweep"
  description = "restage ${each.key}: a run stopped abnormally; start restage sweep"
  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn = [local.cluster_arn]
      lastStatus = ["STOPPED"]
      group      = [local.run_groups[each.key]]
      containers = { exitCode = [{ anything-but = [0, 2, 4] }] }
    }
  })
  tags = merge(local.tags, { "restage:target" = each.key })
}

resource "aws_cloudwatch_event_target" "sweep" {
  for_each = local.databases

  rule      = aws_cloudwatch_event_rule.sweep[each.key].name
  target_id = "sweep"
  arn       = var.create_cluster ? one(aws_ecs_cluster.this[*].arn) : local.cluster_arn
  role_arn  = aws_iam_role.events.arn
  # The RunTask overrides: the same task definition, `restage sweep`.
  input = jsonencode(local.sweep_overrides)

  ecs_target {
    task_definition_arn = aws_ecs_task_definition.this[each.key].arn_without_revision
    launch_type         = "FARGATE"
    platform_version    = "LATEST"
    task_count          = 1
    group               = local.sweep_groups[each.key]

    network_configuration {
      subnets          = var.subnet_ids
      security_groups  = local.task_security_groups[each.key]
      assign_public_ip = false
    }
  }

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  # A sweep that could not even start lands with the schedules' failures
  # (alarmed).
  dead_letter_config {
    arn = aws_sqs_queue.dlq.arn
  }
}

# A sweep that failed (or never started) alerts; nothing starts another.
resource "aws_cloudwatch_event_rule" "sweep_failed" {
  name        = "${var.name}-sweep-failed"
  description = "restage sweep task stopped with a non-zero exit code or failed to start"
  event_pattern = jsonencode({
    source      = ["aws.ecs"]
    detail-type = ["ECS Task State Change"]
    detail = {
      clusterArn = [local.cluster_arn]
      lastStatus = ["STOPPED"]
      group      = sort(values(local.sweep_groups))
      "$or" = [
        { containers = { exitCode = [{ anything-but = 0 }] } },
        { stopCode = ["TaskFailedToStart"] },
      ]
    }
  })
  tags = local.tags
}

resource "aws_cloudwatch_event_target" "sweep_failed" {
  rule      = aws_cloudwatch_event_rule.sweep_failed.name
  target_id = "sns"
  arn       = aws_sns_topic.alerts.arn

  input_transformer {
    input_paths = {
      group    = "$.detail.group"
      stopCode = "$.detail.stopCode"
      reason   = "$.detail.stoppedReason"
      task     = "$.detail.taskArn"
    }
    input_template = "\"restage SWEEP <group> failed (<stopCode>): <reason>. An unmasked copy may be left: check restage-* databases now. Task: <task>. Logs: ${local.log_group_name}\""
  }
}

# EventBridge delivers undeliverable sweeps to the dead-letter queue with
# the queue's policy (the scheduler uses its role).
resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "SweepRules"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dlq.arn
      Condition = { ArnEquals = { "aws:SourceArn" = [for k in sort(keys(aws_cloudwatch_event_rule.sweep)) : aws_cloudwatch_event_rule.sweep[k].arn] } }
    }]
  })
}

################################################################################
# Staleness: no successful refresh for staleness_alarm_hours
################################################################################

# Each successful run writes one embedded-metric-format line (metric
# RefreshSucceeded = 1, dimension Target) to stdout; awslogs runs in
# blocking mode so the line is never dropped. Hourly sums; an hour without
# a success is missing data, which counts as breaching: the alarm fires
# after staleness_alarm_hours hours without one, whether runs fail or
# never start (a disabled or deleted schedule).
resource "aws_cloudwatch_metric_alarm" "stale" {
  for_each = local.databases

  alarm_name          = "${var.name}-${each.key}-stale"
  alarm_description   = "restage: no successful refresh of ${each.key} for ${var.staleness_alarm_hours} hours (logs: ${local.log_group_name}, prefix ${each.key})"
  namespace           = var.metrics_namespace
  metric_name         = "RefreshSucceeded"
  dimensions          = { Target = each.key }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = var.staleness_alarm_hours
  datapoints_to_alarm = var.staleness_alarm_hours
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  # enabled = false: the schedule is off on purpose; the alarm exists but
  # does not notify.
  actions_enabled = each.value.enabled
  alarm_actions   = [aws_sns_topic.alerts.arn]
  ok_actions      = [aws_sns_topic.alerts.arn]
  tags            = merge(local.tags, { "restage:target" = each.key })
}

################################################################################
# Run metrics: how long a refresh takes, per step, and how fast it masks
################################################################################

# Each run writes these in embedded metric format to stdout (one JSON line
# each, no IAM permission: CloudWatch Logs extracts them), in
# var.metrics_namespace with the dimension Target, like RefreshSucceeded.
# docs/terraform.md lists them; the names are kept here once so that the
# dashboard and the alarm cannot drift from each other.
locals {
  metric_names = {
    succeeded       = "RunSucceeded"     # Count, 1 or 0 per run (RefreshSucceeded: success only, the staleness signal)
    duration        = "RunDuration"      # Seconds, the whole run
    rows_masked     = "RowsMasked"       # Count
    rows_per_second = "RowsPerSecond"    # Count/Second, masking rate
    duration2median = "DurationToMedian" # this run / median of the recorded runs
    step_suffix     = "Duration"         # Seconds, <Step>Duration: MaskDuration, RestoreDuration…
  }
  # The steps of a run, in order (internal/refresh.Steps).
  metric_steps = ["prepare", "restore", "credentials", "ready", "mask", "verify", "users", "swap", "retire"]

  dashboard_widgets = flatten([
    for i, target in sort(keys(local.databases)) : [
      {
        type   = "metric"
        x      = 0
        y      = i * 6
        width  = 8
        height = 6
        properties = {
          title  = "${target}: last runs"
          region = var.region
          view   = "timeSeries"
          stat   = "Maximum"
          period = 3600
          metrics = [
            [var.metrics_namespace, local.metric_names.duration, "Target", target, { label = "duration (s)" }],
            [var.metrics_namespace, local.metric_names.succeeded, "Target", target, { label = "succeeded (1) / failed (0)", yAxis = "right" }],
            [var.metrics_namespace, local.metric_names.duration2median, "Target", target, { label = "duration / median", yAxis = "right" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = i * 6
        width  = 8
        height = 6
        properties = {
          title   = "${target}: duration per step (s)"
          region  = var.region
          view    = "timeSeries"
          stacked = true
          stat    = "Maximum"
          period  = 3600
          metrics = [
            for step in local.metric_steps : [var.metrics_namespace, "${title(step)}${local.metric_names.step_suffix}", "Target", target, { label = step }]
          ]
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = i * 6
        width  = 8
        height = 6
        properties = {
          title  = "${target}: rows/s"
          region = var.region
          view   = "timeSeries"
          stat   = "Maximum"
          period = 3600
          metrics = [
            [var.metrics_namespace, local.metric_names.rows_per_second, "Target", target, { label = "rows/s" }],
            [var.metrics_namespace, local.metric_names.rows_masked, "Target", target, { label = "rows masked", yAxis = "right" }],
          ]
        }
      },
    ]
  ])
}

# One row per database: last runs, duration per step, rows/s.
resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

# A run that took more than twice the median of the recorded runs: the
# database grew, or something got slower (a smaller instance, a new rule).
# One datapoint per run; no run is no data, which the staleness alarm
# covers, so missing data is not breaching here.
resource "aws_cloudwatch_metric_alarm" "slow" {
  for_each = local.databases

  alarm_name          = "${var.name}-${each.key}-slow"
  alarm_description   = "restage: the last refresh of ${each.key} took more than twice the median of the recorded runs (dashboard ${var.name}; logs: ${local.log_group_name}, prefix ${each.key})"
  namespace           = var.metrics_namespace
  metric_name         = local.metric_names.duration2median
  dimensions          = { Target = each.key }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 2
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = each.value.enabled
  alarm_actions       = [aws_sns_topic.alerts.arn]
  tags                = merge(local.tags, { "restage:target" = each.key })
}
