"""The small-file download path: one read, one hash, one write, an ``O_EXCL`` temp file."""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from jfrog_mlflow import download, localfiles


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_small_files_download_verified_with_normal_permissions(plugin_env, make_repo, tmp_path):
    repo = make_repo("artifactory://mlflow-test/small-tree")
    src = tmp_path / "src"
    files = {f"d{i % 3}/f{i}.bin": os.urandom(100 + i) for i in range(9)}
    files["empty.bin"] = b""
    for rel, data in files.items():
        _write(src / rel, data)
    repo.log_artifacts(str(src))
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("", str(dst)))
    umask = os.umask(0)
    os.umask(umask)
    for rel, data in files.items():
        target = out / rel
        assert target.read_bytes() == data
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert not [p for p in dst.rglob(".jfrog-mlflow-*")]


@pytest.mark.parametrize(
    ("size", "pipeline_min"),
    [(50_000, None), (200_000, 1000)],
    ids=["small-in-thread", "pipelined"],
)
def test_a_truncated_body_is_retried_then_fails_cleanly(
    plugin_env, make_repo, tmp_path, monkeypatch, size, pipeline_min
):
    if pipeline_min is not None:  # force the streamed (write and hash on helper threads) path
        monkeypatch.setattr(download, "_PIPELINE_MIN", pipeline_min)
    repo = make_repo(f"artifactory://mlflow-test/trunc-{size}")
    data = os.urandom(size)
    repo.log_artifact(str(_write(tmp_path / "src" / "t.bin", data)))
    dst = tmp_path / "dst"
    dst.mkdir()
    with plugin_env.faults({"operation": "download", "truncate_after": 5000, "times": 1}):
        out = repo.download_artifacts("t.bin", str(dst))
    assert Path(out).read_bytes() == data
    with plugin_env.faults({"operation": "download", "truncate_after": 5000}):
        with pytest.raises(MlflowException):
            repo.download_artifacts("t.bin", str(tmp_path / "dst2"))
    assert not list(tmp_path.rglob("*.part"))


def test_temp_names_never_reuse_an_existing_file(tmp_path, monkeypatch):
    monkeypatch.setattr(localfiles, "_tmp_counter", itertools.count())
    target = tmp_path / "a.bin"
    taken = tmp_path / f".jfrog-mlflow-{os.getpid()}-{localfiles._TMP_TAG}-0.part"
    taken.write_bytes(b"leftover")
    fd, tmp = localfiles.create_temp(str(target))
    os.close(fd)
    assert tmp != str(taken)
    assert taken.read_bytes() == b"leftover"
    assert Path(tmp).parent == tmp_path
    assert Path(tmp).stat().st_size == 0
