"""Client side, the original design: the MLflow client talks to Artifactory directly.

The client process holds ``MLFLOW_ARTIFACTORY_*``; the tracking store is a local SQLite file;
experiments point at ``artifactory://<folder>/`` (the short URI form).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .e2e_support import (
    REPO,
    TOKEN,
    Artifactory,
    clean_env,
    documented_gc_commands,
    plugin_env,
    tree_bytes,
)
from .models import EXPECTED, FRAME, AddN

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e-client")]

# Names Artifactory can store that need encoding on the wire (spaces, ;, #, %, +, &, =, @, :,
# unicode) and deep nesting: they must round-trip byte for byte.
SPECIAL_TREE = {
    "space name.txt": b"space\n",
    "hash#x.txt": b"hash\n",
    "semi;colon.txt": b"semicolon\n",
    "pct%41.txt": b"percent\n",
    "plus+amp&eq=at@.txt": b"plus amp equals at\n",
    "colon:x.txt": b"colon\n",
    "ünï cødé/文件.txt": "unicode ✓\n".encode(),
    "a/b/c/d/e/deep.bin": bytes(range(256)) * 4,
    ".hidden": b"hidden\n",
}


def write_tree(root: Path, tree: dict[str, bytes]) -> Path:
    for rel, body in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return root


@pytest.fixture(scope="module")
def client_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking store per module (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('client') / 'mlflow.db'}"


@pytest.fixture
def client_side(emulator: Artifactory, client_db: str, tracking, monkeypatch) -> str:
    """Plugin variables set in this process, tracking store = the module's SQLite file."""
    for name, value in plugin_env(emulator.url).items():
        monkeypatch.setenv(name, value)
    tracking(client_db)
    return client_db


def test_original_example_logs_and_loads_a_model_through_runs_and_models_uris(
    emulator: Artifactory, client_side: str, tmp_path: Path
) -> None:
    import mlflow

    exp_id = mlflow.create_experiment(
        "seed-example", artifact_location="artifactory://mlflow-test/"
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("hello artifactory\n")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_param("n", 5)
        mlflow.log_artifact(str(notes), artifact_path="docs")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddN(5),
            pip_requirements=["mlflow"],
            registered_model_name="seed-example-model",
        )
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("artifactory://mlflow-test")

    by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    by_name = mlflow.pyfunc.load_model("models:/seed-example-model/1")
    by_id = mlflow.pyfunc.load_model(info.model_uri)
    for model in (by_run, by_name, by_id):
        assert list(model.predict(FRAME)["x"]) == EXPECTED

    assert mlflow.artifacts.load_text(f"runs:/{run_id}/docs/notes.txt") == "hello artifactory\n"
    listed = mlflow.MlflowClient().list_artifacts(run_id, "docs")
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [("docs/notes.txt", False, 18)]

    stored = emulator.files("mlflow-test")
    assert stored[f"{run_id}/artifacts/docs/notes.txt"] == 18
    model_root = f"models/{info.model_id}/artifacts"
    assert {f"{model_root}/MLmodel", f"{model_root}/python_model.pkl"} <= set(stored), stored
    assert b"python_function" in emulator.read(f"mlflow-test/{model_root}/MLmodel")


def test_special_names_round_trip_byte_exactly(
    emulator: Artifactory, client_side: str, tmp_path: Path
) -> None:
    import mlflow

    folder = f"mlflow-names-{uuid.uuid4().hex[:8]}"
    exp_id = mlflow.create_experiment(folder, artifact_location=f"artifactory://{folder}/")
    client = mlflow.MlflowClient()
    src = write_tree(tmp_path / "src", SPECIAL_TREE)
    with mlflow.start_run(experiment_id=exp_id) as run:
        assert client.list_artifacts(run.info.run_id) == []  # fresh run: [] not an error
        mlflow.log_artifacts(str(src), artifact_path="tree")
    run_id = run.info.run_id

    top = client.list_artifacts(run_id, "tree")
    paths = [f.path for f in top]
    assert paths == sorted(paths)
    assert ("tree/a", True, None) in [(f.path, f.is_dir, f.file_size) for f in top]
    assert ("tree/space name.txt", False, 6) in [(f.path, f.is_dir, f.file_size) for f in top]
    assert client.list_artifacts(run_id, "tree/space name.txt") == []  # a file lists as []

    dst = tmp_path / "dst"
    dst.mkdir()
    local = client.download_artifacts(run_id, "tree", str(dst))
    assert tree_bytes(Path(local)) == SPECIAL_TREE

    stored = emulator.files(f"{folder}/{run_id}/artifacts/tree")
    assert stored == {name: len(body) for name, body in SPECIAL_TREE.items()}
    assert emulator.read(f"{folder}/{run_id}/artifacts/tree/semi;colon.txt") == b"semicolon\n"


