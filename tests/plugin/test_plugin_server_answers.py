"""The plugin against what a real server answers, on Pro and OSS and with the identity
headers of 7.x and 6.x: content types from Artifactory's MIME table, checksum files
served for ``<file>.sha1|.md5|.sha256``, error bodies in Jackson's layout.

Each server is an emulator over real HTTP on 127.0.0.1; MLflow's registry builds the
repository.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from plugin_support import download_into, read_tree

TOKEN = "fake-test-token"
#: (edition, version): Pro and OSS as 7.x servers, and a Pro 6.x server (``Server``
#: header instead of ``X-JFrog-Version``).
SERVERS = [("pro", "7.90.10"), ("oss", "7.90.10"), ("pro", "6.20.0")]

pytestmark = pytest.mark.usefixtures("fresh_clients")


def _tgz() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("inner.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"inner"))
    return buffer.getvalue()


#: Artifact name -> (content, the type Artifactory's default table gives it).
FILES: dict[str, tuple[bytes, str]] = {
    "MLmodel": (b"artifact_path: model\n", "application/octet-stream"),
    "conda.yaml": (b"name: env\n", "text/plain"),
    "train.log": (b"epoch 1\n" * 50, "text/plain"),
    "metrics.json": (b'{"acc": 0.9}', "application/json"),
    "model.tgz": (_tgz(), "application/x-gzip"),
    "weights.tar.gz": (gzip.compress(b"weights" * 100), "application/x-gzip"),
    "plot.png": (bytes(range(256)), "application/octet-stream"),
    "data.csv": (b"a,b\n1,2\n", "application/octet-stream"),
}


@pytest.fixture(scope="module", params=SERVERS, ids=[f"{e}-{v}" for e, v in SERVERS])
def server(request: pytest.FixtureRequest) -> Iterator[Any]:
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    edition, version = request.param
    config = EmulatorConfig(port=0, tokens=(TOKEN,), edition=edition, version=version)
    with ThreadedServer(config) as srv:
        yield srv


@pytest.fixture
def env(server: Any, monkeypatch: pytest.MonkeyPatch, plugin_env: Any) -> Any:
    """The plugin configured for ``server`` (clean environment from ``plugin_env``)."""
    from fake_artifactory.testing import FakeArtifactoryHandle

    handle = FakeArtifactoryHandle(url=server.url, root_url=server.root_url, token=TOKEN)
    handle.reset()
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", handle.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", handle.repo)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", TOKEN)
    return handle


def _served_type(env: Any, path: str) -> str:
    resp = requests.head(f"{env.url}/{env.repo}/{path}", auth=env.auth, timeout=30)
    assert resp.status_code == 200, path
    return resp.headers["Content-Type"]


def test_artifacts_round_trip_whatever_content_type_the_server_sends(env, tmp_path: Path):
    """Gzip files served as ``application/x-gzip`` arrive as stored (never unpacked), text
    served as ``text/plain`` arrives byte for byte, and listings give every size."""
    src = tmp_path / "src"
    src.mkdir()
    for name, (data, _) in FILES.items():
        (src / name).write_bytes(data)
    repo = get_artifact_repository("artifactory://answers/run")
    repo.log_artifacts(str(src), "out")

    for name, (_, mime) in FILES.items():
        assert _served_type(env, f"answers/run/out/{name}") == mime, name
    listed = {Path(f.path).name: f.file_size for f in repo.list_artifacts("out")}
    assert listed == {name: len(data) for name, (data, _) in FILES.items()}
    out = download_into(repo, "out", tmp_path / "dst")
    assert read_tree(out) == {name: data for name, (data, _) in FILES.items()}
    single = download_into(repo, "out/model.tgz", tmp_path / "one")
    assert single.read_bytes() == FILES["model.tgz"][0]


def test_a_checksum_file_name_is_never_taken_for_an_artifact(env, tmp_path: Path):
    """The server answers ``GET <file>.sha256`` with the checksum of ``<file>``; the plugin
    never stores such names, so asking for one is asking for a missing artifact."""
    src = tmp_path / "model.pkl"
    src.write_bytes(b"pickled")
    repo = get_artifact_repository("artifactory://answers/sums")
    repo.log_artifact(str(src))
    checksum_url = f"{env.url}/{env.repo}/answers/sums/model.pkl.sha256"
    assert requests.get(checksum_url, auth=env.auth, timeout=30).status_code == 200

    assert [f.path for f in repo.list_artifacts()] == ["model.pkl"]
    (tmp_path / "dst").mkdir()
    with pytest.raises(MlflowException) as raised:
        repo.download_artifacts("model.pkl.sha256", str(tmp_path / "dst"))
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert not list((tmp_path / "dst").rglob("*.sha256"))


def test_a_refusal_reports_the_servers_message_from_the_error_body(env, tmp_path: Path):
    """The message of a Jackson-laid-out error envelope reaches the MLflow exception."""
    first = tmp_path / "a.txt"
    first.write_bytes(b"file")
    repo = get_artifact_repository("artifactory://answers/clash")
    repo.log_artifact(str(first))
    with pytest.raises(MlflowException) as raised:
        repo.log_artifact(str(first), "a.txt")
    assert "Parent answers/clash/a.txt must be a folder" in str(raised.value)
