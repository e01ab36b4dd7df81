"""One command's view of its environment: the config, the workspace, and the hosts and SSH key of
the environment that is up, each read once per command.

Every stage takes a Context instead of re-reading `.kit/hosts.json` and rebuilding its SSH handle in
each function: a command that touches the hosts forty times still reads the inventory once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from kit import envstate, frameworks
from kit.config import Config
from kit.configure import ansible_inventory
from kit.errors import KitError
from kit.paths import Workspace
from kit.provision import inventory
from kit.ssh import Ssh

#: A stage's progress messages (the CLI shows them on a spinner line).
Progress = Callable[[str], None]


def quiet(_: str) -> None:
    return None


@dataclass
class Context:
    cfg: Config
    ws: Workspace = field(default_factory=Workspace.current)

    @property
    def env_file(self) -> Path:
        return self.ws.state / "env.json"

    @property
    def hosts_file(self) -> Path:
        return self.ws.state / "hosts.json"

    def state(self) -> envstate.EnvState:
        """The environment that is up (re-read: deploys record what they shipped in it)."""
        return envstate.require(self.env_file)

    @cached_property
    def hosts(self) -> inventory.Hosts:
        return inventory.load(self.hosts_file)

    @cached_property
    def ssh(self) -> Ssh:
        key = self.ws.ssh / "id_ed25519"
        if not key.exists():
            raise KitError(
                "the environment's SSH key is missing", "Run `kit up` (or `kit down` then `kit up`)"
            )
        return Ssh(key, self.ws.ssh / "known_hosts", self.ws.log("ssh"))

    def forget_hosts(self) -> None:
        """After `kit up` or `kit down` changed them: the next use reads them again."""
        self.__dict__.pop("hosts", None)
        self.__dict__.pop("ssh", None)

    def ansible_inventory(self, hosts: inventory.Hosts) -> dict[str, Any]:
        return ansible_inventory.render(
            hosts, private_key=self.ws.ssh / "id_ed25519", known_hosts=self.ws.ssh / "known_hosts"
        )

    def role_vars(self) -> dict[str, Any]:
        """The settings that make the comparison fair, set explicitly for every role and recorded."""
        fws = self.cfg.frameworks
        return {frameworks.get(fw).workers_var: self.cfg.settings_for(fw).workers for fw in fws}
