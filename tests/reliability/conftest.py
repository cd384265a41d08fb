"""Fixtures for the reliability and security tests: an emulator process, plugin settings."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_support import Hostile, hostile_emulator
from reliability_support import (
    API_KEY,
    PASSWORD,
    REPO,
    TOKEN,
    USER,
    Emulator,
    start_emulator,
)

_PLUGIN_PREFIXES = ("MLFLOW_ARTIFACTORY_", "ARTIFACTORY_")


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A fresh emulator subprocess with a persistent data dir under ``tmp_path``."""
    emu = start_emulator(tmp_path / "emu", data_dir=tmp_path / "emu-data")
    try:
        yield emu
    finally:
        emu.kill()


@pytest.fixture
def unique_prefix() -> str:
    return f"rel-{uuid.uuid4().hex[:10]}"


ConfigurePlugin = Callable[..., Any]


@pytest.fixture
def configure_plugin(monkeypatch: pytest.MonkeyPatch) -> ConfigurePlugin:
    """Point the plugin at an emulator through its environment variables.

    Returns a function ``(url, auth="token"|"key"|"basic"|None, **env)`` that sets the
    environment and returns a factory ``repo_for(path) -> ArtifactoryArtifactRepository``
    built through MLflow's real scheme registry.
    """
    for name in list(os.environ):
        if name.startswith(_PLUGIN_PREFIXES) or name == "REQUESTS_CA_BUNDLE":
            monkeypatch.delenv(name, raising=False)

    def configure(url: str, auth: str | None = "token", **env: str) -> Callable[[str], Any]:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", url)
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", REPO)
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_MAX_RETRIES", "10")
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_BACKOFF_FACTOR", "0.02")
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT", "5")
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_TIMEOUT", "30")
        if auth == "token":
            monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", TOKEN)
        elif auth == "key":
            monkeypatch.setenv("MLFLOW_ARTIFACTORY_KEY", API_KEY)
        elif auth == "basic":
            monkeypatch.setenv("MLFLOW_ARTIFACTORY_USER", USER)
            monkeypatch.setenv("MLFLOW_ARTIFACTORY_PASSWORD", PASSWORD)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

        def repo_for(path: str) -> Any:
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            return get_artifact_repository(f"artifactory://{path}")

        return repo_for

    return configure


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """The hostile-input tests' emulator, one per module (see :mod:`hostile_support`)."""
    with hostile_emulator(tmp_path_factory.mktemp("hostile")) as h:
        yield h
