"""Every failure names its cause; retries are logged; a dead server is reported quickly.

Real sockets on 127.0.0.1: a server that accepts connections and never answers (stalled),
a port nobody listens on (refused), a name that does not resolve, and the emulator with
injected faults and wrong credentials.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from support.sockets import Listener

from jfrog_mlflow.session import TIMEOUT_RETRIES


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def stalled() -> Iterator[Listener]:
    """A server that accepts connections and never answers."""
    with Listener() as server:
        yield server


@pytest.fixture
def point_at(plugin_env: Any, monkeypatch: pytest.MonkeyPatch, fresh_clients: None) -> Any:
    """``point_at(endpoint, **env)``: the plugin's endpoint and settings for this test."""

    def configure(endpoint: str, **env: str) -> Any:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", endpoint)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return get_artifact_repository("artifactory://exp/run")

    return configure


def _raises(call: Any) -> MlflowException:
    with pytest.raises(MlflowException) as info:
        call()
    return info.value


# ------------------------------------------------------------------ a server that does not answer

#: Scaled-down timeouts; with the defaults (45 s read, 10 s connect) the same formula
#: gives 90 s for a stalled server.
T = 1.0


def test_a_stalled_server_is_reported_after_two_timeouts_with_the_setting_named(
    stalled: Listener, point_at: Any
) -> None:
    """A timeout is retried once whatever MLFLOW_ARTIFACTORY_MAX_RETRIES says, so the
    report comes after (1 + TIMEOUT_RETRIES) x MLFLOW_ARTIFACTORY_TIMEOUT seconds."""
    repo = point_at(
        f"http://127.0.0.1:{stalled.port}/artifactory",
        MLFLOW_ARTIFACTORY_TIMEOUT=str(T),
        MLFLOW_ARTIFACTORY_MAX_RETRIES="5",
    )
    started = time.monotonic()
    error = _raises(repo.list_artifacts)
    elapsed = time.monotonic() - started
    assert error.error_code == "TEMPORARILY_UNAVAILABLE"
    assert (
        f"no response from 127.0.0.1:{stalled.port} within {T:g} s "
        "(see MLFLOW_ARTIFACTORY_TIMEOUT)" in error.message
    )
    assert stalled.accepted == 1 + TIMEOUT_RETRIES
    assert (1 + TIMEOUT_RETRIES) * T <= elapsed < (1 + TIMEOUT_RETRIES) * T + 5


def test_a_tree_upload_to_a_stalled_server_stops_after_one_round_of_timeouts(
    stalled: Listener, point_at: Any, tmp_path: Path
) -> None:
    """The files not yet started fail at once ("not attempted") when one file found the
    server unreachable, and no further pass runs: 40 files on 4 workers cost the time
    of one file, not of ten rounds."""
    workers = 4
    repo = point_at(
        f"http://127.0.0.1:{stalled.port}/artifactory",
        MLFLOW_ARTIFACTORY_TIMEOUT=str(T),
        MLFLOW_ARTIFACTORY_MAX_WORKERS=str(workers),
        MLFLOW_ARTIFACTORY_BATCH_UPLOAD="off",
    )
    for i in range(40):
        _write(tmp_path / "src" / f"f{i:02}.txt", b"%d" % i)
    started = time.monotonic()
    error = _raises(lambda: repo.log_artifacts(str(tmp_path / "src")))
    elapsed = time.monotonic() - started
    assert error.message.startswith("Failed to upload 40 of 40 file(s): ")
    assert "not attempted, the server stopped answering" in error.message
    assert stalled.accepted <= (1 + TIMEOUT_RETRIES) * workers
    assert elapsed < (1 + TIMEOUT_RETRIES) * T + 5


def test_a_tree_download_from_a_stalling_server_stops_after_one_round_of_timeouts(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_MAX_WORKERS", "4")
    repo = make_repo("artifactory://exp/stall")
    for i in range(40):
        _write(tmp_path / "src" / f"f{i:02}.txt", b"%d" % i)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "off")
    repo.log_artifacts(str(tmp_path / "src"))
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TIMEOUT", str(T))
    repo = make_repo("artifactory://exp/stall")
    dst = tmp_path / "dst"
    dst.mkdir()
    plugin_env.clear_requests()
    with plugin_env.faults({"operation": "download", "delay_ms": int(T * 3000)}):
        error = _raises(lambda: repo.download_artifacts("", str(dst)))
        gets = [r for r in plugin_env.requests() if r["method"] == "GET" and "/f" in r["uri"]]
    assert error.message.startswith("Failed to download 40 of 40 file(s): ")
    assert "not attempted, the server stopped answering" in error.message
    assert len(gets) <= (1 + TIMEOUT_RETRIES) * 4
    assert [p for p in dst.rglob("*") if p.is_file()] == []


