from pathlib import Path

import pytest

from kit.bench.runner import require_own_cores
from kit.config import LocalProvider
from kit.errors import KitError, UsageError
from kit.provision import lxd
from kit.provision.image import ImageRecipe, mirror_from_sources
from kit.provision.local import address, cpu_count, host_variables


def test_cpu_count() -> None:
    assert [cpu_count(s) for s in ("0-0", "1-3", "0,2", "5")] == [1, 3, 2, 1]
    with pytest.raises(UsageError):
        cpu_count("a-b")


def test_addresses_are_fixed_per_framework() -> None:
    assert address("10.78.0", None) == "10.78.0.10"
    assert [address("10.78.0", fw) for fw in ("tfserving", "mlserver", "bentoml")] == [
        "10.78.0.21",
        "10.78.0.23",
        "10.78.0.25",
    ]


def test_variables_pin_separate_cores() -> None:
    v = host_variables(
        ("mlserver",),
        LocalProvider(),
        run_id="env-x",
        image_alias="img",
        net=lxd.Network(),
        public_key=Path("/k.pub"),
        wheelhouse=Path("/w"),
        workspace_root=Path("/ws"),
    )
    assert v["client"] == {"ipv4_address": "10.78.0.10", "cpu_set": "0-0", "cpus": 1, "memory_mb": 2048}
    assert v["servers"] == {
        "mlserver": {"ipv4_address": "10.78.0.23", "cpu_set": "1-1", "cpus": 1, "memory_mb": 4096}
    }
    assert v["wheelhouse_dir"] == "/w" and v["profile"] == "serving-kit" and v["workspace"] == "/ws"


def test_overlapping_cores_are_refused() -> None:
    spec = LocalProvider(client_cpu_set="0-1", server_cpu_set="1-1")
    with pytest.raises(UsageError) as info:
        host_variables(
            ("mlserver",),
            spec,
            run_id="e",
            image_alias="i",
            net=lxd.Network(),
            public_key=Path("/k"),
            wheelhouse=None,
            workspace_root=Path("/ws"),
        )
    assert info.value.what == "client CPUs 0-1 overlap server CPUs 1-1"


def test_mirror_from_deb822_sources() -> None:
    text = (
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
    )
    assert mirror_from_sources(text) == "http://deb.debian.org/debian"


def test_mirror_from_one_line_sources() -> None:
    assert (
        mirror_from_sources("deb http://mirror.example/debian/ bookworm main\n")
        == "http://mirror.example/debian"
    )
    assert mirror_from_sources("deb http://x/ubuntu jammy main\n") is None


def test_image_alias_tracks_the_recipe() -> None:
    base = ImageRecipe(mirror="http://m")
    assert base.alias == ImageRecipe(mirror="http://other").alias  # the mirror does not change the image
    assert base.alias != ImageRecipe(packages=(*base.packages, "vim"), mirror="http://m").alias
    assert base.alias.startswith("kit-debian12-")


def test_down_never_takes_another_live_workspaces_hosts(tmp_path: Path) -> None:
    live, gone, mine = tmp_path / "live", tmp_path / "gone", tmp_path / "mine"
    (live / ".kit").mkdir(parents=True)
    (live / ".kit" / "env.json").write_text("{}")
    assert lxd.owned_or_orphaned(str(mine), mine)
    assert lxd.owned_or_orphaned(str(gone), mine)  # its workspace recorded no environment: an orphan
    assert lxd.owned_or_orphaned("", mine)  # untagged by workspace: made before the tag existed
    assert not lxd.owned_or_orphaned(str(live), mine)


def test_nothing_is_measured_on_a_host_that_sees_more_than_its_own_cores() -> None:
    ok = {"client": {"cores": "1", "cpus": 1}, "srv-mlserver": {"cores": "1", "cpus": 1}}
    require_own_cores(ok)
    with pytest.raises(KitError) as info:
        require_own_cores({**ok, "srv-mlserver": {"cores": "2", "cpus": 1}})
    assert (info.value.what, info.value.hint) == (
        "srv-mlserver sees 2 cores, not its own 1: its CPU set is not the one the kit gave it",
        "Run `kit up` again: it pins every host back to its own cores",
    )
