"""kit/provision/terraform.py against the real terraform binary (no provider needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import KitError, ProcessError
from kit.provision.terraform import TerraformRoot

MODULE = """
terraform {
  backend "local" {}
}
variable "marker" {
  type = string
}
variable "spec" {
  type = object({ n = number })
}
resource "terraform_data" "thing" {
  input = { marker = var.marker }
  provisioner "local-exec" {
    command = "echo created > ${var.marker}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "rm -f ${self.input.marker}"
  }
}
output "hosts" {
  value = { marker = var.marker, n = var.spec.n }
}
"""


@pytest.fixture
def root(tmp_path: Path) -> TerraformRoot:
    module = tmp_path / "module"
    module.mkdir()
    (module / "main.tf").write_text(MODULE)
    return TerraformRoot(module, tmp_path / "state", tmp_path / "tf.log")


def test_init_apply_output_destroy(root: TerraformRoot, tmp_path: Path, require_binaries: None) -> None:
    marker = tmp_path / "marker"
    variables = {"marker": str(marker), "spec": {"n": 3}}
    root.init()
    root.apply(variables)
    assert marker.read_text() == "created\n"
    assert root.output("hosts") == {"marker": str(marker), "n": 3}
    assert root.resources() == ["terraform_data.thing"]
    # State and .terraform live outside the module folder.
    assert root.state_file.exists() and not (root.module_dir / ".terraform").exists()
    root.destroy(variables)  # python-terraform's own destroy() would pass -force and fail here
    assert not marker.exists() and root.resources() == []


def test_failure_carries_the_log(root: TerraformRoot, require_binaries: None) -> None:
    root.init()
    with pytest.raises(ProcessError) as info:
        root.apply({"marker": "/nonexistent-dir/x/y", "spec": {"n": 1}})
    assert info.value.what.startswith("terraform apply failed (exit 1): ")
    assert info.value.hint.startswith("Nothing is lost: `kit down` removes whatever was created. Full log: ")
    assert "local-exec provisioner error" in Path(info.value.log_path or "").read_text()


def test_output_without_state(root: TerraformRoot, require_binaries: None) -> None:
    root.init()
    with pytest.raises(KitError) as info:
        root.output("hosts")
    assert info.value.what == "Terraform has no output 'hosts' (no environment is up?)"
