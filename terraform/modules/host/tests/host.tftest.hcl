# Plan-only runs of the host module, offline: `terraform test` here needs no credentials and no
# emulator. The mock provider answers for AWS, so these runs check what the module itself decides
# (security settings, user data, tags, input checks); what AWS answers (an instance type's vCPUs,
# memory and GPUs) is checked against moto by tests/emulator/ (see the header there).
mock_provider "aws" {}

variables {
  name               = "client"
  name_prefix        = "serving-kit-env-tftest-1"
  instance_type      = "c6i.xlarge"
  ami_id             = "ami-0d3b12a0e5f1c0002"
  root_volume_gb     = 30
  subnet_id          = "subnet-0123456789abcdef0"
  security_group_ids = ["sg-0123456789abcdef0"]
  key_name           = "serving-kit-env-tftest-1"
  host_key_file      = "tests/fixtures/client_ed25519"
  expires_at         = "2030-01-01T12:00:00Z"
  tags               = { Project = "serving-kit", RunId = "env-tftest-1", Owner = "tftest", ExpiresAt = "2030-01-01T12:00:00Z" }
}

run "cpu_host" {
  command = plan

  assert {
    condition     = aws_instance.this.ami == "ami-0d3b12a0e5f1c0002" && aws_instance.this.instance_type == "c6i.xlarge" && aws_instance.this.subnet_id == "subnet-0123456789abcdef0" && aws_instance.this.vpc_security_group_ids == toset(["sg-0123456789abcdef0"]) && aws_instance.this.key_name == "serving-kit-env-tftest-1"
    error_message = "the instance must boot ami_id as instance_type in subnet_id, with the run's key pair and the given security groups"
  }
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
    condition     = yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_keys.ed25519_public == "ssh-ed25519 not-a-key tftest-client" && yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_keys.ed25519_private == file("tests/fixtures/client_ed25519") && yamldecode(base64decode(aws_instance.this.user_data_base64)).ssh_genkeytypes == []
    error_message = "cloud-init must install the host key the kit made, and only it (so known_hosts is right from the first connection)"
  }
  assert {
    condition = alltrue([for tags in [aws_instance.this.tags, aws_instance.this.root_block_device[0].tags] :
      tags["Project"] == "serving-kit" && tags["RunId"] == "env-tftest-1" && tags["Owner"] == "tftest" && tags["ExpiresAt"] == "2030-01-01T12:00:00Z" && tags["Name"] == "serving-kit-env-tftest-1-client"
    ])
    error_message = "the instance and its root volume must be tagged {Project, RunId, Owner, ExpiresAt, Name}"
  }
}

# The inventory's facts come from the instance type as AWS describes it; here the data source's answer
# is given, so the run checks how the module reads it (a GPU is any entry in `gpus`).
run "facts_of_a_gpu_type" {
  command = plan

  variables {
    name          = "gpu-mlserver"
    instance_type = "g5.xlarge"
  }

  override_data {
    target = data.aws_ec2_instance_type.this
    values = {
      default_vcpus = 4
      memory_size   = 16384
      gpus          = [{ count = 1, manufacturer = "NVIDIA", memory_size = 24576, name = "A10G" }]
    }
  }

  assert {
    condition     = output.cpus == 4 && output.memory_mb == 16384 && output.gpu && output.instance_type == "g5.xlarge"
    error_message = "cpus, memory_mb and gpu must be the instance type's default_vcpus, memory_size and whether it lists a GPU"
  }
}

run "facts_of_a_cpu_type" {
  command = plan

  override_data {
    target = data.aws_ec2_instance_type.this
    values = {
      default_vcpus = 4
      memory_size   = 8192
      gpus          = []
    }
  }

  assert {
    condition     = output.cpus == 4 && output.memory_mb == 8192 && !output.gpu
    error_message = "a type that lists no GPU must give gpu = false"
  }
}

# Bad input: each must be rejected before anything is planned.
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

run "instance_type_malformed" {
  command = plan
  variables { instance_type = "huge" }
  expect_failures = [var.instance_type]
}

run "root_volume_too_small" {
  command = plan
  variables { root_volume_gb = 4 }
  expect_failures = [var.root_volume_gb]
}

run "root_volume_type_unknown" {
  command = plan
  variables { root_volume_type = "standard" }
  expect_failures = [var.root_volume_type]
}
