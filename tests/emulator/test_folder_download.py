"""Folder download as an archive over real HTTP (``GET /api/archive/download/...``): the
archive's content, its settings and limits, and its download slots."""

from __future__ import annotations

import base64
import io
import os
import socket
import tarfile
import threading
import zipfile
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import pytest
import requests
from emulator_support import EXPLODE, REPO, TREE, checksums, errors_of, make_tar


def download_url(fake_artifactory, folder: str, kind: str, extra: str = "") -> str:
    return f"{fake_artifactory.url}/api/archive/download/{REPO}/{folder}?archiveType={kind}{extra}"


def seed(session, base_url) -> None:
    for name, data in TREE.items():
        assert session.put(f"{base_url}/{REPO}/top/{name}", data=data).status_code == 201
    session.put(f"{base_url}/{REPO}/top/emptyfolder/")
    session.put(f"{base_url}/{REPO}/outside.txt", data=b"not included")


def read_archive(data: bytes, kind: str) -> dict[str, bytes]:
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None
            return {i.filename: zf.read(i) for i in zf.infolist()}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        out = {}
        for member in tar:
            assert member.isreg() and member.mode == 0o644
            out[member.name] = tar.extractfile(member).read()
        return out


SPECIAL = ["sp ace", "h#sh", "semi;colon", "pc%t", "pl+us", "ünï ☃"]


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


@pytest.mark.parametrize(
    ("kind", "ctype"),
    [
        ("tar", "application/x-tar"),
        ("zip", "application/zip"),
        ("tar.gz", "application/x-gzip"),
        ("tgz", "application/x-gzip"),
    ],
)
def test_folder_download_round_trip(fake_artifactory, session, kind, ctype):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download():
        resp = session.get(download_url(fake_artifactory, "top", kind), stream=True)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == ctype
        assert resp.headers["Transfer-Encoding"] == "chunked"
        assert f'filename="top.{kind}"' in resp.headers["Content-Disposition"]
        data = resp.content
    entries = read_archive(data, kind)
    assert list(entries) == sorted(TREE)
    assert entries == TREE


