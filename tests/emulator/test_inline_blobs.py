"""Small blobs kept inside SQLite (inline) instead of one file each, over real HTTP.

A PUT with a Content-Length of at most ``INLINE_BLOB_MAX`` bytes, and every small member
of an exploded archive, is committed with its metadata in one transaction and gets no
blob file; everything that reads content (GET, ranges, checksum deploy, folder download,
snapshots, garbage collection, a restart on the same data dir) must not notice.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
import tarfile
from pathlib import Path

import pytest
import requests
from emulator_support import EXPLODE, REPO, make_tar

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer
from fake_artifactory.store.blobs import INLINE_BLOB_MAX
from fake_artifactory.store.schema import SCHEMA_VERSION
from fake_artifactory.web import archives


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _blob_files(store) -> set[str]:
    return {p.name for p in store.blob_dir.glob("*/*") if p.is_file()}


def test_small_put_has_no_blob_file_and_reads_back(
    fake_artifactory, fake_artifactory_server, session, repo_url
):
    store = fake_artifactory_server.emulator.store
    small = bytes(range(256)) * 16
    edge = b"e" * INLINE_BLOB_MAX
    big = b"b" * (INLINE_BLOB_MAX + 1)
    for name, data in (("small.bin", small), ("edge.bin", edge), ("big.bin", big)):
        resp = session.put(f"{repo_url}/d/{name}", data=data)
        assert resp.status_code == 201, resp.text
        assert resp.json()["checksums"]["sha256"] == _sha256(data)
    files = _blob_files(store)
    assert _sha256(small) not in files and _sha256(edge) not in files
    assert _sha256(big) in files
    assert {_sha256(small), _sha256(edge), _sha256(big)} <= store.stored_blobs()
    for name, data in (("small.bin", small), ("edge.bin", edge), ("big.bin", big)):
        got = session.get(f"{repo_url}/d/{name}")
        assert got.status_code == 200 and got.content == data
        assert got.headers["X-Checksum-Sha256"] == _sha256(data)
    ranged = session.get(f"{repo_url}/d/small.bin", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == small[10:20]
    multi = session.get(f"{repo_url}/d/small.bin", headers={"Range": "bytes=0-1,-2"})
    assert multi.status_code == 206 and small[:2] in multi.content and small[-2:] in multi.content
    head = session.head(f"{repo_url}/d/small.bin")
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(small))


def test_chunked_small_put_still_round_trips(session, repo_url):
    def body():
        yield b"chunked "
        yield b"body"

    assert session.put(f"{repo_url}/c.txt", data=body()).status_code == 201
    assert session.get(f"{repo_url}/c.txt").content == b"chunked body"


def test_checksum_deploy_finds_an_inline_blob(session, repo_url):
    data = b"deploy me by checksum"
    assert session.put(f"{repo_url}/orig.txt", data=data).status_code == 201
    resp = session.put(
        f"{repo_url}/copy.txt",
        headers={"X-Checksum-Deploy": "true", "X-Checksum-Sha256": _sha256(data)},
    )
    assert resp.status_code == 201, resp.text
    assert session.get(f"{repo_url}/copy.txt").content == data


def test_exploded_small_members_are_inline_and_big_ones_files(
    fake_artifactory, fake_artifactory_server, session, repo_url
):
    store = fake_artifactory_server.emulator.store
    members = {
        "a.txt": b"alpha",
        "dir/b.bin": bytes(range(256)) * 8,
        "dir/big.bin": b"B" * (3 * INLINE_BLOB_MAX),
        "empty.txt": b"",
    }
    resp = session.put(f"{repo_url}/x/up.tar", data=make_tar(members), headers=EXPLODE)
    assert resp.status_code == 200, resp.text
    files = _blob_files(store)
    assert files == {_sha256(members["dir/big.bin"])}
    for name, data in members.items():
        got = session.get(f"{repo_url}/x/{name}")
        assert got.status_code == 200 and got.content == data, name


def test_folder_download_reads_inline_blobs(make_server):
    server = make_server(tokens=("t",), repos=(REPO,), folder_download=True)
    with requests.Session() as s:
        s.headers["Authorization"] = "Bearer t"
        repo_url = f"{server.url}/{REPO}"
        data = {"f/one.txt": b"one", "f/sub/two.bin": bytes(range(200))}
        for name, body in data.items():
            assert s.put(f"{repo_url}/{name}", data=body).status_code == 201
        resp = s.get(f"{server.url}/api/archive/download/{REPO}/f?archiveType=tar")
        assert resp.status_code == 200, resp.text
        with tarfile.open(fileobj=io.BytesIO(resp.content)) as tar:
            got = {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar
                if m.isfile()
            }
    assert {k.removeprefix("f/"): v for k, v in data.items()} == {
        k.lstrip("./").removeprefix("f/"): v for k, v in got.items()
    }


def test_garbage_collection_drops_unreferenced_inline_blobs(
    fake_artifactory, fake_artifactory_server, session, repo_url
):
    store = fake_artifactory_server.emulator.store
    assert session.put(f"{repo_url}/keep.txt", data=b"keep").status_code == 201
    assert session.put(f"{repo_url}/gone.txt", data=b"gone").status_code == 201
    assert session.delete(f"{repo_url}/gone.txt").status_code == 204
    assert store.collect_garbage() == 1
    assert store.stored_blobs() == {_sha256(b"keep")}
    assert session.get(f"{repo_url}/keep.txt").content == b"keep"
    store.reset()
    assert store.stored_blobs() == set()


def test_snapshot_round_trip_carries_inline_blobs(fake_artifactory, session, repo_url):
    assert session.put(f"{repo_url}/s/one.txt", data=b"snapshot me").status_code == 201
    snap = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot", timeout=30)
    assert snap.status_code == 200
    requests.post(f"{fake_artifactory.root_url}/_fake/reset", timeout=30).raise_for_status()
    assert session.get(f"{repo_url}/s/one.txt").status_code == 404
    resp = requests.post(f"{fake_artifactory.root_url}/_fake/snapshot", data=snap.content)
    assert resp.status_code == 200, resp.text
    assert session.get(f"{repo_url}/s/one.txt").content == b"snapshot me"


def test_inline_blobs_survive_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    config = EmulatorConfig(port=0, tokens=("t",), repos=(REPO,), data_dir=tmp_path / "data")
    auth = {"Authorization": "Bearer t"}
    first = ThreadedServer(config).start()
    try:
        resp = requests.put(f"{first.url}/{REPO}/p.txt", data=b"persisted", headers=auth)
        assert resp.status_code == 201
    finally:
        first.stop()
    second = ThreadedServer(config).start()
    try:
        resp = requests.get(f"{second.url}/{REPO}/p.txt", headers=auth)
        assert resp.status_code == 200 and resp.content == b"persisted"
    finally:
        second.stop()


# -- copies, overwrites, sizes around the limit, failed commits, older data dirs ---------


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def _inline_rows(store) -> set[str]:
    with sqlite3.connect(store.db_path) as db:
        return {row[0] for row in db.execute("SELECT sha256 FROM blob_data")}


@pytest.fixture
def store(fake_artifactory, fake_artifactory_server):
    return fake_artifactory_server.emulator.store


def test_copy_and_move_of_inline_files_survive_source_delete_and_gc(store, session, base, repo_url):
    one, two = b"copied inline", b"moved inline"
    assert session.put(f"{repo_url}/src/one.txt", data=one).status_code == 201
    assert session.put(f"{repo_url}/src/two.txt", data=two).status_code == 201
    r = session.post(f"{base}/api/copy/{REPO}/src/one.txt?to=/{REPO}/dst/one.txt")
    assert r.status_code == 200, r.text
    r = session.post(f"{base}/api/move/{REPO}/src/two.txt?to=/Other-Repo/two.txt")
    assert r.status_code == 200, r.text
    assert session.delete(f"{repo_url}/src").status_code == 204
    store.collect_garbage()
    assert session.get(f"{repo_url}/dst/one.txt").content == one
    assert session.get(f"{base}/Other-Repo/two.txt").content == two
    assert _inline_rows(store) == {_sha256(one), _sha256(two)}
    assert session.delete(f"{repo_url}/dst").status_code == 204
    store.collect_garbage()
    assert _inline_rows(store) == {_sha256(two)}


def test_overwrites_with_same_and_other_content(store, session, repo_url):
    first, second = b"first version", b"second version, longer"
    for data in (first, first, second):
        assert session.put(f"{repo_url}/o.txt", data=data).status_code == 201
        got = session.get(f"{repo_url}/o.txt")
        assert got.content == data and got.headers["X-Checksum-Sha256"] == _sha256(data)
    store.collect_garbage()
    assert store.stored_blobs() == {_sha256(second)}
    # back to the first content after it was collected
    assert session.put(f"{repo_url}/o.txt", data=first).status_code == 201
    assert session.get(f"{repo_url}/o.txt").content == first


@pytest.mark.parametrize("alg", ["sha1", "sha256"])
def test_checksum_deploy_of_inline_content_and_after_gc(store, session, repo_url, alg):
    data = f"deploy by {alg}".encode()
    digest = _sha1(data) if alg == "sha1" else _sha256(data)
    header = {"X-Checksum-Deploy": "true", f"X-Checksum-{alg.capitalize()}": digest}
    assert session.put(f"{repo_url}/orig.txt", data=data).status_code == 201
    r = session.put(f"{repo_url}/copy.txt", headers=header)
    assert r.status_code == 201, r.text
    assert session.get(f"{repo_url}/copy.txt").content == data
    assert session.delete(f"{repo_url}/orig.txt").status_code == 204
    store.collect_garbage()  # copy.txt still holds the content
    r = session.put(f"{repo_url}/again.txt", headers=header)
    assert r.status_code == 201, r.text
    assert session.get(f"{repo_url}/again.txt").content == data
    for name in ("copy.txt", "again.txt"):
        assert session.delete(f"{repo_url}/{name}").status_code == 204
    store.collect_garbage()
    r = session.put(f"{repo_url}/late.txt", headers=header)
    assert r.status_code == 404, r.text
    assert _inline_rows(store) == set()


@pytest.mark.parametrize("size", [0, 1, INLINE_BLOB_MAX - 1, INLINE_BLOB_MAX, INLINE_BLOB_MAX + 1])
def test_sizes_around_the_inline_limit(store, session, repo_url, size):
    data = bytes(i % 251 for i in range(size))
    r = session.put(f"{repo_url}/s.bin", data=data)
    assert r.status_code == 201, r.text
    assert (_sha256(data) in _inline_rows(store)) == (size <= INLINE_BLOB_MAX)
    assert (_sha256(data) in _blob_files(store)) == (size > INLINE_BLOB_MAX)
    got = session.get(f"{repo_url}/s.bin")
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-Length"] == str(size)


@pytest.mark.parametrize("inline", [True, False])
def test_ranges_on_inline_and_file_content_agree(store, session, repo_url, inline):
    data = bytes(range(256)) * 40  # 10 KiB
    if inline:
        assert session.put(f"{repo_url}/r.bin", data=data).status_code == 201
        assert _sha256(data) in _inline_rows(store)
    else:  # chunked: streamed to a blob file
        assert session.put(f"{repo_url}/r.bin", data=iter([data])).status_code == 201
        assert _sha256(data) in _blob_files(store)
    url = f"{repo_url}/r.bin"
    for spec, want in (
        ("bytes=-7", data[-7:]),
        ("bytes=10000-", data[10000:]),
        ("bytes=0-0", data[:1]),
        ("bytes=100-99999", data[100:]),
    ):
        got = session.get(url, headers={"Range": spec})
        assert got.status_code == 206 and got.content == want, spec
    multi = session.get(url, headers={"Range": "bytes=0-3,-4"})
    assert multi.status_code == 206
    assert data[:4] in multi.content and data[-4:] in multi.content
    assert session.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416


def test_explode_past_the_inline_budget_keeps_all_content(store, session, repo_url, monkeypatch):
    monkeypatch.setattr(archives, "INLINE_ARCHIVE_BUDGET", 3000)
    members = {f"m/f{i:02d}.bin": bytes([i]) * (1000 + i) for i in range(10)}
    members["m/big.bin"] = b"B" * (INLINE_BLOB_MAX + 5)
    r = session.put(f"{repo_url}/x/up.tar", data=make_tar(members), headers=EXPLODE)
    assert r.status_code == 200, r.text
    inline, files = _inline_rows(store), _blob_files(store)
    assert 1 <= len(inline) < 10
    assert inline | files == {_sha256(d) for d in members.values()}
    for name, data in members.items():
        got = session.get(f"{repo_url}/x/{name}")
        assert got.status_code == 200 and got.content == data, name


def test_failed_commits_leave_no_inline_rows(store, session, repo_url):
    assert session.put(f"{repo_url}/folder/", data=b"").status_code == 201
    assert session.put(f"{repo_url}/file.txt", data=b"a file").status_code == 201
    before = store.stored_blobs()
    r = session.put(f"{repo_url}/folder", data=b"onto a folder")
    assert r.status_code in (400, 409), r.text
    r = session.put(f"{repo_url}/file.txt/child", data=b"under a file")
    assert r.status_code in (400, 409), r.text
    members = {"ok.txt": b"fine member", "folder": b"member onto a folder"}
    r = session.put(f"{repo_url}/up.tar", data=make_tar(members), headers=EXPLODE)
    assert r.status_code >= 400, r.text
    assert session.get(f"{repo_url}/ok.txt").status_code == 404
    assert store.stored_blobs() == before
    assert _inline_rows(store) == {_sha256(b"a file")}


def test_snapshot_round_trip_with_inline_and_file_blobs(fake_artifactory, store, session, repo_url):
    small, big = b"small content", b"L" * (INLINE_BLOB_MAX + 100)
    shared = b"same bytes twice"
    assert session.put(f"{repo_url}/a/small.txt", data=small).status_code == 201
    assert session.put(f"{repo_url}/a/big.bin", data=big).status_code == 201
    assert session.put(f"{repo_url}/a/inline.txt", data=shared).status_code == 201
    assert session.put(f"{repo_url}/a/file.txt", data=iter([shared])).status_code == 201
    assert session.put(f"{repo_url}/a/empty.txt", data=b"").status_code == 201
    snap = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot", timeout=30)
    assert snap.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(snap.content)) as tar:
        names = {m.name for m in tar}
    want = {_sha256(d) for d in (small, big, shared, b"")}
    assert names == {"snapshot.json"} | {f"blobs/{s}" for s in want}
    fake_artifactory.reset()
    assert store.stored_blobs() == set()
    r = requests.post(f"{fake_artifactory.root_url}/_fake/snapshot", data=snap.content, timeout=30)
    assert r.status_code == 200, r.text
    for name, data in (
        ("small.txt", small),
        ("big.bin", big),
        ("inline.txt", shared),
        ("file.txt", shared),
        ("empty.txt", b""),
    ):
        got = session.get(f"{repo_url}/a/{name}")
        assert got.status_code == 200 and got.content == data, name
    assert store.stored_blobs() == want


def test_a_schema_1_data_dir_opens_and_mixes_with_inline(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    config = EmulatorConfig(port=0, tokens=("t",), repos=(REPO,), data_dir=data_dir)
    auth = {"Authorization": "Bearer t"}
    old = b"written by schema 1"
    first = ThreadedServer(config).start()
    try:  # streamed: a blob file, as every blob was in schema 1
        r = requests.put(f"{first.url}/{REPO}/old.txt", data=iter([old]), headers=auth)
        assert r.status_code == 201
    finally:
        first.stop()
    with sqlite3.connect(data_dir / "meta.sqlite3") as db:  # as schema 1 left it
        db.execute("DROP TABLE blob_data")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    second = ThreadedServer(config).start()
    try:
        url = f"{second.url}/{REPO}"
        assert requests.get(f"{url}/old.txt", headers=auth).content == old
        deploy = {**auth, "X-Checksum-Deploy": "true", "X-Checksum-Sha1": _sha1(old)}
        assert requests.put(f"{url}/dup.txt", headers=deploy).status_code == 201
        assert requests.get(f"{url}/dup.txt", headers=auth).content == old
        assert requests.put(f"{url}/new.txt", data=b"inline now", headers=auth).status_code == 201
        assert requests.get(f"{url}/new.txt", headers=auth).content == b"inline now"
        second.emulator.store.collect_garbage()
        assert requests.get(f"{url}/old.txt", headers=auth).content == old
    finally:
        second.stop()
    with sqlite3.connect(data_dir / "meta.sqlite3") as db:
        version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        assert version == (str(SCHEMA_VERSION),)
