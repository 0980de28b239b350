resource "aws_ecs_cluster" "this" {
  count = var.create_cluster ? 1 : 0

  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

# One task definition per database: the same image, its own environment and
# secrets (container overrides cannot carry secrets) and its own roles.
resource "aws_ecs_task_definition" "this" {
  for_each = local.databases

  family                   = each.value.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution[each.key].arn
  task_role_arn            = aws_iam_role.task[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name      = local.container_name
    image     = var.image
    essential = true
    command   = ["run"]
    environment = [
      for k in sort(keys(local.environment[each.key])) : { name = k, value = local.environment[each.key][k] }
    ]
    secrets = [
      for k in sort(keys(local.secrets[each.key])) : { name = k, valueFrom = local.secrets[each.key][k] }
    ]
    # SIGTERM first, SIGKILL 120 s later (the Fargate maximum): a stopped
    # run gets the time to delete what it created and report.
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      # blocking: a log line (the success metric is one) is never dropped;
      # the container waits for CloudWatch Logs instead.
      options = {
        mode                  = "blocking"
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])

  tags = merge(local.tags, { "restage:target" = each.key })

  # No task may start with the grants but without the Deny statements.
  depends_on = [aws_iam_role_policy_attachment.task_guardrails]
}
