"""Render the inventory contract into an Ansible inventory: groups by role, SSH settings per host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.provision.inventory import Host, Hosts


def ssh_common_args(known_hosts: Path) -> str:
    # Host keys were read through the provider (LXD) into known_hosts: check them strictly.
    return f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes -o ConnectTimeout=10"


def render(hosts: Hosts, *, private_key: Path, known_hosts: Path) -> dict[str, Any]:
    """Groups: `client`, `servers`, and one group per framework id (the role of the same name)."""

    def hostvars(host: Host, role: str) -> dict[str, Any]:
        return {
            "ansible_host": host.public_ip,
            "ansible_port": host.ssh_port,
            "ansible_user": host.ssh_user,
            "ansible_ssh_private_key_file": str(private_key),
            "ansible_ssh_common_args": ssh_common_args(known_hosts),
            "ansible_python_interpreter": "/usr/bin/python3",
            # Cloud images log in as an unprivileged user (admin, ubuntu); the roles manage system services.
            "ansible_become": host.ssh_user != "root",
            "kit_private_ip": host.private_ip,
            "kit_gpu": host.gpu,
            # site.yml converges every host's own role side by side (strategy free), by this name.
            "kit_host_role": role,
        }

    groups: dict[str, Any] = {
        "client": {"hosts": {hosts.client.name: hostvars(hosts.client, "load_client")}},
        "servers": {"hosts": {srv.name: hostvars(srv, fw) for fw, srv in hosts.servers.items()}},
    }
    for fw, srv in hosts.servers.items():
        groups[fw] = {"hosts": {srv.name: {}}}
    return {"all": {"children": groups}}