def test_a_refused_connection_is_named_and_reported_after_the_backoff(point_at: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repo = point_at(f"http://127.0.0.1:{port}/artifactory", MLFLOW_ARTIFACTORY_MAX_RETRIES="5")
    error = _raises(repo.list_artifacts)
    assert error.error_code == "TEMPORARILY_UNAVAILABLE"
    assert (
        f"Artifactory listing of 'example-repo-local/exp/run' failed: connection refused by "
        f"127.0.0.1:{port} (is Artifactory running at that address?)"
    ) in error.message


def test_a_host_name_that_does_not_resolve_is_named(point_at: Any) -> None:
    repo = point_at("http://artifactory.invalid/artifactory", MLFLOW_ARTIFACTORY_MAX_RETRIES="0")
    error = _raises(repo.list_artifacts)
    assert (
        "failed: cannot resolve the host name 'artifactory.invalid' (DNS lookup failed)"
        in error.message
    )


# ------------------------------------------------------------------ retries are logged


def test_each_retry_is_logged_at_warning_with_attempt_cause_and_wait(
    plugin_env: Any, make_repo: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo("artifactory://exp/logged")
    repo.log_artifact(str(_write(tmp_path / "f.bin", b"payload")))
    dst = tmp_path / "dst"
    dst.mkdir()
    caplog.set_level(logging.WARNING, logger="jfrog_mlflow")
    with plugin_env.faults({"operation": "download", "times": 2, "status": 503}):
        repo.download_artifacts("f.bin", str(dst))
    path = f"/artifactory/{plugin_env.repo}/exp/logged/f.bin"
    lines = [r.getMessage() for r in caplog.records if r.name == "jfrog_mlflow.retry"]
    assert [line.split(" in ")[0] for line in lines] == [
        f"Artifactory GET {path}: HTTP 503; retry 1 of 2",
        f"Artifactory GET {path}: HTTP 503; retry 2 of 2",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name.endswith("retry"))
    assert all(line.endswith(" s") for line in lines)


def test_a_body_that_breaks_off_is_retried_and_logged_too(
    plugin_env: Any, make_repo: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo("artifactory://exp/broken")
    repo.log_artifact(str(_write(tmp_path / "f.bin", b"z" * 5000)))
    dst = tmp_path / "dst"
    dst.mkdir()
    caplog.set_level(logging.WARNING, logger="jfrog_mlflow")
    with plugin_env.faults({"operation": "download", "times": 1, "truncate_after": 10}):
        repo.download_artifacts("f.bin", str(dst))
    assert (dst / "f.bin").read_bytes() == b"z" * 5000
    lines = [r.getMessage() for r in caplog.records if r.name == "jfrog_mlflow.retry"]
    assert len(lines) == 1 and "broke off while reading the body" in lines[0], lines
    assert "; retry 1 of 2 in " in lines[0]


# ------------------------------------------------------------------ refused credentials


def test_a_refused_token_names_its_variable_not_its_value(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "expired-secret-value")
    error = _raises(lambda: make_repo().log_artifact(str(_write(tmp_path / "f.txt"))))
    assert error.error_code == "UNAUTHENTICATED"
    assert error.message.endswith(
        "failed: HTTP 401: Bad credentials; the credential in MLFLOW_ARTIFACTORY_TOKEN was "
        "refused; check or renew it"
    )
    assert "expired-secret-value" not in error.message


def test_no_credentials_at_all_says_so(
    plugin_env: Any, make_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    error = _raises(lambda: make_repo().list_artifacts())
    assert error.error_code == "UNAUTHENTICATED"
    assert error.message.endswith(
        "HTTP 401: Authentication is required; no credential variable is set (only "
        "~/.netrc, if any, was used); set MLFLOW_ARTIFACTORY_TOKEN"
    )


def test_inside_a_tracking_server_the_servers_own_credential_is_named(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "rotated-away")
    monkeypatch.setenv("_MLFLOW_SERVER_ARTIFACT_DESTINATION", "artifactory://mlflow-artifacts")
    error = _raises(lambda: make_repo().log_artifact(str(_write(tmp_path / "f.txt"))))
    assert error.message.endswith(
        "HTTP 401: Bad credentials; this is the MLflow tracking server's own Artifactory "
        "credential: the credential in MLFLOW_ARTIFACTORY_TOKEN was refused (set it in the "
        "server's environment; the MLflow user's login is not involved)"
    )


def test_an_untrusted_certificate_is_a_configuration_error_and_not_retried(
    point_at: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.tls import tls_emulator

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    caplog.set_level(logging.WARNING, logger="jfrog_mlflow")
    with tls_emulator(tmp_path) as (server, _):
        repo = point_at(
            f"https://127.0.0.1:{server.port}/artifactory", MLFLOW_ARTIFACTORY_MAX_RETRIES="5"
        )
        error = _raises(repo.list_artifacts)
    assert error.error_code == "INVALID_PARAMETER_VALUE"
    assert f"TLS certificate verify failed for 127.0.0.1:{server.port}" in error.message
    assert "set REQUESTS_CA_BUNDLE" in error.message
    assert [r for r in caplog.records if r.name == "jfrog_mlflow.retry"] == []
