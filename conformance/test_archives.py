"""Archive transfers (Artifactory Pro): deploy from archive ("explode") and folder download.

Several expectations rest on medium/low-confidence facts (see docs/conformance.md): where
the exploded entries land, the status of an explode, the entry names of a folder archive
and the 403 of a disabled folder download. Each failure message says what was observed,
and observed statuses are recorded as test properties (``user_properties``, written to the
JUnit file).

Safety on a real server: every archive is deployed inside the test's own folder, the only
hostile entry name is ``../escape-<id>`` one level below that folder (so even a server that
followed it would write inside the test's folder), and the server's settings are never
changed (only the bundled emulator's, see :mod:`conformance.folder_download`).
"""

from __future__ import annotations

import uuid

import pytest

from conformance.archives import build_archive, parent_folders, read_archive
from conformance.checks import deploy_tree, walk
from conformance.client import RestClient, error_envelope
from conformance.fixtures import Observe
from conformance.folder_download import FolderDownload, folder_archive
from conformance.model import checksums
from conformance.paths import join

EXPLODE_ATOMIC = {"X-Explode-Archive-Atomic": "true"}
EXPLODE_PLAIN = {"X-Explode-Archive": "true"}

#: Entries of the archives deployed with explode: nested, Unicode, spaces, a long name
#: (beyond the 100-byte ustar name field) and an empty file.
ENTRIES: dict[str, bytes] = {
    "top.txt": b"top level\n",
    "nested/deeper/leaf.bin": bytes(range(256)),
    "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e \u30d5\u30a1\u30a4\u30eb.txt": (
        "\u3053\u3093\u306b\u3061\u306f\n".encode()
    ),
    "spaced dir/a file (1).txt": b"spaces and parentheses",
    "long/" + "n" * 120 + ".txt": b"a name longer than the ustar field",
    "empty.dat": b"",
}


def _files_under(rest: RestClient, folder: str) -> set[str]:
    """Files below ``folder`` (empty when the folder does not exist)."""
    if rest.info(folder).status_code == 404:
        return set()
    return walk(rest, folder)[0]


def _assert_exploded(rest: RestClient, area: str, archive_name: str) -> None:
    """Every entry is at ``<area>/x/<entry>`` with the right checksums; nothing else is."""
    expected = {join("x", name) for name in ENTRIES}
    found = _files_under(rest, area)
    assert found == expected, (
        f"exploding x/{archive_name} was expected to deploy each entry relative to the "
        f"archive's parent folder x/ and not to store the archive; observed files below "
        f"the test folder: {sorted(found)}; expected: {sorted(expected)}"
    )
    for name, data in ENTRIES.items():
        r = rest.info(join(area, "x", name))
        assert r.status_code == 200, (name, r.status_code, r.text[:300])
        info = r.json()
        assert info["checksums"] == checksums(data), (name, info.get("checksums"))
        assert info["size"] == str(len(data)), (name, info.get("size"))
    assert rest.info(join(area, "x", archive_name)).status_code == 404


@pytest.mark.requires("pro")
@pytest.mark.parametrize(
    ("kind", "headers"),
    [("tar", EXPLODE_ATOMIC), ("zip", EXPLODE_PLAIN), ("tar", EXPLODE_PLAIN)],
    ids=["tar-atomic", "zip-plain", "tar-plain"],
)
def test_explode_deploys_every_entry_relative_to_the_archive_folder(
    rest: RestClient,
    area: str,
    kind: str,
    headers: dict[str, str],
    observe: Observe,
) -> None:
    name = f"batch.{kind}"
    body = build_archive(kind, ENTRIES, parent_folders(ENTRIES))
    r = rest.deploy(join(area, "x", name), body, headers)
    observe("explode_status", r.status_code)
    observe("explode_body_bytes", len(r.content))
    assert r.status_code in (200, 201, 202), (
        f"explode deploy answered HTTP {r.status_code} (expected 200, 201 or 202): {r.text[:300]}"
    )
    _assert_exploded(rest, area, name)


@pytest.mark.requires("pro")
def test_explode_overwrites_existing_files(rest: RestClient, area: str) -> None:
    assert rest.deploy(join(area, "x", "top.txt"), b"old content").status_code == 201
    body = build_archive("tar", ENTRIES, parent_folders(ENTRIES))
    r = rest.deploy(join(area, "x", "batch.tar"), body, EXPLODE_ATOMIC)
    assert r.status_code in (200, 201, 202), (r.status_code, r.text[:300])
    assert rest.download(join(area, "x", "top.txt")).content == ENTRIES["top.txt"]


