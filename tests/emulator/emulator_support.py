"""Helpers shared by the emulator's tests (imported as ``emulator_support``).

They live outside ``conftest.py`` so that test modules can import them by a name no
other test directory uses (several directories have a ``conftest.py``).
"""

from __future__ import annotations

from typing import Any

import requests

REPO = "example-repo-local"


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
