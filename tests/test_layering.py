"""The packages' layers import one way, and their pure layers stay pure.

fake_artifactory's layers, lowest first (a module may import its own layer and the ones below)::

    config, core  ->  store  ->  web  ->  control  ->  server  ->  cli, testing, __main__

``core`` and ``store`` never import Flask or werkzeug; ``core`` never imports ``sqlite3``
or ``socket``; only ``server`` imports gevent (the application does not depend on how it
is served: what must cooperate with the server's loop, a sleep, is handed to it); no two
modules import each other, directly or not.  Imports are read from the source
(function-local and ``TYPE_CHECKING`` ones included).

jfrog_mlflow has no import cycle, only its MLflow adapter (``repository``) imports
``mlflow``, and the plugin never imports the emulator or the conformance suite (they are
extras a tracking server does not install).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from support.import_graph import find_cycles, import_graph

PACKAGE = "fake_artifactory"

#: Layer of each part of the package (the package's own ``__init__`` is at the top: it
#: re-exports ``create_app`` lazily).
LAYERS: dict[str, int] = {
    "fake_artifactory.config": 0,
    "fake_artifactory.core": 0,
    "fake_artifactory.store": 1,
    "fake_artifactory.web": 2,
    "fake_artifactory.control": 3,
    "fake_artifactory.server": 4,
    "fake_artifactory.cli": 5,
    "fake_artifactory.testing": 5,
    "fake_artifactory.__main__": 5,
    "fake_artifactory": 5,
}
#: What a layer may not import at all (prefixes of module names).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "fake_artifactory.core": ("flask", "werkzeug", "gevent", "sqlite3", "socket"),
    "fake_artifactory.store": ("flask", "werkzeug", "gevent"),
    "fake_artifactory.web": ("gevent",),
    "fake_artifactory.control": ("gevent",),
}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """The layer of a module of the package (None: not assigned to any)."""
    if module == PACKAGE:
        return LAYERS[PACKAGE]
    parts = [p for p in LAYERS if p != PACKAGE and _within(module, p)]
    return LAYERS[max(parts, key=len)] if parts else None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import of a higher layer."""
    found = []
    for module, targets in sorted(graph.items()):
        own = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target) if _within(target, PACKAGE) else None
            if own is not None and theirs is not None and theirs > own:
                found.append(f"{module} (layer {own}) -> {target} (layer {theirs})")
    return found


def forbidden_imports(graph: dict[str, set[str]]) -> list[str]:
    """``importer -> imported`` for every import a layer must not make."""
    found = []
    for module, targets in sorted(graph.items()):
        for part, banned in FORBIDDEN.items():
            if _within(module, part):
                found += [
                    f"{module} -> {t}"
                    for t in sorted(targets)
                    if any(_within(t, b) for b in banned)
                ]
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def test_every_module_belongs_to_a_layer(graph: dict[str, set[str]]) -> None:
    assert [m for m in graph if layer_of(m) is None] == []
    assert {"fake_artifactory.core.uri", "fake_artifactory.web.routes"} <= set(graph)


def test_no_layer_imports_a_higher_one(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


def test_core_and_store_stay_off_the_web_stack(graph: dict[str, set[str]]) -> None:
    assert forbidden_imports(graph) == []


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert find_cycles(graph) == []


# -- the checks themselves catch what they must --------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """Relative, function-local and TYPE_CHECKING imports all count; ``from p import m``
    names the module ``p.m``."""
    root = tmp_path / "pkg"
    _write(
        root,
        {
            "__init__.py": "",
            "a.py": """
                from typing import TYPE_CHECKING
                from . import b
                if TYPE_CHECKING:
                    from pkg.sub.c import Thing
                def later():
                    import flask
                """,
            "b.py": "from .sub import c\n",
            "sub/__init__.py": "",
            "sub/c.py": "from ..a import later\nfrom .. import b\n",
        },
    )
    graph = import_graph("pkg", root)
    assert graph["pkg.a"] == {"typing", "pkg.b", "pkg.sub.c", "flask"}
    assert graph["pkg.b"] == {"pkg.sub.c"}
    assert graph["pkg.sub.c"] == {"pkg.a", "pkg.b"}
    assert find_cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_the_rules_flag_upward_and_forbidden_imports() -> None:
    graph = {
        "fake_artifactory.core.uri": {"fake_artifactory.web.routes", "socket"},
        "fake_artifactory.store.items": {"werkzeug.wsgi", "fake_artifactory.core.uri"},
        "fake_artifactory.web.routes": {"fake_artifactory.store", "flask"},
    }
    assert upward_imports(graph) == [
        "fake_artifactory.core.uri (layer 0) -> fake_artifactory.web.routes (layer 2)"
    ]
    assert forbidden_imports(graph) == [
        "fake_artifactory.core.uri -> socket",
        "fake_artifactory.store.items -> werkzeug.wsgi",
    ]


# -- jfrog_mlflow ------------------------------------------------------------------------

#: The one module of the plugin that adapts MLflow (the package re-exports it lazily).
PLUGIN_MLFLOW_MODULES = {"jfrog_mlflow.repository"}


@pytest.fixture(scope="module")
def plugin_graph() -> dict[str, set[str]]:
    return import_graph("jfrog_mlflow")


def test_the_plugin_has_no_import_cycles(plugin_graph: dict[str, set[str]]) -> None:
    assert "jfrog_mlflow.repository" in plugin_graph
    assert find_cycles(plugin_graph) == []


def test_only_the_plugins_adapter_imports_mlflow(plugin_graph: dict[str, set[str]]) -> None:
    importers = {
        m for m, targets in plugin_graph.items() if any(_within(t, "mlflow") for t in targets)
    }
    assert importers == PLUGIN_MLFLOW_MODULES


def test_the_plugin_never_imports_the_emulator_or_the_suite(
    plugin_graph: dict[str, set[str]],
) -> None:
    assert [
        f"{m} -> {t}"
        for m, targets in sorted(plugin_graph.items())
        for t in sorted(targets)
        if _within(t, "fake_artifactory") or _within(t, "conformance")
    ] == []
