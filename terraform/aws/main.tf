# The aws provider: a VPC of its own per run, a client host and one server host per framework, all
# tagged {Project, RunId, Owner, ExpiresAt} so that `kit reap` finds them even without this state.
provider "aws" {
  region = var.region

  # Everything below differs from production only when aws_endpoint is set (an emulator such as
  # moto): dummy credentials, no instance-metadata lookup, every API at the emulator's address.
  access_key              = var.aws_endpoint == "" ? null : "test"
  secret_key              = var.aws_endpoint == "" ? null : "test"
  skip_metadata_api_check = var.aws_endpoint != ""

  dynamic "endpoints" {
    for_each = var.aws_endpoint == "" ? [] : [var.aws_endpoint]
    content {
      ec2 = endpoints.value
      iam = endpoints.value
      sts = endpoints.value
    }
  }

  # A safety net for anything created without the modules' explicit tags.
  default_tags {
    tags = local.tags
  }
}

locals {
  name = "serving-kit-${var.run_id}"
  tags = {
    Project   = "serving-kit"
    RunId     = var.run_id
    Owner     = var.owner
    ExpiresAt = var.expires_at
  }
  # docs/design.md section 3: GPU servers are named gpu-<framework>. Keying the hosts by that name makes a
  # switch between CPU and GPU servers a replacement, never an in-place change of type alone.
  server_prefix = var.gpu ? "gpu" : "srv"
  servers       = { for fw in var.frameworks : "${local.server_prefix}-${fw}" => fw }
  server_image  = var.gpu ? data.aws_ami.gpu[0] : data.aws_ami.cpu
  server_ssh    = var.gpu ? var.gpu_image.ssh_user : var.cpu_image.ssh_user
  server_type   = var.gpu ? var.gpu_server_instance_type : var.server_instance_type
  ports         = toset(flatten([for fw in var.frameworks : lookup(var.serving_ports, fw, [])]))

  # The root volume is never smaller than the image's own snapshot (NVIDIA images are large). An image
  # with no EBS mapping for its root device has no snapshot size: one() of nothing is null, hence the
  # coalesce (try() alone passes the null on, and max() refuses it).
  cpu_volume_gb = max(var.root_volume_gb, try(coalesce(one([
    for b in data.aws_ami.cpu.block_device_mappings : b.ebs.volume_size
    if b.device_name == data.aws_ami.cpu.root_device_name
  ]), 0), 0))
  server_volume_gb = var.gpu ? max(var.root_volume_gb, try(coalesce(one([
    for b in data.aws_ami.gpu[0].block_device_mappings : b.ebs.volume_size
    if b.device_name == data.aws_ami.gpu[0].root_device_name
  ]), 0), 0)) : local.cpu_volume_gb
}

data "aws_ami" "cpu" {
  most_recent = true
  owners      = var.cpu_image.owners

  filter {
    name   = "name"
    values = [var.cpu_image.name]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

data "aws_ami" "gpu" {
  count       = var.gpu ? 1 : 0
  most_recent = true
  owners      = var.gpu_image.owners

  filter {
    name   = "name"
    values = [var.gpu_image.name]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

module "network" {
  source = "../modules/network"

  name              = local.name
  vpc_cidr          = var.vpc_cidr
  subnet_cidr       = cidrsubnet(var.vpc_cidr, 8, 1)
  availability_zone = var.availability_zone
  operator_cidr     = var.operator_cidr
  serving_ports     = local.ports
  tags              = local.tags
}

# One key pair per run: deleting the run deletes the only key that opens its hosts.
resource "aws_key_pair" "run" {
  key_name   = local.name
  public_key = trimspace(file(var.ssh_public_key))
  tags       = merge(local.tags, { Name = local.name })
}

module "client" {
  source = "../modules/host"

  name               = "client"
  name_prefix        = local.name
  instance_type      = var.client_instance_type
  ami_id             = data.aws_ami.cpu.id
  root_volume_gb     = local.cpu_volume_gb
  root_volume_type   = var.root_volume_type
  subnet_id          = module.network.subnet_id
  security_group_ids = [module.network.client_security_group_id]
  key_name           = aws_key_pair.run.key_name
  host_key_file      = "${var.host_keys_dir}/client_ed25519"
  expires_at         = var.expires_at
  tags               = local.tags
}

module "server" {
  source   = "../modules/host"
  for_each = local.servers

  name               = each.key
  name_prefix        = local.name
  instance_type      = local.server_type
  ami_id             = local.server_image.id
  root_volume_gb     = local.server_volume_gb
  root_volume_type   = var.root_volume_type
  subnet_id          = module.network.subnet_id
  security_group_ids = [module.network.servers_security_group_id]
  key_name           = aws_key_pair.run.key_name
  host_key_file      = "${var.host_keys_dir}/${each.key}_ed25519"
  expires_at         = var.expires_at
  tags               = local.tags
}
