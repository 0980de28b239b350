# Test root: plans the module with the inputs of a -var-file, offline (mock
# credentials). The Go tests feed it invalid inputs and expect the module's
# validation messages.
terraform {
  required_version = ">= 1.7"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region                      = "ap-northeast-1"
  access_key                  = "mock"
  secret_key                  = "mock"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variable "databases" {
  description = "Passed to the module unchanged."
  type        = any
}

variable "environment" {
  description = "Passed to the module unchanged."
  type        = map(string)
  default     = {}
}

variable "staleness_alarm_hours" {
  description = "Passed to the module unchanged."
  type        = number
  default     = 36
}

variable "rules_writer_arns" {
  description = "Passed to the module unchanged."
  type        = list(string)
  default     = ["arn:aws:iam::123456789012:role/deployer"]
}

variable "cpu" {
  description = "Passed to the module unchanged."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Passed to the module unchanged."
  type        = number
  default     = 2048
}

module "restage" {
  source = "../../../../terraform"

  account_id          = "123456789012"
  region              = "ap-northeast-1"
  image               = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/restage:1.0.0"
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaa1"]
  mask_key_secret_arn = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:restage/mask-key-AbCdEf"
  cpu                 = var.cpu
  memory              = var.memory
  databases           = var.databases
  environment         = var.environment
  rules_writer_arns   = var.rules_writer_arns

  staleness_alarm_hours = var.staleness_alarm_hours
}
