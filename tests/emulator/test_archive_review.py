"""Review of the archive features: hostile explode deploys, folder download edge cases.

Complements ``test_archive.py``; every server test talks to a started emulator over HTTP.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
import socket
import tarfile
import threading
import tracemalloc
import zipfile
from urllib.parse import quote

import pytest
import requests
from emulator_support import REPO, errors_of
from test_archive import download_url, make_tar, make_zip, read_archive, tree_paths

from fake_artifactory.core import archive

EXPLODE = {"X-Explode-Archive": "true"}


def gnu_tar(*members: tuple[tarfile.TarInfo, bytes | None], encoding: str = "utf-8") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding=encoding) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name: str, data: bytes | None = b"", kind: bytes = tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if data is not None and kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def leftovers(server) -> list[str]:
    return [p.name for p in server.emulator.store.tmp_dir.iterdir()]


# -- explode: pure reader -------------------------------------------------------------------


def test_reading_many_entries_keeps_memory_flat():
    """A small tar.gz of many empty entries must not cost memory per entry read."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(15_000):
            tar.addfile(tarfile.TarInfo(f"d{i % 50}/f{i}"), io.BytesIO(b""))
    data = buf.getvalue()
    tracemalloc.start()
    try:
        count = sum(1 for _ in archive.read_entries(io.BytesIO(data), "tar.gz"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 15_000
    assert peak < 4 * 1024 * 1024  # ~9 MB when TarFile kept every member


# -- explode: hostile archives over HTTP ------------------------------------------------------


def test_explode_duplicates_last_wins_and_special_entries_skipped(
    fake_artifactory, fake_artifactory_server, session
):
    body = gnu_tar(
        member("a.txt", b"first"),
        member("fifo", kind=tarfile.FIFOTYPE),
        member("chr", kind=tarfile.CHRTYPE),
        member("blk", kind=tarfile.BLKTYPE),
        member("../link", kind=tarfile.SYMTYPE),
        member("./", kind=tarfile.DIRTYPE),
        member("a.txt", b"second"),
    )
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/p.tar", data=body, headers=EXPLODE)
    assert resp.status_code == 200, resp.text
    assert tree_paths(fake_artifactory) == {"t", "t/a.txt"}
    assert session.get(f"{fake_artifactory.url}/{REPO}/t/a.txt").content == b"second"
    assert leftovers(fake_artifactory_server) == []


def _big_tgz() -> bytes:
    return make_tar({"ok.txt": b"1", "big.bin": os.urandom(600_000)}, gz=True)


def _corrupt_zip() -> bytes:
    data = bytearray(make_zip({"a.txt": os.urandom(50_000)}))
    start = data.index(b"a.txt") + 40
    data[start : start + 64] = bytes(64)
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("p.tar", gnu_tar(member("caf\xe9.txt", b"1"), encoding="latin-1"), "utf-8"),
        ("p.tar", gnu_tar(member("ok", b"1"), member("a\x01b", b"2")), "Control character"),
        ("p.tar", gnu_tar(member("ok", b"1"), member("a\\b", b"2")), "not a valid name"),
        ("p.tar", gnu_tar(member("ok", b"1"), member(" lead", b"2")), "whitespace"),
        ("p.tar", gnu_tar(member("../", kind=tarfile.DIRTYPE)), "outside"),
        ("p.tar", b"", "Corrupt tar"),
        ("p.tar", gzip.compress(make_tar({"a": b"1"})), "Corrupt tar"),
        ("p.tgz", make_zip({"a": b"1"}), "Corrupt tar.gz"),
        ("p.zip", make_tar({"a": b"1"}), "Corrupt zip"),
        ("p.tgz", _big_tgz()[:-200_000], "Corrupt"),
        ("p.zip", _corrupt_zip(), "Corrupt"),
    ],
    ids=[
        "latin1-name",
        "control-char",
        "backslash",
        "leading-space",
        "dotdot-dir",
        "empty-body",
        "gzip-claiming-tar",
        "zip-claiming-tgz",
        "tar-claiming-zip",
        "truncated-in-data",
        "zip-bad-crc",
    ],
)
def test_explode_refusals_publish_nothing(
    fake_artifactory, fake_artifactory_server, session, name, body, words
):
    store = fake_artifactory_server.emulator.store
    blobs_before = sorted(store.blob_dir.rglob("*"))
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/{name}", data=body, headers=EXPLODE)
    status, message = errors_of(resp)
    assert status == 400 and words in message
    assert tree_paths(fake_artifactory) == set()
    assert sorted(store.blob_dir.rglob("*")) == blobs_before
    assert leftovers(fake_artifactory_server) == []


