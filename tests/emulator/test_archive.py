"""Archive transfers over real HTTP: explode deploy and folder download as an archive."""

from __future__ import annotations

import hashlib
import io
import tarfile
import threading
import zipfile
from email.utils import parsedate_to_datetime

import pytest
import requests
from emulator_support import REPO, errors_of

from fake_artifactory.core import archive

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


def assert_tree(session, base_url, files, prefix="") -> None:
    for name, data in files.items():
        resp = session.get(f"{base_url}/{REPO}/{prefix}{name}")
        assert resp.status_code == 200, name
        assert resp.content == data
        info = session.get(f"{base_url}/api/storage/{REPO}/{prefix}{name}").json()
        assert info["checksums"] == checksums(data)
        assert info["size"] == str(len(data))
        assert info["createdBy"] == "admin"


def tree_paths(fake_artifactory) -> set[str]:
    return set(fake_artifactory.state()["repos"][REPO]["items"])


# -- explode ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["tar", "tar.gz", "tgz", "zip"])
def test_explode_round_trip(fake_artifactory, session, ext):
    body = make_zip(TREE) if ext == "zip" else make_tar(TREE, gz=ext != "tar")
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/run/1/bundle.{ext}",
        data=body,
        headers={**EXPLODE, "X-Checksum-Sha256": hashlib.sha256(body).hexdigest()},
    )
    assert resp.status_code == 200, resp.text
    assert resp.content == b""
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert_tree(session, fake_artifactory.url, TREE, prefix="run/1/")
    paths = tree_paths(fake_artifactory)
    assert f"run/1/bundle.{ext}" not in paths
    assert paths >= {"run/1/dir/sub/deeper", "run/1/long"}
    if ext == "zip":
        assert (
            fake_artifactory.state()["repos"][REPO]["items"]["run/1/emptydir"]["type"] == "folder"
        )


def test_explode_at_repo_root_and_atomic_header(fake_artifactory, session):
    big = bytes(range(251)) * 10_000
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/x.tar",
        data=make_tar({"top.txt": b"1", "d/e.txt": big}),
        headers={"X-Explode-Archive-Atomic": "TRUE"},
    )
    assert resp.status_code == 200
    assert tree_paths(fake_artifactory) == {"top.txt", "d", "d/e.txt"}
    assert_tree(session, fake_artifactory.url, {"d/e.txt": big})  # spans several chunks


def test_explode_overwrites_and_skips_links(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}/f"
    session.put(f"{url}/a.txt", data=b"old")
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "a.txt"
    body = make_tar({"a.txt": b"new"}, extra=[link, hard])
    assert session.put(f"{url}/p.tar", data=body, headers=EXPLODE).status_code == 200
    assert session.get(f"{url}/a.txt").content == b"new"
    assert tree_paths(fake_artifactory) == {"f", "f/a.txt"}


@pytest.mark.parametrize(
    "bad_name", ["../escape.txt", "a/../../escape.txt", "/abs.txt", "bad|name.txt"]
)
def test_explode_is_all_or_nothing(fake_artifactory, fake_artifactory_server, session, bad_name):
    store = fake_artifactory_server.emulator.store
    blobs_before = sorted(store.blob_dir.rglob("*"))
    body = make_tar({"good.txt": b"1", bad_name: b"2", "z.txt": b"3"})
    resp = session.put(f"{fake_artifactory.url}/{REPO}/d/p.tar", data=body, headers=EXPLODE)
    assert errors_of(resp)[0] == 400
    assert tree_paths(fake_artifactory) == set()
    assert sorted(store.blob_dir.rglob("*")) == blobs_before  # nothing published
    assert [p for p in store.tmp_dir.iterdir() if p.name.startswith("upload-")] == []


