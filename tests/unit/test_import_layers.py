"""The packages of src/alignx import each other in one direction only (docs/architecture.md, "Layers").

Reads the import statements (no code runs): a package-level cycle (a module of package A imports one of B and a
module of B imports one of A, directly or through other packages) fails naming the cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "alignx"


def unit_of(module: str) -> str | None:
    """The layer unit of an `alignx...` module: its package (`world`), or the top-level module (`space`)."""
    parts = module.split(".")
    if parts[0] != "alignx" or len(parts) < 2:
        return None
    return parts[1]


def package_graph() -> dict[str, set[str]]:
    """Unit -> the other units its modules import (function-level imports included)."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        own = unit_of(".".join(rel.parts if rel.name != "__init__" else rel.parts[:-1]))
        if own is None:  # alignx/__init__.py
            continue
        edges = graph.setdefault(own, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] if node.module != "alignx" else [f"alignx.{a.name}" for a in node.names]
            for name in names:
                unit = unit_of(name)
                if unit is not None and unit != own:
                    edges.add(unit)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


def test_no_import_cycle_between_packages():
    cycle = find_cycle(package_graph())
    assert cycle is None, "package import cycle: " + " -> ".join(cycle)


def test_the_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert {"world", "space"} <= set(package_graph())
