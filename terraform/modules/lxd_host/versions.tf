terraform {
  # terraform_data needs 1.4; nothing here comes from a provider registry.
  required_version = ">= 1.5.0"
}
