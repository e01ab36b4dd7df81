"""The package's import graph, read from the source with ast: no cycles, and no room imports a room
above it (docs/design.md section 2), so a newcomer can read the kit from the bottom up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[2] / "kit"

#: Each room's height: a module may import its own room and the rooms below, never one above.
RANKS = {
    "kit.cli": 8,
    "kit.bench": 7,
    "kit.env": 6,
    "kit.deploy": 6,
    "kit.doctor": 6,
    "kit.context": 5,
    "kit.provision": 4,
    "kit.configure": 4,
    "kit.load": 4,
    "kit.telemetry": 4,
    "kit.ssh": 4,
    "kit.report": 3,
    "kit.results": 2,
    "kit.scenarios": 2,
    "kit.runs": 2,
    "kit.config": 1,
    "kit.envstate": 1,
    "kit.frameworks": 1,
    "kit.proc": 1,
    "kit.shipped": 0,
    "kit.ids": 0,
    "kit.errors": 0,
    "kit.paths": 0,
    "kit": 0,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict[str, set[str]]:
    """Module -> the kit modules it imports (at any depth of its code, functions included)."""
    modules = {module_name(p): p for p in KIT.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kit":
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    found.add(child if child in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == "kit"}
        edges[name] = found - {name}
    return edges


def room(module: str) -> str:
    parts = module.split(".")
    for n in (2, 1):
        if ".".join(parts[:n]) in RANKS:
            return ".".join(parts[:n])
    raise AssertionError(f"{module} belongs to no room of RANKS: add it to docs/design.md and here")


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, set()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_module_is_part_of_an_import_cycle() -> None:
    assert cycles(graph()) == []


def test_no_room_imports_a_room_above_it() -> None:
    upward = [
        f"{m} ({room(m)}) imports {d} ({room(d)})"
        for m, deps in sorted(graph().items())
        for d in sorted(deps)
        if RANKS[room(d)] > RANKS[room(m)]
    ]
    assert upward == []


@pytest.mark.parametrize(
    ("edges", "expected"),
    [({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]), ({"a": {"b"}, "b": set()}, [])],
)
def test_the_cycle_finder_finds_a_cycle(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected
