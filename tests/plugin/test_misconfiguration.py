"""A wrong repository key or endpoint is never silent; a missing path keeps MLflow's meaning.

Artifactory answers 404 for a missing path, a missing repository and a URL outside its
context path alike. ``list_artifacts``, ``download_artifacts`` and ``delete_artifacts``
(and so ``mlflow gc``) must tell them apart, at no cost on the normal path and at most
one probe per client when an answer is ambiguous. Everything runs against the emulator
over real HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from support.wsgi_server import serve_wsgi


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _raises(call: Any) -> MlflowException:
    with pytest.raises(MlflowException) as info:
        call()
    return info.value


@pytest.fixture
def wrong_repo(plugin_env: Any, monkeypatch: pytest.MonkeyPatch, fresh_clients: None) -> Any:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", "no-such-repo")
    return plugin_env


def _missing_repo_message(handle: Any, source: str) -> str:
    return (
        f"Artifactory repository 'no-such-repo' does not exist at {handle.url} "
        f"(the repository key comes from {source}; the endpoint from "
    )


@pytest.mark.parametrize("operation", ["list", "download_root", "download_file", "delete"])
def test_a_missing_repository_is_reported_by_every_reading_operation(
    wrong_repo: Any, tmp_path: Path, operation: str
) -> None:
    repo = get_artifact_repository("artifactory://exp/run")
    dst = tmp_path / "dst"
    dst.mkdir()
    calls = {
        "list": lambda: repo.list_artifacts(),
        "download_root": lambda: repo.download_artifacts("", str(dst)),
        "download_file": lambda: repo.download_artifacts("model/MLmodel", str(dst)),
        "delete": lambda: repo.delete_artifacts(),
    }
    error = _raises(calls[operation])
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert _missing_repo_message(wrong_repo, "MLFLOW_ARTIFACTORY_REPO") in error.message
    assert "the endpoint from MLFLOW_ARTIFACTORY_ENDPOINT_URL" in error.message
    assert [p for p in dst.rglob("*") if p.is_file()] == []


def test_the_message_names_the_uri_when_the_key_comes_from_it(
    plugin_env: Any, monkeypatch: pytest.MonkeyPatch, fresh_clients: None
) -> None:
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_REPO")
    error = _raises(get_artifact_repository("artifactory://no-such-repo/exp").list_artifacts)
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert (
        _missing_repo_message(
            plugin_env,
            "the first path segment of the artifact URI 'artifactory://no-such-repo/exp'",
        )
        in error.message
    )

    host = plugin_env.url.split("://", 1)[1].split("/", 1)[0]
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL")
    monkeypatch.setenv("ARTIFACTORY_NO_SSL", "true")
    uri = f"artifactory://{host}/artifactory/no-such-repo/exp"
    error = _raises(get_artifact_repository(uri).list_artifacts)
    assert f"(the repository key comes from the artifact URI '{uri}'" in error.message


def test_a_missing_path_in_an_existing_repository_keeps_mlflow_semantics(
    make_repo: Any, plugin_env: Any, tmp_path: Path
) -> None:
    repo = make_repo("artifactory://exp/run")
    repo.log_artifact(str(_write(tmp_path / "a.txt")))
    assert repo.list_artifacts("missing") == []
    repo.delete_artifacts("missing")  # a no-op
    empty = make_repo("artifactory://exp/never-logged")
    assert empty.list_artifacts() == []
    dst = tmp_path / "dst"
    dst.mkdir()
    assert os.listdir(empty.download_artifacts("", str(dst))) == []
    empty.delete_artifacts()


def test_an_ambiguous_answer_costs_one_probe_per_client_and_the_normal_path_none(
    make_repo: Any, plugin_env: Any, tmp_path: Path, fresh_clients: None
) -> None:
    repo = make_repo("artifactory://exp/run")
    plugin_env.clear_requests()
    assert repo.list_artifacts("missing") == []
    first = [r["uri"] for r in plugin_env.requests()]
    assert len(first) == 2 and first[1].endswith(f"/api/storage/{plugin_env.repo}"), first
    plugin_env.clear_requests()
    assert repo.list_artifacts("missing-too") == []
    assert make_repo("artifactory://exp/other").list_artifacts() == []  # same client
    assert len(plugin_env.requests()) == 2  # the two listings, no probe


def test_a_listing_with_content_teaches_the_client_that_the_repository_exists(
    make_repo: Any, plugin_env: Any, tmp_path: Path, fresh_clients: None
) -> None:
    repo = make_repo("artifactory://exp/run")
    repo.log_artifact(str(_write(tmp_path / "a.txt")))
    assert [f.path for f in repo.list_artifacts()] == ["a.txt"]
    plugin_env.clear_requests()
    assert repo.list_artifacts("missing") == []
    assert len(plugin_env.requests()) == 1


@pytest.mark.parametrize("operation", ["list", "upload"])
def test_an_endpoint_without_the_context_path_is_named_with_the_usual_form(
    plugin_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, operation: str
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", plugin_env.root_url)
    repo = get_artifact_repository("artifactory://exp/run")
    if operation == "list":
        error = _raises(repo.list_artifacts)
    else:
        error = _raises(lambda: repo.log_artifact(str(_write(tmp_path / "a.txt"))))
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    root = plugin_env.root_url
    assert error.message.startswith(
        f"The endpoint {root} (from MLFLOW_ARTIFACTORY_ENDPOINT_URL) does not answer like "
        f"Artifactory: GET {root}/api/storage/{plugin_env.repo} answered HTTP 404, "
        f"GET {root}/api/system/ping answered HTTP 404. The base URL must include "
        "Artifactory's context path, usually https://<host>/artifactory "
        f"(here perhaps {root}/artifactory)"
    ), error.message


def _html_site(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"<!doctype html><html><body>Welcome to our portal</body></html>"
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def test_a_web_page_instead_of_artifactory_is_named(
    plugin_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_wsgi(_html_site) as site:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", site)
        error = _raises(get_artifact_repository("artifactory://exp/run").list_artifacts)
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    assert error.message.startswith(f"The endpoint {site} (from MLFLOW_ARTIFACTORY_ENDPOINT_URL)")
    assert "answered HTTP 200 with an HTML page" in error.message
    assert f"(here perhaps {site}/artifactory)" in error.message


def test_mlflow_gc_fails_loudly_on_a_missing_repository(
    wrong_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mlflow gc`` (a real subprocess) stops with the repository named instead of
    reporting the run deleted while its files stay in Artifactory."""
    import mlflow

    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(db)
    try:
        exp = mlflow.create_experiment("gc-missing-repo", artifact_location="artifactory://gc")
        with mlflow.start_run(experiment_id=exp) as run:
            pass
        mlflow.delete_run(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(None)
    done = subprocess.run(
        [sys.executable, "-m", "mlflow", "gc", "--backend-store-uri", db, "--tracking-uri", db],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode != 0
    assert "Artifactory repository 'no-such-repo' does not exist" in done.stderr
    assert "has been permanently deleted" not in done.stdout
