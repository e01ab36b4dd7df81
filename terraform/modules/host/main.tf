# One EC2 host: IMDSv2 only, encrypted root volume, terminated (not stopped) when it shuts down, and
# a dead-man timer that shuts it down at the run's ExpiresAt even if the controller is gone.
data "aws_ec2_instance_type" "this" {
  instance_type = var.instance_type
}

locals {
  # systemd's OnCalendar wants "YYYY-MM-DD hh:mm:ss UTC".
  deadline = "${formatdate("YYYY-MM-DD hh:mm:ss", var.expires_at)} UTC"

  cloud_config = {
    # The kit made this host key and wrote it to its known_hosts before the first connection.
    ssh_deletekeys  = true
    ssh_genkeytypes = []
    ssh_keys = {
      ed25519_private = file(var.host_key_file)
      ed25519_public  = trimspace(file("${var.host_key_file}.pub"))
    }
    write_files = [
      {
        path        = "/etc/systemd/system/kit-deadman.service"
        permissions = "0644"
        content     = "[Unit]\nDescription=serving-kit dead-man switch: power off (this terminates the instance)\n\n[Service]\nType=oneshot\nExecStart=/bin/systemctl --no-block poweroff\n"
      },
      {
        path        = "/etc/systemd/system/kit-deadman.timer"
        permissions = "0644"
        content     = "[Unit]\nDescription=serving-kit dead-man switch at the run's ExpiresAt (${var.expires_at})\n\n[Timer]\nOnCalendar=${local.deadline}\nPersistent=true\nAccuracySec=1min\n\n[Install]\nWantedBy=timers.target\n"
      },
    ]
    runcmd = [
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "kit-deadman.timer"],
    ]
  }
}

resource "aws_instance" "this" {
  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.subnet_id
  vpc_security_group_ids = var.security_group_ids
  key_name               = var.key_name
  # Base64, not user_data: the provider keeps it as given rather than as a hash, so the plan shows
  # (and the tests check) what cloud-init will run.
  user_data_base64 = base64encode("#cloud-config\n${yamlencode(local.cloud_config)}")

  # Power-off from inside (the dead-man timer, or anyone) ends the bill, not just the run.
  instance_initiated_shutdown_behavior = "terminate"

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted             = true
    volume_type           = var.root_volume_type
    volume_size           = var.root_volume_gb
    delete_on_termination = true
    tags                  = merge(var.tags, { Name = "${var.name_prefix}-${var.name}" })
  }

  tags = merge(var.tags, { Name = "${var.name_prefix}-${var.name}" })

  lifecycle {
    # A newer image published between `kit up` and a resumed `kit up` must not replace a live host.
    ignore_changes = [ami]
  }
}
