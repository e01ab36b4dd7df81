variable "name" {
  description = "LXD instance name (unique on the machine, e.g. kit-srv-mlserver)."
  type        = string
}

variable "host_key" {
  description = "The host's name in the inventory: client or srv-<framework>."
  type        = string
}

variable "run_id" {
  description = "Environment id; tagged on the instance as user.kit.run_id so teardown can find it without state."
  type        = string
}

variable "workspace" {
  description = "The kit workspace (project folder) that owns the host; tagged as user.kit.workspace so that `kit down` in one workspace never removes another's hosts."
  type        = string
}

variable "image" {
  description = "Alias of the LXD base image the kit built with debootstrap."
  type        = string
}

variable "profile" {
  description = "LXD profile holding the root disk and the NIC on the private bridge."
  type        = string
}

variable "ipv4_address" {
  description = "Static address on the private bridge (handed out by LXD's DHCP as a reservation)."
  type        = string
}

variable "cpu_set" {
  description = "CPUs the host is pinned to, as an LXD range (e.g. 0-0 or 1-3)."
  type        = string
}

variable "memory_mb" {
  description = "Memory limit in MiB, enforced by the container's cgroup."
  type        = number
}

variable "ssh_public_key" {
  description = "Path to the run's SSH public key, installed as root's authorized_keys."
  type        = string
}

variable "wheelhouse_dir" {
  description = "Controller folder shared read-only at /opt/wheels (offline installs); empty for none."
  type        = string
  default     = ""
}
