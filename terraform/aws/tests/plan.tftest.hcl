# terraform/aws offline: `terraform test` here needs no credentials and no emulator. The mock provider
# answers for AWS and creates nothing, so these runs check what the configuration itself decides:
# names, tags, which image and instance type each host gets, the inventory's shape, the root volume's
# size, and input checks. What only AWS can answer (which image is newest, what an instance type
# offers) is checked against moto by tests/emulator/ (see the header there). The key files are
# stand-ins (tests/fixtures/README.md).
mock_provider "aws" {}

variables {
  run_id         = "env-tftest-1"
  owner          = "tftest"
  expires_at     = "2030-01-01T12:00:00Z"
  region         = "us-east-1"
  operator_cidr  = "203.0.113.7/32"
  ssh_public_key = "tests/fixtures/id_ed25519.pub"
  host_keys_dir  = "tests/fixtures"
  frameworks     = ["mlserver"]
  serving_ports  = { mlserver = [8090, 8091, 8092], mlflow = [5001] }
}

run "cpu_plan" {
  command = plan

  override_data {
    target = data.aws_ami.cpu
    values = {
      id               = "ami-0d3b12a0e5f1c0002"
      name             = "debian-12-amd64-20250101-1"
      root_device_name = "/dev/xvda"
      block_device_mappings = [
        { device_name = "/dev/xvda", ebs = { volume_size = "8" }, no_device = "", virtual_name = "" },
      ]
    }
  }

  assert {
    condition     = length(data.aws_ami.gpu) == 0
    error_message = "without --gpu no NVIDIA image is looked up"
  }
  assert {
    condition     = aws_key_pair.run.key_name == "serving-kit-env-tftest-1" && aws_key_pair.run.public_key == "ssh-ed25519 not-a-key tftest-run" && aws_key_pair.run.tags == tomap({ Project = "serving-kit", RunId = "env-tftest-1", Owner = "tftest", ExpiresAt = "2030-01-01T12:00:00Z", Name = "serving-kit-env-tftest-1" })
    error_message = "one key pair per run, holding the run's public key, tagged {Project, RunId, Owner, ExpiresAt}"
  }
  assert {
    condition     = output.hosts.client.name == "client" && output.hosts.client.ssh_user == "admin" && output.hosts.client.ssh_port == 22
    error_message = "the client's inventory entry must be named client, with the Debian image's user on port 22"
  }
  assert {
    condition     = keys(output.hosts.servers) == ["mlserver"] && output.hosts.servers["mlserver"].name == "srv-mlserver" && output.hosts.servers["mlserver"].framework == "mlserver" && output.hosts.servers["mlserver"].ssh_user == "admin" && output.hosts.servers["mlserver"].ssh_port == 22
    error_message = "the server's inventory entry must be srv-mlserver, keyed by its framework, with the Debian image's user"
  }
  assert {
    condition     = local.server_type == "c6i.2xlarge" && local.server_image.id == "ami-0d3b12a0e5f1c0002"
    error_message = "without --gpu the servers run on server_instance_type with the CPU image"
  }
  assert {
    condition     = local.cpu_volume_gb == 30 && local.server_volume_gb == 30
    error_message = "an image whose root snapshot is smaller than root_volume_gb gets root_volume_gb"
  }
  assert {
    condition     = output.images == { cpu = "debian-12-amd64-20250101-1 (ami-0d3b12a0e5f1c0002)" }
    error_message = "the images output must name the CPU image, name and id, and no GPU image"
  }
  assert {
    condition     = local.ports == toset([8090, 8091, 8092])
    error_message = "only the benched frameworks' serving ports are opened (mlflow's 5001 is not)"
  }
}

