"""Download verification without checksum headers, and bodies that break off mid-read.

A small forwarding proxy on 127.0.0.1 sits in front of the emulator and can drop the
``X-Checksum-*`` headers of downloads (as some proxies and CDNs do), flip a byte of a
download, or cut a JSON body short with consistent framing. Everything is real HTTP.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from jfrog_mlflow.integrity import Expected, verify_file
from jfrog_mlflow.models import Checksums

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class ProxyRules:
    """How the proxy changes responses; ``seen`` records (method, path) it forwarded."""

    strip_checksums: bool = False
    #: (method, path) -> new body, or None to keep it
    mutate: Callable[[str, str, bytes], bytes | None] = lambda method, path, body: None
    seen: list[tuple[str, str]] = field(default_factory=list)


@contextlib.contextmanager
def proxy(upstream_root: str, rules: ProxyRules) -> Iterator[str]:
    """Forward every request to ``upstream_root``; yields the proxy's root URL."""
    session = requests.Session()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP | {"host"}}
            rules.seen.append((self.command, self.path))
            resp = session.request(
                self.command,
                upstream_root + self.path,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=30,
            )
            data = resp.content
            changed = rules.mutate(self.command, self.path, data)
            if changed is not None:
                data = changed
            self.send_response(resp.status_code)
            for name, value in resp.headers.items():
                low = name.lower()
                if low in _HOP or (rules.strip_checksums and low.startswith("x-checksum")):
                    continue
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        session.close()
        thread.join(timeout=10)


@pytest.fixture
def via_proxy(plugin_env, monkeypatch):
    """Point the plugin at a proxy in front of the emulator; yields the proxy's rules."""
    rules = ProxyRules()
    context = plugin_env.url[len(plugin_env.root_url) :]
    with proxy(plugin_env.root_url, rules) as root:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", root + context)
        yield rules


def _is_download(method: str, path: str) -> bool:
    return method == "GET" and "/api/" not in path


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 0xFF]) + data[1:]


