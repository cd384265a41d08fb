"""Archive transfers (explode upload, folder-archive download) under injected faults.

The plugin packs small files into tar archives that the server explodes, and downloads a
folder as one tar (see jfrog_mlflow/archives.py). A fault on one of those big requests
must cost a fallback to per-file transfers, never a lost, partial or corrupted file.
Everything runs against a real emulator process with folder download enabled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from reliability_support import (
    REPO,
    make_tree,
    read_tree,
    sha256,
    start_emulator,
    stored_files,
)

_EXPLODE = {"path": f"{REPO}/*.jfrog-mlflow-batch-*", "method": "PUT"}
_ARCHIVE = {"path": "api/archive/download/*"}


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({**_EXPLODE, "reset": "before"}, id="explode-reset-before"),
        pytest.param({**_EXPLODE, "status": 500}, id="explode-500"),
        pytest.param({**_EXPLODE, "status": 503, "retry_after": 0}, id="explode-503"),
        pytest.param({**_ARCHIVE, "reset": "mid_body", "truncate_after": 30_000}, id="tar-reset"),
        pytest.param({**_ARCHIVE, "truncate_after": 30_000}, id="tar-truncated"),
        pytest.param({**_ARCHIVE, "status": 503, "retry_after": 0}, id="tar-503"),
    ],
)
def test_archive_request_fault_costs_a_fallback_not_a_file(
    tmp_path: Path, configure_plugin: Any, unique_prefix: str, fault: dict[str, Any]
) -> None:
    emu = start_emulator(tmp_path / "emu", "--folder-download", data_dir=tmp_path / "data")
    try:
        src = tmp_path / "src"
        files = make_tree(src, 120, seed=23)
        repo = configure_plugin(emu.url)(f"{unique_prefix}/run")
        emu.add_faults({**fault, "times": 1})
        repo.log_artifacts(str(src))
        assert stored_files(emu, f"{unique_prefix}/run") == {
            rel: sha256(data) for rel, data in files.items()
        }
        assert not [k for k in stored_files(emu, unique_prefix) if "jfrog-mlflow-batch" in k]
        dst = tmp_path / "dst"
        dst.mkdir()
        out = Path(repo.download_artifacts("", dst_path=str(dst)))
        assert read_tree(out) == files
        leftovers = [p for p in dst.rglob("*") if p.is_file() and p.name.startswith(".")]
        assert leftovers == [], leftovers
        rules = requests.get(f"{emu.root_url}/_fake/faults", timeout=10).json()
        rules = rules["faults"]
        assert [r["fired"] for r in rules] == [1], "the archive path was not taken"
    finally:
        emu.kill()
