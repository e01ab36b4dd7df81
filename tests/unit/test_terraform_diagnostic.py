"""Terraform's wrapped diagnostics, as captured from terraform 1.11 with -no-color and no terminal."""

from pathlib import Path

from kit.provision.terraform import diagnostic

DATA = Path(__file__).parent.parent / "data" / "terraform"


def test_a_failed_local_exec_keeps_the_commands_own_error_whole() -> None:
    # The last line of this stderr is only "/var/lib/.../rootfs: no such file or directory":
    # what the user saw in CI was the fragment "directory".
    text = (DATA / "local_exec_failure.stderr").read_text()
    assert diagnostic(text) == (
        "terraform_data.host: local-exec provisioner error: Failed instance creation: Failed creating "
        "instance from image: open /var/lib/lxd/storage-pools/kit/images/x/rootfs: no such file or directory"
    )


def test_a_rejected_variable_keeps_the_validation_message_without_the_source_excerpt() -> None:
    text = (DATA / "variable_validation.stderr").read_text()
    assert diagnostic(text) == (
        "Invalid value for variable: The run id must be lowercase letters, digits and dashes, because it "
        "names hosts, tags and key pairs on every provider. This was checked by the validation rule at "
        "main.tf:4,3-13."
    )


def test_more_than_one_diagnostic_says_how_many_more() -> None:
    text = (DATA / "variable_validation.stderr").read_text()
    assert diagnostic(text + text).endswith("(and 1 more error(s) in the log)")


def test_output_without_diagnostics_gives_nothing() -> None:
    assert diagnostic("Killed\n") == ""
    assert diagnostic("") == ""
