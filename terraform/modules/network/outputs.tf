output "vpc_id" {
  description = "The run's VPC."
  value       = aws_vpc.this.id
}

output "subnet_id" {
  description = "The public subnet every host is placed in."
  value       = aws_subnet.public.id
}

output "client_security_group_id" {
  description = "Security group of the load client (the only source allowed to reach serving ports)."
  value       = aws_security_group.client.id
}

output "servers_security_group_id" {
  description = "Security group of every server host."
  value       = aws_security_group.servers.id
}