def _tree(root: Path, n: int) -> dict[str, bytes]:
    files = {f"d{i % 2}/f{i}.bin": os.urandom(3000 + i) for i in range(n)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def _read(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ no checksum header


def test_without_checksum_headers_a_tree_download_uses_the_listing_and_no_extra_request(
    via_proxy, tmp_path
):
    repo = get_artifact_repository("artifactory://integrity/tree")
    files = _tree(tmp_path / "src", 6)
    repo.log_artifacts(str(tmp_path / "src"))
    via_proxy.strip_checksums = True
    via_proxy.seen.clear()
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("", str(dst)))
    assert _read(out) == files
    # One deep listing plus one GET per file: no storage-info request was needed.
    assert len(via_proxy.seen) <= len(files) + 3, via_proxy.seen
    assert not [p for p in via_proxy.seen if "/api/storage/" in p[1] and "list" not in p[1]]


def test_without_checksum_headers_a_single_file_costs_exactly_one_storage_info_request(
    via_proxy, tmp_path
):
    repo = get_artifact_repository("artifactory://integrity/single")
    data = os.urandom(20_000)
    (tmp_path / "one.bin").write_bytes(data)
    repo.log_artifact(str(tmp_path / "one.bin"))

    def storage_requests(strip: bool) -> int:
        via_proxy.strip_checksums = strip
        via_proxy.seen.clear()
        dst = tmp_path / f"dst-{strip}"
        dst.mkdir()
        out = Path(repo.download_artifacts("one.bin", str(dst)))
        assert out.read_bytes() == data
        return len([p for p in via_proxy.seen if "/api/storage/" in p[1]])

    with_headers = storage_requests(False)
    assert storage_requests(True) == with_headers + 1


@pytest.mark.parametrize("scope", ["tree", "file"])
@pytest.mark.parametrize("corrupt", ["flipped", "short"])
def test_without_checksum_headers_corrupted_bodies_are_rejected_and_not_kept(
    via_proxy, tmp_path, scope, corrupt
):
    repo = get_artifact_repository(f"artifactory://integrity/bad-{scope}-{corrupt}")
    data = os.urandom(10_000)
    (tmp_path / "bad.bin").write_bytes(data)
    repo.log_artifact(str(tmp_path / "bad.bin"))

    def mutate(method: str, path: str, body: bytes) -> bytes | None:
        if not _is_download(method, path) or not path.endswith("bad.bin"):
            return None
        return _flip(body) if corrupt == "flipped" else body[:1000]

    via_proxy.strip_checksums = True
    via_proxy.mutate = mutate
    via_proxy.seen.clear()
    dst = tmp_path / "dst"
    dst.mkdir()
    with pytest.raises(MlflowException) as info:
        repo.download_artifacts("" if scope == "tree" else "bad.bin", str(dst))
    assert "bad.bin" in str(info.value)
    assert [p for p in dst.rglob("*") if p.is_file()] == []
    gets = [p for p in via_proxy.seen if _is_download(*p)]
    # MLFLOW_ARTIFACTORY_MAX_RETRIES=2 in these tests: three attempts per pass; the first
    # pass is always followed by one more (the server answers), which makes no progress,
    # so there is no third.
    assert len(gets) == 3 * 2


def test_a_stale_listing_checksum_is_rechecked_against_storage_info_on_retry(via_proxy, tmp_path):
    """The file changed after it was listed: the retry trusts the storage info instead."""
    repo = get_artifact_repository("artifactory://integrity/stale")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.bin").write_bytes(b"old" * 1000)
    repo.log_artifacts(str(tmp_path / "src"))
    entries = list(repo._iter_artifacts_recursive(""))  # records the listing hints
    assert [e.path for e in entries] == ["m.bin"]
    new = b"new!" * 2000
    (tmp_path / "src" / "m.bin").write_bytes(new)
    repo.log_artifacts(str(tmp_path / "src"))
    via_proxy.strip_checksums = True
    repo._download_file("m.bin", str(tmp_path / "m.bin"))
    assert (tmp_path / "m.bin").read_bytes() == new


# ------------------------------------------------------------------ bodies that break off


@pytest.mark.parametrize(
    "fault",
    [{"truncate_after": 10}, {"reset": "mid_body", "truncate_after": 10}],
    ids=["truncated", "reset"],
)
@pytest.mark.parametrize("operation", ["file_list", "storage_info"])
def test_a_metadata_body_broken_once_is_retried(plugin_env, make_repo, tmp_path, fault, operation):
    repo = make_repo("artifactory://broken-once/run")
    (tmp_path / "a.txt").write_bytes(b"a")
    repo.log_artifact(str(tmp_path / "a.txt"), "dir")
    with plugin_env.faults({"operation": operation, "times": 1, **fault}):
        if operation == "file_list":
            assert [f.path for f in repo.list_artifacts()] == ["dir"]
        else:
            assert repo._is_directory("dir") is True


def test_a_metadata_body_that_keeps_breaking_fails_with_an_accurate_message(
    plugin_env, make_repo, tmp_path
):
    repo = make_repo("artifactory://broken-always/run")
    (tmp_path / "a.txt").write_bytes(b"a")
    repo.log_artifact(str(tmp_path / "a.txt"))
    plugin_env.clear_requests()
    with plugin_env.faults({"operation": "file_list", "truncate_after": 10}):
        with pytest.raises(MlflowException) as info:
            repo.list_artifacts()
    message = str(info.value)
    assert "broke off while reading" in message and "cannot reach" not in message
    assert "broken-always/run" in message
    assert info.value.error_code == databricks_pb2.ErrorCode.Name(
        databricks_pb2.TEMPORARILY_UNAVAILABLE
    )
    lists = [r for r in plugin_env.requests() if "?list" in r["uri"]]
    assert len(lists) == 3  # one try and MLFLOW_ARTIFACTORY_MAX_RETRIES=2 retries


def test_a_json_body_cut_short_with_consistent_framing_is_retried(via_proxy, tmp_path):
    repo = get_artifact_repository("artifactory://integrity/cut")
    (tmp_path / "a.txt").write_bytes(b"a")
    repo.log_artifact(str(tmp_path / "a.txt"), "dir")
    cuts = []

    def mutate(method: str, path: str, body: bytes) -> bytes | None:
        if "/api/storage/" in path and not cuts:
            cuts.append(path)
            return body[: len(body) // 2]
        return None

    via_proxy.mutate = mutate
    assert [f.path for f in repo.list_artifacts()] == ["dir"]
    assert cuts


# ------------------------------------------------------------------ pure verification


def test_verify_file_checks_size_then_sha256_then_sha1(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello")
    sha1 = hashlib.sha1(b"hello").hexdigest()
    sha256 = hashlib.sha256(b"hello").hexdigest()
    verify_file(str(path), Expected(Checksums(sha1, sha256), 5), "t")
    verify_file(str(path), Expected(Checksums(sha1=sha1)), "t")
    verify_file(str(path), Expected(size=5), "t")  # nothing better known
    verify_file(str(path), Expected(), "t")
    from jfrog_mlflow.errors import IntegrityError

    with pytest.raises(IntegrityError, match="received 5 bytes"):
        verify_file(str(path), Expected(Checksums(sha1, sha256), 6), "t")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        verify_file(str(path), Expected(Checksums(sha256="0" * 64)), "t")
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        verify_file(str(path), Expected(Checksums(sha1="0" * 40)), "t")
