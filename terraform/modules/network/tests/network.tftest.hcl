# Plan-only runs of the network module against an emulator (the module has no provider block of its
# own; this one points at moto):  terraform test -var aws_endpoint=http://127.0.0.1:PORT
# tests/integration/test_aws_terraform.py starts moto and does this.
provider "aws" {
  region                  = "us-east-1"
  access_key              = "test"
  secret_key              = "test"
  skip_metadata_api_check = true
}

variables {
  name          = "serving-kit-env-tftest-1"
  vpc_cidr      = "10.79.0.0/16"
  subnet_cidr   = "10.79.1.0/24"
  operator_cidr = "203.0.113.7/32"
  serving_ports = [8090, 8091, 8092]
  tags          = { Project = "serving-kit", RunId = "env-tftest-1", Owner = "tftest", ExpiresAt = "2030-01-01T12:00:00Z" }
}

run "security_groups" {
  command = plan

  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.ssh)) == toset(["client", "servers"])
    error_message = "both groups must have an SSH rule"
  }
  assert {
    condition = alltrue([for r in values(aws_vpc_security_group_ingress_rule.ssh) :
      r.cidr_ipv4 == "203.0.113.7/32" && r.cidr_ipv6 == null && r.from_port == 22 && r.to_port == 22 && r.ip_protocol == "tcp"
    ])
    error_message = "SSH must be open to the operator's address only"
  }
  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.serving)) == toset(["8090", "8091", "8092"])
    error_message = "the servers' group must open exactly the serving ports"
  }
  assert {
    condition = alltrue([for p, r in aws_vpc_security_group_ingress_rule.serving :
      r.from_port == tonumber(p) && r.to_port == tonumber(p) && r.ip_protocol == "tcp" && r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.prefix_list_id == null
    ])
    error_message = "each serving port must be open to the client's security group only, never to an address range"
  }
  assert {
    condition     = aws_subnet.public.map_public_ip_on_launch && aws_route.internet.destination_cidr_block == "0.0.0.0/0"
    error_message = "the subnet must be public (the controller reaches hosts over SSH from the operator's address)"
  }
  assert {
    condition = alltrue([for tags in [
      aws_vpc.this.tags, aws_subnet.public.tags, aws_internet_gateway.this.tags, aws_route_table.public.tags,
      aws_security_group.client.tags, aws_security_group.servers.tags,
      aws_vpc_security_group_ingress_rule.ssh["client"].tags, aws_vpc_security_group_ingress_rule.ssh["servers"].tags,
      aws_vpc_security_group_ingress_rule.serving["8090"].tags,
      aws_vpc_security_group_egress_rule.all["client"].tags, aws_vpc_security_group_egress_rule.all["servers"].tags,
      ] : tags["Project"] == "serving-kit" && tags["RunId"] == "env-tftest-1" && tags["Owner"] == "tftest" && tags["ExpiresAt"] == "2030-01-01T12:00:00Z"
    ])
    error_message = "every network resource must be tagged {Project, RunId, Owner, ExpiresAt}"
  }
}

run "ssh_open_to_the_world" {
  command = plan
  variables { operator_cidr = "0.0.0.0/0" }
  expect_failures = [var.operator_cidr]
}

run "ssh_open_to_a_wide_range" {
  command = plan
  variables { operator_cidr = "10.0.0.0/8" }
  expect_failures = [var.operator_cidr]
}

run "port_out_of_range" {
  command = plan
  variables { serving_ports = [8090, 70000] }
  expect_failures = [var.serving_ports]
}

run "subnet_not_a_cidr" {
  command = plan
  variables { subnet_cidr = "10.79.1.0" }
  expect_failures = [var.subnet_cidr]
}