def test_mlflow_gc_deletes_artifacts_of_deleted_runs(
    emulator: Artifactory, client_side: str, tmp_path: Path
) -> None:
    import mlflow

    folder = f"mlflow-gc-{uuid.uuid4().hex[:8]}"
    exp_id = mlflow.create_experiment(folder, artifact_location=f"artifactory://{folder}/")
    client = mlflow.MlflowClient()
    src = write_tree(tmp_path / "src", {"model.bin": b"x" * 1000, "sub/readme.md": b"# hi\n"})
    run_ids = {}
    for name in ("logged", "empty", "kept"):
        with mlflow.start_run(experiment_id=exp_id, run_name=name) as run:
            if name != "empty":
                mlflow.log_artifacts(str(src))
        run_ids[name] = run.info.run_id
    client.delete_run(run_ids["logged"])
    client.delete_run(run_ids["empty"])  # never logged anything: gc must not abort on it
    assert emulator.files(f"{folder}/{run_ids['logged']}")

    # The command of docs/plugin.md as written, with SQLite in place of PostgreSQL.
    command = documented_gc_commands()[0]
    for placeholder, value in (
        ("MLFLOW_ARTIFACTORY_ENDPOINT_URL=…", emulator.url),
        ("MLFLOW_ARTIFACTORY_KEY=…", TOKEN),
        ("MLFLOW_ARTIFACTORY_REPO=…", REPO),
        ("postgresql://…", client_side),
    ):
        assert placeholder in command, command
        prefix = placeholder.removesuffix("…") if placeholder.endswith("=…") else ""
        command = command.replace(placeholder, prefix + shlex.quote(value))
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["bash", "-c", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not emulator.exists(f"{folder}/{run_ids['logged']}")  # the whole run folder
    assert emulator.files(f"{folder}/{run_ids['kept']}/artifacts") == {
        "model.bin": 1000,
        "sub/readme.md": 5,
    }
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_run(run_ids["logged"])  # hard-deleted from the backend store


def test_delete_skip_keeps_artifacts(
    emulator: Artifactory, client_side: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JFrog-compatible ``ARTIFACTORY_ARTIFACTS_DELETE_SKIP``, upper case on purpose.

    ``mlflow gc`` calls exactly this (``delete_artifacts()`` on the run's root); the gc
    subprocess itself is covered above.
    """
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    folder = f"mlflow-skip-{uuid.uuid4().hex[:8]}"
    exp_id = mlflow.create_experiment(folder, artifact_location=f"artifactory://{folder}/")
    (tmp_path / "keep.txt").write_text("keep me\n")
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_artifact(str(tmp_path / "keep.txt"))

    monkeypatch.setenv("ARTIFACTORY_ARTIFACTS_DELETE_SKIP", "TRUE")
    get_artifact_repository(run.info.artifact_uri).delete_artifacts()
    assert emulator.files(f"{folder}/{run.info.run_id}/artifacts") == {"keep.txt": 8}

    monkeypatch.delenv("ARTIFACTORY_ARTIFACTS_DELETE_SKIP")
    repo = get_artifact_repository(run.info.artifact_uri)
    repo.delete_artifacts()
    assert emulator.files(f"{folder}/{run.info.run_id}") == {}
    repo.delete_artifacts()  # deleting what is gone is a no-op
