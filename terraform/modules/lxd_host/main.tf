# One LXD system container: its own rootfs, systemd, sshd, address, CPU set and memory limit.
# Created and destroyed by scripts/host.sh so that no registry provider is needed; the destroy
# provisioner reads only self.input, as Terraform requires.
resource "terraform_data" "host" {
  input = {
    name   = var.name
    script = abspath("${path.module}/scripts/host.sh")
  }

  triggers_replace = [
    var.image, var.profile, var.ipv4_address, var.cpu_set, var.memory_mb, var.ssh_public_key,
    var.wheelhouse_dir, var.run_id, var.workspace,
  ]

  provisioner "local-exec" {
    command = "${abspath(path.module)}/scripts/host.sh create"
    environment = {
      KIT_NAME       = var.name
      KIT_HOST_KEY   = var.host_key
      KIT_RUN_ID     = var.run_id
      KIT_WORKSPACE  = var.workspace
      KIT_IMAGE      = var.image
      KIT_PROFILE    = var.profile
      KIT_IPV4       = var.ipv4_address
      KIT_CPU_SET    = var.cpu_set
      KIT_MEMORY_MB  = tostring(var.memory_mb)
      KIT_PUBKEY     = var.ssh_public_key
      KIT_WHEELHOUSE = var.wheelhouse_dir
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "${self.input.script} destroy"
    environment = {
      KIT_NAME = self.input.name
    }
  }
}