@pytest.mark.requires("pro")
@pytest.mark.parametrize(
    ("kind", "headers"),
    [
        ("tar", EXPLODE_ATOMIC),
        ("zip", EXPLODE_ATOMIC),
        ("tar", EXPLODE_PLAIN),
        ("zip", EXPLODE_PLAIN),
    ],
    ids=["tar-atomic", "zip-atomic", "tar-plain", "zip-plain"],
)
def test_explode_refuses_an_entry_escaping_the_folder(
    rest: RestClient,
    area: str,
    kind: str,
    headers: dict[str, str],
    observe: Observe,
) -> None:
    escape = f"escape-{uuid.uuid4().hex[:8]}.txt"
    # A valid entry before and after the hostile one: a non-atomic server may deploy those.
    entries = {"ok.txt": b"ok", f"../{escape}": b"escaped", "z-after.txt": b"after"}
    name = f"bad.{kind}"
    r = rest.deploy(join(area, "x", name), build_archive(kind, entries), headers)
    observe("explode_refusal_status", r.status_code)
    found = _files_under(rest, area)
    observe("explode_refusal_left", sorted(found))
    assert 400 <= r.status_code < 500, (
        f"an archive with the entry '../{escape}' answered HTTP {r.status_code}, expected "
        f"a 4xx refusal; files now below the test folder: {sorted(found)}"
    )
    assert not any(escape in path for path in found), sorted(found)
    assert rest.info(join(area, escape)).status_code == 404
    assert join("x", name) not in found, sorted(found)
    if "X-Explode-Archive-Atomic" in headers:
        assert found == set(), (
            f"an atomic explode that was refused (HTTP {r.status_code}) left files "
            f"behind: {sorted(found)}"
        )


# -- folder download ---------------------------------------------------------------------

FOLDER_FILES: dict[str, bytes] = {
    "a.txt": b"alpha\n",
    "sub/b.bin": bytes(range(200)) * 3,
    "sub/deeper/c.txt": b"gamma",
    "\u00fcn\u00efc\u00f8d\u00e9 dir/\u4e2d\u6587 name.txt": "\u00e9t\u00e9\n".encode(),
    "empty.dat": b"",
}
#: Around the folder: must never appear in its archive (a sibling shares its name prefix).
OUTSIDE_FILES: dict[str, bytes] = {"outside.txt": b"outside", "folder-sibling/s.txt": b"s"}
CONTENT_TYPES = {"tar": "application/x-tar", "zip": "application/zip"}


@pytest.fixture
def folder_tree(rest: RestClient, area: str) -> str:
    """``<area>/folder`` holding FOLDER_FILES, with OUTSIDE_FILES around it."""
    files = {join("folder", p): d for p, d in FOLDER_FILES.items()}
    deploy_tree(rest, area, {**files, **OUTSIDE_FILES}, [])
    return join(area, "folder")


@pytest.mark.requires("pro")
def test_folder_download_when_disabled_is_403_with_an_error_envelope(
    rest: RestClient,
    folder_download: FolderDownload,
    folder_tree: str,
    observe: Observe,
) -> None:
    observe("folder_download_probe_status", folder_download.status)
    if folder_download.enabled:
        pytest.skip("folder download is enabled on this server")
    r = folder_archive(rest, folder_tree, "zip")
    observe("folder_download_disabled_status", r.status_code)
    assert r.status_code == 403, (
        f"folder download answered HTTP {r.status_code}; a server with the feature "
        f"disabled is expected to answer 403: {r.text[:300]}"
    )
    err = error_envelope(r)
    observe("folder_download_disabled_message", err["message"])


@pytest.mark.requires("pro")
@pytest.mark.parametrize("archive_type", ["tar", "zip"])
def test_folder_archive_holds_the_folder_files_named_relative_to_it(
    rest: RestClient,
    folder_download: FolderDownload,
    folder_tree: str,
    archive_type: str,
    observe: Observe,
) -> None:
    folder_download.require_enabled()
    r = folder_archive(rest, folder_tree, archive_type)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    content_type = r.headers.get("Content-Type", "")
    observe("content_type", content_type)
    observe("content_disposition", r.headers.get("Content-Disposition", ""))
    assert content_type.startswith(CONTENT_TYPES[archive_type]), content_type
    content = read_archive(archive_type, r.content)
    observe("entry_names", content.names)
    assert set(content.files) == set(FOLDER_FILES), (
        f"the {archive_type} archive of '{folder_tree}' was expected to hold one entry per "
        f"file named relative to the requested folder (no folder name, no leading '/'); "
        f"observed entries {content.describe()}; expected files {sorted(FOLDER_FILES)}"
    )
    for name, data in FOLDER_FILES.items():
        assert content.files[name] == data, f"bytes of entry {name!r} differ"


@pytest.mark.requires("pro")
def test_folder_archive_of_a_missing_folder_is_404(
    rest: RestClient, folder_download: FolderDownload, area: str
) -> None:
    folder_download.require_enabled()
    deploy_tree(rest, area, {}, [])
    r = folder_archive(rest, join(area, "no such folder"), "zip")
    assert r.status_code == 404, (r.status_code, r.text[:300])


@pytest.mark.requires("pro")
def test_folder_archive_of_a_file_is_refused(
    rest: RestClient,
    folder_download: FolderDownload,
    folder_tree: str,
    observe: Observe,
) -> None:
    folder_download.require_enabled()
    r = folder_archive(rest, join(folder_tree, "a.txt"), "zip")
    observe("file_path_status", r.status_code)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
