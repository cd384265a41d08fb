"""Folder downloads through one archive and their fallbacks to one request per file.

Everything runs over real HTTP: an emulator with folder download enabled, the session
emulator (folder download disabled, its default), and a forwarding proxy
(``plugin_support.Proxy``) that can replace a folder archive with a damaged or hostile
one. Nothing partial, nothing outside the destination and no temporary file is ever
left behind.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from plugin_support import (
    NAMES,
    calls,
    download_into,
    is_archive_get,
    journal,
    leftovers,
    make_tar,
    read_tree,
    write_tree,
)

from jfrog_mlflow import planning
from jfrog_mlflow.config import PluginConfig

pytestmark = pytest.mark.usefixtures("fresh_clients")


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


# ------------------------------------------------------------------ server refusals


def test_folder_download_disabled_falls_back_once_then_is_remembered(plugin_env, tmp_path):
    """A 403 (folder download disabled) costs one refused request; the client then skips archives
    for that server."""
    repo = get_artifact_repository("artifactory://arch/disabled")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    plugin_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst1")
    first = journal(plugin_env)
    assert read_tree(out) == files
    archive_calls = [e for e in first if is_archive_get(e["method"], e["uri"])]
    assert [e["status"] for e in archive_calls] == [403]
    # Folder download is off on this server: stat + listing + the refused archive + N files.
    assert len(first) == len(files) + 3, calls(first)
    assert repo.client.folder_download_supported is False
    plugin_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst2")
    second = journal(plugin_env)
    assert read_tree(out) == files
    assert not [e for e in second if is_archive_get(e["method"], e["uri"])]
    assert len(second) == len(files) + 2


def test_folder_download_refusal_is_rechecked_after_a_while(plugin_env, tmp_path):
    """A long-running process notices when an admin turns folder download on."""
    repo = get_artifact_repository("artifactory://arch/recheck")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert read_tree(download_into(repo, "m", tmp_path / "dst1")) == files
    assert repo.client.folder_download_supported is False
    with plugin_env.folder_download():
        assert read_tree(download_into(repo, "m", tmp_path / "dst2")) == files  # still remembered
        repo.client._folder_download.recheck_after = 0.0  # the interval has passed
        assert repo.client.folder_download_supported is True
        plugin_env.clear_requests()
        assert read_tree(download_into(repo, "m", tmp_path / "dst3")) == files
        served = [e for e in journal(plugin_env) if is_archive_get(e["method"], e["uri"])]
        assert [e["status"] for e in served] == [200]


def test_folder_over_the_server_limit_falls_back_but_is_not_remembered(fd_env, tmp_path):
    """A 400 (folder over max files) only costs that download; smaller folders still work."""
    repo = get_artifact_repository("artifactory://arch/limit")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    with fd_env.folder_download(max_files=len(files) - 1):
        fd_env.clear_requests()
        out = download_into(repo, "m", tmp_path / "dst1")
        refused = [e for e in journal(fd_env) if is_archive_get(e["method"], e["uri"])]
        assert read_tree(out) == files
        assert [e["status"] for e in refused] == [400]
        assert repo.client.folder_download_supported is not False
    fd_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst2")
    served = [e for e in journal(fd_env) if is_archive_get(e["method"], e["uri"])]
    assert read_tree(out) == files
    assert [e["status"] for e in served] == [200]


def _archive_gets(handle: Any) -> list[tuple[str, int]]:
    """The folder archives asked for (path after the repository, status), in order."""
    marker = f"/api/archive/download/{handle.repo}/"
    return [
        (e["uri"].split(marker, 1)[1].split("?", 1)[0], e["status"])
        for e in journal(handle)
        if is_archive_get(e["method"], e["uri"])
    ]


def _counts_tree(root: Path, counts: dict[str, int]) -> dict[str, bytes]:
    """``counts[folder]`` small files in each folder (``""``: ``root`` itself)."""
    return write_tree(
        root, [f"{folder}/f{i}.txt" if folder else f"f{i}.txt" for folder, n in counts.items()
               for i in range(n)]
    )  # fmt: skip


def test_a_folder_the_server_refuses_comes_in_archives_of_its_subfolders(fd_env, tmp_path):
    """Over the server's file limit, the refused folder gives way to its subfolders; only
    the files outside them (the folder's own) go one by one."""
    repo = get_artifact_repository("artifactory://arch/split")
    files = _counts_tree(tmp_path / "src", {"": 2, "a": 9, "b": 9})
    repo.log_artifacts(str(tmp_path / "src"), "m")
    with fd_env.folder_download(max_files=10):
        fd_env.clear_requests()
        out = download_into(repo, "m", tmp_path / "dst")
        assert read_tree(out) == files
        archives = _archive_gets(fd_env)
        assert archives[0] == ("arch/split/m", 400)
        assert sorted(archives[1:]) == [("arch/split/m/a", 200), ("arch/split/m/b", 200)]
        singles = [e["uri"] for e in journal(fd_env) if e["method"] == "GET" and "/m/f" in e["uri"]]
        assert len(singles) == 2, singles
    assert leftovers(out) == []


def test_a_folder_over_artifactorys_default_file_limit_is_split_before_asking(fd_env, tmp_path):
    """5,002 files are over the 5,000 files a stock server allows in one archive: its two
    subfolders are asked for at once, with no refused request and no file one by one."""
    repo = get_artifact_repository("artifactory://arch/big")
    src = tmp_path / "src"
    for folder in ("a", "b"):
        (src / folder).mkdir(parents=True)
        for i in range(2501):
            (src / folder / f"f{i}").write_bytes(b"%d" % i)
    repo.log_artifacts(str(src), "m")
    fd_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst")
    assert sorted(_archive_gets(fd_env)) == [("arch/big/m/a", 200), ("arch/big/m/b", 200)]
    assert len(journal(fd_env)) == 4  # storage info, the listing and the two archives
    assert (out / "b" / "f2500").read_bytes() == b"2500"
    assert sum(1 for p in out.rglob("*") if p.is_file()) == 5002


def test_archives_refused_as_too_many_at_once_still_bring_every_file(fd_env, tmp_path):
    """With one folder download at a time on the server, the archives asked for together
    may be refused; every file still arrives, the refused ones one by one."""
    repo = get_artifact_repository("artifactory://arch/busy")
    files = _counts_tree(tmp_path / "src", {"a": 9, "b": 9, "c": 9})
    repo.log_artifacts(str(tmp_path / "src"), "m")
    with fd_env.folder_download(max_files=10, max_parallel=1):
        fd_env.clear_requests()
        out = download_into(repo, "m", tmp_path / "dst")
        assert read_tree(out) == files
        assert ("arch/busy/m", 400) in _archive_gets(fd_env)
        assert any(status == 200 for _, status in _archive_gets(fd_env))
    assert leftovers(out) == []


# ------------------------------------------------------------------ damaged or hostile archives


def test_a_corrupted_archive_entry_is_refetched_file_by_file(archive_proxy, tmp_path):
    """A member whose bytes do not match the listing is not kept; only that file is fetched on its
    own."""
    repo = get_artifact_repository("artifactory://arch/corrupt")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    victim = "plain.txt"

    def corrupt(method, path, body):
        if not is_archive_get(method, path):
            return None
        members = []
        with tarfile.open(fileobj=io.BytesIO(body), mode="r|") as tar:
            for m in tar:
                data = tar.extractfile(m).read()
                if m.name == victim:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                members.append((m.name, tarfile.REGTYPE, data))
        return make_tar(members)

    archive_proxy.mutate = corrupt
    archive_proxy.seen.clear()
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    gets = [s for s in archive_proxy.seen if s[0] == "GET" and "/api/" not in s[1]]
    assert len(gets) == 1 and gets[0][1].endswith("/m/plain.txt"), archive_proxy.seen
    assert not list(out.rglob(".jfrog-mlflow-*"))


def test_a_hostile_archive_cannot_write_outside_the_destination(archive_proxy, tmp_path):
    """Traversal, absolute, symlink and unlisted members are ignored; listed ones are taken (also
    with ``./`` or the folder's name in front)."""
    repo = get_artifact_repository("artifactory://arch/hostile")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")

    def hostile(method, path, headers):
        if not is_archive_get(method, path):
            return None
        members = [
            ("../evil", tarfile.REGTYPE, b"evil"),
            ("../../evil2", tarfile.REGTYPE, b"evil"),
            ("/tmp/evil3", tarfile.REGTYPE, b"evil"),
            ("plain.txt", tarfile.SYMTYPE, b"/etc/passwd"),
            ("m/z/zz.txt", tarfile.REGTYPE, files["z/zz.txt"]),  # folder-name prefix: accepted
            ("./d1/d2/d3/d4/leaf.txt", tarfile.REGTYPE, files["d1/d2/d3/d4/leaf.txt"]),
            ("extra.txt", tarfile.REGTYPE, b"not in the listing"),
        ]
        return 200, {"Content-Type": "application/x-tar"}, make_tar(members)

    archive_proxy.intercept = hostile
    archive_proxy.seen.clear()
    dst = tmp_path / "box" / "dst"
    dst.parent.mkdir()
    out = download_into(repo, "m", dst)
    assert read_tree(out) == files
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == ["dst"]
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil3").exists()
    assert not (out / "plain.txt").is_symlink()
    fetched = {
        s[1].rsplit("/m/", 1)[-1]
        for s in archive_proxy.seen
        if s[0] == "GET" and "/api/" not in s[1]
    }
    # the two good members were taken from the archive; everything else file by file
    assert len(fetched) == len(files) - 2


@pytest.mark.parametrize(
    "records",
    [
        _pax_record(b"GNU.sparse.size", b"x"),
        _pax_record(b"GNU.sparse.map", b"a,b,c"),
        _pax_record(b"GNU.sparse.major", b"1") + _pax_record(b"GNU.sparse.minor", b"0"),
    ],
    ids=["sparse-size", "sparse-map", "sparse-1.0"],
)
def test_a_malformed_pax_header_falls_back_to_per_file(archive_proxy, tmp_path, records):
    """``tarfile`` raises ``ValueError`` (not ``TarError``) on broken GNU sparse PAX
    records; a damaged archive must cost the per-file path, not fail the download."""
    repo = get_artifact_repository("artifactory://arch/pax")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    good = _raw_member("z/zz.txt", files["z/zz.txt"])

    def hostile(method: str, path: str, headers: dict[str, str]) -> Any:
        if not is_archive_get(method, path):
            return None
        body = good + _with_pax_header(records, "plain.txt", files["plain.txt"])
        return 200, {"Content-Type": "application/x-tar"}, body

    archive_proxy.intercept = hostile
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    assert not leftovers(tmp_path / "dst")


def test_a_body_cut_inside_a_large_member_leaves_no_file(archive_proxy, tmp_path):
    """A large member (streamed, not buffered) cut short: no partial file, no temp file,
    the member is fetched file by file; small members before it are kept."""
    repo = get_artifact_repository("artifactory://arch/cut")
    names = [f"s{i}.txt" for i in range(9)]
    files = write_tree(tmp_path / "src", names)
    big = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "src" / "big.bin").write_bytes(big)
    files["big.bin"] = big
    repo.log_artifacts(str(tmp_path / "src"), "m")

    def cut(method: str, path: str, headers: dict[str, str]) -> Any:
        if not is_archive_get(method, path):
            return None
        members = [(n, tarfile.REGTYPE, files[n]) for n in names] + [
            ("big.bin", tarfile.REGTYPE, big)
        ]
        body = make_tar(members)
        return 200, {"Content-Type": "application/x-tar"}, body[: len(body) - 1024 * 1024]

    archive_proxy.intercept = cut
    archive_proxy.seen.clear()
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    assert not leftovers(tmp_path / "dst")
    fetched = [s[1] for s in archive_proxy.seen if s[0] == "GET" and "/api/" not in s[1]]
    assert [p.rsplit("/", 1)[-1] for p in fetched] == ["big.bin"]


