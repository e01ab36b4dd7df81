variable "name" {
  description = "Prefix of every resource's Name tag (serving-kit-<run id>)."
  type        = string
}

variable "vpc_cidr" {
  description = "Address range of the run's own VPC."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block such as 10.79.0.0/16."
  }
}

variable "subnet_cidr" {
  description = "Address range of the one public subnet every host lives in (inside vpc_cidr)."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.subnet_cidr))
    error_message = "subnet_cidr must be an IPv4 CIDR block such as 10.79.1.0/24."
  }
}

variable "availability_zone" {
  description = "Zone of the subnet; one that offers every instance type asked for (the preflight picks it). Empty lets AWS choose."
  type        = string
  default     = ""
}

variable "operator_cidr" {
  description = "The operator's public address (a /32 when detected): the only source allowed to reach SSH."
  type        = string

  validation {
    # try(): && does not short-circuit, and a value without "/" has no prefix length to read.
    condition     = can(cidrnetmask(var.operator_cidr)) && try(tonumber(split("/", var.operator_cidr)[1]) >= 16, false)
    error_message = "operator_cidr must be an IPv4 CIDR block no wider than /16 (SSH is never open to the world)."
  }
}

variable "serving_ports" {
  description = "TCP ports the servers listen on; reachable only from the client's security group."
  type        = set(number)

  validation {
    condition     = alltrue([for p in var.serving_ports : p >= 1 && p <= 65535 && floor(p) == p])
    error_message = "serving_ports must be TCP port numbers (1-65535)."
  }
}

variable "tags" {
  description = "Tags every resource carries ({Project, RunId, Owner, ExpiresAt}): what `kit reap` finds them by."
  type        = map(string)
}
