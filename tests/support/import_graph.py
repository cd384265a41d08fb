"""The import graph of a package, read from its source with :mod:`ast` (nothing imported).

Every ``import`` and ``from ... import`` counts, wherever it is: at module level, inside a
function, under ``if TYPE_CHECKING:``.  Relative imports are resolved.  Used by the
layering tests; works for any package (``fake_artifactory``, ``jfrog_mlflow``, ...).
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["find_cycles", "import_graph", "package_modules"]


def _package_root(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


def package_modules(package: str, root: Path | None = None) -> dict[str, Path]:
    """Every module of ``package`` (its ``__init__`` as the package name) -> its file.

    ``root``: the package's directory (default: found on ``sys.path``).
    """
    root = root if root is not None else _package_root(package)
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join([package, *parts])] = path
    return modules


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def import_graph(package: str, root: Path | None = None) -> dict[str, set[str]]:
    """Module of ``package`` -> the modules it imports (absolute names, any package).

    ``from a.b import c`` counts as importing ``a.b.c`` when that is a module of the
    package, else as importing ``a.b``.
    """
    modules = package_modules(package, root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, is_package, node.level, node.module)
                for alias in node.names:
                    candidate = f"{source}.{alias.name}"
                    imported.add(candidate if candidate in modules else source)
        imported.discard(name)
        graph[name] = imported
    return graph


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import cycles among the graph's own modules: each strongly connected component
    of more than one module, sorted (edges to modules outside the graph are ignored)."""
    edges = {node: sorted(t for t in targets if t in graph) for node, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(cycles)
