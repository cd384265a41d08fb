"""The harness of the hostile-input tests (test_hostile_paths, test_hostile_bodies).

Requests go over raw sockets so that nothing (requests, urllib3) normalises dot
segments or re-encodes the path on the way.  Each hostile test module gets its own
emulator (the ``hostile`` fixture in conftest.py) with a bystander client reading a known
file throughout.  Every test checks the same invariants (the last two in
:func:`assert_contained`):

* each hostile request gets a 4xx (or, where real Artifactory would serve it, a correct
  answer; never a 5xx, never a success for a traversal);
* the server keeps serving a well-behaved client running in the background;
* nothing is written outside the data directory: the files inside it follow the
  storage layout (``blobs/xx/<sha256>``, ``tmp/``, ``meta.sqlite3*``), the tree around
  it is unchanged, no file named after the traversal target exists anywhere nearby,
  and a second repository's file is never read, overwritten or deleted.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, Phase, settings
from reliability_support import (
    TOKEN,
    Emulator,
    RawResponse,
    raw_request,
    record_figure,
    scale,
    snapshot_dir,
    start_emulator,
)

MARKER = "relpwnedmarker"
VICTIM_REPO = "victim-repo"
VICTIM_PATH = "secret/victim.txt"
VICTIM_BODY = b"victim content that must never change or leak\n"
KNOWN_PATH = "hostile/known.bin"
KNOWN_BODY = bytes(range(256)) * 13  # 3,328 bytes
#: The emulator's socket timeout here: how long a stalled upload may hold a connection.
SOCKET_TIMEOUT = 3

HYPOTHESIS = settings(
    max_examples=60 * scale(),
    deadline=None,
    derandomize=True,
    # No shrinking: a failure is reported with the example found, which keeps known-bug
    # (strict xfail) tests as fast as passing ones.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Bystander:
    """A well-behaved client reading a known file in a loop, recording any failure."""

    emu: Emulator
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with self.emu.session() as s:
            while not self.stop.is_set():
                try:
                    r = s.get(f"{self.emu.repo_url}/{KNOWN_PATH}", timeout=30)
                    if r.status_code != 200 or r.content != KNOWN_BODY:
                        self.failures.append(f"HTTP {r.status_code}")
                    else:
                        self.ok += 1
                except requests.RequestException as exc:
                    self.failures.append(repr(exc)[:200])
                time.sleep(0.02)


@dataclass
class Hostile:
    emu: Emulator
    area: Path  # the directory around the data dir
    data_dir: Path
    before: dict[str, tuple[int, int]]
    bystander: Bystander

    @property
    def port(self) -> int:
        return self.emu.port


@contextmanager
def hostile_emulator(area: Path) -> Iterator[Hostile]:
    """An emulator with a victim repository, a known file and a bystander client running,
    under ``area`` (a fresh directory; the data dir is ``area/data``)."""
    data_dir = area / "data"
    (area / "outside").mkdir()
    (area / "outside" / "sentinel.txt").write_text("do not touch")
    emu = start_emulator(
        area / "emu",
        "--repo",
        VICTIM_REPO,
        "--socket-timeout",
        str(SOCKET_TIMEOUT),
        data_dir=data_dir,
    )
    with emu.session() as s:
        assert s.put(f"{emu.repo_url}/{KNOWN_PATH}", data=KNOWN_BODY).status_code == 201
        r = s.put(f"{emu.url}/{VICTIM_REPO}/{VICTIM_PATH}", data=VICTIM_BODY)
        assert r.status_code == 201
    before = snapshot_dir(area, exclude=data_dir)
    bystander = Bystander(emu)
    thread = threading.Thread(target=bystander.run, daemon=True)
    thread.start()
    try:
        yield Hostile(emu, area, data_dir, before, bystander)
    finally:
        bystander.stop.set()
        thread.join(timeout=30)
        emu.kill()


_LAYOUT = re.compile(
    r"^(blobs/[0-9a-f]{2}/[0-9a-f]{64}|blobs/[0-9a-f]{2}|blobs|tmp|tmp/[^/]+|meta\.sqlite3(-wal|-shm|-journal)?)$"
)


def assert_contained(h: Hostile) -> None:
    """The invariants every hostile test ends with."""
    # 1. The server still serves well-behaved clients, and did all along.
    assert h.emu.proc.poll() is None, "the emulator died"
    with h.emu.session() as s:
        r = s.get(f"{h.emu.repo_url}/{KNOWN_PATH}", timeout=30)
        assert r.status_code == 200 and r.content == KNOWN_BODY
        victim = s.get(f"{h.emu.url}/{VICTIM_REPO}/{VICTIM_PATH}", timeout=30)
        assert victim.status_code == 200 and victim.content == VICTIM_BODY, "victim changed"
    assert h.bystander.failures == [], h.bystander.failures[:5]
    # 2. Inside the data dir: only the storage layout, never a user-chosen name.
    for dirpath, dirnames, filenames in os.walk(h.data_dir):
        for name in dirnames + filenames:
            rel = (Path(dirpath) / name).relative_to(h.data_dir).as_posix()
            assert _LAYOUT.match(rel), f"unexpected entry in the data dir: {rel!r}"
    # 3. Around it: nothing new, nothing changed (server logs excepted).
    after = snapshot_dir(h.area, exclude=h.data_dir)
    changed = {
        k
        for k in set(after) | set(h.before)
        if after.get(k) != h.before.get(k) and not k.startswith("emu/emulator-")
    }
    assert changed == set(), f"written outside the data dir: {sorted(changed)[:10]}"
    # 4. No file named after a traversal target anywhere nearby.
    for root, max_depth in ((h.area.parent, 4), (Path("/tmp"), 1), (Path.cwd(), 1)):
        for dirpath, dirnames, filenames in os.walk(root):
            if len(Path(dirpath).relative_to(root).parts) >= max_depth - 1:
                dirnames[:] = []
            hits = [n for n in dirnames + filenames if MARKER in n]
            assert hits == [], f"traversal target created: {dirpath}/{hits}"


def request_bytes(
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    content_length: int | None = None,
    auth: bool = True,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if auth:
        lines.append(f"Authorization: Bearer {TOKEN}")
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if method in ("PUT", "POST", "PATCH") or body or content_length is not None:
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1", errors="strict") + body


def assert_clear_4xx(resp: RawResponse, what: str) -> None:
    assert resp.status is not None, f"{what}: connection closed without a response"
    assert 400 <= resp.status < 500, f"{what}: HTTP {resp.status} {resp.body[:200]!r}"


def assert_not_5xx(resp: RawResponse, what: str) -> None:
    assert resp.status is not None, f"{what}: connection closed without a response"
    assert resp.status < 500, f"{what}: HTTP {resp.status} {resp.body[:300]!r}"


def skip_if_unimplemented(h: Hostile, method: str, target: str) -> None:
    """Skip (with the reason) when the emulator does not implement an endpoint yet."""
    resp = raw_request(h.port, request_bytes(method, target, b"{}"))
    if resp.status == 501:
        pytest.skip(f"emulator does not implement {method} {target.split('?')[0]} yet")


def record_hostile_figures(h: Hostile, part: str, tried: Counter[str]) -> None:
    """End a hostile module: the containment check, then its ``hostile_inputs`` figure
    (``part`` names the module, ``tried`` counts its requests by kind)."""
    assert_contained(h)
    record_figure(
        "hostile_inputs",
        part=part,
        tried=dict(tried),
        total=sum(tried.values()),
        bystander_requests_ok=h.bystander.ok,
        bystander_failures=len(h.bystander.failures),
        written_outside_data_dir=0,
    )
