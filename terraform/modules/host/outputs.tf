output "id" {
  description = "The EC2 instance id."
  value       = aws_instance.this.id
}

output "public_ip" {
  description = "Public address: where the controller (SSH from the operator's address) reaches the host."
  value       = aws_instance.this.public_ip
}

output "private_ip" {
  description = "Private address in the run's subnet: where servers listen and the client sends load."
  value       = aws_instance.this.private_ip
}

output "cpus" {
  description = "vCPUs of the instance type, as AWS describes it."
  value       = data.aws_ec2_instance_type.this.default_vcpus
}

output "memory_mb" {
  description = "Memory of the instance type in MiB, as AWS describes it."
  value       = data.aws_ec2_instance_type.this.memory_size
}

output "gpu" {
  description = "Whether the instance type has at least one GPU (what the roles read as kit_gpu)."
  value       = length(data.aws_ec2_instance_type.this.gpus) > 0
}

output "instance_type" {
  description = "The EC2 instance type."
  value       = aws_instance.this.instance_type
}
