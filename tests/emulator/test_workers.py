"""``serve --workers N``: several processes on one port and one data dir (real processes).

Every request here opens a fresh connection unless a session is kept on purpose, so the
kernel's ``SO_REUSEPORT`` spreading sends them to both workers.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer
from fake_artifactory.store import Store
from fake_artifactory.testing import EmulatorProcess, start_process

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="--workers needs fork and SO_REUSEPORT"
)

TOKEN = "workers-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "example-repo-local"


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            continue
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"


@pytest.fixture
def workers() -> Iterator[EmulatorProcess]:
    proc = start_process("--token", TOKEN, "--workers", "2", timeout=60)
    try:
        yield proc
    finally:
        proc.stop()


def test_two_processes_share_the_connections_and_the_data(workers: EmulatorProcess) -> None:
    children = _children(workers.pid)
    assert len(children) == 2
    before = {pid: _sockets(pid) for pid in children}
    sessions = [requests.Session() for _ in range(16)]
    try:
        for i, s in enumerate(sessions):  # 16 kept-alive connections, spread by the kernel
            r = s.put(f"{workers.url}/{REPO}/spread/f{i}", data=f"body {i}", headers=AUTH)
            assert r.status_code == 201, r.text
        grown = {pid: _sockets(pid) - before[pid] for pid in children}
        assert all(n > 0 for n in grown.values()), grown  # both workers hold connections
        for i in range(16):  # fresh connections: whichever worker answers sees every file
            r = requests.get(f"{workers.url}/{REPO}/spread/f{i}", headers=AUTH, timeout=30)
            assert r.status_code == 200 and r.text == f"body {i}"
    finally:
        for s in sessions:
            s.close()


def test_repositories_and_tokens_made_in_one_worker_work_in_all(workers: EmulatorProcess) -> None:
    repo_url = f"{workers.url}/made-at-runtime"
    for _ in range(12):  # every worker learns (and caches) that the repository is missing
        r = requests.get(f"{repo_url}/x", headers=AUTH, timeout=30)
        assert r.status_code in (400, 404)
    r = requests.put(
        f"{workers.url}/api/repositories/made-at-runtime",
        json={"rclass": "local"},
        headers=AUTH,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    for i in range(12):
        r = requests.put(f"{repo_url}/f{i}", data=b"x", headers=AUTH, timeout=30)
        assert r.status_code == 201, (i, r.text)
    minted = requests.post(
        f"{workers.root_url}/access/api/v1/tokens",
        data={"username": "admin"},
        headers=AUTH,
        timeout=30,
    )
    assert minted.status_code == 200, minted.text
    bearer = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    for i in range(12):
        r = requests.put(f"{repo_url}/g{i}", data=b"x", headers=bearer, timeout=30)
        assert r.status_code == 201, (i, r.text)
    gone = requests.delete(
        f"{workers.url}/api/repositories/made-at-runtime", headers=AUTH, timeout=30
    )
    assert gone.status_code == 200
    for i in range(12):  # no worker still believes in the repository
        r = requests.put(f"{repo_url}/h{i}", data=b"x", headers=AUTH, timeout=30)
        assert r.status_code in (400, 404), (i, r.status_code)


def test_reset_reaches_every_worker(workers: EmulatorProcess) -> None:
    for i in range(8):
        requests.put(f"{workers.url}/{REPO}/r/f{i}", data=b"x", headers=AUTH, timeout=30)
    assert requests.post(f"{workers.root_url}/_fake/reset", timeout=30).status_code == 200
    for i in range(8):
        r = requests.get(f"{workers.url}/{REPO}/r/f{i}", headers=AUTH, timeout=30)
        assert r.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", "/_fake/requests", "the request journal"),
        ("DELETE", "/_fake/requests", "the request journal"),
        ("POST", "/_fake/faults", "fault injection"),
        ("PUT", "/_fake/settings/folder-download", "changing settings at run time"),
        ("POST", "/_fake/snapshot", "importing a snapshot"),
    ],
)
def test_per_process_controls_are_refused_clearly(
    workers: EmulatorProcess, method: str, path: str, what: str
) -> None:
    r = requests.request(method, workers.root_url + path, json={}, timeout=30)
    assert r.status_code == 409
    message = r.json()["errors"][0]["message"]
    assert message.startswith(what) and "--workers 2" in message
    assert requests.get(workers.root_url + "/_fake/faults", timeout=30).status_code == 200


def test_stop_ends_every_worker_and_removes_the_ephemeral_data_dir() -> None:
    proc = start_process("--token", TOKEN, "--workers", "2", timeout=60)
    children = _children(proc.pid)
    data = {os.readlink(fd) for fd in Path(f"/proc/{children[0]}/fd").iterdir()}
    db = next(Path(p) for p in data if p.endswith("meta.sqlite3"))
    assert proc.stop() == 0
    assert not any(_alive(pid) for pid in children)
    assert not db.exists()


def test_a_dying_worker_stops_the_server_with_an_error() -> None:
    proc = start_process("--token", TOKEN, "--workers", "2", timeout=60)
    try:
        first, second = _children(proc.pid)
        os.kill(first, signal.SIGKILL)
        assert proc.proc.wait(timeout=30) == 1
        deadline = time.monotonic() + 10
        while _alive(second) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(second)
    finally:
        proc.stop()


def test_a_persistent_data_dir_is_shared_and_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = start_process("--token", TOKEN, "--workers", "2", data_dir=data, timeout=60)
    try:
        for i in range(6):
            r = requests.put(f"{proc.url}/{REPO}/keep/f{i}", data=b"kept", headers=AUTH)
            assert r.status_code == 201
    finally:
        assert proc.stop() == 0
    single = start_process("--token", TOKEN, data_dir=data)
    try:
        for i in range(6):
            r = requests.get(f"{single.url}/{REPO}/keep/f{i}", headers=AUTH, timeout=30)
            assert r.content == b"kept"
    finally:
        single.stop()


def test_fault_rules_need_one_process(tmp_path: Path) -> None:
    rules = tmp_path / "faults.json"
    rules.write_text("[]")
    p = subprocess.run(
        [sys.executable, "-m", "fake_artifactory", "serve", "--port", "0", "--workers", "2"]
        + ["--faults", str(rules)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "--faults needs one process" in p.stderr


# -- a check made before a transaction holds whatever another process collects ----------
# Two emulators on one data dir with ``Store(shared=True)`` stand for two worker processes
# (separate stores and write locks, one SQLite database).  A check made by one of them
# before its transaction (does this content exist? what does the source hold?) must
# still hold when it commits, whatever the other one collected meanwhile.

REPOS = (REPO, "other")


def _shared_server(data_dir: Path) -> ThreadedServer:
    """An emulator whose store is shared, as in a ``--workers`` process (that mode binds
    a fixed port with SO_REUSEPORT; a test needs port 0, so the store is swapped)."""
    server = ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,), repos=REPOS, data_dir=data_dir))
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


def _between(monkeypatch, store, name: str, action, when=lambda *args: True) -> threading.Thread:
    """Start ``action`` once, right after ``store.name(*args)`` returns with ``when(*args)``
    true: the other process acts between a check and its transaction.

    The action runs on its own thread and gets a second to finish there; when the check
    is made under the cross-process write lock, the other process has to wait for it
    instead (joining the returned thread waits for the action).
    """
    original = getattr(store, name)
    done: list[bool] = []
    thread = threading.Thread(target=action)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if not done and when(*args):
            done.append(True)
            thread.start()
            thread.join(timeout=1)
        return result

    monkeypatch.setattr(store, name, wrapped)
    return thread


def _reset_repo(server: ThreadedServer) -> None:
    r = requests.post(f"{server.root_url}/_fake/reset?repo={REPO}", timeout=30)
    assert r.status_code == 200, r.text


def test_checksum_deploy_while_another_process_resets(pair, monkeypatch) -> None:
    first, second = pair
    data = b"content deployed by checksum"
    url = f"{first.url}/{REPO}"
    assert requests.put(f"{url}/orig.txt", data=data, headers=AUTH).status_code == 201
    other = _between(monkeypatch, first.emulator.store.content, "has", lambda: _reset_repo(second))
    deploy = {
        **AUTH,
        "X-Checksum-Deploy": "true",
        "X-Checksum-Sha256": hashlib.sha256(data).hexdigest(),
    }
    r = requests.put(f"{first.url}/other/dup.txt", headers=deploy, timeout=30)
    other.join(timeout=30)
    assert other.ident is not None and not other.is_alive()
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

    other = _between(
        monkeypatch, first.emulator.store.tree, "get", lambda: _reset_repo(second), the_real_run
    )
    r = requests.post(
        f"{first.url}/api/copy/{REPO}/src.txt?to=/other/copy.txt", headers=AUTH, timeout=30
    )
    other.join(timeout=30)
    assert other.ident is not None and not other.is_alive()
    if r.status_code == 200:
        for server in pair:
            got = requests.get(f"{server.url}/other/copy.txt", headers=AUTH, timeout=30)
            assert got.status_code == 200 and got.content == data
    else:
        assert r.status_code == 404, r.text


def test_workers_share_inline_content_and_reset_under_writes(tmp_path: Path) -> None:
    proc = start_process("--token", TOKEN, "--workers", "2", data_dir=tmp_path / "d", timeout=60)
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


def test_users_and_permission_targets_reach_every_process(pair) -> None:
    """A user created through one process logs in through the other, and a permission
    target set through the other applies in the first."""
    first, second = pair
    body = {"email": "w@example.com", "password": "w0rker-Pa55"}
    r = requests.put(f"{first.url}/api/security/users/w", json=body, headers=AUTH, timeout=30)
    assert r.status_code == 201
    worker = ("w", "w0rker-Pa55")
    assert requests.get(f"{second.url}/{REPO}/", auth=worker, timeout=30).status_code == 403
    target = {"repositories": [REPO], "principals": {"users": {"w": ["r", "w"]}}}
    url = f"{second.url}/api/security/permissions/w"
    assert requests.put(url, json=target, headers=AUTH, timeout=30).status_code == 201
    r = requests.put(f"{first.url}/{REPO}/w.txt", data=b"w", auth=worker, timeout=30)
    assert r.status_code == 201
    assert requests.get(f"{second.url}/{REPO}/w.txt", auth=worker, timeout=30).content == b"w"
