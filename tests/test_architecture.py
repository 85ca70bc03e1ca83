"""Who may import whom, read from the source with `ast`: the prover core knows no backend, backends never import
each other, training stands alone (but for the model store), and no module of ours imports itself round a cycle.

Every import counts, at module level or inside a function (a function-level import is a dependency that merely
waits), except those under `if TYPE_CHECKING:`, which never run.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("prover", "coq_env", "lean_env", "isabelle_env", "training", "model_store", "benchmarks")
BACKENDS = ("coq_env", "lean_env", "isabelle_env")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=1)
def _sources() -> dict[str, Path]:
    """Every module of ours: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        folder = ROOT / package
        if folder.is_dir():
            for path in sorted(folder.rglob("*.py")):
                found[_module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom in the tree, skipping the bodies of `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _ours(name: str) -> str | None:
    """The module of ours that importing `name` runs (its longest dotted prefix we have), or None."""
    modules = _sources()
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


@lru_cache(maxsize=1)
def _imports() -> dict[str, dict[str, int]]:
    """module -> {module of ours it imports: the line of the first such import}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in _sources().items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for node in _import_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the module's package, `level` packages up
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[:len(package) - (node.level - 1)]
                    base = ".".join(package + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = _ours(target)
                if found is not None and found != module:
                    edges.setdefault(found, node.lineno)
        graph[module] = edges
    return graph


def _package(module: str) -> str:
    return module.split(".")[0]


def _breaches(rule) -> list[str]:
    return [f"{_sources()[m].relative_to(ROOT)}:{line}: {m} imports {target}"
            for m, edges in sorted(_imports().items()) for target, line in sorted(edges.items())
            if rule(_package(m), _package(target))]


def test_the_prover_core_imports_no_backend():
    breaches = _breaches(lambda source, target: source == "prover" and target in BACKENDS)
    assert not breaches, "the prover core reaches into a backend (use its plugin):\n" + "\n".join(breaches)


def test_backends_never_import_each_other():
    breaches = _breaches(lambda source, target: source in BACKENDS and target in BACKENDS and source != target)
    assert not breaches, "a backend imports another backend:\n" + "\n".join(breaches)


def test_training_imports_nothing_of_ours_but_the_model_store():
    breaches = _breaches(lambda source, target: source == "training" and target not in ("training", "model_store"))
    assert not breaches, "training must stand alone (model_store aside):\n" + "\n".join(breaches)


def _cycles() -> list[list[str]]:
    """One concrete cycle (a list of modules, first repeated last) per strongly connected group of modules
    (Tarjan's algorithm, iterative)."""
    graph = _imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return [_cycle_in(set(group)) for group in groups]


def _cycle_in(group: set[str]) -> list[str]:
    """A shortest cycle through the group's first module, staying inside the group (breadth-first)."""
    graph = _imports()
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    return paths[node] + [start]
                if child in group and child not in paths:
                    paths[child] = paths[node] + [child]
                    following.append(child)
        frontier = following
    return sorted(group)  # unreachable for a strongly connected group


def test_no_import_cycles_among_our_modules():
    graph = _imports()
    described = []
    for cycle in _cycles():
        steps = [f"{a} -> {b} ({_sources()[a].relative_to(ROOT)}:{graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
        described.append(" -> ".join(cycle) + "\n    " + "\n    ".join(steps))
    assert not described, "import cycles:\n" + "\n".join(described)


def test_the_scan_sees_every_package_and_both_kinds_of_import():
    """The rules above would pass vacuously on a scan that found nothing: it must find what we know is there."""
    graph = _imports()
    assert {"prover.cli", "coq_env.backend", "lean_env.backend", "isabelle_env.backend", "training.train"} <= set(graph)
    assert "prover.types" in graph["coq_env.backend"]  # a module-level import
    assert "prover.plugins" in graph["prover.cli"]