def test_explode_conflict_rolls_back(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/d/clash", data=b"file")
    body = make_tar({"ok.txt": b"1", "clash/inner.txt": b"2"})
    resp = session.put(f"{fake_artifactory.url}/{REPO}/d/p.tar", data=body, headers=EXPLODE)
    assert errors_of(resp)[0] == 400
    assert tree_paths(fake_artifactory) == {"d", "d/clash"}


def test_explode_corrupt_or_unknown_archive(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    assert errors_of(session.put(f"{url}/p.zip", data=b"not a zip", headers=EXPLODE))[0] == 400
    assert errors_of(session.put(f"{url}/p.tgz", data=b"not gzip", headers=EXPLODE))[0] == 400
    truncated = make_tar({"a.txt": b"x" * 5000})[:1000]
    assert errors_of(session.put(f"{url}/p.tar", data=truncated, headers=EXPLODE))[0] == 400
    assert errors_of(session.put(f"{url}/p.rar", data=b"x", headers=EXPLODE))[0] == 400
    assert tree_paths(fake_artifactory) == set()


def test_explode_checksum_mismatch_like_a_deploy(fake_artifactory, session):
    body = make_tar({"a.txt": b"1"})
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/p.tar",
        data=body,
        headers={**EXPLODE, "X-Checksum-Sha1": "0" * 40},
    )
    status, message = errors_of(resp)
    assert status == 409 and f"'{REPO}:p.tar'" in message
    assert tree_paths(fake_artifactory) == set()


def test_explode_permissions(fake_artifactory):
    url = f"{fake_artifactory.url}/{REPO}"
    body = make_tar({"a.txt": b"1"})
    reader = ("reader", "readpw")
    deployer = ("deployer", "deploypw")
    assert requests.put(f"{url}/p.tar", data=body, headers=EXPLODE, auth=reader).status_code == 403
    resp = requests.put(f"{url}/p.tar", data=body, headers=EXPLODE, auth=deployer)
    assert resp.status_code == 200
    # overwriting needs DELETE, which the deployer lacks: nothing changes
    body2 = make_tar({"a.txt": b"2", "b.txt": b"3"})
    resp = requests.put(f"{url}/p.tar", data=body2, headers=EXPLODE, auth=deployer)
    assert resp.status_code == 403
    assert tree_paths(fake_artifactory) == {"a.txt"}


def test_oss_ignores_explode_header_and_refuses_folder_download(make_server):
    server = make_server(edition="oss", folder_download=True)
    auth = ("admin", "password")
    body = make_tar({"a.txt": b"1"})
    resp = requests.put(f"{server.url}/{REPO}/p.tar", data=body, headers=EXPLODE, auth=auth)
    assert resp.status_code == 201
    assert requests.get(f"{server.url}/{REPO}/p.tar", auth=auth).content == body
    assert requests.get(f"{server.url}/{REPO}/a.txt", auth=auth).status_code == 404
    resp = requests.get(f"{server.url}/api/archive/download/{REPO}/?archiveType=tar", auth=auth)
    assert errors_of(resp) == (400, "This REST API is available only in Artifactory Pro.")


# -- folder download ------------------------------------------------------------------------


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
    info = session.get(f"{fake_artifactory.url}/api/storage/{REPO}/top/dir/b.bin").json()
    with fake_artifactory.folder_download():
        extra = "&includeChecksumFiles=true"
        resp = session.get(download_url(fake_artifactory, "top/dir", "tar", extra))
    entries = read_archive(resp.content, "tar")
    data = TREE["dir/b.bin"]
    for alg, value in checksums(data).items():
        assert entries[f"b.bin.{alg}"] == value.encode()
    assert entries["b.bin"] == data and "sub/deeper/c.txt" in entries
    with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
        member = tar.getmember("b.bin")
    del info
    modified = session.head(f"{fake_artifactory.url}/{REPO}/top/dir/b.bin").headers
    assert int(parsedate_to_datetime(modified["Last-Modified"]).timestamp()) == member.mtime


def test_folder_download_disabled_by_default(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    resp = session.get(download_url(fake_artifactory, "top", "zip"))
    assert errors_of(resp) == (403, "Download Folder functionality is disabled.")


def test_folder_download_errors(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download():
        assert errors_of(session.get(download_url(fake_artifactory, "nope", "zip")))[0] == 404
        assert errors_of(session.get(download_url(fake_artifactory, "top/a.txt", "zip")))[0] == 400
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
    assert resp.status_code == 403
    assert "forbidden" in errors_of(resp)[1]
    assert requests.get(url, auth=("admin", "password")).status_code == 200


def test_folder_download_limits(fake_artifactory, session):
    seed(session, fake_artifactory.url)
    with fake_artifactory.folder_download(max_files=len(TREE) - 1):
        status, message = errors_of(session.get(download_url(fake_artifactory, "top", "tar")))
        assert status == 400 and f"({len(TREE) - 1})" in message
    session.put(f"{fake_artifactory.url}/{REPO}/big/x.bin", data=b"x" * (1024 * 1024 + 1))
    with fake_artifactory.folder_download(max_size_mb=1):
        status, message = errors_of(session.get(download_url(fake_artifactory, "big", "tar")))
        assert status == 400 and "(1 MB)" in message
        assert session.get(download_url(fake_artifactory, "top", "tar")).status_code == 200


def test_folder_download_max_parallel(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/p/x.bin", data=b"x" * (4 * 1024 * 1024))
    with fake_artifactory.folder_download(max_parallel=1):
        first = session.get(download_url(fake_artifactory, "p", "tar"), stream=True)
        assert first.status_code == 200
        with requests.Session() as other:
            other.auth = fake_artifactory.auth
            second = other.get(download_url(fake_artifactory, "p", "tar"))
            assert errors_of(second)[0] == 429
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


def test_archive_type_names():
    assert archive.kind_of_name("x.TGZ") == "tar.gz"
    assert archive.kind_of_name("x.tar.gz") == "tar.gz"
    assert archive.kind_of_name("x.gz") is None
    with pytest.raises(archive.ArchiveError):
        archive.archive_type("7z")
