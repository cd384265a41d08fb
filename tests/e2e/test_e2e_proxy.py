"""Proxy mode: ``mlflow server --artifacts-destination artifactory://...``.

Only the server holds the Artifactory configuration; the client has none and goes through the
server's ``/api/2.0/mlflow-artifacts`` endpoints for everything.
"""

from __future__ import annotations

import shlex
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from support.sockets import Listener

from .e2e_support import (
    REPO,
    TOKEN,
    Artifactory,
    MlflowServer,
    clean_env,
    documented_gc_commands,
    entry_method,
    entry_path,
    plugin_env,
    tree_bytes,
)
from .models import EXPECTED, FRAME, AddN

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e-proxy")]

DEST = "mlflow-proxy"

# What a browser or client can send through the server (the server itself rejects '#', and
# MLflow's HTTP client does not percent-encode '%' or '?', so those are left to the client-side
# tests).
PROXY_TREE = {
    "space name.txt": b"space\n",
    "semi;colon.txt": b"semicolon\n",
    "plus+amp&eq=at@.txt": b"plus amp equals at\n",
    "ünï cødé/文件.txt": "unicode ✓\n".encode(),
    "nested/deeper/data.bin": bytes(range(256)) * 8,
}


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's credential: a file holding the token, like a mounted secret."""
    path = tmp_path_factory.mktemp("secret") / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture(scope="module")
def proxy_server(
    emulator: Artifactory, tmp_path_factory: pytest.TempPathFactory, token_file: Path
) -> Iterator[Any]:
    env = {**plugin_env(emulator.url), "ARTIFACTORY_NO_SSL": "true"}
    del env["MLFLOW_ARTIFACTORY_KEY"]
    env["MLFLOW_ARTIFACTORY_TOKEN_FILE"] = str(token_file)
    with MlflowServer(
        tmp_path_factory.mktemp("proxy-server"),
        ["--artifacts-destination", f"artifactory://{DEST}"],
        clean_env(env),
    ) as server:
        yield server


@pytest.fixture
def client(proxy_server: MlflowServer, tracking) -> Any:
    """An MLflow client in this process with no Artifactory variables at all."""
    import mlflow

    tracking(proxy_server.url)
    return mlflow.MlflowClient()


def rest_get(server: MlflowServer, endpoint: str, **params: str) -> requests.Response:
    return requests.get(f"{server.url}{endpoint}", params=params, timeout=60)


def listing(files: list[dict[str, Any]]) -> list[tuple[str, bool, int | None]]:
    """Normalise a REST listing to (basename, is_dir, size)."""
    return [
        (
            f["path"].rsplit("/", 1)[-1],
            bool(f.get("is_dir", False)),
            int(f["file_size"]) if "file_size" in f else None,
        )
        for f in files
    ]


def test_fresh_run_lists_empty_not_500(proxy_server: MlflowServer, client: Any) -> None:
    import mlflow

    with mlflow.start_run() as run:
        run_id = run.info.run_id
        exp_id = run.info.experiment_id
        assert client.list_artifacts(run_id) == []
        r = rest_get(proxy_server, "/api/2.0/mlflow/artifacts/list", run_id=run_id)
        assert r.status_code == 200, r.text
        assert r.json().get("files", []) == []
        r = rest_get(
            proxy_server,
            "/api/2.0/mlflow-artifacts/artifacts",
            path=f"{exp_id}/{run_id}/artifacts",
        )
        assert r.status_code == 200, r.text
        assert r.json().get("files", []) == []


