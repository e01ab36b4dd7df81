# What only AWS can answer, asked of an emulator: an instance type's vCPUs, memory and GPUs, read by
# the module's aws_ec2_instance_type data source into the inventory. Everything the module decides on
# its own is checked offline by ../host.tftest.hcl. This folder is not where `terraform test` looks by
# default; the caller names it and passes the emulator and a host key made for the test:
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT terraform test -test-directory=tests/emulator \
#     -var host_key_file=DIR/client_ed25519
# tests/integration/test_aws_emulator.py starts moto and does this.
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
