# The network module, offline: `terraform test` here needs no credentials and no emulator. Every check
# is on what the module itself decides (rules, routes, tags, input checks), so the mock provider, which
# answers for AWS and creates nothing, is all the runs need.
mock_provider "aws" {}

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

# Applied with the mock provider (nothing leaves this machine): the generated ids show which group
# each rule belongs to and which group it admits, which a plan leaves unknown.
run "rules_wired_to_their_groups" {
  assert {
    condition = alltrue([for r in values(aws_vpc_security_group_ingress_rule.serving) :
      r.security_group_id == aws_security_group.servers.id && r.referenced_security_group_id == aws_security_group.client.id
    ])
    error_message = "serving ports must be rules of the servers' group that admit the client's group"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.ssh["client"].security_group_id == aws_security_group.client.id && aws_vpc_security_group_ingress_rule.ssh["servers"].security_group_id == aws_security_group.servers.id && aws_vpc_security_group_egress_rule.all["client"].security_group_id == aws_security_group.client.id && aws_vpc_security_group_egress_rule.all["servers"].security_group_id == aws_security_group.servers.id
    error_message = "each group must get its own SSH and egress rule"
  }
  assert {
    condition     = aws_security_group.client.vpc_id == aws_vpc.this.id && aws_security_group.servers.vpc_id == aws_vpc.this.id && aws_subnet.public.vpc_id == aws_vpc.this.id && aws_route_table_association.public.subnet_id == aws_subnet.public.id && aws_route_table_association.public.route_table_id == aws_route_table.public.id && aws_route.internet.gateway_id == aws_internet_gateway.this.id && aws_route.internet.route_table_id == aws_route_table.public.id
    error_message = "the groups and the subnet must be in the run's VPC, and the subnet must route to its internet gateway"
  }
  assert {
    condition     = output.subnet_id == aws_subnet.public.id && output.client_security_group_id == aws_security_group.client.id && output.servers_security_group_id == aws_security_group.servers.id && output.vpc_id == aws_vpc.this.id
    error_message = "the outputs must name the run's subnet, groups and VPC"
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
