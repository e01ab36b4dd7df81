terraform {
  required_version = ">= 1.5.0"

  # The kit passes the state path at init (-backend-config=path=...), so the state lives in the
  # workspace's .kit/ folder, never in the repository.
  backend "local" {}
}
