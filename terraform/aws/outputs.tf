output "hosts" {
  description = "The inventory contract shared by every provider (docs/design.md section 4): client and servers by framework."
  value = {
    client = {
      name       = "client"
      public_ip  = module.client.public_ip
      private_ip = module.client.private_ip
      ssh_user   = var.cpu_image.ssh_user
      ssh_port   = 22
      cpus       = module.client.cpus
      memory_mb  = module.client.memory_mb
      gpu        = module.client.gpu
    }
    servers = {
      for key, fw in local.servers : fw => {
        name          = key
        public_ip     = module.server[key].public_ip
        private_ip    = module.server[key].private_ip
        ssh_user      = local.server_ssh
        ssh_port      = 22
        cpus          = module.server[key].cpus
        memory_mb     = module.server[key].memory_mb
        gpu           = module.server[key].gpu
        framework     = fw
        instance_type = module.server[key].instance_type
      }
    }
  }
}

output "network" {
  description = "The run's VPC, subnet and security groups (for `kit status` and the security-group checks)."
  value = {
    vpc_id                    = module.network.vpc_id
    subnet_id                 = module.network.subnet_id
    client_security_group_id  = module.network.client_security_group_id
    servers_security_group_id = module.network.servers_security_group_id
  }
}

output "instances" {
  description = "Instance id of every host by inventory name: what the kit waits on until each passes its status checks."
  value       = merge({ client = module.client.id }, { for key, fw in local.servers : key => module.server[key].id })
}

output "images" {
  description = "The images the hosts boot, name and id (recorded as the environment's image)."
  value = merge(
    { cpu = "${data.aws_ami.cpu.name} (${data.aws_ami.cpu.id})" },
    var.gpu ? { gpu = "${data.aws_ami.gpu[0].name} (${data.aws_ami.gpu[0].id})" } : {},
  )
}
