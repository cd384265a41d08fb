"""The fast paths: pool sizes, one-pass hashing, pipelined writes, upload request budget.

No timing assertions: these pin down the mechanisms the benchmark (``bench/``) measures.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from jfrog_mlflow import download, integrity, upload
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import IntegrityError
from jfrog_mlflow.integrity import Digest, Expected
from jfrog_mlflow.models import Checksums
from jfrog_mlflow.session import SEND_BLOCKSIZE, make_session, pool_size


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _journal(handle, expected):
    """Journal entries; the journal can trail the client by a moment, so poll briefly."""
    for _ in range(200):
        entries = handle.requests()
        if len(entries) >= expected:
            return entries
        time.sleep(0.01)
    return entries


# ------------------------------------------------------------------ pools


def test_mlflow_download_pool_uses_the_configured_worker_count(make_repo, monkeypatch):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_MAX_WORKERS", "7")
    repo = make_repo("artifactory://mlflow-test/pool")
    assert repo.max_workers == 7
    assert repo.thread_pool._max_workers == 7


def test_default_workers_exceed_mlflow_cpu_based_default_and_fit_the_http_pool(make_repo):
    repo = make_repo("artifactory://mlflow-test/pool-default")
    assert repo.max_workers == PluginConfig().max_workers == 32
    assert repo.thread_pool._max_workers == 32
    adapter = repo.client._session.get_adapter("http://127.0.0.1/")
    assert adapter._pool_maxsize >= repo.max_workers


def test_session_sends_file_bodies_in_large_blocks():
    config = PluginConfig(max_workers=50)
    session = make_session(config, retries=0)
    adapter = session.get_adapter("https://example.invalid/")
    assert adapter.poolmanager.connection_pool_kw["blocksize"] == SEND_BLOCKSIZE
    assert adapter._pool_maxsize == pool_size(config) == 50


# ------------------------------------------------------------------ uploads


def test_log_artifacts_costs_one_put_per_file_and_nothing_else(
    plugin_env, make_repo, tmp_path, monkeypatch
):
    # Small files are batched into exploding archives on Pro (see test_archive_uploads.py
    # for that budget: edition probe + one archive + one verification listing); the
    # per-file path, pinned here, is what remains with batching off (and on OSS).
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "off")
    repo = make_repo("artifactory://mlflow-test/budget")
    src = tmp_path / "src"
    for i in range(24):
        _write(src / f"d{i % 4}" / f"s{i % 3}" / f"f{i}.txt", os.urandom(100))
    plugin_env.clear_requests()
    repo.log_artifacts(str(src), "tree")
    entries = _journal(plugin_env, 24)
    assert sorted(e["method"] for e in entries) == ["PUT"] * 24
    assert all(e["status"] == 201 for e in entries)


def test_a_file_above_the_inline_limit_is_streamed_with_checksums(plugin_env, make_repo, tmp_path):
    repo = make_repo("artifactory://mlflow-test/streamed-up")
    data = os.urandom(upload._INLINE_LIMIT + 12345)
    local = _write(tmp_path / "big.bin", data)
    repo.log_artifact(str(local))
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("big.bin", str(dst)))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


# ------------------------------------------------------------------ downloads


@pytest.mark.parametrize("pipelined", [False, True])
def test_downloads_are_hashed_while_streaming_not_reread(
    plugin_env, make_repo, tmp_path, monkeypatch, pipelined
):
    monkeypatch.setattr(download, "_PIPELINE_MIN", 1000 if pipelined else 1 << 40)

    def no_second_read(*args, **kwargs):
        raise AssertionError("the downloaded file was read back to verify it")

    monkeypatch.setattr(integrity, "verify_file", no_second_read)
    repo = make_repo(f"artifactory://mlflow-test/hash-{pipelined}")
    data = os.urandom(300_000)
    repo.log_artifact(str(_write(tmp_path / "src" / "h.bin", data)), "m")
    for path in ("m/h.bin", "m"):
        dst = tmp_path / f"dst-{path.replace('/', '_')}"
        dst.mkdir()
        out = Path(repo.download_artifacts(path, str(dst)))
        target = out if out.is_file() else out / "h.bin"
        assert target.read_bytes() == data


def test_digest_checks_size_then_the_strongest_known_checksum():
    data = b"hello world"
    sha1, sha256 = hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()
    for known in (Checksums(), Checksums(sha1=sha1), Checksums(sha256=sha256)):
        digest = Digest(known)
        digest.update(data[:5])
        digest.update(memoryview(data)[5:])
        digest.check(Expected(Checksums(sha1, sha256), len(data)), "t")
        with pytest.raises(IntegrityError, match="received 11 bytes"):
            digest.check(Expected(size=12), "t")
    only_sha256 = Digest(Checksums(sha256=sha256))
    only_sha256.update(b"tampered!!!")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        only_sha256.check(Expected(Checksums(sha1, sha256)), "t")
    unknown = Digest()
    unknown.update(data)
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        unknown.check(Expected(Checksums(sha1="0" * 40)), "t")


def test_stage_runs_the_sink_in_order_and_reports_its_failure():
    seen: list[bytes] = []
    with integrity.Stage(seen.append) as stage:
        for i in range(20):
            stage.put(bytes([i]))
    assert seen == [bytes([i]) for i in range(20)]

    def broken(chunk: bytes) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with integrity.Stage(broken) as stage:
            for _ in range(100):
                stage.put(b"x")


def test_stage_stops_when_the_producer_fails():
    seen: list[bytes] = []
    with pytest.raises(ValueError):
        with integrity.Stage(seen.append) as stage:
            stage.put(b"a")
            raise ValueError("source broke")
    assert len(seen) <= 1
