variable "name" {
  description = "The host's inventory name (client, srv-<framework> or gpu-<framework>), also its Name tag suffix."
  type        = string

  validation {
    condition     = can(regex("^(client|(srv|gpu)-(tfserving|torchserve|mlserver|mlflow|bentoml))$", var.name))
    error_message = "name must be client, srv-<framework> or gpu-<framework> (docs/design.md section 3)."
  }
}

variable "name_prefix" {
  description = "Prefix of the Name tag (serving-kit-<run id>), so the console groups a run's hosts."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type (its vCPUs, memory and GPUs are read from AWS for the inventory)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like an EC2 instance type, e.g. c6i.xlarge or g5.xlarge."
  }
}

variable "ami_id" {
  description = "Image to boot (found by the root module's aws_ami data sources)."
  type        = string
}

variable "root_volume_gb" {
  description = "Root volume size in GiB (never below the image's own snapshot)."
  type        = number

  validation {
    condition     = var.root_volume_gb >= 8 && var.root_volume_gb <= 2048
    error_message = "root_volume_gb must be between 8 and 2048."
  }
}

variable "root_volume_type" {
  description = "EBS type of the encrypted root volume."
  type        = string
  default     = "gp3"

  validation {
    condition     = contains(["gp3", "gp2", "io2"], var.root_volume_type)
    error_message = "root_volume_type must be one of gp3, gp2, io2."
  }
}

variable "subnet_id" {
  description = "Subnet to place the host in."
  type        = string
}

variable "security_group_ids" {
  description = "Security groups of the host (the client's or the servers')."
  type        = list(string)
}

variable "key_name" {
  description = "The run's EC2 key pair (one per run), installed for the image's login user."
  type        = string
}

variable "host_key_file" {
  description = "Path of the host's ed25519 SSH host key made by the kit (with .pub beside it): installed by cloud-init so the kit can check the host's identity strictly from the first connection."
  type        = string
}

variable "expires_at" {
  description = "The run's ExpiresAt (RFC 3339, UTC): the dead-man timer powers the host off then, and power-off terminates it."
  type        = string

  validation {
    condition     = can(formatdate("YYYY", var.expires_at)) && endswith(var.expires_at, "Z")
    error_message = "expires_at must be an RFC 3339 UTC timestamp such as 2030-01-31T18:00:00Z."
  }
}

variable "tags" {
  description = "Tags the instance and its root volume carry ({Project, RunId, Owner, ExpiresAt})."
  type        = map(string)
}
