"""The rule of kit/shipped/: every file there runs alone on a host, whose Python has nothing of the kit."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from kit import shipped

#: What a host's Python has beyond the standard library: the load_client role installs uvloop.
ON_HOSTS = {"uvloop", "__future__"}


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.ImportFrom) and node.level)
        for alias in node.names
    }


@pytest.mark.parametrize("path", sorted(shipped.HERE.glob("*.py")), ids=lambda p: p.name)
def test_every_shipped_file_imports_only_what_a_host_has(path: Path) -> None:
    assert top_level_imports(path) - set(sys.stdlib_module_names) <= ON_HOSTS


def test_the_rule_catches_an_import_of_the_kit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nfrom kit.errors import KitError\n")
    assert top_level_imports(bad) - set(sys.stdlib_module_names) - ON_HOSTS == {"kit"}


def test_the_files_the_kit_ships_are_there() -> None:
    assert shipped.ENGINE.is_file() and shipped.SAMPLER.is_file()
