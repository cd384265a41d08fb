"""Helpers shared by the emulator's tests (imported as ``emulator_support``).

They live outside ``conftest.py`` so that test modules can import them by a name no
other test directory uses (several directories have a ``conftest.py``).
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from typing import Any

import requests

REPO = "example-repo-local"
#: What Artifactory's REST resources answer on OSS (the newline belongs to the message).
PRO_ONLY = (
    "This REST API is available only in Artifactory Pro (see: jfrog.com/artifactory/features). "
    "If you are already running Artifactory Pro please make sure your server is activated "
    "with a valid license key.\n"
)


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


# -- archives --------------------------------------------------------------------------

LONG = "l" * 200 + ".txt"


TREE = {
    "a.txt": b"alpha\n",
    "dir/b.bin": bytes(range(256)) * 20,
    "dir/sub/deeper/c.txt": b"gamma",
    "ünï/cödé ☃.txt": "Unicode ☃".encode(),
    f"long/{LONG}": b"long name",
    "empty.txt": b"",
}


EXPLODE = {"X-Explode-Archive": "true"}


def make_tar(files: dict[str, bytes], *, gz: bool = False, extra=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as tar:
        folders = {name.rsplit("/", 1)[0] for name in files if "/" in name}
        for folder in sorted(folders):
            info = tarfile.TarInfo("./" + folder)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name if name.startswith(("/", "..")) else "./" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or ():
            tar.addfile(info)
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("emptydir/", b"")
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def checksums(data: bytes) -> dict[str, str]:
    return {alg: hashlib.new(alg, data).hexdigest() for alg in ("sha1", "md5", "sha256")}
