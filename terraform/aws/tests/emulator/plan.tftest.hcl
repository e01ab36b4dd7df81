# What only AWS can answer, asked of an emulator: which image the data sources pick (the newest
# x86_64 match of the owner and name pattern, from tests/data/aws/amis.json) and what each instance
# type offers, read into the inventory. Everything the configuration decides on its own is checked
# offline by ../plan.tftest.hcl. This folder is not where `terraform test` looks by default; the caller
# names it and passes the emulator and the run's key files:
#   terraform test -test-directory=tests/emulator -var aws_endpoint=http://127.0.0.1:PORT \
#     -var ssh_public_key=DIR/id.pub -var host_keys_dir=DIR
# tests/integration/test_aws_emulator.py starts moto and does this.
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
    condition     = output.hosts.client == { name = "client", public_ip = output.hosts.client.public_ip, private_ip = output.hosts.client.private_ip, ssh_user = "admin", ssh_port = 22, cpus = 4, memory_mb = 8192, gpu = false }
    error_message = "the client's inventory entry must come from its instance type (c6i.xlarge: 4 vCPUs, 8 GiB) and the Debian image's user"
  }
  assert {
    condition     = output.hosts.servers["mlserver"].instance_type == "c6i.2xlarge" && output.hosts.servers["mlserver"].cpus == 8 && output.hosts.servers["mlserver"].memory_mb == 16384 && !output.hosts.servers["mlserver"].gpu
    error_message = "the server's inventory entry must be c6i.2xlarge as AWS describes it: 8 vCPUs, 16 GiB, no GPU"
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
    condition     = output.hosts.servers["mlserver"].instance_type == "g5.xlarge" && output.hosts.servers["mlserver"].gpu && output.hosts.servers["mlserver"].cpus == 4 && output.hosts.servers["mlserver"].memory_mb == 16384
    error_message = "--gpu puts the servers on g5.xlarge, with a GPU in the inventory (4 vCPUs, 16 GiB as AWS describes it)"
  }
  assert {
    condition     = !output.hosts.client.gpu && output.hosts.client.cpus == 4
    error_message = "--gpu leaves the client on its CPU instance type"
  }
}
