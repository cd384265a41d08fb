"""Folder archive download ("Folder Download", Artifactory Pro): requests, probe and modes.

The feature is an admin setting, off by default. The suite probes it once per process
against a tiny folder of its own: ``200`` means enabled, ``403`` means disabled by the
admin. Against the bundled emulator the checks run twice: with the emulator's default
(disabled) and with the feature switched on through the emulator's control plane
(``PUT /_fake/settings/folder-download``) and restored afterwards. A real server's settings
are never touched.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from conformance.client import TIMEOUT, RestClient
from conformance.paths import join, quote_path
from conformance.targets import Target

__all__ = [
    "DISABLED_REASON",
    "EMULATOR_DEFAULT",
    "EMULATOR_ENABLED",
    "MODES_EMULATOR",
    "MODES_REMOTE",
    "SERVER",
    "FolderDownload",
    "emulator_folder_download",
    "folder_archive",
    "folder_archive_url",
    "probe_folder",
    "probe_folder_download",
]

log = logging.getLogger(__name__)

DISABLED_REASON = "folder download disabled on this server (admin setting)"
#: The server as it is configured (a remote target).
SERVER = "fd-server"
#: The bundled emulator with its default settings (feature disabled).
EMULATOR_DEFAULT = "fd-default"
#: The bundled emulator with the feature enabled through its control plane.
EMULATOR_ENABLED = "fd-enabled"
MODES_REMOTE = (SERVER,)
MODES_EMULATOR = (EMULATOR_DEFAULT, EMULATOR_ENABLED)
_SETTINGS = "/_fake/settings/folder-download"


@dataclass(frozen=True, slots=True)
class FolderDownload:
    """How folder download behaves in this test: the mode and the probe's answer."""

    mode: str
    status: int
    message: str = ""

    @property
    def enabled(self) -> bool:
        """True when the probe got the archive (HTTP 200)."""
        return self.status == 200

    def require_enabled(self) -> None:
        """Skip the calling test unless folder download is enabled."""
        if self.status == 403:
            pytest.skip(DISABLED_REASON)
        if self.status != 200:
            pytest.skip(
                f"folder download probe answered HTTP {self.status} "
                f"(expected 200 or 403): {self.message[:200]}"
            )


def folder_archive_url(client: RestClient, path: str) -> str:
    """``…/api/archive/download/<repo>/<path>`` of a repository folder."""
    return f"{client.base_url}/api/archive/download/{quote_path(client.repo)}/{quote_path(path)}"


def folder_archive(
    client: RestClient, path: str, archive_type: str | None, **params: str
) -> requests.Response:
    """``GET`` the folder ``path`` as an archive (``archiveType`` omitted when None)."""
    query = dict(params)
    if archive_type is not None:
        query["archiveType"] = archive_type
    return client.request("GET", folder_archive_url(client, path), params=query)


def _message(resp: requests.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError, AttributeError):
        return str(resp.json()["errors"][0]["message"])
    return resp.text[:200]


def probe_folder_download(client: RestClient, folder: str) -> tuple[int, str]:
    """(status, error message) of a folder archive request for the existing ``folder``.

    The folder must hold at least one file (created by the caller).
    """
    resp = client.request(
        "GET", folder_archive_url(client, folder), params={"archiveType": "zip"}, stream=True
    )
    try:
        message = "" if resp.status_code == 200 else _message(resp)
    finally:
        resp.close()
    log.debug("folder download probe: HTTP %s", resp.status_code)
    return resp.status_code, message


def _control(target: Target, method: str, body: Any = None) -> dict[str, Any]:
    resp = requests.request(
        method,
        target.server.root_url + _SETTINGS,
        json=body,
        headers=target.control_headers,
        timeout=TIMEOUT,
    )
    resp.raise_for_status()
    settings: dict[str, Any] = resp.json()
    return settings


@contextlib.contextmanager
def emulator_folder_download(target: Target, *, enabled: bool) -> Iterator[None]:
    """Folder download switched on or off in the bundled emulator for the block.

    Refuses anything but the bundled emulator: a real server's settings are never changed.
    """
    if target.kind != "emulator" or target.server is None:
        raise RuntimeError("only the bundled emulator's settings may be changed")
    before = _control(target, "GET")
    _control(target, "PUT", {"enabled": enabled})
    try:
        yield
    finally:
        _control(target, "PUT", before)


def probe_folder(client: RestClient, root: str) -> str:
    """Create the probe's folder below ``root`` (one small file); return its path."""
    folder = join(root, "folder-download-probe")
    resp = client.deploy(join(folder, "probe.txt"), b"probe")
    assert resp.status_code == 201, (resp.status_code, resp.text[:300])
    return folder
