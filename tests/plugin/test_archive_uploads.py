"""Directory uploads through archives (deploy from archive, "explode") and their fallbacks.

Everything runs over real HTTP: an emulator with folder download enabled, the session
emulator, the OSS emulator, and a forwarding proxy (``plugin_support.Proxy``) that can
refuse explode deploys or strip the explode header. Request counts come from the
emulator's journal.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from plugin_support import (
    NAMES,
    calls,
    download_into,
    header,
    is_archive_get,
    journal,
    read_tree,
    write_tree,
)

from jfrog_mlflow import archives

pytestmark = pytest.mark.usefixtures("fresh_clients")


def test_tar_bytes_keeps_unicode_and_long_names():
    """An archive keeps Unicode and names longer than ustar allows (PAX headers)."""
    names = [n for n in NAMES if n != "empty.bin"]
    data = archives.tar_bytes((n, n.encode(), 0) for n in names)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert got == {n: n.encode() for n in names}


# ------------------------------------------------------------------ request counts


def test_round_trip_with_awkward_names_through_both_archive_paths(fd_env, tmp_path):
    """Awkward names survive both archive paths: one archive up, one archive down, no per-file
    request."""
    repo = get_artifact_repository("artifactory://arch/names")
    files = write_tree(tmp_path / "src", NAMES)
    (tmp_path / "src" / "empty-dir").mkdir()
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    up = journal(fd_env)
    puts = [e for e in up if e["method"] == "PUT"]
    # One archive for the ten files, and the empty folder: no per-file PUT at all.
    assert len(puts) == 2, calls(up)
    assert ".jfrog-mlflow-batch-" in puts[0]["uri"] and puts[0]["status"] == 200
    assert header(puts[0], "X-Explode-Archive-Atomic") == "true"
    assert header(puts[0], "X-Checksum-Sha256")
    assert puts[1]["uri"].endswith("/empty-dir/")
    deep = [e for e in up if "deep=1" in e["uri"]]
    assert len(deep) == 1  # the verification listing
    assert [f.path for f in repo.list_artifacts("m") if f.path.startswith("m/.jfrog")] == []

    fd_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst")
    down = journal(fd_env)
    assert read_tree(out) == files
    assert (out / "empty-dir").is_dir()
    # storage info (MLflow's is-directory check) + deep listing + one archive
    assert len(down) == 3, calls(down)
    assert sum(is_archive_get(e["method"], e["uri"]) for e in down) == 1


def test_many_small_files_cost_balanced_archives_and_one_listing(fd_env, tmp_path):
    """1,200 small files go up as two archives of 600 plus one verifying listing, and come down as
    one archive."""
    src = tmp_path / "src"
    files = {}
    for i in range(1200):
        rel = f"f{i % 60}/g{i % 7}/file{i}.bin"
        files[rel] = os.urandom(512)
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    repo = get_artifact_repository("artifactory://arch/w1")
    fd_env.clear_requests()
    repo.log_artifacts(str(src))
    up = journal(fd_env)
    kinds = sorted(
        "archive" if ".jfrog-mlflow-batch-" in e["uri"] else e["method"] + e["uri"].split("?")[-1]
        for e in up
    )
    # <= 2 edition probes (the run folder is new: its listing is a 404, the root's is not),
    # two archives of 600 files, one deep listing.
    assert kinds.count("archive") == 2, calls(up)
    assert len([e for e in up if "deep=1" in e["uri"]]) == 1
    assert len(up) <= 5, calls(up)
    fd_env.clear_requests()
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("", str(dst)))
    down = journal(fd_env)
    assert read_tree(out) == files
    # MLflow lists the root first, then the deep listing, then one archive.
    assert len(down) == 3, calls(down)


# ------------------------------------------------------------------ when archives are not used


def test_oss_uses_neither_archive_feature(oss_artifactory, tmp_path):
    """On OSS every file is its own PUT and GET; no archive is ever tried."""
    repo = get_artifact_repository("artifactory://arch/oss")
    files = write_tree(tmp_path / "src", NAMES)
    oss_artifactory.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    up = journal(oss_artifactory)
    assert not [e for e in up if ".jfrog-mlflow-batch-" in e["uri"]]
    assert len([e for e in up if e["method"] == "PUT"]) == len(files)
    oss_artifactory.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    assert not [e for e in journal(oss_artifactory) if "/api/archive/" in e["uri"]]


def test_configuration_off_disables_both_archive_features(fd_env, tmp_path, monkeypatch):
    """``off`` for both modes (in any case) means one request per file both ways."""
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "off")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD", "Off")
    repo = get_artifact_repository("artifactory://arch/off")
    files = write_tree(tmp_path / "src", NAMES)
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    entries = journal(fd_env)
    assert not [e for e in entries if ".jfrog-mlflow-batch-" in e["uri"] or "/archive/" in e["uri"]]
    assert len([e for e in entries if e["method"] == "PUT"]) == len(files)


def test_too_few_files_are_sent_one_by_one(fd_env, tmp_path):
    """Below MLFLOW_ARTIFACTORY_BATCH_MIN_FILES no archive is built or fetched."""
    repo = get_artifact_repository("artifactory://arch/few")
    files = write_tree(tmp_path / "src", NAMES[:3])
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"))
    out = download_into(repo, "", tmp_path / "dst")
    assert read_tree(out) == files
    entries = journal(fd_env)
    assert not [e for e in entries if ".jfrog-mlflow-batch-" in e["uri"] or "/archive/" in e["uri"]]


def test_thresholds_are_inclusive_for_uploads_and_downloads(fd_env, tmp_path):
    """A file of exactly 1 MiB is packed, one byte more is not; 8 small files make an
    archive both ways, 7 do not (MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD / _MIN_FILES)."""
    repo = get_artifact_repository("artifactory://arch/bounds")
    src = tmp_path / "src"
    src.mkdir()
    files = {f"s{i}.txt": os.urandom(100 + i) for i in range(7)}
    files["edge.bin"] = os.urandom(1024 * 1024)
    files["over.bin"] = os.urandom(1024 * 1024 + 1)
    for name, data in files.items():
        (src / name).write_bytes(data)
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "eight")
    puts = [e["uri"].rsplit("/", 1)[-1] for e in journal(fd_env) if e["method"] == "PUT"]
    # one archive with the eight files; over.bin alone (after a checksum deploy attempt)
    assert len([p for p in puts if p.startswith(".jfrog-mlflow-batch-")]) == 1, puts
    assert {p for p in puts if not p.startswith(".jfrog-mlflow-batch-")} == {"over.bin"}

    (src / "edge.bin").unlink()
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "seven")  # 7 small files: no archive
    puts = [e["uri"].rsplit("/", 1)[-1] for e in journal(fd_env) if e["method"] == "PUT"]
    assert not [p for p in puts if p.startswith(".jfrog-mlflow-batch-")], puts

    # downloads count every file: "seven" holds 8 (with over.bin), then 7
    del files["edge.bin"]
    for step, count in (("8", 1), ("7", 0)):
        if step == "7":
            repo.delete_artifacts("seven/over.bin")
            del files["over.bin"]
        fd_env.clear_requests()
        out = download_into(repo, "seven", tmp_path / f"dst-{step}")
        served = [e for e in journal(fd_env) if is_archive_get(e["method"], e["uri"])]
        assert len(served) == count, step
        assert read_tree(out) == files


# ------------------------------------------------------------------ refusals and fallbacks


def test_explode_refused_falls_back_per_file_and_is_remembered(archive_proxy, tmp_path):
    """A 400 to an explode deploy sends the batch's files one by one, and later uploads skip
    archives."""

    def refuse(method, path, headers):
        if method == "PUT" and any(k.lower().startswith("x-explode") for k in headers):
            return 400, {"Content-Type": "application/json"}, b'{"errors":[{"status":400}]}'
        return None

    archive_proxy.intercept = refuse
    repo = get_artifact_repository("artifactory://arch/refused")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert repo.client.explode_supported is False
    assert read_tree(download_into(repo, "m", tmp_path / "dst")) == files
    archive_proxy.seen.clear()
    repo.log_artifacts(str(tmp_path / "src"), "again")
    puts = [s for s in archive_proxy.seen if s[0] == "PUT"]
    assert len(puts) == len(files) and all(status == 201 for _, _, status in puts)


def test_explode_ignored_deletes_the_stray_archive_and_reuploads(archive_proxy, fd_env, tmp_path):
    """A server that stores the archive instead of unpacking it: the archive is deleted, its files
    are sent one by one, batching stops."""

    def strip(method, path, headers):
        return {k: v for k, v in headers.items() if not k.lower().startswith("x-explode")}

    archive_proxy.rewrite = strip  # e.g. a proxy that drops unknown headers
    repo = get_artifact_repository("artifactory://arch/ignored")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert repo.client.explode_supported is False
    assert [f.path for f in repo.list_artifacts("m") if ".jfrog-mlflow-batch-" in f.path] == []
    assert [s for s in archive_proxy.seen if s[0] == "DELETE" and ".jfrog-mlflow-batch-" in s[1]]
    assert read_tree(download_into(repo, "m", tmp_path / "dst")) == files


def test_explode_auth_errors_are_reported_without_secrets(fd_env, tmp_path, monkeypatch):
    """A 401 to an archive fails every file of it, counted in the error, which holds no token."""
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "wrong-secret-token")
    repo = get_artifact_repository("artifactory://arch/auth")
    repo.client._is_pro = True  # edition known; the archive upload itself is refused
    write_tree(tmp_path / "src", NAMES)
    with pytest.raises(MlflowException) as info:
        repo.log_artifacts(str(tmp_path / "src"), "m")
    assert "HTTP 401" in str(info.value) and "wrong-secret-token" not in str(info.value)
    assert f"of {len(NAMES)} file(s)" in str(info.value)


def test_checksum_names_are_refused_before_anything_is_sent(fd_env, tmp_path):
    """A name Artifactory would take as a checksum upload fails the call before any request."""
    repo = get_artifact_repository("artifactory://arch/refuse")
    write_tree(tmp_path / "src", [*NAMES, "x/model.bin.sha1"])
    fd_env.clear_requests()
    with pytest.raises(MlflowException, match="sha1"):
        repo.log_artifacts(str(tmp_path / "src"), "m")
    assert journal(fd_env) == []


# ------------------------------------------------------------------ local files changing


def _on_probe(archive_proxy: Any, action: Any) -> None:
    """Run ``action`` once, when the edition probe (a File List) passes the proxy: that is
    after ``log_artifacts`` planned its batches and before it reads the files."""
    done: list[bool] = []

    def intercept(method: str, path: str, headers: dict[str, str]) -> Any:
        if method == "GET" and "list" in path and not done:
            done.append(True)
            action()
        return None

    archive_proxy.intercept = intercept


def test_a_file_vanishing_from_a_batch_fails_only_that_file(archive_proxy, fd_env, tmp_path):
    """Per-file semantics: the other files of the batch are uploaded; the error names the
    one file that could not be read."""
    src = tmp_path / "src"
    files = write_tree(src, NAMES)
    victim = src / "z" / "zz.txt"
    _on_probe(archive_proxy, victim.unlink)
    repo = get_artifact_repository("artifactory://arch/vanish")
    with pytest.raises(MlflowException) as info:
        repo.log_artifacts(str(src), "m")
    message = str(info.value)
    assert f"Failed to upload 1 of {len(NAMES)} file(s)" in message, message
    assert "zz.txt" in message
    del files["z/zz.txt"]
    assert read_tree(download_into(repo, "m", tmp_path / "dst")) == files


def test_a_file_growing_past_the_threshold_is_not_packed(archive_proxy, fd_env, tmp_path):
    """A file that grew after planning (a log still being written) is sent on its own
    instead of being read whole into memory and packed into an archive."""
    src = tmp_path / "src"
    files = write_tree(src, NAMES)
    grower = src / "plain.txt"
    grown = files["plain.txt"] + os.urandom(3 * 1024 * 1024)

    def grow() -> None:
        grower.write_bytes(grown)

    _on_probe(archive_proxy, grow)
    repo = get_artifact_repository("artifactory://arch/grow")
    fd_env.clear_requests()
    repo.log_artifacts(str(src), "m")
    puts = [e for e in journal(fd_env) if e["method"] == "PUT"]
    archives_sent = [e for e in puts if ".jfrog-mlflow-batch-" in e["uri"]]
    assert len(archives_sent) == 1
    # (a checksum deploy attempt may precede the upload of the grown file)
    assert {e["uri"].rsplit("/", 1)[-1] for e in puts if e not in archives_sent} == {"plain.txt"}
    assert archives_sent[0]["body_size"] < 1024 * 1024
    files["plain.txt"] = grown
    assert read_tree(download_into(repo, "m", tmp_path / "dst")) == files
