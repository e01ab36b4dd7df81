output "name" {
  description = "The LXD instance name."
  value       = terraform_data.host.output.name
}

output "private_ip" {
  description = "The host's address on the private bridge."
  value       = var.ipv4_address
}