# ------------------------------------------------------------------ destinations


@pytest.mark.parametrize("archive", [True, False], ids=["archive", "per-file"])
def test_existing_files_in_the_destination_are_overwritten_like_per_file(
    fd_env, tmp_path, monkeypatch, archive
):
    """Files already in the destination are replaced by both paths alike; other files stay."""
    if not archive:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD", "off")
    repo = get_artifact_repository(f"artifactory://arch/overwrite-{archive}")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    dst = tmp_path / "dst"
    for rel in files:
        (dst / "m" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / "m" / rel).write_bytes(b"stale local content, longer than some remote files")
    (dst / "m" / "mine.txt").write_bytes(b"not in the repository")
    fd_env.clear_requests()
    out = Path(repo.download_artifacts("m", str(dst)))
    served = [e for e in journal(fd_env) if is_archive_get(e["method"], e["uri"])]
    assert len(served) == int(archive)
    assert read_tree(out) == {**files, "mine.txt": b"not in the repository"}
    assert not leftovers(dst)


def test_a_destination_that_is_a_symlink_to_a_directory_works_with_an_archive(fd_env, tmp_path):
    """A destination given as a symlink to a directory is written through, as MLflow does."""
    repo = get_artifact_repository("artifactory://arch/dstlink")
    files = write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    fd_env.clear_requests()
    out = Path(repo.download_artifacts("m", str(tmp_path / "link")))
    assert len([e for e in journal(fd_env) if is_archive_get(e["method"], e["uri"])]) == 1
    assert read_tree(out) == files and read_tree(real / "m") == files


