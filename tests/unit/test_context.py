"""kit/context.py: one command reads the inventory once and builds its SSH handle once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.config import Config
from kit.context import Context
from kit.errors import KitError
from kit.paths import Workspace
from kit.provision import inventory


def context_with_hosts(data_dir: Path, tmp_path: Path) -> Context:
    ctx = Context(Config(), Workspace(tmp_path))
    captured = json.loads((data_dir / "terraform" / "local_hosts_output.json").read_text())
    inventory.save(inventory.parse(captured), ctx.hosts_file)
    return ctx


def test_the_inventory_is_read_once_per_command(data_dir: Path, tmp_path: Path) -> None:
    ctx = context_with_hosts(data_dir, tmp_path)
    first = ctx.hosts
    ctx.hosts_file.unlink()  # a second read would fail now
    assert ctx.hosts is first and ctx.hosts.server("mlserver").name == "srv-mlserver"


def test_forgetting_the_hosts_reads_them_again(data_dir: Path, tmp_path: Path) -> None:
    ctx = context_with_hosts(data_dir, tmp_path)
    assert ctx.hosts.client.name == "client"
    ctx.hosts_file.unlink()
    ctx.forget_hosts()  # what kit up and kit down do after changing the hosts
    with pytest.raises(KitError) as info:
        _ = ctx.hosts
    assert info.value.what == "no environment is up (no inventory found)"


def test_ssh_is_built_once_and_needs_the_environments_key(tmp_path: Path) -> None:
    ctx = Context(Config(), Workspace(tmp_path))
    with pytest.raises(KitError) as info:
        _ = ctx.ssh
    assert info.value.what == "the environment's SSH key is missing"
    ctx.ws.ssh.mkdir(parents=True)
    (ctx.ws.ssh / "id_ed25519").write_text("key")
    assert ctx.ssh is ctx.ssh and ctx.ssh.private_key == ctx.ws.ssh / "id_ed25519"
