output "hosts" {
  description = "The inventory contract shared by every provider (docs/design.md section 4): client and servers by framework."
  value = {
    client = {
      name       = "client"
      public_ip  = module.client.private_ip
      private_ip = module.client.private_ip
      ssh_user   = var.ssh_user
      ssh_port   = 22
      cpus       = var.client.cpus
      memory_mb  = var.client.memory_mb
      gpu        = false
    }
    servers = {
      for fw, spec in var.servers : fw => {
        name          = "srv-${fw}"
        public_ip     = module.server[fw].private_ip
        private_ip    = module.server[fw].private_ip
        ssh_user      = var.ssh_user
        ssh_port      = 22
        cpus          = spec.cpus
        memory_mb     = spec.memory_mb
        gpu           = false
        framework     = fw
        instance_type = "lxd-${spec.cpus}cpu-${spec.memory_mb}mb"
      }
    }
  }
}
