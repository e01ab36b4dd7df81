"""The inventory contract (docs/design.md section 4): what every stage after provisioning reads.

Both providers' Terraform roots end in one output `hosts` of this shape; the kit validates it here
once, so that a provider that drifts from the contract fails at `kit up`, not in the middle of a
benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kit.errors import KitError


class Host(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    public_ip: str
    private_ip: str
    ssh_user: str
    ssh_port: int
    cpus: int
    memory_mb: int
    gpu: bool


class ServerHost(Host):
    framework: str
    instance_type: str


class Hosts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    client: Host
    servers: dict[str, ServerHost]

    def server(self, framework: str) -> ServerHost:
        try:
            return self.servers[framework]
        except KeyError:
            up = ", ".join(sorted(self.servers)) or "none"
            raise KitError(
                f"no server host for framework '{framework}' is up (servers up: {up})",
                f"Add '{framework}' to frameworks in the config and rerun `kit up`",
            ) from None

    def all(self) -> list[Host]:
        return [self.client, *self.servers.values()]


def parse(value: Any, source: str = "terraform output hosts") -> Hosts:
    try:
        hosts = Hosts.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KitError(
            f"{source} breaks the inventory contract at {where}: {first['msg']}",
            "The provider's outputs.tf must emit docs/design.md section 4's shape",
        ) from None
    for fw, srv in hosts.servers.items():
        if srv.framework != fw:
            raise KitError(
                f"{source}: server '{fw}' says framework '{srv.framework}'",
                "The provider's outputs.tf must key servers by their framework id",
            )
    return hosts


def save(hosts: Hosts, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(hosts.model_dump_json(indent=2))
    tmp.replace(path)


def load(path: Path) -> Hosts:
    if not path.exists():
        raise KitError("no environment is up (no inventory found)", "Run `kit up` first")
    try:
        return parse(json.loads(path.read_text()), source=str(path))
    except json.JSONDecodeError:
        raise KitError(f"{path} is corrupt", "Run `kit up` again: it rewrites the inventory") from None
