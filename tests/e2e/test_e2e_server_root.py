"""``mlflow server --default-artifact-root artifactory://...``: the server only records URIs.

The server process has no Artifactory configuration at all; the client holds the
``MLFLOW_ARTIFACTORY_*`` variables and talks to Artifactory directly. So everything that lands
in the emulator was sent by the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .e2e_support import Artifactory, MlflowServer, clean_env, plugin_env, tree_bytes
from .models import EXPECTED, FRAME, AddN

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e-server-root")]

ROOT = "mlflow-server-root"


@pytest.fixture(scope="module")
def root_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with MlflowServer(
        tmp_path_factory.mktemp("root-server"),
        ["--default-artifact-root", f"artifactory://{ROOT}"],
        clean_env(),  # no Artifactory variables on the server
    ) as server:
        yield server


@pytest.fixture
def client(emulator: Artifactory, root_server: MlflowServer, tracking, monkeypatch) -> Any:
    import mlflow

    for name, value in plugin_env(emulator.url).items():
        monkeypatch.setenv(name, value)
    tracking(root_server.url)
    return mlflow.MlflowClient()


def test_client_logs_lists_downloads_and_loads_models_directly(
    emulator: Artifactory, client: Any, tmp_path: Path
) -> None:
    import mlflow

    exp_id = mlflow.create_experiment(f"root-{uuid.uuid4().hex[:6]}")
    src = tmp_path / "src"
    (src / "sub dir").mkdir(parents=True)
    (src / "sub dir" / "b;c.txt").write_bytes(b"bc\n")
    (src / "a.txt").write_bytes(b"a\n")
    name = f"root-model-{uuid.uuid4().hex[:6]}"
    with mlflow.start_run(experiment_id=exp_id) as run:
        assert client.list_artifacts(run.info.run_id) == []
        mlflow.log_artifacts(str(src), artifact_path="files")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddN(5),
            pip_requirements=["mlflow"],
            registered_model_name=name,
        )
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"artifactory://{ROOT}/{exp_id}/{run_id}/artifacts"

    listed = client.list_artifacts(run_id, "files")
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [
        ("files/a.txt", False, 2),
        ("files/sub dir", True, None),
    ]
    dst = tmp_path / "dst"
    dst.mkdir()
    assert tree_bytes(Path(client.download_artifacts(run_id, "files", str(dst)))) == {
        "a.txt": b"a\n",
        "sub dir/b;c.txt": b"bc\n",
    }
    for uri in (f"runs:/{run_id}/model", f"models:/{name}/1", info.model_uri):
        assert list(mlflow.pyfunc.load_model(uri).predict(FRAME)["x"]) == EXPECTED, uri

    assert emulator.files(f"{ROOT}/{exp_id}/{run_id}/artifacts") == {
        "files/a.txt": 2,
        "files/sub dir/b;c.txt": 3,
    }
    stored = emulator.files(f"{ROOT}/{exp_id}/models/{info.model_id}/artifacts")
    assert {"MLmodel", "python_model.pkl"} <= set(stored), stored
