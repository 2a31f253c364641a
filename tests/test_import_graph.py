"""No import cycle in src/pixelpipe, counting every import statement anywhere in a module:
module level, inside functions and under ``if TYPE_CHECKING:`` (issue 20). A cycle hidden in
a function or behind TYPE_CHECKING still means two modules cannot be read, tested or moved
one without the other. And nothing in ``engine/`` imports the package root (``pixelpipe``
itself, whose ``__init__`` is the public API above the engine)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
PACKAGE = SRC / "pixelpipe"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The pixelpipe modules ``name`` imports anywhere in its text (``from . import x``
    counts as importing the submodule ``x`` when there is one, else the package)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [
                f"{stem}.{a.name}" if f"{stem}.{a.name}" in known else stem for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # pixelpipe.x.y -> the module that holds it
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, set(known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_function_level_and_type_checking_imports() -> None:
    # The checker must see what it claims to: a cycle made of such imports is found.
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    edges = graph()
    assert "pixelpipe.engine.header" in edges["pixelpipe.engine"]
    assert all(edges[m] <= set(edges) for m in edges)


def test_there_is_no_import_cycle_in_pixelpipe() -> None:
    assert cycles(graph()) == []


def test_nothing_in_the_engine_imports_the_package_root() -> None:
    edges = graph()
    upward = {m: sorted(t for t in edges[m] if t == "pixelpipe") for m in edges}
    assert {m: t for m, t in upward.items() if t and m.startswith("pixelpipe.engine")} == {}


if __name__ == "__main__":
    for component in cycles(graph()):
        print(" <-> ".join(component))
