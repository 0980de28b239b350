variable "mock_aws" {
  description = "Use mock credentials and skip every AWS check (plan only, offline). Set to false to apply with real credentials."
  type        = bool
  default     = true
}

variable "account_id" {
  description = "AWS account of the databases."
  type        = string
  default     = "123456789012"
}

variable "region" {
  description = "AWS region of the databases."
  type        = string
  default     = "ap-northeast-1"
}

variable "image_tag" {
  description = "Tag of the restage image in this account's ECR repository restage."
  type        = string
  default     = "1.0.0"
}

variable "vpc_id" {
  description = "VPC of the tasks and the restored databases."
  type        = string
  default     = "vpc-0123456789abcdef0"
}

variable "subnet_ids" {
  description = "Private subnets of the tasks."
  type        = list(string)
  default     = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
}

variable "staging_app_security_group_ids" {
  description = "Security groups of the staging applications that connect to the staging databases."
  type        = list(string)
  default     = ["sg-0cccccccccccccccc"]
}

variable "staging_zone_id" {
  description = "Route53 hosted zone of staging.example.com."
  type        = string
  default     = "Z0123456789ABCDEFGHIJ"
}

variable "alert_email" {
  description = "Where alerts go."
  type        = string
  default     = "ops@example.com"
}

variable "rules_writer_arns" {
  description = "Who may write the rules bucket: the role (or user) that applies this root."
  type        = list(string)
  default     = ["arn:aws:iam::123456789012:role/platform-deployer"]
}