def test_folder_download_checksum_files_and_mtime(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download():
        extra = "&includeChecksumFiles=true"
        resp = session.get(download_url(fake_artifactory, "top/dir", "tar", extra))
    entries = read_archive(resp.content, "tar")
    data = TREE["dir/b.bin"]
    assert entries["b.bin.sha256"] == checksums(data)["sha256"].encode()
    assert entries["b.bin"] == data and "sub/deeper/c.txt" in entries
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        member = tar.getmember("b.bin")
    modified = session.head(f"{fake_artifactory.url}/{REPO}/top/dir/b.bin").headers
    assert int(parsedate_to_datetime(modified["Last-Modified"]).timestamp()) == member.mtime


def test_folder_download_checksum_entries_follow_the_checksum_policy(fake_artifactory, session):
    """Under the client-checksum policy a ``.sha1``/``.md5`` entry exists only when the
    client sent that checksum; ``.sha256`` always does."""
    base = f"{fake_artifactory.url}/{REPO}/cs"
    sums = checksums(b"sent")
    session.put(f"{base}/plain.bin", data=b"plain")
    session.put(f"{base}/sent.bin", data=b"sent", headers={"X-Checksum-Sha1": sums["sha1"]})
    with fake_artifactory.folder_download():
        extra = "&includeChecksumFiles=true"
        resp = session.get(download_url(fake_artifactory, "cs", "zip", extra))
    entries = read_archive(resp.content, "zip")
    assert sorted(entries) == [
        "plain.bin",
        "plain.bin.sha256",
        "sent.bin",
        "sent.bin.sha1",
        "sent.bin.sha256",
    ]
    assert entries["sent.bin.sha1"] == sums["sha1"].encode()


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


def test_folder_download_disabled_by_default(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    resp = session.get(download_url(fake_artifactory, "top", "zip"))
    assert errors_of(resp) == (403, "Download Folder functionality is disabled.")


def test_folder_download_errors(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download():
        missing = session.get(download_url(fake_artifactory, "nope", "zip"))
        assert errors_of(missing) == (
            404,
            f"Path '{REPO}/nope' does not exist, aborting folder download",
        )
        a_file = session.get(download_url(fake_artifactory, "top/a.txt", "zip"))
        assert errors_of(a_file) == (
            400,
            f"Path '{REPO}/top/a.txt' is not a folder, aborting folder download",
        )
        no_repo = session.get(f"{fake_artifactory.url}/api/archive/download/nope-local/x")
        assert errors_of(no_repo) == (404, "nope-local is not a repository.")
        status, message = errors_of(session.get(download_url(fake_artifactory, "top", "rar")))
        assert status == 400 and "rar" in message
        reader = requests.get(download_url(fake_artifactory, "top", "zip"), auth=("nobody", "x"))
        assert reader.status_code == 401
        default = session.get(f"{fake_artifactory.url}/api/archive/download/{REPO}/top")
        assert default.headers["Content-Type"] == "application/zip"


def test_folder_download_read_permission(make_server):
    from fake_artifactory.config import UserSpec

    server = make_server(
        folder_download=True,
        users=(UserSpec("admin", "password"), UserSpec("blind", "pw", frozenset({"deploy"}))),
    )
    url = f"{server.url}/api/archive/download/{REPO}/d?archiveType=tar"
    requests.put(f"{server.url}/{REPO}/d/a.txt", data=b"1", auth=("admin", "password"))
    resp = requests.get(url, auth=("blind", "pw"))
    assert errors_of(resp) == (
        403,
        f"You don't have the required permissions to download {REPO}/d.",
    )
    assert requests.get(url, auth=("admin", "password")).status_code == 200


def test_folder_download_by_an_anonymous_caller_is_401_unauthorized(make_server):
    """Folder download is not enabled for anonymous users (the default), even when they
    may read the folder."""
    server = make_server(folder_download=True, anonymous="read")
    requests.put(f"{server.url}/{REPO}/d/a.txt", data=b"1", auth=("admin", "password"))
    resp = requests.get(f"{server.url}/api/archive/download/{REPO}/d?archiveType=tar")
    assert errors_of(resp) == (401, "Unauthorized")
    assert resp.headers["WWW-Authenticate"] == 'Basic realm="Artifactory Realm"'


def test_folder_download_limits(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download(max_files=len(TREE) - 1):
        resp = session.get(download_url(fake_artifactory, "top", "tar"))
        assert errors_of(resp) == (
            400,
            f"Number of files under the path '{REPO}/top' ({len(TREE)}) exceeds the max "
            f"allowed file count for folder download ({len(TREE) - 1}).",
        )
    session.put(f"{fake_artifactory.url}/{REPO}/big/x.bin", data=b"x" * (3 * 1024 * 1024 // 2))
    with fake_artifactory.folder_download(max_size_mb=1):
        resp = session.get(download_url(fake_artifactory, "big", "tar"))
        assert errors_of(resp) == (
            400,
            f"Size of path '{REPO}/big' (1.50MB) exceeds the max allowed folder download "
            "size (1MB).",
        )
        assert session.get(download_url(fake_artifactory, "top", "tar")).status_code == 200


def test_folder_download_max_parallel(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/p/x.bin", data=b"x" * (4 * 1024 * 1024))
    with fake_artifactory.folder_download(max_parallel=1):
        first = session.get(download_url(fake_artifactory, "p", "tar"), stream=True)
        assert first.status_code == 200
        with requests.Session() as other:
            other.auth = fake_artifactory.auth
            second = other.get(download_url(fake_artifactory, "p", "tar"))
            assert errors_of(second) == (
                400,
                "There are too many folder download requests currently running. Try again later.",
            )
            assert len(first.content) > 4 * 1024 * 1024  # done: the slot is freed
            first.close()
            done = threading.Event()
            for _ in range(200):  # the server frees the slot once the response closed
                again = other.get(download_url(fake_artifactory, "p", "tar"))
                if again.status_code == 200:
                    done.set()
                    break
                done.wait(0.01)
            assert done.is_set()


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


def test_folder_download_journal_and_faults(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    fake_artifactory.clear_requests()
    with fake_artifactory.folder_download():
        rule = {"path": "api/archive/download/*", "status": 503, "times": 1}
        with fake_artifactory.faults(rule):
            assert session.get(download_url(fake_artifactory, "top", "tar")).status_code == 503
            assert session.get(download_url(fake_artifactory, "top", "tar")).status_code == 200
        rule = {"method": "PUT", "path": f"{REPO}/*.tar", "status": 500, "times": 1}
        with fake_artifactory.faults(rule):
            put = session.put(
                f"{fake_artifactory.url}/{REPO}/e/p.tar", data=make_tar(TREE), headers=EXPLODE
            )
            assert put.status_code == 500
    uris = [(e["method"], e["uri"]) for e in fake_artifactory.requests()]
    assert sum(1 for m, u in uris if m == "GET" and "/api/archive/download/" in u) == 2
    assert sum(1 for m, u in uris if m == "PUT" and u.endswith("/e/p.tar")) == 1


def test_folder_download_settings_control_plane(fake_artifactory):
    before = requests.get(f"{fake_artifactory.root_url}/_fake/settings/folder-download").json()
    assert before == {"enabled": False, "max_files": 5000, "max_size_mb": 1024, "max_parallel": 10}
    bad = requests.put(
        f"{fake_artifactory.root_url}/_fake/settings/folder-download", json={"max_files": -1}
    )
    assert bad.status_code == 400
    assert fake_artifactory.set_folder_download(enabled=True)["enabled"] is True
    # the server's own reset (not only the handle's) restores the start-up settings
    requests.post(f"{fake_artifactory.root_url}/_fake/reset").raise_for_status()
    assert fake_artifactory.state() is not None
    after = requests.get(f"{fake_artifactory.root_url}/_fake/settings/folder-download").json()
    assert after == before


def test_cli_flags_build_config():
    from fake_artifactory.config import EmulatorConfig

    cfg = EmulatorConfig.from_args(
        [
            "--folder-download",
            "--folder-download-max-files",
            "7",
            "--folder-download-max-size-mb",
            "2",
            "--folder-download-max-parallel",
            "3",
        ]
    )
    assert (cfg.folder_download, cfg.folder_download_max_files) == (True, 7)
    assert (cfg.folder_download_max_size_mb, cfg.folder_download_max_parallel) == (2, 3)
    assert EmulatorConfig.from_args([]).folder_download is False
