import hashlib
import re
from pathlib import Path

import pytest

from kit.configure import wheelhouse

LINE = re.compile(r"^([a-z0-9-]+)==([^ ]+) \\\n    --hash=sha256:[0-9a-f]{64}$", re.M)


def test_wheel_names() -> None:
    assert wheelhouse.parse_wheel_name("scikit_learn-1.9.1-cp311-cp311-manylinux_2_27_x86_64.whl") == (
        "scikit-learn",
        "1.9.1",
    )
    with pytest.raises(ValueError):
        wheelhouse.parse_wheel_name("pkg-1.0.tar.gz")


def test_render_lock_pins_and_hashes(tmp_path: Path) -> None:
    wheel = tmp_path / "Foo_Bar-2.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    text = wheelhouse.render_lock([wheel], "x/requirements.in")
    assert f"foo-bar==2.0 \\\n    --hash=sha256:{hashlib.sha256(b'wheel bytes').hexdigest()}" in text


@pytest.mark.parametrize("role", wheelhouse.ROLES_WITH_LOCKS)
def test_committed_locks_pin_every_package_with_a_hash(role: str) -> None:
    text = wheelhouse.lock_path(role).read_text()
    body = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert len(LINE.findall(text)) * 2 == len(body)


def test_mlserver_lock_keeps_the_measured_pins() -> None:
    pins = dict(LINE.findall(wheelhouse.lock_path("mlserver").read_text()))
    assert pins["mlserver"] == "1.7.1" and pins["mlserver-mlflow"] == "1.7.1"
    assert tuple(int(p) for p in pins["uvloop"].split(".")[:2]) < (0, 22)
    from importlib import metadata

    # The controller writes the MLflow models; the server must load them with the same libraries.
    for package in ("mlflow", "tensorflow-cpu", "keras"):
        assert pins[package] == metadata.version(package), package
