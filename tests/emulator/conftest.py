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

from fake_artifactory.config import EmulatorConfig, UserSpec
from fake_artifactory.server import ThreadedServer

REPO = "example-repo-local"


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


def errors_of(resp: requests.Response) -> tuple[int, str]:
    """(status, message) from the Artifactory error envelope, asserting its shape."""
    body = resp.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    err = body["errors"][0]
    assert err["status"] == resp.status_code
    return err["status"], err["message"]


class RawResponse:
    """Minimal response for requests sent with an exact, un-normalised request target."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self) -> Any:
        import json

        return json.loads(self.content)


def raw_request(
    root_url: str,
    method: str,
    target: str,
    body: bytes | None = None,
    auth: tuple[str, str] | None = ("admin", "password"),
) -> RawResponse:
    """Send ``target`` byte-for-byte (requests/urllib3 would remove ``..`` segments)."""
    import base64
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(root_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    try:
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        return RawResponse(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()
