"""TLS (https by default for full-form URIs, REQUESTS_CA_BUNDLE) and package hygiene."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from support.tls import tls_emulator

import jfrog_mlflow


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    with tls_emulator(tmp_path_factory.mktemp("tls")) as started:
        yield started


def test_full_form_defaults_to_https_and_uses_ca_bundle(tls_server, monkeypatch, tmp_path):
    server, ca_file = tls_server
    for name in (
        "MLFLOW_ARTIFACTORY_ENDPOINT_URL",
        "MLFLOW_ARTIFACTORY_TOKEN",
        "ARTIFACTORY_NO_SSL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARTIFACTORY_AUTH_TOKEN", "tls-token")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_MAX_RETRIES", "0")
    uri = f"artifactory://127.0.0.1:{server.port}/artifactory/example-repo-local/tls"
    local = tmp_path / "f.txt"
    local.write_bytes(b"over tls")

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(MlflowException) as info:
        get_artifact_repository(uri).log_artifact(str(local))
    # A certificate that does not verify is configuration, not a passing outage.
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert f"TLS certificate verify failed for 127.0.0.1:{server.port}" in info.value.message
    assert "REQUESTS_CA_BUNDLE" in info.value.message

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
    repo = get_artifact_repository(uri)
    repo.log_artifact(str(local))
    dst = tmp_path / "dl"
    dst.mkdir()
    out = repo.download_artifacts("f.txt", str(dst))
    assert open(out, "rb").read() == b"over tls"


def test_public_surface():
    assert jfrog_mlflow.__all__ == ["ArtifactoryArtifactRepository", "__version__"]
    assert isinstance(jfrog_mlflow.__version__, str)
    with pytest.raises(AttributeError):
        jfrog_mlflow.NoSuchThing  # noqa: B018


def test_import_is_cheap_and_does_not_import_mlflow():
    code = (
        "import sys, jfrog_mlflow, jfrog_mlflow.client, jfrog_mlflow.uri;"
        "print('mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_ca_bundle_is_an_mlflow_error_naming_the_variable(
    plugin_env, tmp_path, monkeypatch
):
    """requests raises a bare OSError for a CA bundle path that does not exist; through the
    plugin that is an MlflowException (like every failure) naming the variable, without
    the token."""
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
