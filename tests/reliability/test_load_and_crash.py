"""The emulator stays consistent under concurrent load and keeps every acknowledged write
through ``kill -9``.

Every body the tests write is self-describing: a header line names the path, the
writer, a sequence number and the SHA-256 and length of the payload.  So any read can
be checked on its own: a torn, mixed or misdirected body fails the check, whatever
the interleaving.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from reliability_support import (
    REPO,
    Emulator,
    record_figure,
    scale,
    start_emulator,
)

pytestmark = pytest.mark.timeout(600)

CLIENTS = 16


def make_body(path: str, writer: int, seq: int, size: int, rng: random.Random) -> bytes:
    payload = rng.randbytes(size)
    digest = hashlib.sha256(payload).hexdigest()
    return f"REL|{path}|{writer}|{seq}|{digest}|{size}\n".encode() + payload


def check_body(path: str, body: bytes) -> tuple[int, int]:
    """Validate a self-describing body for ``path``; return (writer, seq)."""
    head, sep, payload = body.partition(b"\n")
    assert sep, f"{path}: no header line (torn body of {len(body)} bytes)"
    fields = head.decode().split("|")
    assert fields[0] == "REL" and len(fields) == 6, f"{path}: bad header {head[:80]!r}"
    assert fields[1] == path, f"{path}: body belongs to {fields[1]} (mixed read)"
    assert int(fields[5]) == len(payload), f"{path}: torn body {len(payload)}/{fields[5]}"
    assert hashlib.sha256(payload).hexdigest() == fields[4], f"{path}: corrupted payload"
    return int(fields[2]), int(fields[3])


@dataclass
class LoadLedger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked_puts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    acked_deletes: Counter[str] = field(default_factory=Counter)
    own_latest: dict[str, str] = field(default_factory=dict)
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def _client(emu: Emulator, prefix: str, cid: int, n_ops: int, ledger: LoadLedger) -> None:
    rng = random.Random(1000 + cid)
    shared = [f"{prefix}/shared/f{k % 3}/p{k}.bin" for k in range(12)]
    base = f"{emu.url}/{REPO}"
    with emu.session() as s:
        for seq in range(n_ops):
            roll = rng.random()
            try:
                if roll < 0.35:
                    path = rng.choice(shared)
                    body = make_body(path, cid, seq, rng.randint(0, 20_000), rng)
                    r = s.put(f"{base}/{path}", data=body, timeout=60)
                    op = "overwrite"
                    if r.status_code == 201:
                        with ledger.lock:
                            ledger.acked_puts[path].add(hashlib.sha256(body).hexdigest())
                elif roll < 0.5:
                    path = f"{prefix}/own/c{cid}/n{seq}.bin"
                    body = make_body(path, cid, seq, rng.randint(0, 20_000), rng)
                    headers = {"X-Checksum-Sha256": hashlib.sha256(body).hexdigest()}
                    r = s.put(f"{base}/{path}", data=body, headers=headers, timeout=60)
                    op = "write"
                    if r.status_code == 201:
                        with ledger.lock:
                            ledger.own_latest[path] = hashlib.sha256(body).hexdigest()
                elif roll < 0.75:
                    path = rng.choice(shared)
                    r = s.get(f"{base}/{path}", timeout=60)
                    op = "read"
                    if r.status_code == 200:
                        check_body(path, r.content)
                        assert (
                            r.headers["X-Checksum-Sha256"] == hashlib.sha256(r.content).hexdigest()
                        ), f"{path}: checksum header does not match bytes"
                elif roll < 0.85:
                    r = s.get(
                        f"{emu.url}/api/storage/{REPO}/{prefix}",
                        params={"list": "1", "deep": "1"},
                        timeout=60,
                    )
                    op = "list"
                    if r.status_code == 200:
                        for entry in r.json()["files"]:
                            assert len(entry["sha2"]) == 64 and entry["size"] >= 0
                elif roll < 0.95:
                    path = rng.choice(shared)
                    r = s.delete(f"{base}/{path}", timeout=60)
                    op = "delete"
                    if r.status_code == 204:
                        with ledger.lock:
                            ledger.acked_deletes[path] += 1
                else:
                    path = rng.choice(shared)
                    r = s.get(f"{emu.url}/api/storage/{REPO}/{path}", timeout=60)
                    op = "info"
                    if r.status_code == 200:
                        assert len(r.json()["checksums"]["sha256"]) == 64
                allowed = {
                    "overwrite": {201},
                    "write": {201},
                    "read": {200, 404},
                    "list": {200, 404},
                    "delete": {204, 404},
                    "info": {200, 404},
                }[op]
                if r.status_code not in allowed:
                    raise AssertionError(f"{op} {path}: HTTP {r.status_code} {r.text[:200]}")
                with ledger.lock:
                    ledger.ops[op] += 1
            except Exception as exc:  # collected, asserted empty below
                with ledger.lock:
                    ledger.errors.append(f"client {cid} op {seq}: {exc!r}"[:400])


def test_sixteen_concurrent_clients_lose_nothing_and_never_see_torn_reads(
    tmp_path: Path,
) -> None:
    emu = start_emulator(tmp_path / "emu", data_dir=tmp_path / "data")
    prefix = "load"
    n_ops = 40 * scale()
    ledger = LoadLedger()
    try:
        rss_start = emu.rss_kib()
        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda c: _client(emu, prefix, c, n_ops, ledger), range(CLIENTS)))
        mid_elapsed = time.monotonic() - started
        rss_mid = emu.rss_kib()
        # Second round, same work again: memory must not keep growing with operations.
        ledger2 = LoadLedger()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda c: _client(emu, prefix + "2", c, n_ops, ledger2), range(CLIENTS)))
        elapsed = time.monotonic() - started
        rss_end = emu.rss_kib()
        peak = emu.rss_kib("VmHWM")

        errors = ledger.errors + ledger2.errors
        assert errors == [], errors[:20]

        with emu.session() as s:
            for led, pre in ((ledger, prefix), (ledger2, prefix + "2")):
                # No lost acknowledged write (paths written by one client only).
                for path, digest in led.own_latest.items():
                    r = s.get(f"{emu.url}/{REPO}/{path}", timeout=60)
                    assert r.status_code == 200, f"acknowledged write lost: {path}"
                    assert hashlib.sha256(r.content).hexdigest() == digest
                # Overlapping paths hold one complete acknowledged version, or nothing
                # when a delete was acknowledged.
                for path in {f"{pre}/shared/f{k % 3}/p{k}.bin" for k in range(12)}:
                    r = s.get(f"{emu.url}/{REPO}/{path}", timeout=60)
                    if r.status_code == 404:
                        assert led.acked_deletes[path] > 0 or not led.acked_puts[path]
                        continue
                    assert r.status_code == 200
                    check_body(path, r.content)
                    assert hashlib.sha256(r.content).hexdigest() in led.acked_puts[path]
    finally:
        emu.kill()

    total_ops = sum(ledger.ops.values()) + sum(ledger2.ops.values())
    assert total_ops == 2 * CLIENTS * n_ops
    # Bounded memory: the second round of identical work adds (almost) nothing.
    assert rss_end - rss_mid < 64 * 1024, (rss_start, rss_mid, rss_end)
    assert peak < 1024 * 1024, f"server peak RSS {peak} KiB"
    record_figure(
        "load_held",
        clients=CLIENTS,
        operations=total_ops,
        ops_per_s=round(total_ops / elapsed, 1),
        first_round_ops_per_s=round(CLIENTS * n_ops / mid_elapsed, 1),
        op_mix=dict(ledger.ops + ledger2.ops),
        errors=len(errors),
        lost_acknowledged_writes=0,
        torn_reads=0,
        rss_kib={"start": rss_start, "after_round_1": rss_mid, "end": rss_end, "peak": peak},
    )


# --- crash safety -----------------------------------------------------------------------


@dataclass
class CrashLedger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, tuple[int, str]] = field(default_factory=dict)  # path -> (seq, sha)
    acks: int = 0
    stop: threading.Event = field(default_factory=threading.Event)


def _crash_writer(emu: Emulator, wid: int, ledger: CrashLedger) -> None:
    rng = random.Random(2000 + wid)
    with emu.session() as s:
        seq = 0
        while not ledger.stop.is_set():
            seq += 1
            hot = seq % 3 == 0
            path = f"crash/w{wid}/hot.bin" if hot else f"crash/w{wid}/n{seq}.bin"
            size = rng.choice([100, 5_000, 200_000, 1_500_000])
            body = make_body(path, wid, seq, size, rng)
            try:
                r = s.put(f"{emu.url}/{REPO}/{path}", data=body, timeout=30)
            except requests.RequestException:
                return  # the server died under us
            if r.status_code != 201:
                return
            with ledger.lock:
                ledger.acked[path] = (seq, hashlib.sha256(body).hexdigest())
                ledger.acks += 1


def test_kill_9_during_heavy_writes_loses_no_acknowledged_item(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    emu = start_emulator(tmp_path / "emu", data_dir=data_dir)
    ledger = CrashLedger()
    writers = [threading.Thread(target=_crash_writer, args=(emu, w, ledger)) for w in range(8)]
    for t in writers:
        t.start()
    target = 40 * scale()
    deadline = time.monotonic() + 120
    while ledger.acks < target and time.monotonic() < deadline:
        time.sleep(0.01)
    emu.kill()  # SIGKILL while the writers keep writing
    ledger.stop.set()
    for t in writers:
        t.join(timeout=60)
    with ledger.lock:
        acked = dict(ledger.acked)
    assert len(acked) >= min(target, 10)

    emu = start_emulator(tmp_path / "emu", data_dir=data_dir)
    try:
        with emu.session() as s:
            for path, (seq, digest) in acked.items():
                r = s.get(f"{emu.url}/{REPO}/{path}", timeout=60)
                assert r.status_code == 200, f"acknowledged item lost after kill -9: {path}"
                _, got_seq = check_body(path, r.content)
                if path.endswith("hot.bin"):
                    # Overwritten in place: the last acknowledged version or a later one
                    # that completed just before the kill, never an older one.
                    assert got_seq >= seq, f"{path}: rolled back from {seq} to {got_seq}"
                else:
                    assert hashlib.sha256(r.content).hexdigest() == digest
            # No half-written item is visible: everything listed reads back whole.
            listing = s.get(
                f"{emu.url}/api/storage/{REPO}/crash",
                params={"list": "1", "deep": "1"},
                timeout=60,
            )
            assert listing.status_code == 200
            visible = [e for e in listing.json()["files"] if not e["folder"]]
            for entry in visible:
                path = "crash" + entry["uri"]
                r = s.get(f"{emu.url}/{REPO}/{path}", timeout=60)
                assert r.status_code == 200, path
                check_body(path, r.content)
                assert len(r.content) == entry["size"]
                assert hashlib.sha256(r.content).hexdigest() == entry["sha2"]
        unacked_visible = len({"crash" + e["uri"] for e in visible} - set(acked))
    finally:
        emu.kill()
    leftovers = [p for p in (data_dir / "tmp").glob("*")] if (data_dir / "tmp").exists() else []
    assert leftovers == [], f"partial uploads left in the data dir: {leftovers[:5]}"
    record_figure(
        "crash_safety",
        acknowledged_items=len(acked),
        visible_after_restart=len(visible),
        complete_but_unacknowledged=unacked_visible,
        items_lost=0,
        half_written_visible=0,
    )
