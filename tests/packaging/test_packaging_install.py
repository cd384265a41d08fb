"""A plain ``pip install jfrog-mlflow`` gives a working plugin on mlflow-skinny and nothing else.

The project is built into a wheel from a copy of its sources and installed, with its
declared dependencies only, into a new virtual environment without the system's site
packages. mlflow-skinny is pinned to the version of the ``mlflow`` in the project's
environment, so pip takes the files it already holds and the plugin runs on the same
MLflow as the rest of the suite. The environment is built once for this module (about
15 s with a warm pip cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging-venv")]

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "jfrog_mlflow", "fake_artifactory", "conformance")
#: Must be absent after a plugin-only install: the emulator's server stack, the test tooling,
#: and the full mlflow's data-science stack.
ABSENT = ("flask", "werkzeug", "gevent", "pytest", "hypothesis", "xdist", "pandas", "pyarrow")


def _run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in ``cwd`` (never the worktree, whose packages would shadow the installed
    ones), without the caller's PYTHONPATH unless ``env`` sets one."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        cmd, cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=240
    )


def _ok(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    proc = _run(cmd, cwd, **env)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-2000:]}{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv holding our wheel and its plain dependencies only."""
    root = tmp_path_factory.mktemp("plugin-only")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SOURCES:  # a copy: building in the worktree would leave build/ behind
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    dist = root / "dist"
    _ok([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)], root)
    (wheel,) = dist.glob("jfrog_mlflow-*.whl")
    _ok([sys.executable, "-m", "venv", str(root / "venv")], root)
    python = root / "venv" / "bin" / "python"
    constraints = root / "constraints.txt"
    constraints.write_text(f"mlflow-skinny=={metadata.version('mlflow')}\n")
    _ok([str(python), "-m", "pip", "install", "-q", "-c", str(constraints), str(wheel)], root)
    return python


PROBE_INSTALLED = """
import json, sys
from importlib import metadata
from importlib.util import find_spec

def version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None

present = [name for name in sys.argv[1:] if find_spec(name) is not None]
dists = {d: version(d) for d in ("mlflow", "mlflow-skinny", "jfrog-mlflow")}
print(json.dumps({"present": present, "dists": dists}))
"""


def test_a_plugin_install_has_neither_the_emulator_nor_test_tooling(venv_python, tmp_path):
    proc = _ok([str(venv_python), "-c", PROBE_INSTALLED, *ABSENT], tmp_path)
    found = json.loads(proc.stdout)
    assert found["present"] == []
    assert found["dists"] == {
        "mlflow": None,
        "mlflow-skinny": metadata.version("mlflow"),
        "jfrog-mlflow": metadata.version("jfrog-mlflow"),
    }


ROUND_TRIP = """
import filecmp, sys, warnings
warnings.simplefilter("error", UserWarning)  # MLflow only warns when an entry point fails
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from jfrog_mlflow.repository import ArtifactoryArtifactRepository

tree, out = sys.argv[1:]
repo = get_artifact_repository("artifactory://skinny-run")
assert type(repo) is ArtifactoryArtifactRepository, type(repo)
repo.log_artifacts(tree)
listed = sorted(f.path for f in repo.list_artifacts())
assert listed == ["a.txt", "sub"], listed
got = repo.download_artifacts("", out)
cmp = filecmp.dircmp(tree, got)
assert not (cmp.diff_files or cmp.left_only or cmp.right_only), cmp.report()
assert cmp.subdirs["sub"].same_files == ["b.bin"], cmp.report_full_closure()
assert "flask" not in sys.modules and "pandas" not in sys.modules
"""


def test_the_plugin_resolves_and_round_trips_on_mlflow_skinny(
    venv_python, fake_artifactory, tmp_path
):
    """MLflow's registry finds our class through the entry point, and a tree goes up, is
    listed and comes back intact, against the emulator over loopback."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("alpha")
    content = bytes(range(256)) * 64
    (tree / "sub" / "b.bin").write_bytes(content)
    (tmp_path / "out").mkdir()
    _ok(
        [str(venv_python), "-c", ROUND_TRIP, str(tree), str(tmp_path / "out")],
        tmp_path,
        MLFLOW_ARTIFACTORY_ENDPOINT_URL=fake_artifactory.url,
        MLFLOW_ARTIFACTORY_TOKEN=fake_artifactory.token,
        MLFLOW_ARTIFACTORY_REPO=fake_artifactory.repo,
    )
    stored = requests.get(
        f"{fake_artifactory.url}/{fake_artifactory.repo}/skinny-run/sub/b.bin",
        auth=fake_artifactory.auth,
        timeout=30,
    )
    assert stored.status_code == 200 and stored.content == content


LOCAL_TRACKING = """
import mlflow
try:
    mlflow.create_experiment("local")
except Exception as exc:
    print(type(exc).__name__)
"""


def test_mlflow_skinny_alone_has_no_local_tracking_store(venv_python, tmp_path):
    """Why docs/plugin.md tells users of a local tracking store to install ``mlflow``:
    MLflow's default tracking URI is a SQLite file, which mlflow-skinny cannot open."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    proc = subprocess.run(
        [str(venv_python), "-c", LOCAL_TRACKING],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip() == "UnsupportedModelRegistryStoreURIException", proc.stderr
    for doc in ("README.md", "docs/plugin.md"):
        assert "SQLite" in (REPO / doc).read_text(encoding="utf-8")
    assert "UnsupportedModelRegistryStoreURIException" in (REPO / "docs/plugin.md").read_text()


def test_the_conformance_command_names_its_extra(venv_python, tmp_path):
    proc = _run([str(venv_python), "-m", "conformance"], tmp_path)
    expected = (
        "python -m conformance needs the conformance extra: "
        "pip install 'jfrog-mlflow[conformance]' (missing: pytest, hypothesis)"
    )
    assert (proc.returncode, proc.stderr.splitlines(), proc.stdout) == (4, [expected], "")
    assert expected in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_emulator_command_names_its_extra(venv_python, tmp_path):
    script = venv_python.parent / "fake-artifactory"
    proc = _run([str(script), "serve", "--port", "0"], tmp_path)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith(
        "fake-artifactory needs the emulator extra: pip install 'jfrog-mlflow[emulator]'"
    )


PROBE_PYTEST = """
import sys

def test_probe(request):
    assert request.config.pluginmanager.hasplugin("fake_artifactory")
    assert not {"flask", "werkzeug", "gevent"} & set(sys.modules)
"""


def test_the_pytest_plugin_loads_without_the_emulator_extra(venv_python, tmp_path):
    """A user with the plugin installed who runs their own tests with pytest is not broken
    by our pytest11 entry point, and it imports nothing of the emulator's stack."""
    site = tmp_path / "pytest-site"  # pytest beside the venv, which stays plugin-only
    _ok([str(venv_python), "-m", "pip", "install", "-q", "--target", str(site), "pytest"], tmp_path)
    (tmp_path / "test_probe.py").write_text(PROBE_PYTEST)
    cmd = [str(venv_python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_probe.py"]
    _ok(cmd, tmp_path, PYTHONPATH=str(site))
