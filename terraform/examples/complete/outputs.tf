output "manual_run_commands" {
  description = "Per database: the `aws ecs run-task` command of a manual refresh."
  value       = module.restage.manual_run_commands
}

output "schedule_names" {
  description = "Per database: the schedule to disable to skip a day."
  value       = module.restage.schedule_names
}

output "schedule_group_name" {
  description = "Schedule group of the schedules."
  value       = module.restage.schedule_group_name
}

output "schedule_states" {
  description = "Per database: ENABLED or DISABLED."
  value       = module.restage.schedule_states
}

output "task_role_arns" {
  description = "Per database: task role ARN."
  value       = module.restage.task_role_arns
}

output "scheduler_role_arn" {
  description = "Scheduler role ARN."
  value       = module.restage.scheduler_role_arn
}

output "log_group_name" {
  description = "Log group of the tasks."
  value       = module.restage.log_group_name
}

output "environment" {
  description = "Per database: plain environment of the task."
  value       = module.restage.environment
}
