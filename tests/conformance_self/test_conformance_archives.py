"""Pure archive helpers and the folder-download guard of the conformance suite."""

from __future__ import annotations

import pytest

from conformance.archives import build_archive, parent_folders, read_archive
from conformance.client import RestClient
from conformance.config import Credentials, TargetConfig
from conformance.folder_download import (
    DISABLED_REASON,
    FolderDownload,
    emulator_folder_download,
    folder_archive_url,
)
from conformance.targets import Target

FILES = {
    "a.txt": b"a",
    "n/d/\u65e5\u672c.bin": bytes(range(256)),
    "long/" + "x" * 150: b"long",
    "empty": b"",
}


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_archives_round_trip_names_bytes_and_folders(kind: str) -> None:
    content = read_archive(kind, build_archive(kind, FILES, parent_folders(FILES)))
    assert content.files == FILES
    assert [n for n in content.names if n.endswith("/")] == ["long/", "n/", "n/d/"]


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_hostile_names_are_written_verbatim(kind: str) -> None:
    content = read_archive(kind, build_archive(kind, {"ok": b"1", "../escape": b"2"}))
    assert content.names == ["ok", "../escape"]


def test_parent_folders_lists_ancestors_parents_first() -> None:
    assert parent_folders(["a/b/c.txt", "a/d.txt", "top"]) == ["a", "a/b"]


def test_folder_archive_url_encodes_every_segment() -> None:
    client = RestClient("https://h/artifactory", "repo", Credentials())
    url = folder_archive_url(client, "run/a b/#x")
    assert url == "https://h/artifactory/api/archive/download/repo/run/a%20b/%23x"


def test_disabled_folder_download_skips_with_the_admin_reason() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"admin setting"):
        FolderDownload(
            "fd-server", 403, "Download Folder functionality is disabled."
        ).require_enabled()
    assert DISABLED_REASON == "folder download disabled on this server (admin setting)"
    FolderDownload("fd-server", 200).require_enabled()  # no skip


def test_settings_of_a_remote_server_are_never_changed() -> None:
    config = TargetConfig(url="https://artifactory.example.com/artifactory")
    client = RestClient(config.url or "", config.repo, Credentials(token="t"))
    target = Target(config, client, "remote")
    with pytest.raises(RuntimeError, match="only the bundled emulator"):
        with emulator_folder_download(target, enabled=True):
            pass
    assert client.request_count == 0