def test_explode_directory_entry_over_a_file_rolls_back(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    assert session.put(f"{url}/t/x", data=b"file").status_code == 201
    body = gnu_tar(member("new.txt", b"1"), member("x/", kind=tarfile.DIRTYPE))
    status, _ = errors_of(session.put(f"{url}/t/p.tar", data=body, headers=EXPLODE))
    assert status == 400
    assert tree_paths(fake_artifactory) == {"t", "t/x"}
    assert session.get(f"{url}/t/x").content == b"file"


def test_explode_empty_archive_is_a_no_op(fake_artifactory, session):
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/p.tar", data=gnu_tar(), headers=EXPLODE)
    assert resp.status_code == 200 and resp.content == b""
    assert tree_paths(fake_artifactory) == set()


def test_explode_by_a_deployer_into_existing_folders_and_new_files(fake_artifactory, session):
    """Without DELETE, folders that exist already and new files are fine."""
    url = f"{fake_artifactory.url}/{REPO}"
    session.put(f"{url}/t/sub/")
    body = make_tar({"sub/new.txt": b"n"})
    resp = requests.put(f"{url}/t/p.tar", data=body, headers=EXPLODE, auth=("deployer", "deploypw"))
    assert resp.status_code == 200, resp.text
    info = session.get(f"{fake_artifactory.url}/api/storage/{REPO}/t/sub/new.txt").json()
    assert info["createdBy"] == "deployer"


# -- folder download ---------------------------------------------------------------------------

SPECIAL = ["sp ace", "h#sh", "semi;colon", "pc%t", "pl+us", "ünï ☃"]


def test_folder_download_special_names_and_prefix_siblings(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    for folder in SPECIAL:
        put = session.put(f"{url}/{quote(folder)}/{quote(folder)}.txt", data=folder.encode())
        assert put.status_code == 201
    for sibling in ("top/in.txt", "top/sub/deep.txt", "top-/x", "top0/x", "topX/x"):
        session.put(f"{url}/{sibling}", data=b"s")
    with fake_artifactory.folder_download():
        for folder in SPECIAL:
            resp = session.get(download_url(fake_artifactory, quote(folder), "tar"))
            assert resp.status_code == 200, (folder, resp.text)
            assert read_archive(resp.content, "tar") == {f"{folder}.txt": folder.encode()}
            assert f"filename*=UTF-8''{quote(folder)}.tar" in resp.headers["Content-Disposition"]
        resp = session.get(download_url(fake_artifactory, "top", "zip"))
        assert read_archive(resp.content, "zip") == {"in.txt": b"s", "sub/deep.txt": b"s"}


def test_folder_download_repo_root_and_empty_folder(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    session.put(f"{url}/a/b.txt", data=b"b")
    session.put(f"{url}/empty/")
    with fake_artifactory.folder_download():
        root = session.get(f"{fake_artifactory.url}/api/archive/download/{REPO}?archiveType=tgz")
        assert root.status_code == 200
        assert f'filename="{REPO}.tgz"' in root.headers["Content-Disposition"]
        assert read_archive(root.content, "tgz") == {"a/b.txt": b"b"}
        for kind in ("tar", "zip", "tar.gz"):
            empty = session.get(download_url(fake_artifactory, "empty", kind))
            assert empty.status_code == 200
            assert read_archive(empty.content, kind) == {}
        missing = session.get(f"{fake_artifactory.url}/api/archive/download/nope/a?archiveType=tar")
        assert errors_of(missing)[0] == 404
        head = session.head(download_url(fake_artifactory, "a", "tar"))
        assert head.status_code == 501  # documented in docs/fidelity.md


def _open_and_abandon(fake_artifactory, folder: str) -> None:
    """Start a folder download, read a few bytes of the answer and hang up."""
    port = int(fake_artifactory.root_url.rsplit(":", 1)[1])
    auth = base64.b64encode(b"admin:password").decode()
    target = f"/artifactory/api/archive/download/{REPO}/{folder}?archiveType=tar"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n\r\n".encode()
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 200")


def test_folder_download_slot_freed_when_client_hangs_up(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/big/x.bin", data=b"x" * (6 * 1024 * 1024))
    with fake_artifactory.folder_download(max_parallel=1):
        for _ in range(3):
            _open_and_abandon(fake_artifactory, "big")
            freed = threading.Event()
            for _ in range(500):  # the server notices the hang-up on its next write
                if session.get(download_url(fake_artifactory, "big", "tar")).status_code == 200:
                    freed.set()
                    break
                freed.wait(0.01)
            assert freed.is_set()


@pytest.mark.parametrize(
    "rule",
    [{"truncate_after": 100}, {"reset": "mid_body"}, {"truncate_after": 0}, {"reset": "before"}],
)
def test_folder_download_slot_freed_after_fault(fake_artifactory, session, rule):
    session.put(f"{fake_artifactory.url}/{REPO}/f/x.bin", data=b"x" * (2 * 1024 * 1024))
    url = download_url(fake_artifactory, "f", "tar")
    with fake_artifactory.folder_download(max_parallel=1):
        with fake_artifactory.faults({"path": "api/archive/download/*", "times": 1, **rule}):
            with pytest.raises(requests.RequestException):
                session.get(url).raise_for_status()
        freed = threading.Event()
        for _ in range(500):
            if session.get(url).status_code == 200:
                freed.set()
                break
            freed.wait(0.01)
        assert freed.is_set()


def test_zip_writer_sizes_and_times(fake_artifactory, session):
    data = os.urandom(300_000)
    session.put(f"{fake_artifactory.url}/{REPO}/z/r.bin", data=data)
    with fake_artifactory.folder_download():
        resp = session.get(download_url(fake_artifactory, "z", "zip"))
    with zipfile.ZipFile(io.BytesIO(resp.content)) as zf:
        (info,) = zf.infolist()
        assert (info.filename, info.file_size) == ("r.bin", len(data))
        assert info.date_time >= (2020, 1, 1, 0, 0, 0)
        assert zf.read(info) == data
