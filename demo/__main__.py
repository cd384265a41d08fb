"""`make demo`: the original jfrog-mlflow example, end to end, on the bundled emulator.

1. starts the fake Artifactory as a real process on a free port;
2. shows the emulator at the wire level (deploy, list, download, delete a small tree);
3. runs the original example client-side: an experiment whose artifact location is
   ``artifactory://mlflow-test/``, a logged pyfunc model, loaded back through ``runs:/``
   and ``models:/`` URIs, and a prediction;
4. runs proxy mode: ``mlflow server --artifacts-destination artifactory://mlflow-proxy``, and a
   client without any Artifactory settings that logs, lists and downloads through the server;
5. prints what was stored where, and cleans up (artifacts, processes, temp dirs).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from mlflow.pyfunc import PythonModel

from demo.mlflow_server import MlflowServer
from fake_artifactory.testing import start_process

TOKEN = "demo-token"
REPO = "example-repo-local"
PLUGIN_VARS = (
    "MLFLOW_ARTIFACTORY_ENDPOINT_URL",
    "MLFLOW_ARTIFACTORY_KEY",
    "MLFLOW_ARTIFACTORY_REPO",
)


class AddN(PythonModel):  # type: ignore[misc]
    """The example model: adds ``n`` to every column."""

    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        return model_input.apply(lambda col: col + self.n)


def say(msg: str) -> None:
    """Demo output goes to stdout: this is a script, not a library."""
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def plugin_env(url: str) -> dict[str, str]:
    """The original design's three variables."""
    return dict(zip(PLUGIN_VARS, (url, TOKEN, REPO), strict=True))


def artifactory_session() -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    return s


def rest_tour(url: str) -> None:
    say("\n== 1. The emulator over plain HTTP ==")
    s = artifactory_session()
    tree = {"demo/a.txt": b"alpha\n", "demo/sub/b;c#d.txt": b"semicolon and hash\n"}
    for path, body in tree.items():
        quoted = requests.utils.quote(path, safe="/")
        r = s.put(
            f"{url}/{REPO}/{quoted}",
            data=body,
            headers={"X-Checksum-Sha256": hashlib.sha256(body).hexdigest()},
        )
        r.raise_for_status()
        say(f"PUT    {REPO}/{path} -> {r.status_code} size={r.json()['size']}")
    r = s.get(
        f"{url}/api/storage/{REPO}/demo", params={"list": "", "deep": "1", "listFolders": "1"}
    )
    r.raise_for_status()
    for f in r.json()["files"]:
        say(f"LIST   {f['uri']}  folder={f['folder']} size={f['size']}")
    r = s.get(f"{url}/{REPO}/" + requests.utils.quote("demo/sub/b;c#d.txt", safe="/"))
    say(f"GET    demo/sub/b;c#d.txt -> {r.status_code} {r.content!r}")
    r = s.delete(f"{url}/{REPO}/demo")
    say(f"DELETE demo -> {r.status_code}")


def client_side_example(url: str, workdir: Path) -> None:
    import mlflow

    say("\n== 2. The original example: client -> Artifactory ==")
    logging.getLogger("mlflow").setLevel(logging.ERROR)  # keep the demo's output readable
    os.environ.update(plugin_env(url))
    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")

    exp_id = mlflow.create_experiment(
        "artifactory-demo", artifact_location="artifactory://mlflow-test/"
    )
    with mlflow.start_run(experiment_id=exp_id) as run:
        mlflow.log_param("n", 5)
        notes = workdir / "notes; #1.txt"
        notes.write_text("a file name Artifactory needs encoded\n")
        mlflow.log_artifact(str(notes), artifact_path="docs")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=AddN(5),
            pip_requirements=["mlflow"],
            registered_model_name="artifactory-demo-model",
        )
    say(f"run {run.info.run_id}: artifact_uri = {run.info.artifact_uri}")
    say(f"logged model {info.model_uri}")
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    by_name = mlflow.pyfunc.load_model("models:/artifactory-demo-model/1")
    say(f"predict via runs:/   -> {list(by_run.predict(frame)['x'])}")
    say(f"predict via models:/ -> {list(by_name.predict(frame)['x'])}")
    listed = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "docs")]
    say(f"list_artifacts(run, 'docs') -> {listed}")


def proxy_example(url: str, workdir: Path) -> None:
    import mlflow

    say("\n== 3. Proxy mode: mlflow server --artifacts-destination artifactory://mlflow-proxy ==")
    for key in PLUGIN_VARS:
        os.environ.pop(key, None)  # the client holds no Artifactory settings in proxy mode
    server_env = {**os.environ, **plugin_env(url)}
    with MlflowServer(
        workdir, ["--artifacts-destination", "artifactory://mlflow-proxy"], server_env, "proxy.db"
    ) as server:
        say(f"mlflow server running at {server.url}")
        mlflow.set_tracking_uri(server.url)
        with mlflow.start_run() as run:
            (workdir / "metrics.json").write_text('{"accuracy": 0.93}\n')
            mlflow.log_artifact(str(workdir / "metrics.json"), artifact_path="eval")
        client = mlflow.MlflowClient()
        say(f"run {run.info.run_id}: artifact_uri = {run.info.artifact_uri}")
        listed = [f.path for f in client.list_artifacts(run.info.run_id, "eval")]
        say(f"list via server -> {listed}")
        local = client.download_artifacts(run.info.run_id, "eval/metrics.json", str(workdir))
        say(f"downloaded via server -> {Path(local).read_text().strip()}")


def show_and_clean(url: str) -> None:
    say("\n== 4. What is stored where ==")
    s = artifactory_session()
    for top in ("mlflow-test", "mlflow-proxy"):
        r = s.get(f"{url}/api/storage/{REPO}/{top}", params={"list": "", "deep": "1"})
        r.raise_for_status()
        for f in r.json()["files"]:
            say(f"  {REPO}/{top}{f['uri']}  ({f['size']} bytes)")
        r = s.delete(f"{url}/{REPO}/{top}")
        say(f"DELETE {REPO}/{top} -> {r.status_code}")


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory(prefix="jfrog-mlflow-demo-") as tmp:
        workdir = Path(tmp)
        with start_process("--token", TOKEN) as emulator:
            say(f"fake Artifactory running at {emulator.url}")
            rest_tour(emulator.url)
            client_side_example(emulator.url, workdir)
            proxy_example(emulator.url, workdir)
            show_and_clean(emulator.url)
    say("\ndemo finished: emulator and mlflow server stopped, temporary files removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
