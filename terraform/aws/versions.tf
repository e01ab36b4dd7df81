terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Pinned: the version the machine image's filesystem mirror carries and the tests ran against.
      version = "5.100.0"
    }
  }

  # The kit passes the state path at init (-backend-config=path=...), so the state lives in the
  # workspace's .kit/ folder, never in the repository.
  backend "local" {}
}
