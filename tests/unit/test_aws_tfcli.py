"""kit/provision/tfcli.py: where the AWS provider comes from, and what a failed init means."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import PrerequisiteError
from kit.provision import tfcli

PLAT = tfcli.platform_dir()


def make_mirror(root: Path, version: str = tfcli.AWS_PROVIDER_VERSION, packed: bool = False) -> Path:
    """A mirror in Terraform's layout (`terraform providers mirror` writes the packed one)."""
    base = root / "registry.terraform.io" / "hashicorp" / "aws"
    if packed:
        base.mkdir(parents=True)
        (base / f"terraform-provider-aws_{version}_{PLAT}.zip").write_bytes(b"PK")
    else:
        unpacked = base / version / PLAT
        unpacked.mkdir(parents=True)
        (unpacked / f"terraform-provider-aws_v{version}_x5").write_bytes(b"\x7fELF")
    return root


def test_mirror_layouts(tmp_path: Path) -> None:
    assert tfcli.mirror_has_provider(make_mirror(tmp_path / "unpacked"))
    assert tfcli.mirror_has_provider(make_mirror(tmp_path / "packed", packed=True))
    assert not tfcli.mirror_has_provider(make_mirror(tmp_path / "old", version="5.0.0"))
    assert not tfcli.mirror_has_provider(tmp_path / "absent")


def test_first_candidate_holding_the_provider_wins(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    good = make_mirror(tmp_path / "good")
    source = tfcli.find_source("", env={}, candidates=[str(empty), str(good), "/nonexistent"])
    assert source.mirror == good
    assert source.describe() == f"filesystem mirror {good}"


def test_no_mirror_means_the_registry(tmp_path: Path) -> None:
    source = tfcli.find_source("", env={}, candidates=[str(tmp_path)])
    assert source.mirror is None
    assert source.describe() == "the public registry"
    assert tfcli.find_source("registry", env={}, candidates=[str(make_mirror(tmp_path / "m"))]).mirror is None


def test_configured_mirror_beats_the_environment(tmp_path: Path) -> None:
    cfg, envm = make_mirror(tmp_path / "cfg"), make_mirror(tmp_path / "env")
    assert tfcli.find_source(str(cfg), env={tfcli.MIRROR_ENV: str(envm)}, candidates=[]).mirror == cfg
    assert tfcli.find_source("", env={tfcli.MIRROR_ENV: str(envm)}, candidates=[]).mirror == envm


def test_a_named_mirror_without_the_provider_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteError) as info:
        tfcli.find_source(str(tmp_path), env={}, candidates=[])
    assert info.value.what == (
        f"the Terraform plugin mirror {tmp_path} has no hashicorp/aws {tfcli.AWS_PROVIDER_VERSION} for {PLAT}"
    )
    assert info.value.hint.startswith(
        f"Put the provider at {tmp_path}/registry.terraform.io/hashicorp/aws/{tfcli.AWS_PROVIDER_VERSION}/{PLAT}/"
    )


def test_cli_config_text(tmp_path: Path) -> None:
    text = tfcli.render(tfcli.Source(Path("/opt/tf-plugins")))
    assert text == (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        '    path    = "/opt/tf-plugins"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "}\n"
    )
    assert tfcli.render(tfcli.Source(None)) == "provider_installation {\n  direct {}\n}\n"
    out = tfcli.write(tmp_path / "sub" / "terraformrc", tfcli.Source(None))
    assert out.read_text() == tfcli.render(tfcli.Source(None))


@pytest.mark.parametrize(
    ("capture", "missing"),
    [
        ("terraform_init_registry_unreachable.stderr", True),
        ("terraform_init_mirror_empty.stderr", True),
        ("terraform_init_syntax_error.stderr", False),
    ],
)
def test_init_failures_are_told_apart(data_dir: Path, capture: str, missing: bool) -> None:
    assert tfcli.provider_missing((data_dir / "aws" / capture).read_text()) is missing


def test_missing_provider_error_names_both_ways_out(tmp_path: Path) -> None:
    err = tfcli.missing_provider_error(tfcli.Source(None), tmp_path / "provision.log")
    assert (
        err.what
        == f"terraform cannot get the hashicorp/aws {tfcli.AWS_PROVIDER_VERSION} provider from the public registry"
    )
    assert err.hint == (
        "Put it in a filesystem mirror and set [aws] provider_mirror (or $KIT_TF_PLUGIN_MIRROR) to it, or let "
        f"this machine reach registry.terraform.io; full log: {tmp_path / 'provision.log'}"
    )


def test_the_pinned_version_is_terraforms(tmp_path: Path) -> None:
    versions = (Path(__file__).parents[2] / "terraform" / "aws" / "versions.tf").read_text()
    assert f'version = "{tfcli.AWS_PROVIDER_VERSION}"' in versions
