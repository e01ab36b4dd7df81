# One VPC per run with one public subnet. Two security groups: the client's (SSH from the operator
# only) and the servers' (SSH from the operator, serving ports from the client's group only).
resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = var.subnet_cidr
  availability_zone       = var.availability_zone == "" ? null : var.availability_zone
  map_public_ip_on_launch = true
  tags                    = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

# Hosts install packages from the internet during configure; nothing routes in except through the
# security groups below.
resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "client" {
  name        = "${var.name}-client"
  description = "serving-kit load client: SSH from the operator only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-client" })
}

resource "aws_security_group" "servers" {
  name        = "${var.name}-servers"
  description = "serving-kit servers: SSH from the operator, serving ports from the client only"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-servers" })
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  for_each = {
    client  = aws_security_group.client.id
    servers = aws_security_group.servers.id
  }

  security_group_id = each.value
  description       = "SSH from the operator"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = var.operator_cidr
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}-ssh" })
}

resource "aws_vpc_security_group_ingress_rule" "serving" {
  for_each = toset([for p in var.serving_ports : tostring(p)])

  security_group_id            = aws_security_group.servers.id
  description                  = "serving port ${each.key} from the load client"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.client.id
  tags                         = merge(var.tags, { Name = "${var.name}-serve-${each.key}" })
}

# Egress stays open: roles install packages, and the client must reach the servers.
resource "aws_vpc_security_group_egress_rule" "all" {
  for_each = {
    client  = aws_security_group.client.id
    servers = aws_security_group.servers.id
  }

  security_group_id = each.value
  description       = "all outbound"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = merge(var.tags, { Name = "${var.name}-${each.key}-egress" })
}
