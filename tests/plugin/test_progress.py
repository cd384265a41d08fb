"""A single big upload or download shows byte progress through MLflow's own bar.

MLflow's ``ArtifactProgressBar.chunks`` draws (with tqdm) only for files of at least
``_PROGRESS_BAR_DISPLAY_THRESHOLD`` bytes (500 MB) and only when
``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` allows; the tests lower that threshold to a few
MiB rather than move half a gigabyte.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

SIZE = 3 * 1024 * 1024 + 12345


@pytest.fixture
def big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import mlflow.utils.file_utils as file_utils

    monkeypatch.setattr(file_utils, "_PROGRESS_BAR_DISPLAY_THRESHOLD", 1024 * 1024)
    path = tmp_path / "src" / "weights.bin"
    path.parent.mkdir()
    path.write_bytes(os.urandom(SIZE))
    return path


def _bars(text: str, desc: str) -> list[str]:
    """The states tqdm drew for the bar ``desc`` (it redraws in place with ``\\r``)."""
    return [part.strip() for part in re.split(r"[\r\n]", text) if part.strip().startswith(desc)]


@pytest.mark.parametrize("enabled", ["true", "false"])
def test_big_single_file_transfers_show_byte_progress_unless_turned_off(
    make_repo: Any,
    big: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    enabled: str,
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", enabled)
    repo = make_repo(f"artifactory://progress/{enabled}")
    repo.log_artifact(str(big))
    up = _bars(capfd.readouterr().err, f"Uploading {big}")
    dst = tmp_path / "dst"
    dst.mkdir()
    repo.download_artifacts("weights.bin", str(dst))
    down = _bars(capfd.readouterr().err, "Downloading weights.bin")
    assert (dst / "weights.bin").read_bytes() == big.read_bytes()
    if enabled == "false":
        assert up == [] and down == []
        return
    for bar in (up, down):
        assert bar, "no progress bar was drawn"
        assert "3.01M/3.01M" in bar[-1] and "100%" in bar[-1], bar[-1]


def test_a_tree_upload_counts_every_file_without_redrawing_once_per_file(
    make_repo: Any,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The files bar of ``log_artifacts`` ends at N/N, redrawn at tqdm's pace (at most
    every 0.1 s) rather than after every file as MLflow's ``update()`` does."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    files = 300
    src = tmp_path / "tree"
    for i in range(files):
        path = src / f"d{i % 7}" / f"f{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(i))
    repo = make_repo("artifactory://progress/tree")
    repo.log_artifacts(str(src))
    states = _bars(capfd.readouterr().err, "Uploading artifacts")
    assert states and f"{files}/{files}" in states[-1] and "100%" in states[-1], states[-1:]
    assert len(states) < files // 2, f"{len(states)} redraws for {files} files"
    assert len(repo.list_artifacts("d0")) == len(range(0, files, 7))
