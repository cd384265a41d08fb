"""Shared fixtures for the emulator's own tests.

The default emulator comes from the package's pytest plugin (``fake_artifactory``
fixture: session server, state reset per test). ``make_server`` starts extra
servers with other settings (anonymous access, OSS edition, restricted users).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from emulator_support import REPO, RawResponse, errors_of, raw_request

from fake_artifactory.config import EmulatorConfig, UserSpec
from fake_artifactory.server import ThreadedServer

__all__ = ["REPO", "RawResponse", "errors_of", "raw_request"]


@pytest.fixture(scope="session")
def fake_artifactory_config() -> EmulatorConfig:
    return EmulatorConfig(
        port=0,
        tokens=("fake-test-token",),
        api_keys=("AKCp8fakeapikey",),
        repos=("example-repo-local", "api", "Other-Repo"),
        users=(
            UserSpec("admin", "password"),
            UserSpec("reader", "readpw", frozenset({"read"})),
            UserSpec("deployer", "deploypw", frozenset({"read", "deploy"})),
        ),
    )


@pytest.fixture(scope="session")
def make_server() -> Iterator[Callable[..., ThreadedServer]]:
    started: list[ThreadedServer] = []

    def _make(**overrides: Any) -> ThreadedServer:
        server = ThreadedServer(EmulatorConfig(port=0, **overrides)).start()
        started.append(server)
        return server

    yield _make
    for server in started:
        server.stop()


@pytest.fixture
def session(fake_artifactory) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.auth = fake_artifactory.auth
        yield s


@pytest.fixture
def base(fake_artifactory) -> str:
    return fake_artifactory.url


@pytest.fixture
def repo_url(fake_artifactory) -> str:
    return f"{fake_artifactory.url}/{REPO}"
