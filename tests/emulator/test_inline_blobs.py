"""Small blobs kept inside SQLite (inline) instead of one file each, over real HTTP.

A PUT with a Content-Length of at most ``INLINE_BLOB_MAX`` bytes, and every small member
of an exploded archive, is committed with its metadata in one transaction and gets no
blob file; everything that reads content (GET, ranges, checksum deploy, folder download,
snapshots, garbage collection, a restart on the same data dir) must not notice.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import requests
from emulator_support import REPO
from test_archive import EXPLODE, make_tar

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer
from fake_artifactory.store.blobs import INLINE_BLOB_MAX


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
