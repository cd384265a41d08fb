"""Request counts, checksums, retries, ranges, corruption and redirects (real HTTP)."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from jfrog_mlflow.auth import BearerTokenAuth
from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.download import download_file


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _puts(handle, expected):
    """PUT journal entries; the journal records a request once its response is closed,
    which can trail the client by a moment, so poll briefly for the expected count."""
    for _ in range(200):
        puts = [r for r in handle.requests() if r["method"] == "PUT"]
        if len(puts) >= expected:
            return puts
        time.sleep(0.01)
    return puts


def _header(entry, name):
    for key, value in (entry.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _make_tree(root: Path, folders: int, files_per_folder: int) -> dict[str, bytes]:
    files = {}
    for d in range(folders):
        for f in range(files_per_folder):
            rel = f"d{d}/sub/f{f}.bin" if d % 2 else f"d{d}/f{f}.bin"
            files[rel] = os.urandom(64)
    for rel, data in files.items():
        _write(root / rel, data)
    return files


def _count_download(handle, repo, tmp_path, path):
    dst = tmp_path / "dst"
    dst.mkdir()
    handle.clear_requests()
    out = Path(repo.download_artifacts(path, str(dst)))
    return out, handle.requests()


@pytest.mark.parametrize("edition", ["pro", "oss"])
def test_tree_download_request_budget(edition, request, tmp_path, monkeypatch):
    if edition == "pro":
        handle = request.getfixturevalue("plugin_env")
    else:
        handle = request.getfixturevalue("oss_artifactory")
    repo = get_artifact_repository("artifactory://budget/run")
    src = tmp_path / "src"
    files = _make_tree(src, folders=4, files_per_folder=3)
    repo.log_artifacts(str(src), "model")
    n_files = len(files)
    # folders below "model": d0, d1, d1/sub, d2, d3, d3/sub, plus "model" itself
    n_folders = 7
    out, reqs = _count_download(handle, repo, tmp_path, "model")
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    budget = n_files + 3 if edition == "pro" else n_files + n_folders + 3
    assert len(reqs) <= budget, [(r["method"], r["uri"], r["status"]) for r in reqs]
    assert not [r for r in reqs if r["method"] == "HEAD"]


def test_oss_fallback_probes_the_edition_once(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://probe")
    repo._client = ArtifactoryClient(repo.client.base_url, repo._config)  # edition unknown
    repo.log_artifact(str(_write(tmp_path / "a.txt", b"a")), "x")
    oss_artifactory.clear_requests()
    repo.list_artifacts("x")
    repo.list_artifacts("x")
    list_calls = [r for r in oss_artifactory.requests() if "?list" in r["uri"]]
    assert len(list_calls) == 1 and list_calls[0]["status"] == 400
    assert repo.client.is_pro is False


def test_oss_listing_includes_file_sizes(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://sizes")
    repo.log_artifact(str(_write(tmp_path / "a.txt", b"abc")))
    repo.log_artifact(str(_write(tmp_path / "b.txt", b"")), "dir")
    infos = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert infos == [("a.txt", False, 3), ("dir", True, None)]


def test_uploads_send_checksums_and_use_checksum_deploy(
    plugin_env, make_repo, tmp_path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD", "100")
    repo = make_repo()
    data = os.urandom(1000)
    local = _write(tmp_path / "big.bin", data)
    plugin_env.clear_requests()
    repo.log_artifact(str(local), "first")  # miss: 404, then a normal upload
    puts = _puts(plugin_env, 2)
    assert [r["status"] for r in puts] == [404, 201]
    assert _header(puts[0], "X-Checksum-Deploy") == "true" and puts[0]["body_size"] == 0
    assert _header(puts[1], "X-Checksum-Sha256") == hashlib.sha256(data).hexdigest()
    assert _header(puts[1], "X-Checksum-Sha1") == hashlib.sha1(data).hexdigest()
    plugin_env.clear_requests()
    repo.log_artifact(str(local), "second")  # hit: no bytes sent
    puts = _puts(plugin_env, 1)
    assert [(r["status"], r["body_size"]) for r in puts] == [(201, 0)]
    out = repo.download_artifacts("second/big.bin", str(tmp_path))
    assert Path(out).read_bytes() == data


def test_small_files_skip_checksum_deploy(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    plugin_env.clear_requests()
    repo.log_artifact(str(_write(tmp_path / "s.txt", b"small")))
    puts = _puts(plugin_env, 1)
    assert len(puts) == 1 and _header(puts[0], "X-Checksum-Deploy") is None


def test_transient_errors_are_retried(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    local = _write(tmp_path / "r.txt", b"retry me")
    with plugin_env.faults(
        {"method": "PUT", "operation": "deploy", "status": 503, "times": 2, "retry_after": 0}
    ):
        repo.log_artifact(str(local))
    with plugin_env.faults({"method": "GET", "operation": "download", "status": 429, "times": 1}):
        out = repo.download_artifacts("r.txt", str(tmp_path))
    assert Path(out).read_bytes() == b"retry me"


def test_persistent_server_errors_surface_with_status_and_path(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    with plugin_env.faults({"method": "PUT", "status": 507, "message": "disk full"}):
        with pytest.raises(MlflowException, match=r"(?s)x\.txt.*507.*disk full"):
            repo.log_artifact(str(_write(tmp_path / "x.txt", b"x")))


def test_truncated_download_is_retried(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    data = os.urandom(50_000)
    repo.log_artifact(str(_write(tmp_path / "src" / "t.bin", data)))
    dst = tmp_path / "dst"
    dst.mkdir()
    with plugin_env.faults({"operation": "download", "truncate_after": 100, "times": 1}):
        out = repo.download_artifacts("t.bin", str(dst))
    assert Path(out).read_bytes() == data


def test_corrupted_download_leaves_no_file(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "src" / "c.bin", os.urandom(50_000))))
    dst = tmp_path / "dst"
    dst.mkdir()
    with plugin_env.faults({"operation": "download", "truncate_after": 1000}):
        with pytest.raises(MlflowException):
            repo.download_artifacts("c.bin", str(dst))
    assert list(dst.rglob("*")) == []


def test_large_files_download_as_parallel_ranges(plugin_env, make_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD", "10000")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE", "4096")
    repo = make_repo()
    data = os.urandom(20_000)
    repo.log_artifact(str(_write(tmp_path / "src" / "big.bin", data)), "m")
    for path in ("m/big.bin", "m"):  # size from the GET, then from the listing
        dst = tmp_path / f"dst-{path.replace('/', '_')}"
        dst.mkdir()
        plugin_env.clear_requests()
        out = Path(repo.download_artifacts(path, str(dst)))
        target = out if out.is_file() else out / "big.bin"
        assert target.read_bytes() == data
        ranged = [r for r in plugin_env.requests() if r["status"] == 206]
        assert len(ranged) == 5
    assert not [p for p in tmp_path.rglob("*.part")]


def test_permission_denied_for_read_only_user(oss_artifactory, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_USER", "reader")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PASSWORD", "readerpw")
    repo = get_artifact_repository("artifactory://ro")
    with pytest.raises(MlflowException) as info:
        repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert info.value.error_code == "PERMISSION_DENIED"
    assert repo.list_artifacts() == []


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    redirect_to: str = ""

    def do_GET(self):  # noqa: N802
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"payload"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Checksum-Sha256", hashlib.sha256(body).hexdigest())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_credentials_never_follow_a_redirect_to_another_host(tmp_path):
    target_cls = type("Target", (_Recorder,), {"seen": [], "redirect_to": ""})
    target = _serve(target_cls)
    origin_cls = type(
        "Origin",
        (_Recorder,),
        {"seen": [], "redirect_to": f"http://localhost:{target.server_address[1]}"},
    )
    origin = _serve(origin_cls)
    try:
        base = f"http://127.0.0.1:{origin.server_address[1]}/artifactory"
        client = ArtifactoryClient(
            base, PluginConfig(max_retries=0), auth=BearerTokenAuth("secret-token")
        )
        local = tmp_path / "out.bin"
        download_file(client, "r", "a.bin", str(local))
        assert local.read_bytes() == b"payload"
        assert origin_cls.seen[0]["authorization"] == "Bearer secret-token"
        assert "authorization" not in target_cls.seen[0]
        assert "x-jfrog-art-api" not in target_cls.seen[0]
    finally:
        origin.shutdown()
        target.shutdown()


def test_connection_resets_are_retried(plugin_env, make_repo, tmp_path):
    repo = make_repo()
    data = os.urandom(20_000)
    repo.log_artifact(str(_write(tmp_path / "src" / "r.bin", data)))
    dst = tmp_path / "dst"
    dst.mkdir()
    with plugin_env.faults({"operation": "download", "reset": "mid_body", "times": 1}):
        out = repo.download_artifacts("r.bin", str(dst))
    assert Path(out).read_bytes() == data
    with plugin_env.faults({"operation": "storage_info", "reset": "before", "times": 1}):
        assert repo._is_directory("") is True


def test_retry_after_is_capped():
    from urllib3 import HTTPResponse

    from jfrog_mlflow.session import retry_policy

    policy = retry_policy(PluginConfig(), retries=3)
    resp = HTTPResponse(status=503, headers={"Retry-After": "86400"})
    assert policy.get_retry_after(resp) == 60.0
    assert policy.is_retry("PUT", 503, has_retry_after=True)
    assert not policy.is_retry("POST", 503)


def test_oss_root_download_of_a_logged_model_stays_in_budget(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://models/1/models/m-1/artifacts")
    src = tmp_path / "src"
    files = {
        name: os.urandom(32)
        for name in ["MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt", "model.pkl"]
    }
    files["code/mod.py"] = b"x = 1"
    for rel, data in files.items():
        _write(src / rel, data)
    repo.log_artifacts(str(src))
    out, reqs = _count_download(oss_artifactory, repo, tmp_path, "")
    got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == files
    assert len(reqs) <= len(files) + 2 + 3, [(r["method"], r["uri"]) for r in reqs]


def test_oss_listing_falls_back_when_aql_is_refused(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://noaql")
    repo._client = ArtifactoryClient(repo.client.base_url, repo._config)
    repo.log_artifact(str(_write(tmp_path / "a.txt", b"abc")))
    with oss_artifactory.faults({"operation": "aql", "status": 403, "message": "no AQL"}):
        infos = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
        again = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert infos == again == [("a.txt", False, 3)]
    assert repo.client._aql_ok is False


def test_oss_listing_of_nasty_names(oss_artifactory, tmp_path):
    repo = get_artifact_repository("artifactory://nasty oss/dir #1")
    names = ["a b.txt", "h#;%+&=@:.txt", "ünï.txt", "q\"uo'te".replace('"', "")]
    for name in names:
        repo.log_artifact(str(_write(tmp_path / name, name.encode())), "sub;dir")
    got = [(f.path, f.file_size) for f in repo.list_artifacts("sub;dir")]
    assert got == sorted((f"sub;dir/{n}", len(n.encode())) for n in names)
    assert [f.path for f in repo.list_artifacts()] == ["sub;dir"]


def _requests(handle, method, contains, expected):
    """Journal entries of ``method`` whose URI contains ``contains`` (API calls excluded);
    the journal can trail the client by a moment, so poll briefly for ``expected``
    entries (then return what is there, which may be more)."""
    found = []
    for _ in range(300):
        found = [
            r
            for r in handle.requests()
            if r["method"] == method and contains in r["uri"] and "/api/" not in r["uri"]
        ]
        if len(found) >= expected:
            break
        time.sleep(0.01)
    return found


@pytest.mark.parametrize(
    ("fault", "attempts"), [({"reset": "before"}, 3 * 2), ({"delay_ms": 800}, 2)]
)
def test_a_failing_download_costs_a_bounded_number_of_requests(
    plugin_env, make_repo, tmp_path, monkeypatch, fault, attempts
):
    """MLFLOW_ARTIFACTORY_MAX_RETRIES bounds the attempts of a download: urllib3 retries a
    reset connection twice and the download loop does not spend that budget again per
    attempt; the server answers, so the file gets one more pass: 3 x 2 requests. A read
    timeout is retried once, and a server that does not answer in time gets no further
    pass: 2 requests."""
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TIMEOUT", "0.3")
    repo = make_repo("artifactory://budget/dl")
    repo.log_artifact(str(_write(tmp_path / "src" / "b.bin", b"budget")))
    dst = tmp_path / "dst"
    dst.mkdir()
    plugin_env.clear_requests()
    with plugin_env.faults({"operation": "download", **fault}):
        with pytest.raises(MlflowException) as info:
            repo.download_artifacts("b.bin", str(dst))
    assert info.value.error_code == "TEMPORARILY_UNAVAILABLE"
    assert "budget/dl/b.bin" in str(info.value)
    time.sleep(0.3)  # nothing more may arrive
    assert len(_requests(plugin_env, "GET", "budget/dl/b.bin", attempts)) == attempts
    assert list(dst.iterdir()) == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 503, "retry_after": 0}, {"reset": "before"}],
    ids=["503", "reset-before"],
)
def test_a_retried_upload_of_a_file_from_disk_sends_the_whole_body_again(
    plugin_env, make_repo, tmp_path, monkeypatch, fault
):
    """Files of 1 MiB and more are streamed from an open file: a retried PUT rewinds it
    and sends every byte again (an unrewound file would send nothing, which the checksum
    headers would then reject)."""
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD", str(1 << 30))
    data = os.urandom(3 * 1024 * 1024 + 17)
    repo = make_repo("artifactory://rewind/up")
    plugin_env.clear_requests()
    with plugin_env.faults({"operation": "deploy", "times": 1, **fault}):
        repo.log_artifact(str(_write(tmp_path / "big.bin", data)))
    puts = _requests(plugin_env, "PUT", "rewind/up/big.bin", 2)
    assert len(puts) == 2
    assert puts[-1]["status"] == 201
    assert puts[-1]["body_size"] == len(data)
    assert puts[-1]["body_sha256"] == hashlib.sha256(data).hexdigest()
    (tmp_path / "dst").mkdir()
    out = repo.download_artifacts("big.bin", str(tmp_path / "dst"))
    assert Path(out).read_bytes() == data


def test_a_transient_aql_failure_does_not_switch_aql_off_for_good(oss_artifactory, tmp_path):
    """AQL is a POST, so urllib3 does not retry its 503: that one listing goes folder by
    folder. Only a refusal (4xx) is remembered, so a long-running server's next listing
    uses AQL again."""
    repo = get_artifact_repository("artifactory://aql-transient")
    repo._client = ArtifactoryClient(repo.client.base_url, repo._config)
    repo.log_artifact(str(_write(tmp_path / "a.txt", b"abc")))
    with oss_artifactory.faults({"operation": "aql", "status": 503, "times": 1}):
        first = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert first == [("a.txt", False, 3)]
    oss_artifactory.clear_requests()
    again = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert again == first
    aql = [r for r in oss_artifactory.requests() if "api/search/aql" in r["uri"]]
    assert len(aql) == 1 and aql[0]["status"] == 200
