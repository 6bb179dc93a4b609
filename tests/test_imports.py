"""The package's modules import each other without a circle, counting imports inside functions.

A lazy import (inside a function) still makes the two modules depend on each other; it only hides
the circle until a call order trips over it.  So every ``import`` statement of ``code/sinkgan`` is
an edge here, and the graph must be acyclic.  The leaves (atomic writes, provenance, the Sinkhorn
solver) import nothing from the package, and the one reader of a run directory (``rundir``) reads
below training, never from it.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "code" / "sinkgan"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The sinkgan modules one import statement names (``from . import a, b`` names two)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "sinkgan"]
    if node.level == 0:
        base = node.module or ""
        if base.split(".")[0] != "sinkgan":
            return []
    else:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def import_graph() -> dict[str, set[str]]:
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(f): f for f in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _resolve(name, path.name == "__init__.py", node):
                    if target in modules and target != name:
                        edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_sees_a_circle_through_a_lazy_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "sinkgan.train" in graph and "sinkgan.rundir" in graph["sinkgan.train"], "the graph must see real imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_leaves_import_nothing_from_the_package():
    graph = import_graph()
    for leaf in ("sinkgan.atomic", "sinkgan.provenance", "sinkgan.sinkhorn_fused", "sinkgan.snakemake_lock"):
        assert graph[leaf] == set(), f"{leaf} imports {sorted(graph[leaf])}"
    # the losses: only their own fused backend (`backend=`), nothing else of the package
    assert graph["sinkgan.sinkhorn"] <= {"sinkgan", "sinkgan.sinkhorn_fused"}, sorted(graph["sinkgan.sinkhorn"])


def test_reading_a_run_does_not_import_training():
    """Figures, claims and measurements read runs through sinkgan.rundir, which must not need the trainer."""
    graph = import_graph()

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    for reader in ("sinkgan.rundir", "sinkgan.atomic", "sinkgan.config", "sinkgan.data", "sinkgan.models"):
        assert "sinkgan.train" not in reach(reader), f"{reader} reaches sinkgan.train"
