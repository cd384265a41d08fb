"""MLFLOW_ARTIFACTORY_TOKEN_FILE: a token that rotates under a running process.

Tokens are minted and revoked through the emulator's Access API, so a revoked token is
really refused (401) and a new one really accepted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException


def _mint(handle: Any) -> tuple[str, str]:
    """A new access token and its id."""
    r = requests.post(
        f"{handle.root_url}/access/api/v1/tokens",
        data={"expires_in": "0"},
        auth=handle.auth,
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["access_token"], r.json()["token_id"]


def _revoke(handle: Any, token_id: str) -> None:
    r = requests.delete(
        f"{handle.root_url}/access/api/v1/tokens/{token_id}", auth=handle.auth, timeout=10
    )
    r.raise_for_status()


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def token_file(
    plugin_env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fresh_clients: None
) -> Path:
    """The plugin reads its token from this file (no other credential variable is set)."""
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    path = tmp_path / "secret" / "token"
    path.parent.mkdir()
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN_FILE", str(path))
    return path


def _statuses(handle: Any) -> list[int]:
    return [r["status"] for r in handle.requests() if r["method"] == "PUT"]


def test_the_file_is_read_when_first_needed(
    token_file: Path, make_repo: Any, tmp_path: Path
) -> None:
    repo = make_repo()  # no file yet: building the repository reads nothing
    with pytest.raises(MlflowException) as info:
        repo.list_artifacts()
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert info.value.message.endswith(
        f"MLFLOW_ARTIFACTORY_TOKEN_FILE names '{token_file}', which cannot be read: "
        "No such file or directory"
    )
    token_file.write_text("\n")
    with pytest.raises(MlflowException, match="which is empty"):
        repo.list_artifacts()


def test_a_token_rotated_in_the_file_is_used_from_the_next_request(
    token_file: Path, plugin_env: Any, make_repo: Any, tmp_path: Path
) -> None:
    old, old_id = _mint(plugin_env)
    token_file.write_text(old + "\n")
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "a.txt")))
    new, _ = _mint(plugin_env)
    token_file.write_text(new + "\n")
    _revoke(plugin_env, old_id)
    plugin_env.clear_requests()
    repo.log_artifact(str(_write(tmp_path / "b.txt")))
    assert _statuses(plugin_env) == [201]  # the changed file was read before sending


def test_after_a_401_the_file_is_read_again_and_the_request_repeated(
    token_file: Path, plugin_env: Any, make_repo: Any, tmp_path: Path
) -> None:
    """A rotation the file's metadata does not show (same size, inode and time, as a
    secret store may leave it): the 401 makes the plugin read the file again."""
    old, old_id = _mint(plugin_env)
    token_file.write_text(old)
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "a.txt")))
    new, _ = _mint(plugin_env)
    assert len(new) == len(old)
    before = token_file.stat()
    with open(token_file, "r+") as fh:  # in place: same inode
        fh.write(new)
    os.utime(token_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    _revoke(plugin_env, old_id)
    plugin_env.clear_requests()
    repo.log_artifact(str(_write(tmp_path / "b.txt")))
    assert _statuses(plugin_env) == [401, 201]
    assert (plugin_env.requests()[0]["headers"].get("Authorization")) == "Bearer ***"


def test_a_refused_token_file_names_the_variable(
    token_file: Path, plugin_env: Any, make_repo: Any, tmp_path: Path
) -> None:
    token_file.write_text("never-valid\n")
    with pytest.raises(MlflowException) as info:
        make_repo().log_artifact(str(_write(tmp_path / "a.txt")))
    assert info.value.error_code == "UNAUTHENTICATED"
    assert info.value.message.endswith(
        "HTTP 401: Bad credentials; the credential in MLFLOW_ARTIFACTORY_TOKEN_FILE was "
        "refused; check or renew it"
    )
    assert "never-valid" not in info.value.message


def test_precedence_token_then_token_file_then_key(
    token_file: Path,
    plugin_env: Any,
    make_repo: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_file.write_text(plugin_env.token)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_KEY", "wrong-key")  # ignored: the file wins
    make_repo().log_artifact(str(_write(tmp_path / "a.txt")))
    token_file.write_text("wrong-token-in-file")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", plugin_env.token)  # wins over the file
    make_repo().log_artifact(str(_write(tmp_path / "b.txt")))
