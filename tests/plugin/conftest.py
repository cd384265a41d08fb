"""Fixtures for the plugin's integration tests (emulator over real HTTP on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

TOKEN = "fake-test-token"


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLFLOW_ARTIFACTORY_ENDPOINT_URL",
        "MLFLOW_ARTIFACTORY_REPO",
        "MLFLOW_ARTIFACTORY_TOKEN",
        "MLFLOW_ARTIFACTORY_TOKEN_FILE",
        "MLFLOW_ARTIFACTORY_KEY",
        "MLFLOW_ARTIFACTORY_USER",
        "MLFLOW_ARTIFACTORY_PASSWORD",
        "ARTIFACTORY_AUTH_TOKEN",
        "ARTIFACTORY_NO_SSL",
        "ARTIFACTORY_ARTIFACTS_DELETE_SKIP",
        "MLFLOW_ARTIFACTORY_ALLOWED_HOSTS",
        "MLFLOW_ARTIFACTORY_PROPERTIES",
        "MLFLOW_ARTIFACTORY_SET_PROPERTIES",
        "MLFLOW_ARTIFACTORY_TRANSFER_PASSES",
        "_MLFLOW_SERVER_ARTIFACT_DESTINATION",
        "_MLFLOW_SERVER_ARTIFACT_ROOT",
    ):
        monkeypatch.delenv(name, raising=False)
    # Fast, deterministic retries in tests.
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BACKOFF_FACTOR", "0.01")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TIMEOUT", "30")
    monkeypatch.setenv("NETRC", "/nonexistent-netrc-for-tests")


@pytest.fixture
def plugin_env(fake_artifactory: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Short-form configuration pointing at the session emulator (Pro edition)."""
    _clean_env(monkeypatch)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", fake_artifactory.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", fake_artifactory.repo)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", fake_artifactory.token)
    return fake_artifactory


@pytest.fixture
def make_repo(plugin_env: Any) -> Callable[..., Any]:
    """Build a repository through MLflow's real registry."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    def make(uri: str = "artifactory://mlflow-test/run") -> Any:
        return get_artifact_repository(uri)

    return make


@pytest.fixture(scope="session")
def oss_server() -> Iterator[Any]:
    """A second emulator in OSS edition, with a read-only user ``reader``."""
    from fake_artifactory.config import DEFAULT_USERS, EmulatorConfig, UserSpec
    from fake_artifactory.server import ThreadedServer

    config = EmulatorConfig(
        port=0,
        edition="oss",
        tokens=(TOKEN,),
        users=(*DEFAULT_USERS, UserSpec("reader", "readerpw", frozenset({"read"}))),
    )
    with ThreadedServer(config) as server:
        yield server


@pytest.fixture
def oss_artifactory(oss_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Handle on the OSS emulator, reset, with the plugin configured for it."""
    from fake_artifactory.testing import FakeArtifactoryHandle

    handle = FakeArtifactoryHandle(url=oss_server.url, root_url=oss_server.root_url, token=TOKEN)
    handle.reset()
    _clean_env(monkeypatch)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", handle.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", handle.repo)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", TOKEN)
    return handle


# ------------------------------------------------------------------ archive transfers


@pytest.fixture
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test learns the server's features anew (clients are shared per base URL)."""
    from jfrog_mlflow import client

    monkeypatch.setattr(client, "_CLIENTS", {})


@pytest.fixture(scope="module")
def folder_server() -> Iterator[Any]:
    """A Pro emulator with folder download enabled."""
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    with ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,), folder_download=True)) as srv:
        yield srv


@pytest.fixture
def fd_env(plugin_env: Any, folder_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Like ``plugin_env`` (clean environment), but pointing at ``folder_server``."""
    from fake_artifactory.testing import FakeArtifactoryHandle

    handle = FakeArtifactoryHandle(url=folder_server.url, root_url=folder_server.root_url)
    handle.reset()
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", handle.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", handle.repo)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", TOKEN)
    return handle


@pytest.fixture
def archive_proxy(fd_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The plugin talks to ``folder_server`` through a proxy; yields its rules
    (:class:`plugin_support.Proxy`)."""
    from plugin_support import Proxy, serve_proxy

    rules = Proxy()
    context = fd_env.url[len(fd_env.root_url) :]
    with serve_proxy(fd_env.root_url, rules) as root:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", root + context)
        yield rules


@pytest.fixture(scope="session")
def no_annotate_server() -> Iterator[Any]:
    """A Pro emulator whose user ``writer`` (password ``writerpw``) may deploy but not
    annotate (set properties)."""
    from fake_artifactory.config import EmulatorConfig, UserSpec
    from fake_artifactory.server import ThreadedServer

    writer = UserSpec("writer", "writerpw", frozenset({"read", "deploy", "delete"}))
    config = EmulatorConfig(port=0, users=(UserSpec("admin", "password"), writer))
    with ThreadedServer(config) as server:
        yield server
