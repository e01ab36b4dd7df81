"""Where the kit keeps its state: one workspace per project directory.

Everything the kit creates for an environment (Terraform state, SSH keys, inventories, logs, the
wheelhouse) lives under `<root>/.kit`, and run outputs under `<root>/results`, so that `kit down`
knows exactly what it owns and a results folder can be copied elsewhere on its own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def current(cls) -> Workspace:
        return cls(Path(os.environ.get("KIT_HOME", os.getcwd())).resolve())

    @property
    def state(self) -> Path:
        return self.root / ".kit"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def ssh(self) -> Path:
        return self.state / "ssh"

    @property
    def terraform(self) -> Path:
        return self.state / "terraform"

    @property
    def ansible(self) -> Path:
        return self.state / "ansible"

    @property
    def wheelhouse(self) -> Path:
        return self.state / "wheelhouse"

    @property
    def build(self) -> Path:
        return self.state / "build"

    @property
    def artifacts(self) -> Path:
        return self.state / "artifacts"

    @property
    def results(self) -> Path:
        return Path(os.environ.get("KIT_RESULTS", self.root / "results")).resolve()

    def log(self, name: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"{name}.log"


def cache_dir() -> Path:
    """Caches that outlive an environment (downloaded .debs): shared by every workspace."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "serving-kit"


#: Repository folders the kit drives (shipped with the package in a source checkout).
TERRAFORM_DIR = REPO_ROOT / "terraform"
ANSIBLE_DIR = REPO_ROOT / "ansible"
