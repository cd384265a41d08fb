"""Fixtures of the conformance suite: the target, its REST client, the workspace, fresh
folders, observations and the folder-download modes.

Registered by :mod:`conformance.plugin` (its ``pytest_plugins``); the session state they
hand out is set up there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from conformance.client import RestClient
from conformance.folder_download import (
    EMULATOR_ENABLED,
    FolderDownload,
    emulator_folder_download,
    probe_folder,
    probe_folder_download,
)
from conformance.plugin import BOOK_KEY, SessionState, _setup_target
from conformance.targets import Capabilities, Target, Workspace

#: Records one observation of the server: ``observe("explode_status", 200)``.
Observe = Callable[[str, object], None]


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@pytest.fixture(scope="session")
def conformance_state(request: pytest.FixtureRequest) -> SessionState:
    """The process's target, workspace and capabilities (set up on first use)."""
    return _setup_target(request.config)


@pytest.fixture(scope="session")
def target(conformance_state: SessionState) -> Target:
    """The target under test."""
    assert conformance_state.target is not None
    return conformance_state.target


@pytest.fixture(scope="session")
def rest(target: Target) -> RestClient:
    """The authenticated REST client."""
    return target.client


@pytest.fixture(scope="session")
def workspace(conformance_state: SessionState) -> Workspace:
    """Hands out fresh folders under this run's folder."""
    assert conformance_state.workspace is not None
    return conformance_state.workspace


@pytest.fixture(scope="session")
def capabilities(conformance_state: SessionState) -> Capabilities:
    """What the target supports."""
    return conformance_state.capabilities


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Observe:
    """Record what the server did as a test property (a JUnit ``<property>``), redacted.

    For medium/low-confidence expectations: the observed value is kept even when it passes.
    """
    redactor = request.config.stash[BOOK_KEY].redactor

    def record(name: str, value: object) -> None:
        request.node.user_properties.append((name, redactor.redact(str(value))))

    return record


@pytest.fixture
def area(workspace: Workspace, request: pytest.FixtureRequest) -> str:
    """A fresh, empty folder path for one test (created by the test's first deploy)."""
    return workspace.fresh(_SAFE.sub("_", request.node.name))


@pytest.fixture(scope="session")
def folder_download_probe(rest: RestClient, workspace: Workspace) -> tuple[int, str]:
    """(status, message) of one folder archive request, made once per process."""
    return probe_folder_download(rest, probe_folder(rest, workspace.root))


@pytest.fixture
def folder_download(
    request: pytest.FixtureRequest, target: Target, folder_download_probe: tuple[int, str]
) -> Iterator[FolderDownload]:
    """The folder-download mode of this test (see :mod:`conformance.folder_download`).

    ``fd-enabled`` switches the feature on in the bundled emulator for the test only; the
    other modes report the probe's answer for the server as configured.
    """
    mode = str(request.param)
    if mode == EMULATOR_ENABLED:
        with emulator_folder_download(target, enabled=True):
            yield FolderDownload(mode, 200)
        return
    status, message = folder_download_probe
    yield FolderDownload(mode, status, message)
