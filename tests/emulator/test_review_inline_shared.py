"""Review of inline blobs in a shared data dir (``--workers``): other processes' GC.

Two emulators on one data dir with ``Store(shared=True)`` stand for two worker
processes (separate stores and write locks, one SQLite database).  A check made by one
of them before its transaction (does this content exist? what does the source hold?)
must still hold when it commits, whatever the other one collected meanwhile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from emulator_support import REPO

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer
from fake_artifactory.store import Store
from fake_artifactory.testing import start_process

AUTH = {"Authorization": "Bearer t"}
REPOS = (REPO, "other")


def _shared_server(data_dir: Path) -> ThreadedServer:
    """An emulator whose store is shared, as in a ``--workers`` process (that mode binds
    a fixed port with SO_REUSEPORT; a test needs port 0, so the store is swapped)."""
    server = ThreadedServer(EmulatorConfig(port=0, tokens=("t",), repos=REPOS, data_dir=data_dir))
    private = server.emulator.store
    server.emulator.store = Store(data_dir, REPOS, shared=True)
    private.close()
    return server.start()


@pytest.fixture
def pair(tmp_path: Path):
    first = _shared_server(tmp_path / "data")
    second = _shared_server(tmp_path / "data")
    yield first, second
    first.stop()
    second.stop()


def _between(monkeypatch, store, name: str, action, when=lambda *args: True) -> None:
    """Run ``action`` once, right after ``store.name(*args)`` returns with ``when(*args)``
    true (the other process acts between a check and its transaction)."""
    original = getattr(store, name)
    done: list[bool] = []

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if not done and when(*args):
            done.append(True)
            action()
        return result

    monkeypatch.setattr(store, name, wrapped)


def _reset_repo(server: ThreadedServer) -> None:
    r = requests.post(f"{server.root_url}/_fake/reset?repo={REPO}", timeout=30)
    assert r.status_code == 200, r.text


def test_checksum_deploy_while_another_process_resets(pair, monkeypatch) -> None:
    first, second = pair
    data = b"content deployed by checksum"
    url = f"{first.url}/{REPO}"
    assert requests.put(f"{url}/orig.txt", data=data, headers=AUTH).status_code == 201
    _between(monkeypatch, first.emulator.store.content, "has", lambda: _reset_repo(second))
    deploy = {
        **AUTH,
        "X-Checksum-Deploy": "true",
        "X-Checksum-Sha256": hashlib.sha256(data).hexdigest(),
    }
    r = requests.put(f"{first.url}/other/dup.txt", headers=deploy, timeout=30)
    if r.status_code == 201:  # then its content must be there, from either process
        for server in pair:
            got = requests.get(f"{server.url}/other/dup.txt", headers=AUTH, timeout=30)
            assert got.status_code == 200 and got.content == data
    else:
        assert r.status_code == 404, r.text


def test_copy_while_another_process_resets_the_source(pair, monkeypatch) -> None:
    first, second = pair
    data = b"content copied across repositories"
    url = f"{first.url}/{REPO}"
    assert requests.put(f"{url}/src.txt", data=data, headers=AUTH).status_code == 201
    targets: list[str] = []

    def the_real_run(repo: str, path: str) -> bool:  # its target looked up (after a dry run)
        if (repo, path) == ("other", "copy.txt"):
            targets.append(path)
        return len(targets) == 2

    _between(
        monkeypatch, first.emulator.store.tree, "get", lambda: _reset_repo(second), the_real_run
    )
    r = requests.post(
        f"{first.url}/api/copy/{REPO}/src.txt?to=/other/copy.txt", headers=AUTH, timeout=30
    )
    if r.status_code == 200:
        for server in pair:
            got = requests.get(f"{server.url}/other/copy.txt", headers=AUTH, timeout=30)
            assert got.status_code == 200 and got.content == data
    else:
        assert r.status_code == 404, r.text


def test_workers_share_inline_content_and_reset_under_writes(tmp_path: Path) -> None:
    proc = start_process("--token", "t", "--workers", "2", data_dir=tmp_path / "d", timeout=60)
    try:
        url = f"{proc.url}/{REPO}"
        bodies = {f"w/{i}.txt": f"inline body {i}".encode() * (i + 1) for i in range(24)}
        for name, data in bodies.items():  # a new connection each: both workers write
            with requests.Session() as s:
                assert s.put(f"{url}/{name}", data=data, headers=AUTH).status_code == 201
        for name, data in bodies.items():  # ... and both read what the other wrote
            with requests.Session() as s:
                assert s.get(f"{url}/{name}", headers=AUTH).content == data
        assert requests.post(f"{proc.root_url}/_fake/reset", timeout=30).status_code == 200
        for name, data in list(bodies.items())[:8]:  # the same content again, after reset
            with requests.Session() as s:
                assert s.put(f"{url}/{name}", data=data, headers=AUTH).status_code == 201
                assert s.get(f"{url}/{name}", headers=AUTH).content == data
    finally:
        proc.stop()
