"""Provisioning: Terraform roots per provider, the LXD plumbing of the local provider, inventory."""
