import json
from pathlib import Path

import pytest

from kit.configure.ansible_inventory import render
from kit.errors import KitError
from kit.provision import inventory


def captured(data_dir: Path) -> dict:
    return json.loads((data_dir / "terraform" / "local_hosts_output.json").read_text())


def test_captured_local_output_meets_the_contract(data_dir: Path) -> None:
    hosts = inventory.parse(captured(data_dir))
    assert hosts.client.name == "client" and hosts.client.private_ip == "10.78.0.10"
    srv = hosts.server("mlserver")
    assert (srv.name, srv.framework, srv.private_ip, srv.cpus) == (
        "srv-mlserver",
        "mlserver",
        "10.78.0.23",
        1,
    )


def test_missing_field_is_named(data_dir: Path) -> None:
    value = captured(data_dir)
    del value["client"]["ssh_port"]
    with pytest.raises(KitError) as info:
        inventory.parse(value)
    assert (
        info.value.what
        == "terraform output hosts breaks the inventory contract at client.ssh_port: Field required"
    )


def test_framework_key_must_match(data_dir: Path) -> None:
    value = captured(data_dir)
    value["servers"]["mlserver"]["framework"] = "bentoml"
    with pytest.raises(KitError, match="server 'mlserver' says framework 'bentoml'"):
        inventory.parse(value)


def test_unknown_server_lookup(data_dir: Path) -> None:
    with pytest.raises(KitError) as info:
        inventory.parse(captured(data_dir)).server("torchserve")
    assert info.value.what == "no server host for framework 'torchserve' is up (servers up: mlserver)"


def test_ansible_inventory_groups_by_role(data_dir: Path, tmp_path: Path) -> None:
    inv = render(inventory.parse(captured(data_dir)), private_key=tmp_path / "k", known_hosts=tmp_path / "kh")
    groups = inv["all"]["children"]
    assert set(groups) == {"client", "servers", "mlserver"}
    client = groups["client"]["hosts"]["client"]
    assert client["ansible_host"] == "10.78.0.10" and client["kit_private_ip"] == "10.78.0.10"
    assert "StrictHostKeyChecking=yes" in client["ansible_ssh_common_args"]
    assert groups["mlserver"]["hosts"] == {"srv-mlserver": {}}
    assert client["kit_host_role"] == "load_client"  # the role site.yml includes for it
    assert groups["servers"]["hosts"]["srv-mlserver"]["kit_host_role"] == "mlserver"


def test_save_and_load_round_trip(data_dir: Path, tmp_path: Path) -> None:
    hosts = inventory.parse(captured(data_dir))
    inventory.save(hosts, tmp_path / "hosts.json")
    assert inventory.load(tmp_path / "hosts.json") == hosts


def test_load_without_environment(tmp_path: Path) -> None:
    with pytest.raises(KitError) as info:
        inventory.load(tmp_path / "hosts.json")
    assert (info.value.what, info.value.hint) == (
        "no environment is up (no inventory found)",
        "Run `kit up` first",
    )