@pytest.mark.parametrize("archive", [True, False], ids=["archive", "per-file"])
def test_symlinks_in_the_destination_never_redirect_a_download(fd_env, tmp_path, archive):
    """The destination checks are cached per directory (a speed-up over MLflow's per-file
    ``realpath``); a symlinked folder or file inside the destination is still refused."""
    repo = get_artifact_repository(f"artifactory://arch/links-{archive}")
    names = [f"d/f{i}.txt" for i in range(12)]
    write_tree(tmp_path / "src", names)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    if not archive:
        repo._config = PluginConfig.from_env(
            {**os.environ, "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD": "off"}
        )
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_bytes(b"keep me")

    linked_dir = tmp_path / "dst-dir"
    (linked_dir / "m").mkdir(parents=True)
    (linked_dir / "m" / "d").symlink_to(outside, target_is_directory=True)
    with pytest.raises(Exception, match="(?i)outside|invalid|traversal|not within"):
        repo.download_artifacts("m", str(linked_dir))
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]

    linked_file = tmp_path / "dst-file"
    (linked_file / "m" / "d").mkdir(parents=True)
    (linked_file / "m" / "d" / "f5.txt").symlink_to(victim)
    with pytest.raises(Exception, match="(?i)outside|invalid|traversal|not within"):
        repo.download_artifacts("m", str(linked_file))
    assert victim.read_bytes() == b"keep me"