def test_log_list_download_through_the_server(
    emulator: Artifactory, proxy_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    import mlflow

    src = tmp_path / "src"
    for rel, body in PROXY_TREE.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(body)
    single = tmp_path / "metrics file.json"
    single.write_text('{"accuracy": 0.93}\n')
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(single))
        mlflow.log_artifacts(str(src), artifact_path="data")
    run_id, exp_id = run.info.run_id, run.info.experiment_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")

    # The client, the UI endpoint and the mlflow-artifacts endpoint agree.
    listings = {}
    for sub in (None, "data", "data/nested"):
        via_client = [
            (f.path.rsplit("/", 1)[-1], f.is_dir, f.file_size)
            for f in client.list_artifacts(run_id, sub)
        ]
        params = {"run_id": run_id, **({"path": sub} if sub else {})}
        ui = rest_get(proxy_server, "/api/2.0/mlflow/artifacts/list", **params)
        assert ui.status_code == 200, ui.text
        dest_path = f"{exp_id}/{run_id}/artifacts" + (f"/{sub}" if sub else "")
        proxied = rest_get(proxy_server, "/api/2.0/mlflow-artifacts/artifacts", path=dest_path)
        assert proxied.status_code == 200, proxied.text
        assert via_client == listing(ui.json()["files"]) == listing(proxied.json()["files"])
        assert via_client == sorted(via_client)
        listings[sub] = via_client
    assert listings[None] == [("data", True, None), ("metrics file.json", False, 19)]
    assert ("ünï cødé", True, None) in listings["data"]
    assert listings["data/nested"] == [("deeper", True, None)]

    # Downloads through the server, whole tree and one file.
    dst = tmp_path / "dst"
    dst.mkdir()
    local = Path(client.download_artifacts(run_id, "data", str(dst)))
    assert tree_bytes(local) == PROXY_TREE
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/metrics file.json") == single.read_text()

    # Where it really landed, and the wire shows one PUT per file (streamed by the server).
    root = f"{DEST}/{exp_id}/{run_id}/artifacts"
    assert emulator.files(root) == {
        "metrics file.json": 19,
        **{f"data/{k}": len(v) for k, v in PROXY_TREE.items()},
    }
    # Each file went up in its own PUT (proxy mode streams them), which carries the run's
    # ids as matrix parameters: the first literal ';' of the raw URI starts them.
    puts = {}
    for e in emulator.journal():
        if entry_method(e) == "PUT":
            raw_path, _, matrix = str(e["uri"]).partition(";")
            puts[requests.utils.unquote(raw_path)] = matrix
    for rel in ["metrics file.json", *(f"data/{k}" for k in PROXY_TREE)]:
        found = [m for p, m in puts.items() if p.endswith(f"{root}/{rel}")]
        assert found == [f"mlflow.experiment_id={exp_id};mlflow.run_id={run_id}"], rel
    props = emulator.session.get(
        f"{emulator.url}/api/storage/{REPO}/{root}/metrics%20file.json?properties", timeout=30
    ).json()["properties"]
    assert props == {"mlflow.experiment_id": [exp_id], "mlflow.run_id": [run_id]}


def test_model_logged_and_loaded_through_the_server(
    emulator: Artifactory, proxy_server: MlflowServer, client: Any
) -> None:
    import mlflow

    name = f"proxy-model-{uuid.uuid4().hex[:6]}"
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddN(5),
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )
    for uri in (f"runs:/{run.info.run_id}/model", f"models:/{name}/1", info.model_uri):
        assert list(mlflow.pyfunc.load_model(uri).predict(FRAME)["x"]) == EXPECTED, uri
    stored = emulator.files(f"{DEST}/{run.info.experiment_id}/models/{info.model_id}/artifacts")
    assert {"MLmodel", "python_model.pkl"} <= set(stored), stored


def test_server_streams_uploads_into_artifactory(
    emulator: Artifactory, proxy_server: MlflowServer
) -> None:
    from mlflow.store.artifact.artifact_repo import StreamUploadMixin
    from mlflow.store.artifact.artifact_repository_registry import _artifact_repository_registry

    from jfrog_mlflow.repository import ArtifactoryArtifactRepository

    # The entry point MLflow loaded is our class, and it streams (no temp-file spooling).
    registered = _artifact_repository_registry._registry["artifactory"]
    assert registered is ArtifactoryArtifactRepository
    assert issubclass(ArtifactoryArtifactRepository, StreamUploadMixin)

    chunk = bytes(range(256)) * 4096  # 1 MiB
    body = chunk * 3
    rel = f"stream-{uuid.uuid4().hex[:6]}/big file.bin"

    def chunks() -> Iterator[bytes]:  # chunked transfer encoding: no length known up front
        for _ in range(3):
            yield chunk

    r = requests.put(
        f"{proxy_server.url}/api/2.0/mlflow-artifacts/artifacts/{rel}", data=chunks(), timeout=60
    )
    assert r.status_code == 200, r.text
    assert emulator.read(f"{DEST}/{rel}") == body
    puts = [
        e
        for e in emulator.journal()
        if entry_method(e) == "PUT" and entry_path(e).split("?")[0].endswith(f"{DEST}/{rel}")
    ]
    assert puts and puts[-1].get("body_size", len(body)) == len(body)

    r = requests.get(f"{proxy_server.url}/api/2.0/mlflow-artifacts/artifacts/{rel}", timeout=60)
    assert r.status_code == 200 and r.content == body


