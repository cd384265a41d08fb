"""Adversarial review of the HTTP layer: retry budgets, feature switches, errors, URIs.

Everything runs against the session emulator over real HTTP (fault injection for statuses,
resets and delays) and through MLflow's real artifact-repository registry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _journal(handle: Any, method: str, contains: str, expected: int) -> list[dict[str, Any]]:
    """Journal entries of ``method`` whose URI contains ``contains``; the journal can trail
    the client by a moment, so poll briefly for ``expected`` entries (then return what
    is there, which may be more)."""
    found: list[dict[str, Any]] = []
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


# ---------------------------------------------------------------------- retry budget


@pytest.mark.parametrize("fault", [{"reset": "before"}, {"delay_ms": 800}])
def test_a_failing_download_costs_max_retries_plus_one_requests(
    plugin_env, make_repo, tmp_path, monkeypatch, fault
):
    """MLFLOW_ARTIFACTORY_MAX_RETRIES bounds the attempts: urllib3 already retried a
    refused/reset connection or a read timeout, so the download loop must not run that
    whole budget again per attempt (2 retries gave 9 requests, not 3)."""
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
    assert len(_journal(plugin_env, "GET", "budget/dl/b.bin", 3)) == 3
    assert list(dst.iterdir()) == []


# ---------------------------------------------------------------------- AQL refusal


def test_a_transient_aql_failure_does_not_switch_aql_off_for_good(oss_artifactory, tmp_path):
    """AQL is a POST, so urllib3 does not retry its 503. One overloaded moment must not
    move a long-running server's client to the per-file storage-info path for ever: only
    a refusal (4xx) is remembered; the next listing uses AQL again."""
    from jfrog_mlflow.client import ArtifactoryClient

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


# ---------------------------------------------------------------------- upload retries


@pytest.mark.parametrize(
    "fault",
    [{"status": 503, "retry_after": 0}, {"reset": "before"}],
    ids=["503", "reset-before"],
)
def test_a_retried_upload_of_a_file_from_disk_sends_the_whole_body_again(
    plugin_env, make_repo, tmp_path, monkeypatch, fault
):
    """Files of 1 MiB and more are streamed from an open file: a retry must rewind it (an
    unrewound file would send 0 bytes, which the checksum headers would then reject)."""
    import hashlib
    import os

    monkeypatch.setenv("MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD", str(1 << 30))
    data = os.urandom(3 * 1024 * 1024 + 17)
    repo = make_repo("artifactory://rewind/up")
    plugin_env.clear_requests()
    with plugin_env.faults({"operation": "deploy", "times": 1, **fault}):
        repo.log_artifact(str(_write(tmp_path / "big.bin", data)))
    puts = _journal(plugin_env, "PUT", "rewind/up/big.bin", 2)
    assert len(puts) == 2
    assert puts[-1]["status"] == 201
    assert puts[-1]["body_size"] == len(data)
    assert puts[-1]["body_sha256"] == hashlib.sha256(data).hexdigest()
    (tmp_path / "dst").mkdir()
    out = repo.download_artifacts("big.bin", str(tmp_path / "dst"))
    assert Path(out).read_bytes() == data


# ---------------------------------------------------------------------- TLS settings


def test_a_missing_ca_bundle_is_an_mlflow_error_naming_the_variable(
    plugin_env, tmp_path, monkeypatch
):
    """requests raises a bare OSError for a CA bundle path that does not exist; through the
    plugin that must be an MlflowException (like every failure), naming the variable."""
    from support.tls import tls_emulator

    with tls_emulator(tmp_path) as (server, _ca):
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", server.url)
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "tls-token")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing-ca.pem"))
        repo = get_artifact_repository("artifactory://tls-missing/run")
        with pytest.raises(MlflowException) as info:
            repo.list_artifacts()
    message = str(info.value)
    assert "REQUESTS_CA_BUNDLE" in message and "missing-ca.pem" in message
    assert "tls-token" not in message


# ---------------------------------------------------------------------- URI forms


def test_full_form_on_an_endpoint_served_at_the_root(plugin_env, tmp_path, monkeypatch):
    """docs/plugin.md: a URI is full form when its authority is the endpoint's host and
    port and its path starts with the endpoint's context path. An instance served at the
    root (reverse proxy) has an empty context path, so ``artifactory://host:port/repo/p``
    names repository ``repo``; it used to be read as short form, silently storing the
    files under a folder called ``host:port`` in MLFLOW_ARTIFACTORY_REPO."""
    import requests

    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    config = EmulatorConfig(port=0, tokens=("root-token",), context_path="", repos=("r1", "r2"))
    with ThreadedServer(config) as server:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", server.url)
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", "r1")
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "root-token")
        netloc = server.url.split("://", 1)[1]
        repo = get_artifact_repository(f"artifactory://{netloc}/r2/run")
        repo.log_artifact(str(_write(tmp_path / "n.txt", b"root")))
        aql = requests.post(
            f"{server.url}/api/search/aql",
            data='items.find({"name": "n.txt"}).include("repo", "path")',
            headers={"Authorization": "Bearer root-token", "Content-Type": "text/plain"},
            timeout=30,
        )
    assert [(r["repo"], r["path"]) for r in aql.json()["results"]] == [("r2", "run")]


@pytest.mark.parametrize(
    "uri",
    ["artifactory://[::1:8082/artifactory/r/p", "artifactory://[not-ip]/artifactory/r/p"],
)
def test_a_malformed_host_is_an_invalid_uri_error(uri):
    from jfrog_mlflow.config import PluginConfig
    from jfrog_mlflow.errors import InvalidArtifactUri
    from jfrog_mlflow.uri import parse_artifact_uri

    with pytest.raises(InvalidArtifactUri, match="host"):
        parse_artifact_uri(uri, PluginConfig())
