"""pytest fixtures for the emulator (entry point ``pytest11: fake_artifactory``).

Costs nothing when unused: loading the plugin imports pytest and the standard library
only; the emulator (Flask, werkzeug, gevent, the store) is imported when a fixture
that starts it runs.  Override ``fake_artifactory_config`` in a conftest to change the
emulator settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer
    from fake_artifactory.testing.handle import FakeArtifactoryHandle

TEST_TOKEN = "fake-test-token"


def default_config() -> EmulatorConfig:
    """The settings of ``fake_artifactory_config``: free port, token ``fake-test-token``."""
    from fake_artifactory.config import EmulatorConfig

    return EmulatorConfig(port=0, tokens=(TEST_TOKEN,))


def fixture_handle(server: ThreadedServer, config: EmulatorConfig) -> FakeArtifactoryHandle:
    """The handle the ``fake_artifactory`` fixture gives a test (it resets it first)."""
    from fake_artifactory.testing.handle import FakeArtifactoryHandle

    admin = next((u for u in config.users if "admin" in u.perms), config.users[0])
    return FakeArtifactoryHandle(
        url=server.url,
        root_url=server.root_url,
        repo=config.repos[0],
        user=admin.name,
        password=admin.password,
        token=config.tokens[0] if config.tokens else "",
        control_token=server.config.control_token,
    )


@pytest.fixture(scope="session")
def fake_artifactory_config() -> EmulatorConfig:
    """Emulator settings: free port, token ``fake-test-token``. Override to customise."""
    return default_config()


@pytest.fixture(scope="session")
def fake_artifactory_server(
    fake_artifactory_config: EmulatorConfig,
) -> Iterator[ThreadedServer]:
    """One started emulator per session (per xdist worker)."""
    from fake_artifactory.server import ThreadedServer

    with ThreadedServer(fake_artifactory_config) as server:
        yield server


@pytest.fixture
def fake_artifactory(
    fake_artifactory_server: ThreadedServer, fake_artifactory_config: EmulatorConfig
) -> FakeArtifactoryHandle:
    """A handle on the session emulator, with all state reset before the test."""
    handle = fixture_handle(fake_artifactory_server, fake_artifactory_config)
    handle.reset()
    return handle
