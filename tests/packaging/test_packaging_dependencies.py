"""The distribution declares what each package imports, and no more, in the right place.

``jfrog_mlflow`` (the plugin) gets exactly the third-party modules it imports as plain
dependencies; ``fake_artifactory`` is covered by the ``emulator`` extra and ``conformance``
by the ``conformance`` extra, so a plugin install brings neither a web server nor test
tooling. Imports are read from the source with :mod:`ast`, requirements from pyproject.toml,
and a module is matched to the distributions that provide it in this environment.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[2]
PROJECT = "jfrog-mlflow"
OWN_PACKAGES = {"jfrog_mlflow", "fake_artifactory", "conformance"}


def third_party_imports(package: str) -> set[str]:
    """Top-level names of the non-stdlib modules that ``package`` imports anywhere."""
    names: set[str] = set()
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - OWN_PACKAGES - set(sys.stdlib_module_names) - {"__future__"}


@cache
def project() -> dict[str, Any]:
    """The ``[project]`` table of pyproject.toml."""
    with open(REPO / "pyproject.toml", "rb") as fh:
        table: dict[str, Any] = tomllib.load(fh)["project"]
    return table


def requirement_names(group: str | None = None) -> set[str]:
    """Distribution names required by the base install (``None``) or by one extra.

    An extra that names the project itself (``jfrog-mlflow[emulator]``) is expanded.
    """
    extras = project()["optional-dependencies"]
    lines: list[str] = project()["dependencies"] if group is None else extras[group]
    names: set[str] = set()
    for line in lines:
        req = Requirement(line)
        if canonicalize_name(req.name) == PROJECT:
            for extra in req.extras:
                names |= requirement_names(extra)
        else:
            names.add(canonicalize_name(req.name))
    return names


def providers(module: str) -> set[str]:
    """The installed distributions that ship top-level ``module``."""
    found = metadata.packages_distributions().get(module, [])
    return {canonicalize_name(dist) for dist in found}


def uncovered(modules: set[str], declared: set[str]) -> list[str]:
    return sorted(m for m in modules if not providers(m) & declared)


#: Declared for an MLflow feature the plugin uses, though the plugin does not import it:
#: distribution -> (MLflow module, the import it makes there). MLflow's
#: ArtifactProgressBar imports tqdm when it draws and silently draws nothing without it.
FOR_MLFLOW_FEATURES = {"tqdm": ("mlflow.utils.file_utils", "from tqdm")}


def test_the_plugin_depends_on_exactly_what_it_imports():
    imports = third_party_imports("jfrog_mlflow")
    declared = requirement_names()
    assert imports == {"mlflow", "requests", "urllib3"}
    assert uncovered(imports, declared) == []
    unused = sorted(
        d
        for d in declared
        if not any(d in providers(m) for m in imports) and d not in FOR_MLFLOW_FEATURES
    )
    assert unused == [], f"declared but not imported by jfrog_mlflow: {unused}"


@pytest.mark.parametrize("dist", sorted(FOR_MLFLOW_FEATURES))
def test_a_dependency_for_an_mlflow_feature_is_still_needed(dist):
    """The MLflow module still imports it, mlflow-skinny does not bring it itself, and the
    plugin declares it."""
    import importlib.util

    module, statement = FOR_MLFLOW_FEATURES[dist]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    assert statement in Path(spec.origin).read_text(encoding="utf-8")
    skinny = {
        canonicalize_name(Requirement(r).name)
        for r in metadata.requires("mlflow-skinny") or []
        if "extra ==" not in r
    }
    assert dist not in skinny
    assert dist in requirement_names()


def test_the_plugin_depends_on_mlflow_skinny_not_the_full_mlflow():
    """Where the full ``mlflow`` is installed it requires the same mlflow-skinny, so a
    tracking server keeps working; a client is not made to install pandas and pyarrow."""
    declared = requirement_names()
    assert "mlflow-skinny" in declared
    assert "mlflow" not in declared


def test_the_emulator_extra_covers_what_fake_artifactory_imports():
    # The pytest plugin module imports pytest; pytest loads it, so pytest is there.
    imports = third_party_imports("fake_artifactory") - {"pytest"}
    declared = requirement_names() | requirement_names("emulator")
    assert uncovered(imports, declared) == []
    assert {"flask", "werkzeug", "gevent"} <= requirement_names("emulator")


def test_the_conformance_extra_covers_the_suite_and_the_bundled_emulator():
    imports = third_party_imports("conformance")
    declared = requirement_names() | requirement_names("conformance")
    assert uncovered(imports, declared) == []
    assert requirement_names("emulator") <= requirement_names("conformance")


def test_the_base_install_holds_no_server_or_test_tooling():
    heavy = {"flask", "werkzeug", "gevent", "pytest", "hypothesis", "pytest-xdist"}
    assert requirement_names() & heavy == set()


def test_make_install_installs_every_extra():
    """``make install``, ``make test`` and ``make demo`` set up everything, as they always did."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"pip install [^\n]*-e '\.\[([a-z,]+)\]'", makefile)
    assert match, "no editable install line in the Makefile"
    assert set(match.group(1).split(",")) == set(project()["optional-dependencies"])


def test_the_full_mlflow_of_the_tests_has_the_plugins_bounds():
    """Our tests run the full ``mlflow`` and the plugin declares ``mlflow-skinny``: the same
    range, so .ci/mlflow-min (which reads the skinny bound) tests what users get."""

    def specifier(lines: list[str], name: str) -> str:
        (spec,) = (str(r.specifier) for r in map(Requirement, lines) if r.name == name)
        return spec

    test_extra = project()["optional-dependencies"]["test"]
    assert specifier(project()["dependencies"], "mlflow-skinny") == specifier(test_extra, "mlflow")
