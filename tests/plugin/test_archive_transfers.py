"""Archive transfers: batched uploads (explode) and folder downloads as one tar.

Everything runs over real HTTP: an emulator with folder download enabled (module scope),
the session emulator (folder download disabled, its default), the OSS emulator, and a
small forwarding proxy (``tests/support/wsgi_server``) in front of an emulator that can
refuse explode deploys, strip the explode header, or replace a folder archive with a
damaged or hostile one. Request counts come from the emulator's journal.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from support.wsgi_server import serve_wsgi

from jfrog_mlflow import archives, repository
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.models import Checksums, ListEntry

TOKEN = "fake-test-token"

# ------------------------------------------------------------------ helpers and fixtures

NAMES = [
    "plain.txt",
    "ünïcödé/файл.txt",
    "emoji/🙂 smile.txt",
    "special/a;b#c%41+e&f=g@h:i [x] (y) ~'q'.txt",
    "deep/" + "x" * 120 + "/" + "y" * 150 + ".bin",
    "spaces in/name with spaces.txt",
    "日本語/テスト.json",
    "empty.bin",
    "d1/d2/d3/d4/leaf.txt",
    "z/zz.txt",
]


def _write_tree(root: Path, names: list[str]) -> dict[str, bytes]:
    files = {}
    for i, rel in enumerate(names):
        data = b"" if rel == "empty.bin" else os.urandom(200 + 37 * i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files[rel] = data
    return files


def _read(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _journal(handle: Any, settle: float = 0.05) -> list[dict[str, Any]]:
    """Journal entries once the count stops growing (it trails the client a moment)."""
    entries = handle.requests()
    for _ in range(100):
        time.sleep(settle)
        again = handle.requests()
        if len(again) == len(entries):
            return again
        entries = again
    return entries


def _calls(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["method"], e["uri"], e["status"]) for e in entries]


def _header(entry: dict[str, Any], name: str) -> str | None:
    for key, value in (entry.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


@pytest.fixture(autouse=True)
def _fresh_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test learns the server's features anew (clients are shared per base URL)."""
    monkeypatch.setattr(repository, "_CLIENTS", {})


@pytest.fixture(scope="module")
def folder_server() -> Iterator[Any]:
    """A Pro emulator with folder download enabled."""
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    with ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,), folder_download=True)) as srv:
        yield srv


