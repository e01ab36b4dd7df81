"""The Terraform CLI configuration the kit writes for its own runs: where the AWS provider comes from.

Terraform reads provider-installation rules only from a CLI configuration file, and the environment
may point TF_CLI_CONFIG_FILE at a file that does not exist. So the kit writes its own file into the
workspace and points its Terraform runs at it: a filesystem mirror for hashicorp/aws when one holds
the pinned version (offline machines, air-gapped CI), otherwise the public registry.

Usage (the Makefile's lint): python -m kit.provision.tfcli OUTPUT_FILE [MIRROR]
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.errors import KitError, PrerequisiteError

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
#: Must match terraform/aws/versions.tf.
AWS_PROVIDER_VERSION = "5.100.0"
MIRROR_ENV = "KIT_TF_PLUGIN_MIRROR"
#: The value of [aws] provider_mirror / $KIT_TF_PLUGIN_MIRROR that means: ignore mirrors, download.
REGISTRY = "registry"

#: Where machine images and Terraform's own conventions put provider mirrors, in the order tried.
MIRROR_CANDIDATES: tuple[str, ...] = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)


def platform_dir() -> str:
    """Terraform's name for this machine's platform, e.g. linux_amd64."""
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform.removesuffix('2')}_{arch}"


def mirror_has_provider(mirror: Path, version: str = AWS_PROVIDER_VERSION, plat: str | None = None) -> bool:
    """True when `mirror` holds hashicorp/aws `version` for this platform, unpacked or packed."""
    plat = plat or platform_dir()
    base = mirror / AWS_PROVIDER
    unpacked = base / version / plat
    packed = base / f"terraform-provider-aws_{version}_{plat}.zip"
    return (unpacked.is_dir() and any(unpacked.glob("terraform-provider-aws*"))) or packed.is_file()


@dataclass(frozen=True)
class Source:
    """Where `terraform init` will take the AWS provider from."""

    mirror: Path | None

    def describe(self) -> str:
        return f"filesystem mirror {self.mirror}" if self.mirror else "the public registry"


def find_source(
    configured: str = "",
    env: Mapping[str, str] | None = None,
    candidates: Sequence[str] = MIRROR_CANDIDATES,
) -> Source:
    """The configured mirror ([aws] provider_mirror, else $KIT_TF_PLUGIN_MIRROR), else the first known
    place holding the pinned provider, else none (the registry). "registry" asks for the registry.

    A mirror named explicitly must hold the provider: silently falling back to a download would hide a
    typo on exactly the machines that cannot download.
    """
    env = os.environ if env is None else env
    explicit = configured or env.get(MIRROR_ENV, "")
    if explicit == REGISTRY:
        return Source(None)
    if explicit:
        path = Path(explicit).expanduser()
        if not mirror_has_provider(path):
            raise PrerequisiteError(
                f"the Terraform plugin mirror {path} has no hashicorp/aws {AWS_PROVIDER_VERSION} "
                f"for {platform_dir()}",
                f"Put the provider at {path}/{AWS_PROVIDER}/{AWS_PROVIDER_VERSION}/{platform_dir()}/ "
                f"(`terraform providers mirror {path}` on a connected machine), or fix [aws] "
                f"provider_mirror / ${MIRROR_ENV}",
            )
        return Source(path)
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if mirror_has_provider(path):
            return Source(path)
    return Source(None)


def render(source: Source) -> str:
    """The CLI configuration text: the mirror for hashicorp/aws only, everything else direct."""
    if source.mirror is None:
        return "provider_installation {\n  direct {}\n}\n"
    return (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{source.mirror}"\n'
        f'    include = ["{AWS_PROVIDER}"]\n'
        "  }\n"
        "  direct {\n"
        f'    exclude = ["{AWS_PROVIDER}"]\n'
        "  }\n"
        "}\n"
    )


def write(path: Path, source: Source) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(source))
    return path


#: Lines of `terraform init` output that mean the provider could be neither found nor downloaded.
_UNREACHABLE = (
    "failed to query available provider packages",
    "could not connect to registry.terraform.io",
    "failed to request discovery document",
    "no available releases match the given constraints",
    "does not have a package available for your current platform",
    "was not found in any of the search locations",
)


def provider_missing(output: str) -> bool:
    low = " ".join(output.lower().split())
    return any(marker in low for marker in _UNREACHABLE)


def missing_provider_error(source: Source, log: Path) -> KitError:
    return PrerequisiteError(
        f"terraform cannot get the hashicorp/aws {AWS_PROVIDER_VERSION} provider from {source.describe()}",
        f"Put it in a filesystem mirror and set [aws] provider_mirror (or ${MIRROR_ENV}) to it, or let "
        f"this machine reach registry.terraform.io; full log: {log}",
    )


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        source = find_source(argv[1] if len(argv) > 1 else "")
    except KitError as exc:
        print(f"Error: {exc.what}\nHint: {exc.hint}", file=sys.stderr)
        return 1
    write(Path(argv[0]), source)
    print(f"hashicorp/aws from {source.describe()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
