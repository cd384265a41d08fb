"""Adversarial review of the archive transfers (client side), over real HTTP.

Uses the folder-download emulator and the forwarding proxy of ``test_archive_transfers``:
hostile or broken folder archives, local files that change while a batch is built, and
the per-file fallbacks that must follow.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import test_archive_transfers as _shared
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from test_archive_transfers import (
    NAMES,
    _download,
    _is_archive_get,
    _journal,
    _read,
    _tar,
    _write_tree,
)

# The emulator fixtures of the archive tests, used here by name.
_fresh_clients = _shared._fresh_clients
folder_server = _shared.folder_server
fd_env = _shared.fd_env
via_proxy = _shared.via_proxy


def _pax_record(key: bytes, value: bytes) -> bytes:
    """One PAX record, ``"<len> key=value\\n"`` (the length counts itself)."""
    body = b" " + key + b"=" + value + b"\n"
    digits = 1
    while len(str(len(body) + digits)) != digits:
        digits += 1
    return str(len(body) + digits).encode() + body


def _raw_member(name: str, content: bytes) -> bytes:
    """One ustar header and its padded content (no end-of-archive blocks)."""
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info.tobuf(tarfile.USTAR_FORMAT) + content + b"\0" * (-len(content) % 512)


def _with_pax_header(records: bytes, name: str, content: bytes) -> bytes:
    """A raw tar: a PAX extended header with ``records``, then a regular member."""
    header = tarfile.TarInfo("././@PaxHeader")
    header.type = tarfile.XHDTYPE
    header.size = len(records)
    out = header.tobuf(tarfile.USTAR_FORMAT) + records + b"\0" * (-len(records) % 512)
    return out + _raw_member(name, content) + b"\0" * 1024


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".jfrog-mlflow-")]


# ------------------------------------------------------------------ hostile folder archives


@pytest.mark.parametrize(
    "records",
    [
        _pax_record(b"GNU.sparse.size", b"x"),
        _pax_record(b"GNU.sparse.map", b"a,b,c"),
        _pax_record(b"GNU.sparse.major", b"1") + _pax_record(b"GNU.sparse.minor", b"0"),
    ],
    ids=["sparse-size", "sparse-map", "sparse-1.0"],
)
def test_a_malformed_pax_header_falls_back_to_per_file(via_proxy, tmp_path, records):
    """``tarfile`` raises ``ValueError`` (not ``TarError``) on broken GNU sparse PAX
    records; a damaged archive must cost the per-file path, not fail the download."""
    repo = get_artifact_repository("artifactory://review/pax")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    good = _raw_member("z/zz.txt", files["z/zz.txt"])

    def hostile(method: str, path: str, headers: dict[str, str]) -> Any:
        if not _is_archive_get(method, path):
            return None
        body = good + _with_pax_header(records, "plain.txt", files["plain.txt"])
        return 200, {"Content-Type": "application/x-tar"}, body

    via_proxy.intercept = hostile
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    assert not _leftovers(tmp_path / "dst")


def test_a_body_cut_inside_a_large_member_leaves_no_file(via_proxy, tmp_path):
    """A large member (streamed, not buffered) cut short: no partial file, no temp file,
    the member is fetched file by file; small members before it are kept."""
    repo = get_artifact_repository("artifactory://review/cut")
    names = [f"s{i}.txt" for i in range(9)]
    files = _write_tree(tmp_path / "src", names)
    big = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "src" / "big.bin").write_bytes(big)
    files["big.bin"] = big
    repo.log_artifacts(str(tmp_path / "src"), "m")

    def cut(method: str, path: str, headers: dict[str, str]) -> Any:
        if not _is_archive_get(method, path):
            return None
        members = [(n, tarfile.REGTYPE, files[n]) for n in names] + [
            ("big.bin", tarfile.REGTYPE, big)
        ]
        body = _tar(members)
        return 200, {"Content-Type": "application/x-tar"}, body[: len(body) - 1024 * 1024]

    via_proxy.intercept = cut
    via_proxy.seen.clear()
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    assert not _leftovers(tmp_path / "dst")
    fetched = [s[1] for s in via_proxy.seen if s[0] == "GET" and "/api/" not in s[1]]
    assert [p.rsplit("/", 1)[-1] for p in fetched] == ["big.bin"]


# ------------------------------------------------------------------ local files changing


def _on_probe(via_proxy: Any, action: Any) -> None:
    """Run ``action`` once, when the edition probe (a File List) passes the proxy: that is
    after ``log_artifacts`` planned its batches and before it reads the files."""
    done: list[bool] = []

    def intercept(method: str, path: str, headers: dict[str, str]) -> Any:
        if method == "GET" and "list" in path and not done:
            done.append(True)
            action()
        return None

    via_proxy.intercept = intercept


def test_a_file_vanishing_from_a_batch_fails_only_that_file(via_proxy, fd_env, tmp_path):
    """Per-file semantics: the other files of the batch are uploaded; the error names the
    one file that could not be read."""
    src = tmp_path / "src"
    files = _write_tree(src, NAMES)
    victim = src / "z" / "zz.txt"
    _on_probe(via_proxy, victim.unlink)
    repo = get_artifact_repository("artifactory://review/vanish")
    with pytest.raises(MlflowException) as info:
        repo.log_artifacts(str(src), "m")
    message = str(info.value)
    assert f"Failed to upload 1 of {len(NAMES)} file(s)" in message, message
    assert "zz.txt" in message
    del files["z/zz.txt"]
    assert _read(_download(repo, "m", tmp_path / "dst")) == files


def test_a_file_growing_past_the_threshold_is_not_packed(via_proxy, fd_env, tmp_path):
    """A file that grew after planning (a log still being written) is sent on its own
    instead of being read whole into memory and packed into an archive."""
    src = tmp_path / "src"
    files = _write_tree(src, NAMES)
    grower = src / "plain.txt"
    grown = files["plain.txt"] + os.urandom(3 * 1024 * 1024)

    def grow() -> None:
        grower.write_bytes(grown)

    _on_probe(via_proxy, grow)
    repo = get_artifact_repository("artifactory://review/grow")
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "m")
    puts = [e for e in _journal(fd_env) if e["method"] == "PUT"]
    archives_sent = [e for e in puts if ".jfrog-mlflow-batch-" in e["uri"]]
    assert len(archives_sent) == 1
    # (a checksum deploy attempt may precede the upload of the grown file)
    assert {e["uri"].rsplit("/", 1)[-1] for e in puts if e not in archives_sent} == {"plain.txt"}
    assert archives_sent[0]["body_size"] < 1024 * 1024
    files["plain.txt"] = grown
    assert _read(_download(repo, "m", tmp_path / "dst")) == files


# ------------------------------------------------------------------ boundaries and destinations


def test_thresholds_are_inclusive_for_uploads_and_downloads(fd_env, tmp_path):
    """A file of exactly 1 MiB is packed, one byte more is not; 8 small files make an
    archive both ways, 7 do not (MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD / _MIN_FILES)."""
    repo = get_artifact_repository("artifactory://review/bounds")
    src = tmp_path / "src"
    src.mkdir()
    files = {f"s{i}.txt": os.urandom(100 + i) for i in range(7)}
    files["edge.bin"] = os.urandom(1024 * 1024)
    files["over.bin"] = os.urandom(1024 * 1024 + 1)
    for name, data in files.items():
        (src / name).write_bytes(data)
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "eight")
    puts = [e["uri"].rsplit("/", 1)[-1] for e in _journal(fd_env) if e["method"] == "PUT"]
    # one archive with the eight files; over.bin alone (after a checksum deploy attempt)
    assert len([p for p in puts if p.startswith(".jfrog-mlflow-batch-")]) == 1, puts
    assert {p for p in puts if not p.startswith(".jfrog-mlflow-batch-")} == {"over.bin"}

    (src / "edge.bin").unlink()
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "seven")  # 7 small files: no archive
    puts = [e["uri"].rsplit("/", 1)[-1] for e in _journal(fd_env) if e["method"] == "PUT"]
    assert not [p for p in puts if p.startswith(".jfrog-mlflow-batch-")], puts

    # downloads count every file: "seven" holds 8 (with over.bin), then 7
    del files["edge.bin"]
    for step, count in (("8", 1), ("7", 0)):
        if step == "7":
            repo.delete_artifacts("seven/over.bin")
            del files["over.bin"]
        fd_env.clear_requests()
        out = _download(repo, "seven", tmp_path / f"dst-{step}")
        served = [e for e in _journal(fd_env) if _is_archive_get(e["method"], e["uri"])]
        assert len(served) == count, step
        assert _read(out) == files


@pytest.mark.parametrize("archive", [True, False], ids=["archive", "per-file"])
def test_existing_files_in_the_destination_are_overwritten_like_per_file(
    fd_env, tmp_path, monkeypatch, archive
):
    if not archive:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD", "off")
    repo = get_artifact_repository(f"artifactory://review/overwrite-{archive}")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    dst = tmp_path / "dst"
    for rel in files:
        (dst / "m" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / "m" / rel).write_bytes(b"stale local content, longer than some remote files")
    (dst / "m" / "mine.txt").write_bytes(b"not in the repository")
    fd_env.clear_requests()
    out = Path(repo.download_artifacts("m", str(dst)))
    served = [e for e in _journal(fd_env) if _is_archive_get(e["method"], e["uri"])]
    assert len(served) == int(archive)
    assert _read(out) == {**files, "mine.txt": b"not in the repository"}
    assert not _leftovers(dst)


def test_a_destination_that_is_a_symlink_to_a_directory_works_with_an_archive(fd_env, tmp_path):
    repo = get_artifact_repository("artifactory://review/dstlink")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    fd_env.clear_requests()
    out = Path(repo.download_artifacts("m", str(tmp_path / "link")))
    assert len([e for e in _journal(fd_env) if _is_archive_get(e["method"], e["uri"])]) == 1
    assert _read(out) == files and _read(real / "m") == files


def test_an_interrupted_download_leaves_no_skip_marks_behind(fd_env, tmp_path, monkeypatch):
    """Files written from an archive are marked so MLflow's per-file loop skips them; when
    the loop stops early (Ctrl-C), the unconsumed marks must not make a later download of
    one of those files skip fetching it."""
    repo = get_artifact_repository("artifactory://review/interrupted")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    dst = tmp_path / "dst"
    dst.mkdir()

    prefetch, destination = repo._prefetch_archive, repo._create_download_destination
    state = {"prefetched": False, "calls": 0}

    def after_prefetch(*args: Any, **kwargs: Any) -> None:
        prefetch(*args, **kwargs)
        state["prefetched"] = True

    def interrupting(*args: Any, **kwargs: Any) -> str:
        if state["prefetched"]:
            state["calls"] += 1
            if state["calls"] == 2:  # MLflow's loop, second file: the user hits Ctrl-C
                raise KeyboardInterrupt
        return destination(*args, **kwargs)

    monkeypatch.setattr(repo, "_prefetch_archive", after_prefetch)
    monkeypatch.setattr(repo, "_create_download_destination", interrupting)
    with pytest.raises(KeyboardInterrupt):
        repo.download_artifacts("m", str(dst))
    monkeypatch.undo()
    written = sorted(p for p in (dst / "m").rglob("*") if p.is_file())
    assert len(written) == len(files)  # the archive had delivered them all

    victim = written[-1]
    rel = victim.relative_to(dst / "m").as_posix()
    victim.unlink()  # the user removes it, then asks for that one file again
    again = Path(repo.download_artifacts(f"m/{rel}", str(dst)))
    assert again == victim and victim.read_bytes() == files[rel]


def test_write_plan_moves_to_the_pool_only_when_writes_are_slow():
    from jfrog_mlflow.archives import WritePlan

    fast = WritePlan(slow_after=0.002)
    for _ in range(100):
        fast.record(0.0005)
    assert not fast.pooled
    slow = WritePlan(slow_after=0.002)
    for _ in range(15):
        slow.record(0.01)
    assert not slow.pooled  # too few writes to judge
    slow.record(0.01)
    assert slow.pooled


@pytest.mark.parametrize("slow_after", [None, 0.0], ids=["inline", "pool-after-16"])
def test_folder_archive_members_written_inline_and_by_the_pool(
    fd_env, tmp_path, monkeypatch, slow_after
):
    """Every member arrives intact whichever way it is written (0 s makes every write
    "slow", so after the first 16 the writer pool takes over)."""
    import jfrog_mlflow.archives as archives

    if slow_after is not None:
        monkeypatch.setattr(archives, "SLOW_WRITE_S", slow_after)
    names = [f"d{i % 5}/f{i}.bin" for i in range(48)]
    repo = get_artifact_repository("artifactory://review/plan")
    files = _write_tree(tmp_path / "src", names)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    fd_env.clear_requests()
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    assert sum(_is_archive_get(e["method"], e["uri"]) for e in _journal(fd_env)) == 1
    assert _leftovers(tmp_path / "dst") == []