def test_mlflow_gc_through_the_server(
    emulator: Artifactory, proxy_server: MlflowServer, client: Any, tmp_path: Path
) -> None:
    import mlflow

    (tmp_path / "a.txt").write_text("a\n")
    exp_id = mlflow.create_experiment(f"gc-{uuid.uuid4().hex[:6]}")
    with mlflow.start_run(experiment_id=exp_id) as logged:
        mlflow.log_artifact(str(tmp_path / "a.txt"))
    with mlflow.start_run(experiment_id=exp_id) as empty:
        pass  # never logs: its folder never exists in Artifactory
    for run in (logged, empty):
        client.delete_run(run.info.run_id)
    assert emulator.files(f"{DEST}/{exp_id}/{logged.info.run_id}")

    # In-process through click (this client has no Artifactory variables, so a subprocess
    # would prove nothing more and cost an interpreter start); the server does the deleting.
    from click.testing import CliRunner
    from mlflow.cli import cli

    # The proxy-mode command of docs/plugin.md as written (SQLite for PostgreSQL).
    command = documented_gc_commands()[1]
    command = command.replace("postgresql://…", proxy_server.backend_store_uri)
    command = command.replace("http://server:5000", proxy_server.url)
    args = shlex.split(command)
    assert args[:2] == ["mlflow", "gc"], command
    ids = f"{logged.info.run_id},{empty.info.run_id}"
    result = CliRunner().invoke(cli, [*args[1:], "--run-ids", ids])
    assert result.exit_code == 0, (result.output, result.exception)
    assert not emulator.exists(f"{DEST}/{exp_id}/{logged.info.run_id}")  # the whole run folder
    assert emulator.exists(f"{DEST}/{exp_id}")


def _record_and_refuse(received: list[bytes], conn: socket.socket) -> None:
    """Keep the request head that arrives, then answer 404."""
    conn.settimeout(2)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                break
            data += part
    except OSError:
        pass
    received.append(data)
    try:
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    except OSError:
        pass


def test_server_credentials_never_go_to_a_host_named_by_an_experiment(
    proxy_server: MlflowServer, client: Any
) -> None:
    import mlflow

    received: list[bytes] = []
    with Listener(lambda conn: _record_and_refuse(received, conn)) as trap:
        exp_id = client.create_experiment(
            f"evil-{uuid.uuid4().hex[:6]}",
            artifact_location=f"artifactory://127.0.0.1:{trap.port}/artifactory/x",
        )
        run_id = client.create_run(exp_id).info.run_id
        listed = rest_get(proxy_server, "/api/2.0/mlflow/artifacts/list", run_id=run_id)
        fetched = rest_get(proxy_server, "/get-artifact", run_id=run_id, path="model/MLmodel")
    leaked = [d for d in received if b"authorization" in d.lower() or b"x-jfrog" in d.lower()]
    assert leaked == [], "the server sent its Artifactory credentials to another host"
    assert received == [], "the server contacted a host it was not configured for"
    for response in (listed, fetched):
        assert response.status_code != 200
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
        assert f"127.0.0.1:{trap.port}" in response.text or "ALLOWED_HOSTS" in response.text
    assert mlflow.get_tracking_uri() == proxy_server.url


def test_a_rotated_token_file_is_picked_up_and_a_refused_one_is_named_as_the_servers(
    emulator: Artifactory, proxy_server: MlflowServer, client: Any, token_file: Path, tmp_path: Path
) -> None:
    """The server reads MLFLOW_ARTIFACTORY_TOKEN_FILE again after a 401: a token rotated
    in the file works without a restart. While the file holds a token Artifactory refuses,
    the MLflow user is told that the server's own Artifactory credential was refused
    (by its variable, never its value)."""
    import mlflow

    local = tmp_path / "notes.txt"
    local.write_text("notes")
    exp = client.create_experiment(f"rotation-{uuid.uuid4().hex[:8]}")
    try:
        token_file.write_text("revoked-or-expired-token\n")
        with mlflow.start_run(experiment_id=exp):
            with pytest.raises(Exception) as info:
                mlflow.log_artifact(str(local))
        message = str(info.value)
        assert (
            "HTTP 401: Bad credentials; this is the MLflow tracking server's own Artifactory "
            "credential: the credential in MLFLOW_ARTIFACTORY_TOKEN_FILE was refused"
        ) in message, message
        assert "revoked-or-expired-token" not in message

        created = emulator.session.post(
            f"{emulator.root_url}/access/api/v1/tokens", data={"expires_in": "0"}, timeout=30
        )
        created.raise_for_status()
        token_file.write_text(created.json()["access_token"] + "\n")  # rotated
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_artifact(str(local))
        assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt") == "notes"
    finally:
        token_file.write_text(TOKEN + "\n")
