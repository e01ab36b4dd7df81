# The local provider: one client and one server per framework, each an LXD system container on a
# private bridge (no NAT, no routing, no default route), created by the lxd_host module.
module "client" {
  source = "../modules/lxd_host"

  name           = "kit-client"
  host_key       = "client"
  run_id         = var.run_id
  workspace      = var.workspace
  image          = var.image
  profile        = var.profile
  ipv4_address   = var.client.ipv4_address
  cpu_set        = var.client.cpu_set
  memory_mb      = var.client.memory_mb
  ssh_public_key = var.ssh_public_key
  wheelhouse_dir = var.wheelhouse_dir
}

module "server" {
  source   = "../modules/lxd_host"
  for_each = var.servers

  name           = "kit-srv-${each.key}"
  host_key       = "srv-${each.key}"
  run_id         = var.run_id
  workspace      = var.workspace
  image          = var.image
  profile        = var.profile
  ipv4_address   = each.value.ipv4_address
  cpu_set        = each.value.cpu_set
  memory_mb      = each.value.memory_mb
  ssh_public_key = var.ssh_public_key
  wheelhouse_dir = var.wheelhouse_dir
}
