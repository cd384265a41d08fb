"""The plugin survives the emulator's injected faults without losing or corrupting a file.

* A tree is logged and downloaded while the emulator answers about 20% of requests
  with 503 (a quarter of those with ``Retry-After``), resets 5% of connections and
  truncates 2% of download bodies; every file arrives byte-identical.
* When the server keeps failing for some files, the call fails with one error that
  names them, the retry budget bounds the number of attempts (counted in the
  emulator's journal, not on a clock), no partial file is left on disk, and every
  file not named in the error is really stored.
* The emulator is stopped and restarted on the same data directory in the middle of
  an upload and of a download; the plugin's retries finish both jobs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException
from reliability_support import (
    REPO,
    Emulator,
    free_port,
    make_tree,
    read_tree,
    record_figure,
    scale,
    sha256,
    start_emulator,
    stored_files,
)

pytestmark = pytest.mark.timeout(600)

#: A hostile but survivable mix: 20% of requests answered 503 (a quarter of them with
#: ``Retry-After: 1``), 5% connection resets, 2% of downloads truncated. At most one rule
#: fires per request (first match first), so later rules get conditional probabilities:
#: 0.05 / 0.8 = 0.0625 of the requests left after the 503s, 0.02 / 0.75 of the rest.
FAULT_MIX: list[dict[str, Any]] = [
    {
        "id": "503-retry-after",
        "path": f"{REPO}/*",
        "probability": 0.05,
        "status": 503,
        "retry_after": 1,
    },
    {"id": "503", "path": f"{REPO}/*", "probability": 0.15 / 0.95, "status": 503},
    {"id": "reset", "path": f"{REPO}/*", "probability": 0.05 / 0.80, "reset": "before"},
    {
        "id": "truncate",
        "path": f"{REPO}/*",
        "operation": "download",
        "probability": 0.02 / 0.75,
        "truncate_after": 7,
    },
    {"id": "storage-503", "path": "api/storage/*", "probability": 0.2, "status": 503},
]


def _fired(emu: Emulator) -> dict[str, dict[str, int]]:
    import requests

    rules = requests.get(f"{emu.root_url}/_fake/faults", timeout=10).json()["faults"]
    return {r["id"]: {"matched": r["matched"], "fired": r["fired"]} for r in rules}


def _assert_no_temp_leftovers(dst: Path, expected: set[str]) -> None:
    present = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    assert present == expected, f"unexpected files: {sorted(present - expected)[:10]}"


def test_tree_round_trips_byte_identical_under_503s_resets_and_truncations(
    emulator: Emulator, configure_plugin: Any, tmp_path: Path, unique_prefix: str
) -> None:
    n_files = 200 * scale()
    src = tmp_path / "src"
    files = make_tree(src, n_files, seed=7)
    # Per-file uploads, so the fault mix meets hundreds of requests; the archive path (a
    # few big requests) has its own deterministic tests in test_archives_under_faults.py.
    repo_for = configure_plugin(emulator.url, MLFLOW_ARTIFACTORY_BATCH_UPLOAD="off")
    repo = repo_for(f"{unique_prefix}/run")

    emulator.add_faults(*FAULT_MIX)
    repo.log_artifacts(str(src))
    upload_faults = _fired(emulator)
    emulator.clear_faults()

    stored = stored_files(emulator, f"{unique_prefix}/run")
    assert stored == {rel: sha256(data) for rel, data in files.items()}

    emulator.add_faults(*FAULT_MIX)
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("", dst_path=str(dst)))
    download_faults = _fired(emulator)
    emulator.clear_faults()

    got = read_tree(out)
    assert set(got) == set(files)
    mismatched = [rel for rel, data in files.items() if got[rel] != data]
    assert mismatched == []
    _assert_no_temp_leftovers(out, set(files))

    fired_up = sum(v["fired"] for v in upload_faults.values())
    fired_down = sum(v["fired"] for v in download_faults.values())
    assert fired_up > 0 and fired_down > 0
    record_figure(
        "faults_survived",
        files=n_files,
        bytes=sum(len(d) for d in files.values()),
        upload_faults=upload_faults,
        download_faults=download_faults,
        faults_fired=fired_up + fired_down,
        files_corrupted=len(mismatched),
        files_lost=len(set(files) - set(got)),
    )


def test_persistent_upload_failure_is_one_clear_error_and_nothing_false_is_reported(
    emulator: Emulator, configure_plugin: Any, tmp_path: Path, unique_prefix: str
) -> None:
    src = tmp_path / "src"
    files = make_tree(src / "good", 30, seed=11)
    bad = {f"bad/b{i}.bin": bytes([i]) * (100 + i) for i in range(3)}
    for rel, data in bad.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    files = {f"good/{k}": v for k, v in files.items()} | bad
    max_retries = 3
    # Per-file uploads: the failing paths are files of their own, not members of an archive.
    repo_for = configure_plugin(
        emulator.url,
        MLFLOW_ARTIFACTORY_MAX_RETRIES=str(max_retries),
        MLFLOW_ARTIFACTORY_BATCH_UPLOAD="off",
    )
    repo = repo_for(f"{unique_prefix}/run")
    emulator.add_faults(
        {"method": "PUT", "path": f"{REPO}/{unique_prefix}/run/bad/*", "status": 503}
    )

    with pytest.raises(MlflowException) as info:
        repo.log_artifacts(str(src))
    message = str(info.value)
    for rel in bad:
        assert rel in message, f"error does not name {rel}: {message[:500]}"
    assert len(message) < 20_000

    emulator.clear_faults()
    stored = stored_files(emulator, f"{unique_prefix}/run")
    assert not any(rel in stored for rel in bad), "a failed file is stored"
    for rel, data in files.items():
        # Everything the error does not name must really be stored, byte-identical.
        if rel not in message:
            assert stored.get(rel) == sha256(data), f"{rel} reported uploaded but not stored"

    puts = [e for e in emulator.journal() if e["method"] == "PUT" and "/bad/" in e["uri"]]
    per_path: dict[str, int] = {}
    for entry in puts:
        per_path[entry["uri"]] = per_path.get(entry["uri"], 0) + 1
    # Each pass spends the retry budget once; the second pass makes no progress (the same
    # files fail again), so there is no third (MLFLOW_ARTIFACTORY_TRANSFER_PASSES is 3).
    assert set(per_path.values()) == {(max_retries + 1) * 2}, per_path
    assert "after 2 passes" in message
    record_figure("persistent_upload_failure", attempts_per_failed_path=max(per_path.values()))


def test_persistent_download_failure_leaves_no_partial_file(
    emulator: Emulator, configure_plugin: Any, tmp_path: Path, unique_prefix: str
) -> None:
    src = tmp_path / "src"
    files = make_tree(src, 20, seed=12, max_size=4000)
    big = {f"broken/x{i}.bin": bytes(range(256)) * 40 for i in range(2)}
    big["broken/reset.bin"] = b"r" * 5000
    for rel, data in big.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    files |= big
    repo_for = configure_plugin(emulator.url, MLFLOW_ARTIFACTORY_MAX_RETRIES="2")
    repo = repo_for(f"{unique_prefix}/run")
    repo.log_artifacts(str(src))

    emulator.add_faults(
        {"method": "GET", "path": f"{REPO}/*/broken/x*", "truncate_after": 100},
        {"method": "GET", "path": f"{REPO}/*/broken/reset.bin", "reset": "mid_body"},
    )
    dst = tmp_path / "dst"
    dst.mkdir()
    with pytest.raises(MlflowException) as info:
        repo.download_artifacts("", dst_path=str(dst))
    message = str(info.value)
    for rel in big:
        assert rel in message, f"error does not name {rel}: {message[:500]}"

    # No partial, corrupted or temporary file anywhere under the destination.
    present = read_tree(dst)
    for rel, data in present.items():
        assert rel in files, f"stray file {rel} left in the destination"
        assert data == files[rel], f"corrupted file {rel} left in the destination"
    assert not any(rel in present for rel in big)

    # A single broken file download fails the same way and leaves nothing either.
    single = tmp_path / "single"
    single.mkdir()
    with pytest.raises(MlflowException):
        repo.download_artifacts("broken/x0.bin", dst_path=str(single))
    assert list(single.rglob("*")) in ([], [single / "broken"])


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"reset": "mid_body", "truncate_after": 40}, id="reset-mid-body"),
        pytest.param({"truncate_after": 40}, id="truncated"),
        pytest.param({"reset": "before"}, id="reset-before"),
        pytest.param({"status": 503, "retry_after": 0}, id="503"),
    ],
)
@pytest.mark.parametrize("edition", ["pro", "oss"])
def test_listing_interrupted_once_is_retried(
    tmp_path: Path, configure_plugin: Any, unique_prefix: str, fault: dict[str, Any], edition: str
) -> None:
    """A listing (File List on Pro, Folder Info on OSS) broken once is retried."""
    emu = start_emulator(tmp_path / "emu", "--edition", edition, data_dir=tmp_path / "data")
    try:
        src = tmp_path / "src"
        files = make_tree(src, 40, seed=17)
        repo = configure_plugin(emu.url)(f"{unique_prefix}/run")
        repo.log_artifacts(str(src))
        emu.add_faults({"path": "api/storage/*", "times": 1, **fault})
        dst = tmp_path / "dst"
        dst.mkdir()
        out = repo.download_artifacts("", dst_path=str(dst))
        assert read_tree(Path(out)) == files
        assert sorted(i.path for i in repo.list_artifacts()) == sorted(
            {rel.split("/")[0] for rel in files}
        )
    finally:
        emu.kill()


def _wait_for_puts(emu: Emulator, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(1 for e in emu.journal() if e["method"] in ("PUT", "GET")) >= at_least:
            return
        time.sleep(0.05)
    raise AssertionError("transfer did not progress")


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_emulator_restart_mid_transfer_is_survived_by_retries(
    tmp_path: Path, configure_plugin: Any, unique_prefix: str, how: str
) -> None:
    n_files = 60 * scale()
    data_dir = tmp_path / "data"
    port = free_port()
    emu = start_emulator(tmp_path / "emu", data_dir=data_dir, port=port)
    src = tmp_path / "src"
    files = make_tree(src, n_files, seed=13)
    # Enough retries to outlast a restart (~1-3 s): 0.2 * 2**k summed over 10 tries.
    repo_for = configure_plugin(
        emu.url,
        MLFLOW_ARTIFACTORY_MAX_RETRIES="10",
        MLFLOW_ARTIFACTORY_BACKOFF_FACTOR="0.2",
        MLFLOW_ARTIFACTORY_MAX_WORKERS="4",
        # One request per file, so the restart lands mid-transfer (archives: see
        # test_archives_under_faults.py).
        MLFLOW_ARTIFACTORY_BATCH_UPLOAD="off",
    )
    repo = repo_for(f"{unique_prefix}/run")
    errors: list[BaseException] = []
    restarts = 0
    try:
        for phase in ("upload", "download"):
            emu.add_faults({"path": f"{REPO}/*", "delay_ms": 30})
            requests.delete(f"{emu.root_url}/_fake/requests", timeout=10).raise_for_status()
            dst = tmp_path / "dst"
            dst.mkdir(exist_ok=True)

            def work(phase: str = phase, dst: Path = dst) -> None:
                try:
                    if phase == "upload":
                        repo.log_artifacts(str(src))
                    else:
                        repo.download_artifacts("", dst_path=str(dst))
                except BaseException as exc:  # reported below
                    errors.append(exc)

            worker = threading.Thread(target=work)
            worker.start()
            _wait_for_puts(emu, n_files // 4)
            # SIGTERM (graceful) or SIGKILL mid-transfer; in-flight requests fail.
            if how == "stop":
                emu.stop()
            else:
                emu.kill()
            emu = start_emulator(tmp_path / "emu", data_dir=data_dir, port=port)
            restarts += 1
            worker.join(timeout=300)
            assert not worker.is_alive()
            assert errors == [], errors
            # The job really was interrupted: the restarted emulator finished it.
            method = "PUT" if phase == "upload" else "GET"
            resumed = [e for e in emu.journal() if e["method"] == method and REPO in e["uri"]]
            assert resumed, f"the {phase} finished before the restart; nothing was proven"
        assert stored_files(emu, f"{unique_prefix}/run") == {
            rel: sha256(data) for rel, data in files.items()
        }
        assert read_tree(tmp_path / "dst") == files
    finally:
        emu.kill()
    record_figure(f"restart_mid_transfer_{how}", files=n_files, restarts=restarts, files_lost=0)
