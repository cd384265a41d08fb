"""Child actions that set the stage rather than measure a client: storing a generated tree
quickly (``seed``), and the pytest fixture's per-test reset (``reset``, the CI workload).

Run inside a child process, dispatched by :mod:`bench.child`.
"""

from __future__ import annotations

import io
import os
import statistics
import tarfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice

from bench.clients import (
    RAW_THREADS,
    S3_BUCKET,
    Result,
    Spec,
    boto_client,
    ensure_bucket,
    raw_session,
    timed,
)
from bench.trees import TreeSpec, tree_files

__all__ = ["action_reset", "action_seed"]

SEED_ARCHIVE_FILES = 1000


def _tar_of(files: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _seed_artifactory(art: Spec, prefix: str, files: Iterator[tuple[str, bytes]]) -> int:
    """PUT the files as tar archives that the emulator explodes under ``bench/prefix``."""
    base = f"{art['url']}/{art['repo']}/bench/{prefix}"
    local = threading.local()

    def put(index: int, data: bytes) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = raw_session(art["token"])
        resp = session.put(
            f"{base}/.bench-seed-{index}.tar",
            data=data,
            headers={"X-Explode-Archive-Atomic": "true"},
            timeout=600,
        )
        resp.raise_for_status()

    archives = 0
    with ThreadPoolExecutor(4) as pool:
        pending: list[Future[None]] = []
        while chunk := list(islice(files, SEED_ARCHIVE_FILES)):
            pending.append(pool.submit(put, archives, _tar_of(chunk)))
            archives += 1
            while len(pending) >= 8:  # bounded memory: a few archives in flight
                pending.pop(0).result()
        for future in pending:
            future.result()
    return archives


def action_seed(spec: Spec) -> Result:
    """Store a generated tree (:func:`bench.trees.tree_files`) quickly; setup, not measured.

    On the emulator: tar archives it explodes (deploy from archive); on moto: one
    ``put_object`` per file on a few threads.
    """
    prefix = spec["prefix"]
    files = tree_files(TreeSpec(**spec["tree"]), seed=int(spec.get("seed", 0)))
    result: Result = {}
    with timed(result, "seconds"):
        if spec["contender"] == "s3":
            client = boto_client(spec["s3"]["endpoint"])
            ensure_bucket(spec["s3"]["endpoint"])

            def put(item: tuple[str, bytes]) -> None:
                rel, content = item
                client.put_object(Bucket=S3_BUCKET, Key=f"bench/{prefix}/{rel}", Body=content)

            with ThreadPoolExecutor(RAW_THREADS) as pool:
                list(pool.map(put, files))
        else:
            result["archives"] = _seed_artifactory(spec["art"], prefix, files)
    return result


def action_reset(spec: Spec) -> Result:
    """CI: what the ``fake_artifactory`` pytest fixture's reset costs a test.

    Runs the emulator as the fixture does (a :class:`ThreadedServer` in this process, the
    fixture's default settings) and times the fixture's per-test work (its handle and
    ``reset()``): on an empty store, and after writing ``files`` files of each size in
    ``sizes`` (4 KiB is stored inside SQLite, larger files get a blob file each).
    """
    from fake_artifactory.server import ThreadedServer
    from fake_artifactory.testing.pytest_plugin import default_config, fixture_handle

    files, rounds = int(spec["files"]), int(spec.get("rounds", 3))
    config = default_config()
    result: Result = {"files": files}
    with ThreadedServer(config) as server:

        def fixture_reset_ms() -> float:
            start = time.perf_counter()
            fixture_handle(server, config).reset()
            return (time.perf_counter() - start) * 1000

        handle = fixture_handle(server, config)
        session = raw_session(handle.token)
        fixture_reset_ms()  # warm-up: first connection, first statements
        result["empty_ms"] = statistics.median([fixture_reset_ms() for _ in range(rounds * 10)])
        for size in spec["sizes"]:
            taken = []
            for r in range(rounds):
                for i in range(files):
                    body = os.urandom(size)
                    url = f"{handle.url}/{handle.repo}/ci/r{r}/d{i % 20:02d}/f{i:05d}.bin"
                    session.put(url, data=body, timeout=60).raise_for_status()
                taken.append(fixture_reset_ms())
            result[f"after_{size}_ms"] = statistics.median(taken)
    return result