run "gpu_plan" {
  command = plan

  variables {
    gpu = true
  }

  override_data {
    target = data.aws_ami.gpu[0]
    values = {
      id               = "ami-0a1d2e3f4b5c60006"
      name             = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20250102"
      root_device_name = "/dev/sda1"
      block_device_mappings = [
        { device_name = "/dev/sda1", ebs = { volume_size = "75" }, no_device = "", virtual_name = "" },
      ]
    }
  }

  assert {
    condition     = local.server_type == "g5.xlarge" && local.server_image.id == "ami-0a1d2e3f4b5c60006" && output.hosts.servers["mlserver"].name == "gpu-mlserver" && output.hosts.servers["mlserver"].ssh_user == "ubuntu"
    error_message = "--gpu puts the servers on g5.xlarge with the NVIDIA-driver image and its user, named gpu-<framework>"
  }
  assert {
    condition     = output.hosts.client.ssh_user == "admin" && local.cpu_volume_gb == 30
    error_message = "--gpu leaves the client on its CPU image and its volume size"
  }
  assert {
    condition     = local.server_volume_gb == 75
    error_message = "a GPU image whose root snapshot (75 GiB) is larger than root_volume_gb must get its snapshot's size"
  }
  assert {
    condition     = output.images.gpu == "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) 20250102 (ami-0a1d2e3f4b5c60006)"
    error_message = "the images output must name the GPU image too"
  }
}

run "every_framework" {
  command = plan

  variables {
    frameworks    = ["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"]
    serving_ports = { tfserving = [8501, 8500], torchserve = [8085, 8086, 8087], mlserver = [8090, 8091, 8092], mlflow = [5001], bentoml = [3001] }
  }

  # The servers' own settings are the host module's tests; here only their number and keys matter
  # (and the stand-in key files exist for srv-mlserver alone).
  override_module {
    target = module.server
  }

  assert {
    condition     = toset(keys(output.hosts.servers)) == toset(["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"]) && toset(keys(local.servers)) == toset(["srv-tfserving", "srv-torchserve", "srv-mlserver", "srv-mlflow", "srv-bentoml"])
    error_message = "one server per framework, keyed by framework id, named srv-<framework>"
  }
  assert {
    condition     = length(local.ports) == 10
    error_message = "every framework's serving ports are opened, each once"
  }
}

# Bad input: each must be rejected before anything is planned.
run "ssh_open_to_the_world" {
  command = plan
  variables { operator_cidr = "0.0.0.0/0" }
  expect_failures = [var.operator_cidr]
}

run "operator_cidr_not_a_cidr" {
  command = plan
  variables { operator_cidr = "my laptop" }
  expect_failures = [var.operator_cidr]
}

run "unknown_framework" {
  command = plan
  variables { frameworks = ["triton"] }
  expect_failures = [var.frameworks]
}

run "no_framework" {
  command = plan
  variables { frameworks = [] }
  expect_failures = [var.frameworks]
}

run "bad_region" {
  command = plan
  variables { region = "moon-base-one" }
  expect_failures = [var.region]
}

run "bad_run_id" {
  command = plan
  variables { run_id = "Env_ID" }
  expect_failures = [var.run_id]
}

run "expires_at_not_a_timestamp" {
  command = plan
  variables { expires_at = "tomorrow" }
  expect_failures = [var.expires_at]
}

run "gpu_type_without_gpu" {
  command = plan
  variables { gpu_server_instance_type = "c6i.xlarge" }
  expect_failures = [var.gpu_server_instance_type]
}

run "instance_type_malformed" {
  command = plan
  variables { client_instance_type = "huge" }
  expect_failures = [var.client_instance_type]
}

run "root_volume_type_unknown" {
  command = plan
  variables { root_volume_type = "standard" }
  expect_failures = [var.root_volume_type]
}

run "root_volume_too_small" {
  command = plan
  variables { root_volume_gb = 4 }
  expect_failures = [var.root_volume_gb]
}

run "endpoint_not_a_url" {
  command = plan
  variables { aws_endpoint = "127.0.0.1:5000" }
  expect_failures = [var.aws_endpoint]
}

run "empty_owner" {
  command = plan
  variables { owner = "" }
  expect_failures = [var.owner]
}

# An image whose root device has no EBS mapping (an instance-store image) has no snapshot size to
# respect: its hosts get root_volume_gb.
run "image_without_a_root_mapping" {
  command = plan

  variables {
    gpu = true
  }

  override_data {
    target = data.aws_ami.cpu
    values = { root_device_name = "/dev/xvda", block_device_mappings = [] }
  }
  override_data {
    target = data.aws_ami.gpu[0]
    values = {
      root_device_name = "/dev/sda1"
      block_device_mappings = [
        { device_name = "/dev/sdb", ebs = { volume_size = "500" }, no_device = "", virtual_name = "" },
      ]
    }
  }

  assert {
    condition     = local.cpu_volume_gb == 30 && local.server_volume_gb == 30
    error_message = "an image with no mapping for its root device must get root_volume_gb (another device's size does not count)"
  }
}
