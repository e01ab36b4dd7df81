# Plan-only runs of terraform/aws. The caller passes the emulator and the run's key files:
#   terraform test -var aws_endpoint=http://127.0.0.1:PORT -var ssh_public_key=... -var host_keys_dir=...
# (tests/integration/test_aws_terraform.py starts moto with tests/data/aws/amis.json and does this).
variables {
  run_id        = "env-tftest-1"
  owner         = "tftest"
  expires_at    = "2030-01-01T12:00:00Z"
  region        = "us-east-1"
  operator_cidr = "203.0.113.7/32"
  frameworks    = ["mlserver"]
  serving_ports = { mlserver = [8090, 8091, 8092], mlflow = [5001] }
}

run "cpu_plan" {
  command = plan

  assert {
    condition     = data.aws_ami.cpu.id == "ami-0d3b12a0e5f1c0002"
    error_message = "the CPU image must be the newest x86_64 Debian 12 image of Debian's account"
  }
  assert {
    condition     = length(data.aws_ami.gpu) == 0
    error_message = "without --gpu no NVIDIA image is looked up"
  }
  assert {
    condition     = aws_key_pair.run.key_name == "serving-kit-env-tftest-1" && aws_key_pair.run.tags == tomap({ Project = "serving-kit", RunId = "env-tftest-1", Owner = "tftest", ExpiresAt = "2030-01-01T12:00:00Z", Name = "serving-kit-env-tftest-1" })
    error_message = "one key pair per run, tagged {Project, RunId, Owner, ExpiresAt}"
  }
  assert {
    condition     = output.hosts.client == { name = "client", public_ip = output.hosts.client.public_ip, private_ip = output.hosts.client.private_ip, ssh_user = "admin", ssh_port = 22, cpus = 4, memory_mb = 8192, gpu = false }
    error_message = "the client's inventory entry must come from its instance type (c6i.xlarge: 4 vCPUs, 8 GiB) and the Debian image's user"
  }
  assert {
    condition     = keys(output.hosts.servers) == ["mlserver"] && output.hosts.servers["mlserver"].name == "srv-mlserver" && output.hosts.servers["mlserver"].framework == "mlserver" && output.hosts.servers["mlserver"].instance_type == "c6i.2xlarge" && output.hosts.servers["mlserver"].cpus == 8 && output.hosts.servers["mlserver"].memory_mb == 16384 && !output.hosts.servers["mlserver"].gpu
    error_message = "the server's inventory entry must be srv-mlserver on c6i.2xlarge: 8 vCPUs, 16 GiB, no GPU"
  }
}

run "gpu_plan" {
  command = plan

  variables {
    gpu = true
  }

  assert {
    condition     = data.aws_ami.gpu[0].id == "ami-0a1d2e3f4b5c60006"
    error_message = "GPU servers must boot the newest NVIDIA-driver image"
  }
  assert {
    condition     = output.hosts.servers["mlserver"].instance_type == "g5.xlarge" && output.hosts.servers["mlserver"].name == "gpu-mlserver" && output.hosts.servers["mlserver"].gpu && output.hosts.servers["mlserver"].ssh_user == "ubuntu"
    error_message = "--gpu puts the servers on g5.xlarge, named gpu-<framework>, with a GPU in the inventory"
  }
  assert {
    condition     = !output.hosts.client.gpu && output.hosts.client.ssh_user == "admin" && output.hosts.client.cpus == 4
    error_message = "--gpu leaves the client on its CPU instance type and image"
  }
}

run "every_framework" {
  command = plan

  variables {
    frameworks    = ["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"]
    serving_ports = { tfserving = [8501, 8500], torchserve = [8085, 8086, 8087], mlserver = [8090, 8091, 8092], mlflow = [5001], bentoml = [3001] }
  }

  assert {
    condition     = toset(keys(output.hosts.servers)) == toset(["tfserving", "torchserve", "mlserver", "mlflow", "bentoml"])
    error_message = "one server per framework, keyed by framework id"
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
