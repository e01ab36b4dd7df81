# Plan-only runs of the host module against an emulator (the module has no provider block of its own;
# this one points at moto). The caller passes the emulator and a host key made for the test:
#   terraform test -var aws_endpoint=http://127.0.0.1:PORT -var host_key_file=DIR/client_ed25519
# tests/integration/test_aws_terraform.py starts moto and does this.
provider "aws" {
  region                  = "us-east-1"
  access_key              = "test"
  secret_key              = "test"
  skip_metadata_api_check = true
}

variables {
  name               = "client"
  name_prefix        = "serving-kit-env-tftest-1"
  instance_type      = "c6i.xlarge"
  ami_id             = "ami-0d3b12a0e5f1c0002"
  root_volume_gb     = 30
  subnet_id          = "subnet-0123456789abcdef0"
  security_group_ids = ["sg-0123456789abcdef0"]
  key_name           = "serving-kit-env-tftest-1"
  expires_at         = "2030-01-01T12:00:00Z"
  tags               = { Project = "serving-kit", RunId = "env-tftest-1", Owner = "tftest", ExpiresAt = "2030-01-01T12:00:00Z" }
}

run "cpu_host" {
  command = plan

  assert {
    condition     = aws_instance.this.metadata_options[0].http_tokens == "required" && aws_instance.this.metadata_options[0].http_endpoint == "enabled" && aws_instance.this.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 must be required, with a hop limit of 1"
  }
  assert {
    condition     = aws_instance.this.root_block_device[0].encrypted && aws_instance.this.root_block_device[0].delete_on_termination && aws_instance.this.root_block_device[0].volume_size == 30 && aws_instance.this.root_block_device[0].volume_type == "gp3"
    error_message = "the root volume must be encrypted gp3 of root_volume_gb, deleted with the instance"
  }
  assert {
    condition     = aws_instance.this.instance_initiated_shutdown_behavior == "terminate"
    error_message = "shutting down must terminate the instance (the dead-man switch ends the bill)"
  }
  assert {
    condition     = startswith(base64decode(aws_instance.this.user_data_base64), "#cloud-config\n")
    error_message = "user data must be a cloud-config document"
  }
  assert {
    condition     = strcontains(yamldecode(base64decode(aws_instance.this.user_data_base64)).write_files[1].content, "OnCalendar=2030-01-01 12:00:00 UTC") && strcontains(yamldecode(base64decode(aws_instance.this.user_data_base64)).write_files[0].content, "ExecStart=/bin/systemctl --no-block poweroff") && contains(yamldecode(base64decode(aws_instance.this.user_data_base64)).runcmd, ["systemctl", "enable", "--now", "kit-deadman.timer"])
    error_message = "the dead-man timer must be enabled and power the host off at ExpiresAt"
  }
  assert {
    condition     = yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_keys.ed25519_public == trimspace(file("${var.host_key_file}.pub")) && yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_keys.ed25519_private == file(var.host_key_file) && yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_genkeytypes == []
    error_message = "cloud-init must install the host key the kit made, and only it (so known_hosts is right from the first connection)"
  }
  assert {
    condition = alltrue([for tags in [aws_instance.this.tags, aws_instance.this.root_block_device[0].tags] :
      tags["Project"] == "serving-kit" && tags["RunId"] == "env-tftest-1" && tags["Owner"] == "tftest" && tags["ExpiresAt"] == "2030-01-01T12:00:00Z" && tags["Name"] == "serving-kit-env-tftest-1-client"
    ])
    error_message = "the instance and its root volume must be tagged {Project, RunId, Owner, ExpiresAt, Name}"
  }
  assert {
    condition     = output.cpus == 4 && output.memory_mb == 8192 && !output.gpu
    error_message = "c6i.xlarge: 4 vCPUs, 8 GiB, no GPU (as AWS describes the type)"
  }
}

run "gpu_host" {
  command = plan

  variables {
    name          = "gpu-mlserver"
    instance_type = "g5.xlarge"
  }

  assert {
    condition     = output.gpu && output.cpus == 4 && output.memory_mb == 16384
    error_message = "g5.xlarge: 4 vCPUs, 16 GiB and a GPU (as AWS describes the type)"
  }
}

run "name_outside_the_contract" {
  command = plan
  variables { name = "srv-triton" }
  expect_failures = [var.name]
}

run "expires_at_without_zone" {
  command = plan
  variables { expires_at = "2030-01-01T12:00:00+02:00" }
  expect_failures = [var.expires_at]
}
