variable "run_id" {
  description = "Environment id, tagged on every host (user.kit.run_id) so teardown works without state."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{2,40}$", var.run_id))
    error_message = "run_id must be 3-41 characters of a-z, 0-9 and '-'."
  }
}

variable "workspace" {
  description = "Absolute path of the kit workspace that owns these hosts (tagged on each one)."
  type        = string
}

variable "image" {
  description = "Alias of the LXD base image (built by the kit with debootstrap)."
  type        = string
}

variable "profile" {
  description = "LXD profile with the root disk and the NIC on the kit's private bridge."
  type        = string
  default     = "serving-kit"
}

variable "ssh_public_key" {
  description = "Path to the run's SSH public key (one key pair per run)."
  type        = string
}

variable "wheelhouse_dir" {
  description = "Controller folder shared read-only with every host at /opt/wheels; empty for none."
  type        = string
  default     = ""
}

variable "ssh_user" {
  description = "User Ansible and the kit log in as."
  type        = string
  default     = "root"
}

variable "client" {
  description = "The load-generating host: static address, pinned CPUs (LXD range), CPU count, memory in MiB."
  type = object({
    ipv4_address = string
    cpu_set      = string
    cpus         = number
    memory_mb    = number
  })
}

variable "servers" {
  description = "One server host per framework id, each with its static address, pinned CPUs and memory."
  type = map(object({
    ipv4_address = string
    cpu_set      = string
    cpus         = number
    memory_mb    = number
  }))

  validation {
    condition     = alltrue([for k in keys(var.servers) : contains(["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"], k)])
    error_message = "server keys must be framework ids: tfserving, torchserve, mlserver, mlflow, bentoml."
  }
}