@pytest.fixture
def fd_env(plugin_env: Any, folder_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Like ``plugin_env`` (clean environment), but pointing at ``folder_server``."""
    from fake_artifactory.testing import FakeArtifactoryHandle

    handle = FakeArtifactoryHandle(url=folder_server.url, root_url=folder_server.root_url)
    handle.reset()
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", handle.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", handle.repo)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", TOKEN)
    return handle


_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Proxy:
    """Forwards to the emulator; ``intercept`` may answer a request itself."""

    #: (method, raw path, headers) -> (status, headers, body) or None to forward
    intercept: Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], bytes] | None] = (
        lambda method, path, headers: None
    )
    #: (method, raw path, headers) -> headers to forward instead
    rewrite: Callable[[str, str, dict[str, str]], dict[str, str]] = lambda method, path, headers: (
        headers
    )
    #: (method, raw path, body) -> new response body, or None
    mutate: Callable[[str, str, bytes], bytes | None] = lambda method, path, body: None
    seen: list[tuple[str, str, int]] = field(default_factory=list)


@contextlib.contextmanager
def _proxy(upstream_root: str, rules: Proxy) -> Iterator[str]:
    session = requests.Session()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("REQUEST_URI") or environ["PATH_INFO"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].lower() not in ("host", "connection")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        answer = rules.intercept(method, path, headers)
        if answer is None:
            resp = session.request(
                method,
                upstream_root + path,
                headers=rules.rewrite(method, path, headers),
                data=body,
                allow_redirects=False,
                timeout=30,
            )
            data = resp.content
            changed = rules.mutate(method, path, data)
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
            answer = (resp.status_code, out, data if changed is None else changed)
        status, out_headers, data = answer
        rules.seen.append((method, path, status))
        start_response(
            f"{status} X",
            [*out_headers.items(), ("Content-Length", str(len(data)))],
        )
        return [data]

    try:
        with serve_wsgi(app, numthreads=8) as root:
            yield root
    finally:
        session.close()


@pytest.fixture
def via_proxy(fd_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxy]:
    rules = Proxy()
    context = fd_env.url[len(fd_env.root_url) :]
    with _proxy(fd_env.root_url, rules) as root:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", root + context)
        yield rules


def _download(repo: Any, path: str, dst: Path) -> Path:
    dst.mkdir()
    return Path(repo.download_artifacts(path, str(dst)))


def _is_archive_get(method: str, path: str) -> bool:
    return method == "GET" and "/api/archive/download/" in path


def _tar(members: list[tuple[str, bytes, bytes]]) -> bytes:
    """A tar of ``(name, type, content)`` members (type: tarfile REGTYPE, SYMTYPE...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = content.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# ------------------------------------------------------------------ pure core


def test_plan_batches_respects_both_bounds_and_balances():
    files = [archives.SmallFile(f"/l/{i}", f"f{i}", 10) for i in range(2000)]
    batches = archives.plan_batches(files, max_entries=1000, max_bytes=10**9)
    assert [len(b.files) for b in batches] == [1000, 1000]
    batches = archives.plan_batches(files[:1010], max_entries=1000, max_bytes=10**9)
    assert [len(b.files) for b in batches] == [505, 505]
    by_size = archives.plan_batches(files[:100], max_entries=1000, max_bytes=250)
    assert all(b.size <= 250 for b in by_size) and sum(len(b.files) for b in by_size) == 100
    assert [f for b in by_size for f in b.files] == files[:100]
    assert archives.plan_batches([]) == []


def test_tar_bytes_keeps_unicode_and_long_names():
    names = [n for n in NAMES if n != "empty.bin"]
    data = archives.tar_bytes((n, n.encode(), 0) for n in names)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        got = {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]
    assert got == {n: n.encode() for n in names}


def test_match_member_accepts_only_listed_names():
    wanted = {"a.txt": 1, "sub/b.txt": 2}
    assert archives.match_member("a.txt", wanted, "model") == "a.txt"
    assert archives.match_member("./sub/b.txt", wanted, "model") == "sub/b.txt"
    assert archives.match_member("model/sub/b.txt", wanted, "model") == "sub/b.txt"
    for hostile in ("../a.txt", "/a.txt", "sub/../a.txt", "other/a.txt", "../../etc/passwd"):
        assert archives.match_member(hostile, wanted, "model") is None


def test_check_listing_flags_missing_different_and_stray():
    expected = {"a": (1, "s1", "s256"), "b": (2, "t1", "t256"), "c": (3, "u1", "u256")}
    listing = [
        ListEntry("a", False, 1, Checksums("s1", "s256")),
        ListEntry("b", False, 2, Checksums("bad", None)),
        ListEntry(".jfrog-mlflow-batch-x.tar", False, 99, Checksums("z", None)),
        ListEntry("dir", True),
    ]
    bad, strays = archives.check_listing(
        expected, listing, [".jfrog-mlflow-batch-x.tar", ".jfrog-mlflow-batch-y.tar"]
    )
    assert bad == ["b", "c"] and strays == [".jfrog-mlflow-batch-x.tar"]
    assert archives.is_batch_name(archives.new_batch_name())


@pytest.mark.parametrize(
    "var", ["MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD"]
)
def test_mode_settings_are_validated(var):
    assert getattr(PluginConfig.from_env({var: "OFF"}), _FIELD[var]) is False
    assert getattr(PluginConfig.from_env({var: "auto"}), _FIELD[var]) is True
    assert getattr(PluginConfig.from_env({}), _FIELD[var]) is True
    with pytest.raises(ValueError, match=f"{var}: expected 'auto' or 'off'"):
        PluginConfig.from_env({var: "sometimes"})


_FIELD = {
    "MLFLOW_ARTIFACTORY_BATCH_UPLOAD": "batch_upload",
    "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD": "folder_download",
}


# ------------------------------------------------------------------ round trips and counts


def test_round_trip_with_awkward_names_through_both_archive_paths(fd_env, tmp_path):
    repo = get_artifact_repository("artifactory://arch/names")
    files = _write_tree(tmp_path / "src", NAMES)
    (tmp_path / "src" / "empty-dir").mkdir()
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    up = _journal(fd_env)
    puts = [e for e in up if e["method"] == "PUT"]
    # One archive for the ten files, and the empty folder: no per-file PUT at all.
    assert len(puts) == 2, _calls(up)
    assert ".jfrog-mlflow-batch-" in puts[0]["uri"] and puts[0]["status"] == 200
    assert _header(puts[0], "X-Explode-Archive-Atomic") == "true"
    assert _header(puts[0], "X-Checksum-Sha256")
    assert puts[1]["uri"].endswith("/empty-dir/")
    deep = [e for e in up if "deep=1" in e["uri"]]
    assert len(deep) == 1  # the verification listing
    assert [f.path for f in repo.list_artifacts("m") if f.path.startswith("m/.jfrog")] == []

    fd_env.clear_requests()
    out = _download(repo, "m", tmp_path / "dst")
    down = _journal(fd_env)
    assert _read(out) == files
    assert (out / "empty-dir").is_dir()
    # storage info (MLflow's is-directory check) + deep listing + one archive
    assert len(down) == 3, _calls(down)
    assert sum(_is_archive_get(e["method"], e["uri"]) for e in down) == 1


def test_w1_like_tree_costs_batches_and_one_listing(fd_env, tmp_path):
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
    up = _journal(fd_env)
    kinds = sorted(
        "archive" if ".jfrog-mlflow-batch-" in e["uri"] else e["method"] + e["uri"].split("?")[-1]
        for e in up
    )
    # <= 2 edition probes (the run folder is new: its listing is a 404, the root's is not),
    # two archives of 600 files, one deep listing.
    assert kinds.count("archive") == 2, _calls(up)
    assert len([e for e in up if "deep=1" in e["uri"]]) == 1
    assert len(up) <= 5, _calls(up)
    fd_env.clear_requests()
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("", str(dst)))
    down = _journal(fd_env)
    assert _read(out) == files
    # MLflow lists the root first, then the deep listing, then one archive.
    assert len(down) == 3, _calls(down)


# ------------------------------------------------------------------ fallbacks


def test_folder_download_disabled_falls_back_once_then_is_remembered(plugin_env, tmp_path):
    repo = get_artifact_repository("artifactory://arch/disabled")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    plugin_env.clear_requests()
    out = _download(repo, "m", tmp_path / "dst1")
    first = _journal(plugin_env)
    assert _read(out) == files
    archive_calls = [e for e in first if _is_archive_get(e["method"], e["uri"])]
    assert [e["status"] for e in archive_calls] == [403]
    # Folder download is off on this server: stat + listing + the refused archive + N files.
    assert len(first) == len(files) + 3, _calls(first)
    assert repo.client.folder_download_supported is False
    plugin_env.clear_requests()
    out = _download(repo, "m", tmp_path / "dst2")
    second = _journal(plugin_env)
    assert _read(out) == files
    assert not [e for e in second if _is_archive_get(e["method"], e["uri"])]
    assert len(second) == len(files) + 2


def test_folder_download_refusal_is_rechecked_after_a_while(plugin_env, tmp_path):
    """A long-running process notices when an admin turns folder download on."""
    repo = get_artifact_repository("artifactory://arch/recheck")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert _read(_download(repo, "m", tmp_path / "dst1")) == files
    assert repo.client.folder_download_supported is False
    with plugin_env.folder_download():
        assert _read(_download(repo, "m", tmp_path / "dst2")) == files  # still remembered
        repo.client._folder_download.recheck_after = 0.0  # the interval has passed
        assert repo.client.folder_download_supported is True
        plugin_env.clear_requests()
        assert _read(_download(repo, "m", tmp_path / "dst3")) == files
        served = [e for e in _journal(plugin_env) if _is_archive_get(e["method"], e["uri"])]
        assert [e["status"] for e in served] == [200]


def test_folder_over_the_server_limit_falls_back_but_is_not_remembered(fd_env, tmp_path):
    """A 400 (folder over max files) only costs that download; smaller folders still work."""
    repo = get_artifact_repository("artifactory://arch/limit")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    with fd_env.folder_download(max_files=len(files) - 1):
        fd_env.clear_requests()
        out = _download(repo, "m", tmp_path / "dst1")
        refused = [e for e in _journal(fd_env) if _is_archive_get(e["method"], e["uri"])]
        assert _read(out) == files
        assert [e["status"] for e in refused] == [400]
        assert repo.client.folder_download_supported is not False
    fd_env.clear_requests()
    out = _download(repo, "m", tmp_path / "dst2")
    served = [e for e in _journal(fd_env) if _is_archive_get(e["method"], e["uri"])]
    assert _read(out) == files
    assert [e["status"] for e in served] == [200]


def test_oss_uses_neither_feature(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://arch/oss")
    files = _write_tree(tmp_path / "src", NAMES)
    oss_artifactory.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    up = _journal(oss_artifactory)
    assert not [e for e in up if ".jfrog-mlflow-batch-" in e["uri"]]
    assert len([e for e in up if e["method"] == "PUT"]) == len(files)
    oss_artifactory.clear_requests()
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    assert not [e for e in _journal(oss_artifactory) if "/api/archive/" in e["uri"]]


def test_configuration_off_disables_both(fd_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "off")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD", "Off")
    repo = get_artifact_repository("artifactory://arch/off")
    files = _write_tree(tmp_path / "src", NAMES)
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "m")
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    entries = _journal(fd_env)
    assert not [e for e in entries if ".jfrog-mlflow-batch-" in e["uri"] or "/archive/" in e["uri"]]
    assert len([e for e in entries if e["method"] == "PUT"]) == len(files)


def test_too_few_files_are_sent_one_by_one(fd_env, tmp_path):
    repo = get_artifact_repository("artifactory://arch/few")
    files = _write_tree(tmp_path / "src", NAMES[:3])
    fd_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"))
    out = _download(repo, "", tmp_path / "dst")
    assert _read(out) == files
    entries = _journal(fd_env)
    assert not [e for e in entries if ".jfrog-mlflow-batch-" in e["uri"] or "/archive/" in e["uri"]]


def test_explode_refused_falls_back_per_file_and_is_remembered(via_proxy, tmp_path):
    def refuse(method, path, headers):
        if method == "PUT" and any(k.lower().startswith("x-explode") for k in headers):
            return 400, {"Content-Type": "application/json"}, b'{"errors":[{"status":400}]}'
        return None

    via_proxy.intercept = refuse
    repo = get_artifact_repository("artifactory://arch/refused")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert repo.client.explode_supported is False
    assert _read(_download(repo, "m", tmp_path / "dst")) == files
    via_proxy.seen.clear()
    repo.log_artifacts(str(tmp_path / "src"), "again")
    puts = [s for s in via_proxy.seen if s[0] == "PUT"]
    assert len(puts) == len(files) and all(status == 201 for _, _, status in puts)


def test_explode_ignored_deletes_the_stray_archive_and_reuploads(via_proxy, fd_env, tmp_path):
    def strip(method, path, headers):
        return {k: v for k, v in headers.items() if not k.lower().startswith("x-explode")}

    via_proxy.rewrite = strip  # e.g. a proxy that drops unknown headers
    repo = get_artifact_repository("artifactory://arch/ignored")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    assert repo.client.explode_supported is False
    assert [f.path for f in repo.list_artifacts("m") if ".jfrog-mlflow-batch-" in f.path] == []
    assert [s for s in via_proxy.seen if s[0] == "DELETE" and ".jfrog-mlflow-batch-" in s[1]]
    assert _read(_download(repo, "m", tmp_path / "dst")) == files


def test_explode_auth_errors_are_reported_without_secrets(fd_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "wrong-secret-token")
    repo = get_artifact_repository("artifactory://arch/auth")
    repo.client._is_pro = True  # edition known; the archive upload itself is refused
    _write_tree(tmp_path / "src", NAMES)
    with pytest.raises(MlflowException) as info:
        repo.log_artifacts(str(tmp_path / "src"), "m")
    assert "HTTP 401" in str(info.value) and "wrong-secret-token" not in str(info.value)
    assert f"of {len(NAMES)} file(s)" in str(info.value)


def test_checksum_names_are_refused_before_anything_is_sent(fd_env, tmp_path):
    repo = get_artifact_repository("artifactory://arch/refuse")
    _write_tree(tmp_path / "src", [*NAMES, "x/model.bin.sha1"])
    fd_env.clear_requests()
    with pytest.raises(MlflowException, match="sha1"):
        repo.log_artifacts(str(tmp_path / "src"), "m")
    assert _journal(fd_env) == []


# ------------------------------------------------------------------ verification of archives


def test_a_corrupted_archive_entry_is_refetched_file_by_file(via_proxy, tmp_path):
    repo = get_artifact_repository("artifactory://arch/corrupt")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")
    victim = "plain.txt"

    def corrupt(method, path, body):
        if not _is_archive_get(method, path):
            return None
        members = []
        with tarfile.open(fileobj=io.BytesIO(body), mode="r|") as tar:
            for m in tar:
                data = tar.extractfile(m).read()
                if m.name == victim:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                members.append((m.name, tarfile.REGTYPE, data))
        return _tar(members)

    via_proxy.mutate = corrupt
    via_proxy.seen.clear()
    out = _download(repo, "m", tmp_path / "dst")
    assert _read(out) == files
    gets = [s for s in via_proxy.seen if s[0] == "GET" and "/api/" not in s[1]]
    assert len(gets) == 1 and gets[0][1].endswith("/m/plain.txt"), via_proxy.seen
    assert not list(out.rglob(".jfrog-mlflow-*"))


def test_a_hostile_archive_cannot_write_outside_the_destination(via_proxy, tmp_path):
    repo = get_artifact_repository("artifactory://arch/hostile")
    files = _write_tree(tmp_path / "src", NAMES)
    repo.log_artifacts(str(tmp_path / "src"), "m")

    def hostile(method, path, headers):
        if not _is_archive_get(method, path):
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
        return 200, {"Content-Type": "application/x-tar"}, _tar(members)

    via_proxy.intercept = hostile
    via_proxy.seen.clear()
    dst = tmp_path / "box" / "dst"
    dst.parent.mkdir()
    out = _download(repo, "m", dst)
    assert _read(out) == files
    assert sorted(p.name for p in (tmp_path / "box").iterdir()) == ["dst"]
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil3").exists()
    assert not (out / "plain.txt").is_symlink()
    fetched = {
        s[1].rsplit("/m/", 1)[-1] for s in via_proxy.seen if s[0] == "GET" and "/api/" not in s[1]
    }
    # the two good members were taken from the archive; everything else file by file
    assert len(fetched) == len(files) - 2


# ------------------------------------------------------------------ local path safety


@pytest.mark.parametrize("archive", [True, False], ids=["archive", "per-file"])
def test_symlinks_in_the_destination_never_redirect_a_download(fd_env, tmp_path, archive):
    """The destination checks are cached per directory (a speed-up over MLflow's per-file
    ``realpath``); a symlinked folder or file inside the destination is still refused."""
    repo = get_artifact_repository(f"artifactory://arch/links-{archive}")
    names = [f"d/f{i}.txt" for i in range(12)]
    _write_tree(tmp_path / "src", names)
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
