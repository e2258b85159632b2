"""One-way imports in astlinux_ha/: no cycle anywhere, and the layers point down.

The graph is read from the source with ``ast`` (every ``import`` and ``from`` statement,
those inside functions too: a late import still runs, just later), so it holds for code paths
no test happens to take.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "astlinux_ha"

# (importer's prefix, prefixes it must not import): the layer order, lowest first. The VRRP
# core is pure; the config reader reads text (host checks are the preflight's); the network
# edge knows nothing of the config.
FORBIDDEN = [
    ("astlinux_ha.problems", ("astlinux_ha",)),
    ("astlinux_ha.vrrp", ("astlinux_ha",)),
    ("astlinux_ha.config", ("astlinux_ha.scripts", "astlinux_ha.net", "astlinux_ha.supervisor",
                            "astlinux_ha.instance", "astlinux_ha.runtime",
                            "astlinux_ha.preflight")),
    ("astlinux_ha.net", ("astlinux_ha.config",)),
]

def inside(name: str, prefix: str) -> bool:
    """Whether module ``name`` is ``prefix`` or in the package ``prefix``."""
    return name == prefix or name.startswith(prefix + ".")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every astlinux_ha module that ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            # `import a.b.c` runs a.b.c; the nearest known module is what it names.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("astlinux_ha") and target != name:
                yield target


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: set(imported(name, path, known)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, each as a path."""
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


def test_the_graph_sees_late_imports() -> None:
    # cli imports the daemon only when it runs it: the graph must still hold that edge.
    assert "astlinux_ha.daemon" in graph()["astlinux_ha.cli"]


def cycle_path(edges: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, as ``a -> b -> a``."""
    start = component[0]
    members = set(component)
    path = [start]

    def walk(v: str, seen: set[str]) -> bool:
        for w in sorted(edges[v] & members):
            if w == start:
                return True
            if w not in seen:
                seen.add(w)
                path.append(w)
                if walk(w, seen):
                    return True
                path.pop()
        return False

    walk(start, {start})
    return " -> ".join([*path, start])


def test_no_import_cycle() -> None:
    edges = graph()
    found = [cycle_path(edges, c) for c in cycles(edges)]
    assert found == [], "import cycles: " + "; ".join(found)


def test_cycles_are_found_and_named() -> None:
    edges = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set()}
    assert cycles(edges) == [["a", "b", "c"]]
    assert cycle_path(edges, ["a", "b", "c"]) == "a -> b -> c -> a"


@pytest.mark.parametrize(("layer", "banned"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_layers_point_down(layer: str, banned: tuple[str, ...]) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if inside(name, layer)
        for target in targets
        if any(inside(target, b) for b in banned) and not inside(target, layer)
    )
    assert wrong == []
