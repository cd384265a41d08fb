"""Parallel writers and readers on one path never see a torn or mixed file."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import requests
from emulator_support import REPO

SIZE = 256 * 1024


def payload(i: int) -> bytes:
    return bytes([i]) * SIZE


def test_parallel_writers_same_path_last_complete_write_wins(fake_artifactory):
    url = f"{fake_artifactory.url}/{REPO}/race/same.bin"
    valid = {hashlib.sha256(payload(i)).hexdigest(): i for i in range(12)}

    def write(i: int) -> int:
        with requests.Session() as s:
            return s.put(
                url,
                data=iter([payload(i)[: SIZE // 2], payload(i)[SIZE // 2 :]]),
                auth=fake_artifactory.auth,
                timeout=60,
            ).status_code

    def read(_: int) -> str | None:
        with requests.Session() as s:
            resp = s.get(url, auth=fake_artifactory.auth, timeout=60)
            if resp.status_code == 404:
                return None
            assert resp.status_code == 200
            digest = hashlib.sha256(resp.content).hexdigest()
            assert resp.headers["X-Checksum-Sha256"] == digest
            return digest

    with ThreadPoolExecutor(max_workers=12) as pool:
        writes = [pool.submit(write, i) for i in range(12)]
        reads = [pool.submit(read, i) for i in range(24)]
        assert all(f.result() == 201 for f in writes)
        seen = [f.result() for f in reads]
    assert all(d is None or d in valid for d in seen)
    final = requests.get(url, auth=fake_artifactory.auth, timeout=60).content
    assert hashlib.sha256(final).hexdigest() in valid
    items = fake_artifactory.state()["repos"][REPO]["items"]
    assert items["race/same.bin"]["sha256"] == hashlib.sha256(final).hexdigest()


def test_parallel_writers_different_paths(fake_artifactory):
    def write(i: int) -> int:
        return requests.put(
            f"{fake_artifactory.url}/{REPO}/many/d{i % 3}/f{i}.bin",
            data=payload(i)[:1000],
            auth=fake_artifactory.auth,
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(write, range(48))) == {201}
    items = fake_artifactory.state()["repos"][REPO]["items"]
    assert sum(1 for p, v in items.items() if v["type"] == "file") == 48