def test_an_interrupted_download_leaves_no_skip_marks_behind(fd_env, tmp_path, monkeypatch):
    """Files written from an archive are marked so MLflow's per-file loop skips them; when
    the loop stops early (Ctrl-C), the unconsumed marks must not make a later download of
    one of those files skip fetching it."""
    repo = get_artifact_repository("artifactory://arch/interrupted")
    files = write_tree(tmp_path / "src", NAMES)
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


@pytest.mark.parametrize("slow_after", [None, 0.0], ids=["inline", "pool-after-16"])
def test_folder_archive_members_written_inline_and_by_the_pool(
    fd_env, tmp_path, monkeypatch, slow_after
):
    """Every member arrives intact whichever way it is written (0 s makes every write
    "slow", so after the first 16 the writer pool takes over)."""
    if slow_after is not None:
        monkeypatch.setattr(planning, "SLOW_WRITE_S", slow_after)
    names = [f"d{i % 5}/f{i}.bin" for i in range(48)]
    repo = get_artifact_repository("artifactory://arch/plan")
    files = write_tree(tmp_path / "src", names)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    fd_env.clear_requests()
    out = download_into(repo, "m", tmp_path / "dst")
    assert read_tree(out) == files
    assert sum(is_archive_get(e["method"], e["uri"]) for e in journal(fd_env)) == 1
    assert leftovers(tmp_path / "dst") == []
