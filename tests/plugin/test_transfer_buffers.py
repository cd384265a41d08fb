"""Downloads received with ``readinto`` into reused buffers: every path stays verified."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from jfrog_mlflow import download, integrity


def _upload(repo, tmp_path: Path, name: str, size: int) -> bytes:
    data = os.urandom(size)
    src = tmp_path / "src" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    repo.log_artifact(str(src))
    return data


def _download(repo, tmp_path: Path, name: str, where: str) -> bytes:
    dst = tmp_path / where
    dst.mkdir()
    return Path(repo.download_artifacts(name, str(dst))).read_bytes()


@pytest.fixture
def direct_reads(monkeypatch):
    """Counts the responses read with ``readinto`` beneath urllib3."""
    used: list[bool] = []
    real = download._direct_reader

    def spy(resp, headers):
        reader = real(resp, headers)
        used.append(reader is not None)
        return reader

    monkeypatch.setattr(download, "_direct_reader", spy)
    return used


@pytest.mark.parametrize("pipelined", [False, True], ids=["in-thread", "hash-thread"])
def test_medium_and_big_bodies_are_read_into_reused_buffers(
    make_repo, tmp_path, monkeypatch, direct_reads, pipelined
):
    monkeypatch.setattr(download, "_PIPELINE_MIN", 1000 if pipelined else 1 << 40)
    repo = make_repo(f"artifactory://mlflow-test/buffers-{pipelined}")
    data = _upload(repo, tmp_path, "m.bin", 3 * 1024 * 1024 + 17)
    assert _download(repo, tmp_path, "m.bin", "dst") == data
    assert direct_reads == [True]
    assert not list(tmp_path.rglob("*.part"))


def test_buffers_are_not_reused_while_the_hash_thread_holds_them(make_repo, tmp_path, monkeypatch):
    """A slow hash thread fills the queue; a buffer recycled too early would fail the
    checksum (IntegrityError) instead of producing these bytes."""
    monkeypatch.setattr(download, "_PIPELINE_MIN", 1000)

    class SlowStage(integrity.Stage):
        def __init__(self, sink, depth=4):
            def slow(chunk):
                time.sleep(0.002)
                sink(chunk)

            super().__init__(slow, depth)

    monkeypatch.setattr(download, "Stage", SlowStage)
    repo = make_repo("artifactory://mlflow-test/slow-hash")
    data = _upload(repo, tmp_path, "s.bin", 5 * download._BUFFER + 1234)
    assert _download(repo, tmp_path, "s.bin", "dst") == data


@pytest.mark.parametrize("pipelined", [False, True], ids=["in-thread", "hash-thread"])
def test_without_a_direct_reader_the_chunk_iterator_is_used(
    make_repo, tmp_path, monkeypatch, pipelined
):
    monkeypatch.setattr(download, "_PIPELINE_MIN", 1000 if pipelined else 1 << 40)
    monkeypatch.setattr(download, "_direct_reader", lambda resp, headers: None)
    repo = make_repo(f"artifactory://mlflow-test/fallback-{pipelined}")
    data = _upload(repo, tmp_path, "f.bin", 2 * 1024 * 1024 + 5)
    assert _download(repo, tmp_path, "f.bin", "dst") == data


@pytest.mark.parametrize("pipelined", [False, True], ids=["in-thread", "hash-thread"])
def test_a_truncated_direct_read_is_retried_then_fails_cleanly(
    plugin_env, make_repo, tmp_path, monkeypatch, direct_reads, pipelined
):
    monkeypatch.setattr(download, "_PIPELINE_MIN", 1000 if pipelined else 1 << 40)
    repo = make_repo(f"artifactory://mlflow-test/trunc-direct-{pipelined}")
    data = _upload(repo, tmp_path, "t.bin", 2 * 1024 * 1024)
    with plugin_env.faults({"operation": "download", "truncate_after": 700_000, "times": 1}):
        assert _download(repo, tmp_path, "t.bin", "dst") == data
    assert direct_reads and all(direct_reads)
    with plugin_env.faults({"operation": "download", "truncate_after": 700_000}):
        with pytest.raises(MlflowException):
            _download(repo, tmp_path, "t.bin", "dst2")
    assert not list(tmp_path.rglob("*.part"))
    assert not list((tmp_path / "dst2").iterdir())


def test_ranged_download_reads_ranges_into_buffers(
    plugin_env, make_repo, tmp_path, monkeypatch, direct_reads
):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD", str(1024 * 1024))
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE", str(300_000))
    repo = make_repo("artifactory://mlflow-test/ranged-buffers")
    data = _upload(repo, tmp_path, "r.bin", 1024 * 1024 + 99_999)
    plugin_env.clear_requests()
    assert _download(repo, tmp_path, "r.bin", "dst") == data
    ranged = [e for e in plugin_env.requests() if e["method"] == "GET" and e["status"] == 206]
    assert len(ranged) == 4
    assert direct_reads and all(direct_reads)
