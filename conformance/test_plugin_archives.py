"""The plugin's archive transfers (batched upload, folder download) against the target.

``log_artifacts`` of many small files and ``download_artifacts`` of the tree must round-trip
byte for byte with ``MLFLOW_ARTIFACTORY_BATCH_UPLOAD`` / ``MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD``
at ``auto`` (archives when the server allows them, per-file otherwise) and at ``off``. The
server must then hold exactly the logged files (no leftover batch archive) with the right
checksums. Against the bundled emulator the request journal also shows whether the archive
requests were really made.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance.checks import walk
from conformance.client import TIMEOUT, RestClient
from conformance.folder_download import EMULATOR_DEFAULT, EMULATOR_ENABLED, FolderDownload
from conformance.folder_download import SERVER as FD_SERVER
from conformance.model import checksums
from conformance.targets import Capabilities, Target, Workspace
from conformance.test_plugin import _read_tree, _write_tree, plugin_repo
from conformance.test_plugin import plugin_env as plugin_env  # noqa: F401 - a fixture

#: 24 small files (more than the plugin's default minimum of 8 for an archive transfer),
#: nested and with Unicode and spaces in their names.
MANY_FILES: dict[str, bytes] = {
    **{f"metrics/step-{i:02d}.txt": f"value {i}\n".encode() for i in range(12)},
    **{f"model/\u00e9tape {i}/w.bin": bytes([i]) * (i * 37) for i in range(8)},
    "\u65e5\u672c\u8a9e/\u30e1\u30e2.txt": "\u30e1\u30e2\n".encode(),
    "deep/a/b/c/d.json": b'{"k": 1}',
    "empty.txt": b"",
    "MLmodel": b"artifact_path: model\n",
}


#: The plugin keeps one client per configuration for the life of the process, and a client
#: that got a 403 for a folder archive ("disabled by the admin") never asks again. A
#: distinct (harmless) configuration per folder-download mode gives each mode a client of
#: its own, as a fresh process would have.
FOLDER_MAX_SIZE = {
    FD_SERVER: 64 * 1024 * 1024,
    EMULATOR_DEFAULT: 64 * 1024 * 1024 - 1,
    EMULATOR_ENABLED: 64 * 1024 * 1024 - 2,
}


def _journal(target: Target, root: str) -> list[dict[str, Any]] | None:
    """Requests the bundled emulator journaled for ``root`` (None: no journal here)."""
    if target.kind != "emulator" or target.server is None:
        return None
    resp = requests.get(
        target.server.root_url + "/_fake/requests",
        params={"contains": root},
        headers=target.control_headers,
        timeout=TIMEOUT,
    )
    if resp.status_code != 200:
        return None
    entries: list[dict[str, Any]] = resp.json().get("requests", [])
    return entries


def _explode_puts(entries: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in entries:
        headers = {str(k).lower(): str(v) for k, v in dict(e.get("headers") or {}).items()}
        if e.get("method") == "PUT" and any(h.startswith("x-explode-archive") for h in headers):
            out.append(str(e.get("uri")))
    return out


def _folder_gets(entries: list[dict[str, Any]]) -> list[str]:
    return [
        str(e.get("uri"))
        for e in entries
        if e.get("method") == "GET" and "/api/archive/download/" in str(e.get("uri"))
    ]


@pytest.mark.parametrize("features", ["auto", "off"])
def test_many_small_files_round_trip_with_archive_features(
    plugin_env: dict[str, str],
    workspace: Workspace,
    target: Target,
    rest: RestClient,
    capabilities: Capabilities,
    folder_download: FolderDownload,
    features: str,
) -> None:
    env = {
        **plugin_env,
        "MLFLOW_ARTIFACTORY_BATCH_UPLOAD": features,
        "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD": features,
        "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD_MAX_SIZE": str(FOLDER_MAX_SIZE[folder_download.mode]),
    }
    with (
        plugin_repo(env, workspace) as repo,
        tempfile.TemporaryDirectory() as src,
        tempfile.TemporaryDirectory() as dst,
    ):
        root = str(repo.artifact_uri).removeprefix("artifactory://").strip("/")
        _write_tree(Path(src), MANY_FILES)
        repo.log_artifacts(src)
        stored = walk(rest, root)[0]
        assert stored == set(MANY_FILES), (
            f"after log_artifacts the server holds {sorted(stored)}; "
            f"expected exactly {sorted(MANY_FILES)}"
        )
        for rel in ("MLmodel", "deep/a/b/c/d.json", "\u65e5\u672c\u8a9e/\u30e1\u30e2.txt"):
            info = rest.info(f"{root}/{rel}").json()
            assert info["checksums"] == checksums(MANY_FILES[rel]), (rel, info.get("checksums"))
        out = repo.download_artifacts("", dst_path=dst)
        assert _read_tree(Path(out)) == MANY_FILES

    journal = _journal(target, root)
    if journal is None:
        return
    explodes, folder_gets = _explode_puts(journal), _folder_gets(journal)
    if features == "off":
        assert explodes == [] and folder_gets == [], (explodes, folder_gets)
        return
    if capabilities.has("pro"):
        assert explodes, "BATCH_UPLOAD=auto on a Pro server sent no exploding archive"
        if folder_download.enabled:
            assert folder_gets, "FOLDER_DOWNLOAD=auto with folder download on made no request"
