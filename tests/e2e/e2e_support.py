"""Shared machinery for the end-to-end tests: real emulator and real ``mlflow server`` processes.

``mlflow server`` is run by :class:`demo.mlflow_server.MlflowServer`, the helper ``make demo``
uses too.

Every module starts its own processes through module-scoped fixtures (one emulator, at most
two tracking servers), on free ports, with SQLite backend stores under a temporary directory.
Nothing here is mocked: MLflow loads the plugin through its entry point, exactly as users get it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # demo/ is a tool folder, not an installed package
    sys.path.insert(0, str(ROOT))

# Re-exported for the test modules; the same helper runs `make demo`'s server.
from demo.mlflow_server import MlflowServer as MlflowServer  # noqa: E402

TOKEN = "e2e-token"
REPO = "example-repo-local"

# Variables of the plugin (and of JFrog's plugin) that must not leak from the developer's shell
# into a test, nor from one test into another.
PLUGIN_ENV = (
    "MLFLOW_ARTIFACTORY_ENDPOINT_URL",
    "MLFLOW_ARTIFACTORY_KEY",
    "MLFLOW_ARTIFACTORY_TOKEN",
    "MLFLOW_ARTIFACTORY_TOKEN_FILE",
    "MLFLOW_ARTIFACTORY_PROPERTIES",
    "MLFLOW_ARTIFACTORY_SET_PROPERTIES",
    "MLFLOW_ARTIFACTORY_USER",
    "MLFLOW_ARTIFACTORY_PASSWORD",
    "MLFLOW_ARTIFACTORY_REPO",
    "MLFLOW_ARTIFACTORY_ALLOWED_HOSTS",
    "ARTIFACTORY_AUTH_TOKEN",
    "ARTIFACTORY_NO_SSL",
    "ARTIFACTORY_ARTIFACTS_DELETE_SKIP",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
)


def plugin_env(url: str) -> dict[str, str]:
    """The original design's configuration: endpoint, key and repository."""
    return {
        "MLFLOW_ARTIFACTORY_ENDPOINT_URL": url,
        "MLFLOW_ARTIFACTORY_KEY": TOKEN,
        "MLFLOW_ARTIFACTORY_REPO": REPO,
    }


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment minus every plugin variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in PLUGIN_ENV}
    env.update(extra or {})
    # Quiet and deterministic subprocesses: no progress bars, no telemetry.
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


class Artifactory:
    """A small REST client to check what the emulator stores (Storage API, with the token)."""

    def __init__(self, url: str, root_url: str) -> None:
        self.url = url
        self.root_url = root_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def files(self, folder: str) -> dict[str, int]:
        """Every file under ``REPO/folder`` (deep), as ``{relative path: size}``; {} if missing."""
        r = self.session.get(
            f"{self.url}/api/storage/{REPO}/{requests.utils.quote(folder)}",
            params={"list": "", "deep": "1"},
            timeout=30,
        )
        if r.status_code == 404:
            return {}
        r.raise_for_status()
        return {f["uri"].lstrip("/"): int(f["size"]) for f in r.json()["files"] if not f["folder"]}

    def exists(self, path: str) -> bool:
        """Whether ``REPO/path`` exists (a file or a folder, empty or not)."""
        r = self.session.get(
            f"{self.url}/api/storage/{REPO}/{requests.utils.quote(path)}", timeout=30
        )
        if r.status_code == 404:
            return False
        r.raise_for_status()
        return True

    def read(self, path: str) -> bytes:
        r = self.session.get(f"{self.url}/{REPO}/{requests.utils.quote(path)}", timeout=30)
        r.raise_for_status()
        return r.content

    def journal(self) -> list[dict[str, Any]]:
        """The emulator's request journal (control plane), oldest first."""
        r = requests.get(f"{self.root_url}/_fake/requests", timeout=30)
        r.raise_for_status()
        body = r.json()
        entries = body.get("requests", body) if isinstance(body, dict) else body
        assert isinstance(entries, list), body
        return entries


def documented_gc_commands() -> list[str]:
    """The ``mlflow gc`` command lines of docs/plugin.md, continuation lines joined."""
    text = (ROOT / "docs" / "plugin.md").read_text(encoding="utf-8")
    block = text.split("## `mlflow gc`", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return [" ".join(line.split()) for line in lines if not line.lstrip().startswith("#")]


def entry_method(entry: Mapping[str, Any]) -> str:
    return str(entry.get("method", "")).upper()


def entry_path(entry: Mapping[str, Any]) -> str:
    """The request path of a journal entry, percent-decoded, whatever the field is called."""
    for key in ("path", "raw_path", "url", "uri"):
        if key in entry:
            return requests.utils.unquote(str(entry[key]))
    return ""


@pytest.fixture(scope="module")
def emulator() -> Iterator[Artifactory]:
    """One emulator process per test module (per xdist worker), with our token."""
    from fake_artifactory.testing import start_process

    with start_process("--token", TOKEN) as proc:
        yield Artifactory(proc.url, proc.root_url)


@pytest.fixture
def tracking(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Returns a function that points the in-process MLflow client at a tracking URI.

    The plugin variables are removed first; the caller sets the ones its mode needs.
    The global tracking/registry URIs are reset afterwards so tests stay independent.
    """
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry

    # MLflow loads the plugin through its entry point when the registry module is first
    # imported; if that failed (see the warning it printed) every test here would be noise.
    assert "artifactory" in _artifact_repository_registry._registry, (
        "the artifactory:// entry point did not register in this process"
    )
    for name in PLUGIN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    def point_at(uri: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)

    yield point_at
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` as ``{posix relative path: bytes}``."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
