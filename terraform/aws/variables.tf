variable "run_id" {
  description = "Environment id: the RunId tag on every resource, so `kit reap` and `kit down` find them without state."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,40}$", var.run_id))
    error_message = "run_id must be 3-41 characters of a-z, 0-9 and '-'."
  }
}

variable "owner" {
  description = "Who started the run (the Owner tag): an IAM user or session name, or an e-mail address."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9 _.:/=+@-]{1,128}$", var.owner))
    error_message = "owner must be 1-128 characters allowed in an EC2 tag value (letters, digits, spaces and _.:/=+@-)."
  }
}

variable "expires_at" {
  description = "The run's ExpiresAt tag (RFC 3339, UTC): `kit reap` deletes the run after it, and each host's dead-man timer shuts it down then."
  type        = string

  validation {
    condition     = can(formatdate("YYYY", var.expires_at)) && endswith(var.expires_at, "Z")
    error_message = "expires_at must be an RFC 3339 UTC timestamp such as 2030-01-31T18:00:00Z."
  }
}

variable "region" {
  description = "AWS region of every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as us-east-1 or eu-west-2."
  }
}

variable "aws_endpoint" {
  description = "Emulator only (e.g. moto on http://127.0.0.1:5000): one endpoint for every AWS API, with dummy credentials. Empty (the default) in production."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_endpoint == "" || can(regex("^https?://[^/]+/?$", var.aws_endpoint))
    error_message = "aws_endpoint must be empty (production) or an http(s)://host:port URL of an emulator."
  }
}

variable "availability_zone" {
  description = "Zone of the run's subnet, one that offers every instance type asked for (the preflight picks it); empty lets AWS choose."
  type        = string
  default     = ""

  validation {
    condition     = var.availability_zone == "" || can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]+[a-z]$", var.availability_zone))
    error_message = "availability_zone must be empty or a zone name such as us-east-1a."
  }
}

variable "operator_cidr" {
  description = "The operator's public address as a CIDR block (a /32 when the kit detects it): the only source allowed to reach SSH."
  type        = string

  validation {
    # try(): && does not short-circuit, and a value without "/" has no prefix length to read.
    condition     = can(cidrnetmask(var.operator_cidr)) && try(tonumber(split("/", var.operator_cidr)[1]) >= 16, false)
    error_message = "operator_cidr must be an IPv4 CIDR block no wider than /16 (SSH is never open to the world)."
  }
}

variable "ssh_public_key" {
  description = "Path to the run's SSH public key, registered as the run's own EC2 key pair."
  type        = string
}

variable "host_keys_dir" {
  description = "Folder of the hosts' SSH host keys made by the kit (<host name>_ed25519 and .pub), installed by cloud-init."
  type        = string
}

variable "frameworks" {
  description = "Framework ids to create one server host for (docs/design.md section 3)."
  type        = set(string)

  validation {
    condition     = length(var.frameworks) > 0 && alltrue([for f in var.frameworks : contains(["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"], f)])
    error_message = "frameworks must be a non-empty set of: tfserving, torchserve, mlserver, mlflow, bentoml."
  }
}

variable "serving_ports" {
  description = "Every TCP port each framework listens on (docs/design.md section 4), opened to the client's security group only."
  type        = map(list(number))

  validation {
    condition     = alltrue([for ports in values(var.serving_ports) : alltrue([for p in ports : p >= 1 && p <= 65535 && floor(p) == p])])
    error_message = "serving_ports must map framework ids to TCP port numbers (1-65535)."
  }
}

variable "gpu" {
  description = "Put the servers on gpu_server_instance_type with the NVIDIA-driver image (`kit up --gpu`); the client stays on CPU."
  type        = bool
  default     = false
}

variable "client_instance_type" {
  description = "Instance type of the load client: compute-optimised, so it is never the bottleneck."
  type        = string
  default     = "c6i.xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.client_instance_type))
    error_message = "client_instance_type must look like an EC2 instance type, e.g. c6i.xlarge."
  }
}

variable "server_instance_type" {
  description = "Instance type of each CPU server host."
  type        = string
  default     = "c6i.2xlarge"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.server_instance_type))
    error_message = "server_instance_type must look like an EC2 instance type, e.g. c6i.2xlarge."
  }
}

variable "gpu_server_instance_type" {
  description = "Instance type of each server host with --gpu (it must have an NVIDIA GPU)."
  type        = string
  default     = "g5.xlarge"

  validation {
    condition     = can(regex("^(g[0-9][a-z0-9-]*|p[0-9][a-z0-9-]*)\\.[a-z0-9]+$", var.gpu_server_instance_type))
    error_message = "gpu_server_instance_type must be a G or P family instance type, e.g. g5.xlarge."
  }
}

variable "cpu_image" {
  description = "The image of CPU hosts, found by owner and name pattern (newest match), and its login user. Default: Debian 12, like the local provider's hosts."
  type = object({
    owners   = list(string)
    name     = string
    ssh_user = string
  })
  default = {
    owners   = ["136693071363"] # Debian's official AWS account
    name     = "debian-12-amd64-*"
    ssh_user = "admin"
  }
}

variable "gpu_image" {
  description = "The image of GPU servers: an AMI with the NVIDIA driver and CUDA installed, found by owner and name pattern (newest match), and its login user."
  type = object({
    owners   = list(string)
    name     = string
    ssh_user = string
  })
  default = {
    owners   = ["amazon"]
    name     = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
    ssh_user = "ubuntu"
  }
}

variable "root_volume_gb" {
  description = "Root volume size of every host in GiB (raised to the image's own snapshot size when that is larger)."
  type        = number
  default     = 30

  validation {
    condition     = var.root_volume_gb >= 8 && var.root_volume_gb <= 2048
    error_message = "root_volume_gb must be between 8 and 2048."
  }
}

variable "root_volume_type" {
  description = "EBS type of every (encrypted) root volume."
  type        = string
  default     = "gp3"

  validation {
    condition     = contains(["gp3", "gp2", "io2"], var.root_volume_type)
    error_message = "root_volume_type must be one of gp3, gp2, io2."
  }
}

variable "vpc_cidr" {
  description = "Address range of the run's VPC."
  type        = string
  default     = "10.79.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block such as 10.79.0.0/16."
  }
}
