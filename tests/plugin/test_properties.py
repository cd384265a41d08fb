"""Deployed files carry properties naming their MLflow origin (and the static ones).

Pure tests of the layout rules and the syntax, then real uploads to the emulator: matrix
parameters on each deploy (no extra request), one recursive Set Item Properties request
for what archives deployed, nothing when switched off, and uploads that succeed where the
server refuses properties (no Annotate permission).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import requests

from jfrog_mlflow.errors import ConfigurationError
from jfrog_mlflow.properties import origin_of, owner_folder, parse_static, properties_for
from jfrog_mlflow.urls import build_item_url, build_set_properties_url

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-fedcba9876543210fedcba9876543210"

# ------------------------------------------------------------------ the rules (pure)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            f"root/17/{RUN}/artifacts/model/MLmodel",
            {"mlflow.experiment_id": "17", "mlflow.run_id": RUN},
        ),
        (f"mlflow-test/{RUN}/artifacts/notes.txt", {"mlflow.run_id": RUN}),
        (f"{RUN}/artifacts", {"mlflow.run_id": RUN}),
        (
            f"root/4/models/{MODEL}/artifacts/MLmodel",
            {"mlflow.experiment_id": "4", "mlflow.logged_model_id": MODEL},
        ),
        (f"mlflow-test/models/{MODEL}/artifacts", {"mlflow.logged_model_id": MODEL}),
        (
            f"x/{RUN}/artifacts/inner/4/{MODEL.replace('m-', '')}/artifacts/f",
            {"mlflow.experiment_id": "4", "mlflow.run_id": MODEL.replace("m-", "")},
        ),
        (f"root/4/{RUN.upper()}/artifacts/f", {}),  # run ids are lower-case hex
        (f"root/4/{RUN}/outputs/f", {}),
        (f"root/4/traces/tr-{RUN}/artifacts/traces.json", {}),
        (f"root/4/{MODEL}/artifacts/f", {}),  # a model id needs its models/ folder
        ("plain/folder/file.txt", {}),
    ],
)
def test_mlflow_layout_names_the_origin(path: str, expected: dict[str, str]) -> None:
    assert {k: v for k, (v,) in origin_of(path)} == expected


def test_owner_folder_is_the_run_or_model_folder_of_an_artifacts_folder() -> None:
    assert owner_folder(f"root/3/{RUN}/artifacts") == f"root/3/{RUN}"
    assert owner_folder(f"root/3/models/{MODEL}/artifacts") == f"root/3/models/{MODEL}"
    assert owner_folder(f"root/3/{RUN}/artifacts/sub") is None
    assert owner_folder("root/3/not-a-run/artifacts") is None
    assert owner_folder(f"root/3/{MODEL}/artifacts") is None


def test_static_properties_use_artifactorys_syntax() -> None:
    parsed = parse_static(
        "V", r"team=ml platform;cost-center=a\;b,c\,d;eq=x\=y;multi=1,2;mark=", ()
    )
    assert parsed == (
        ("team", ("ml platform",)),
        ("cost-center", ("a;b", "c,d")),
        ("eq", ("x=y",)),
        ("multi", ("1", "2")),
        ("mark", ("",)),
    )
    assert parse_static("V", " ", ()) == ()


@pytest.mark.parametrize("bad", ["novalue", "1key=v", "sp ace=v", "k%=v", "ümlaut=v"])
def test_bad_static_properties_name_the_variable(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="MLFLOW_ARTIFACTORY_PROPERTIES"):
        parse_static("MLFLOW_ARTIFACTORY_PROPERTIES", bad, ())


def test_the_layout_wins_over_a_static_property_of_the_same_key() -> None:
    static = (("mlflow.run_id", ("forged",)), ("team", ("ml",)))
    assert properties_for(f"r/{RUN}/artifacts/f", static) == (
        ("team", ("ml",)),
        ("mlflow.run_id", (RUN,)),
    )
    assert properties_for(f"r/{RUN}/artifacts/f", static, enabled=False) == ()


def test_properties_travel_percent_encoded_as_matrix_parameters_and_escaped_in_a_query() -> None:
    props = (("team", ("ml platform", "a;b+c")), ("mlflow.run_id", (RUN,)))
    assert build_item_url("http://h/artifactory", "r", "a;b/f.txt", properties=props) == (
        f"http://h/artifactory/r/a%3Bb/f.txt;team=ml%20platform;team=a%3Bb%2Bc;mlflow.run_id={RUN}"
    )
    url = build_set_properties_url("http://h/artifactory", "r", "d", props, recursive=True)
    assert url == (
        "http://h/artifactory/api/storage/r/d?properties="
        "team%3Dml%20platform%2Ca%5C%3Bb%2Bc%3Bmlflow.run_id%3D" + RUN + "&recursive=1"
    )


# ------------------------------------------------------------------ against the emulator


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _properties(handle: Any, path: str) -> dict[str, list[str]]:
    r = requests.get(
        f"{handle.url}/api/storage/{handle.repo}/{path}?properties", auth=handle.auth, timeout=10
    )
    if r.status_code == 404:
        return {}
    r.raise_for_status()
    return dict(r.json()["properties"])


def _tree(root: Path, count: int) -> list[str]:
    names = [f"d{i % 3}/f {i}.txt" for i in range(count)]
    for name in names:
        _write(root / name, name.encode())
    return names


FOLDER = f"exp/12/{RUN}/artifacts"
EXPECTED = {"mlflow.experiment_id": ["12"], "mlflow.run_id": [RUN]}


def test_a_logged_file_carries_its_run_in_the_deploy_request_itself(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PROPERTIES", r"team=ml;note=a\;b c+d ü")
    repo = make_repo(f"artifactory://{FOLDER}")
    plugin_env.clear_requests()
    repo.log_artifact(str(_write(tmp_path / "model.pkl")), "model")
    assert [r["method"] for r in plugin_env.requests()] == ["PUT"]
    assert _properties(plugin_env, f"{FOLDER}/model/model.pkl") == {
        **EXPECTED,
        "team": ["ml"],
        "note": ["a;b c+d ü"],
    }


@pytest.mark.parametrize("batch", ["auto", "off"])
def test_every_file_of_a_tree_carries_its_run(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: str
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", batch)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PROPERTIES", r"team=ml,data\,science")
    names = _tree(tmp_path / "src", 24)
    repo = make_repo(f"artifactory://{FOLDER}")
    plugin_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"), "tree")
    set_requests = [r for r in plugin_env.requests() if "?properties=" in r["uri"]]
    # Archives (Pro): one recursive Set Item Properties for the folder; one by one: none.
    assert len(set_requests) == (1 if batch == "auto" else 0)
    for name in names:
        assert _properties(plugin_env, f"{FOLDER}/tree/{name}") == {
            **EXPECTED,
            "team": ["ml", "data,science"],
        }, name


def test_set_properties_false_sends_and_stores_none(
    plugin_env: Any, make_repo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_SET_PROPERTIES", "false")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PROPERTIES", "team=ml")
    names = _tree(tmp_path / "src", 12)
    repo = make_repo(f"artifactory://{FOLDER}")
    plugin_env.clear_requests()
    repo.log_artifacts(str(tmp_path / "src"))
    repo.log_artifact(str(_write(tmp_path / "one.txt")))
    assert not [r for r in plugin_env.requests() if ";" in r["uri"] or "properties" in r["uri"]]
    assert _properties(plugin_env, f"{FOLDER}/{names[0]}") == {}
    assert _properties(plugin_env, f"{FOLDER}/one.txt") == {}


@pytest.mark.parametrize("batch", ["auto", "off"])
def test_a_server_that_refuses_properties_does_not_fail_the_upload(
    plugin_env: Any,
    no_annotate_server: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    batch: str,
) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from fake_artifactory.testing import FakeArtifactoryHandle

    handle = FakeArtifactoryHandle(url=no_annotate_server.url, root_url=no_annotate_server.root_url)
    handle.reset()
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", handle.url)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_USER", "writer")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PASSWORD", "writerpw")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", batch)
    names = _tree(tmp_path / "src", 12)
    caplog.set_level(logging.WARNING, logger="jfrog_mlflow")
    get_artifact_repository(f"artifactory://{FOLDER}").log_artifacts(str(tmp_path / "src"))
    for name in names:
        r = requests.get(
            f"{handle.url}/{handle.repo}/{FOLDER}/{name}", auth=handle.auth, timeout=10
        )
        assert r.content == name.encode()
        assert _properties(handle, f"{FOLDER}/{name}") == {}
    warnings = [r.getMessage() for r in caplog.records if r.name == "jfrog_mlflow.tree_upload"]
    if batch == "auto":  # matrix parameters are dropped silently; the explicit request is refused
        assert len(warnings) == 1 and "carry no properties" in warnings[0], warnings
        assert "HTTP 403" in warnings[0]
    else:
        assert warnings == []


def test_on_oss_the_deploy_request_carries_the_properties(
    oss_artifactory: Any, tmp_path: Path
) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    names = _tree(tmp_path / "src", 10)
    get_artifact_repository(f"artifactory://{FOLDER}").log_artifacts(str(tmp_path / "src"))
    for name in names:
        assert _properties(oss_artifactory, f"{FOLDER}/{name}") == EXPECTED


def test_a_real_mlflow_run_and_logged_model_are_tagged_and_found_by_property_search_and_aql(
    plugin_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through MLflow's own APIs (SQLite tracking store): run artifacts carry the run and
    experiment ids, a logged model's files its model id; property search and AQL (the
    commands docs/plugin.md shows) find exactly them."""
    import mlflow

    names = _tree(tmp_path / "src", 9)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        exp = mlflow.create_experiment("tagged", artifact_location="artifactory://mlflow-test")
        with mlflow.start_run(experiment_id=exp) as run:
            mlflow.log_artifact(str(_write(tmp_path / "notes.txt", b"notes")))
            mlflow.log_artifacts(str(tmp_path / "src"), "data")
            model = mlflow.initialize_logged_model(name="tagged-model", experiment_id=exp)
            mlflow.MlflowClient().log_model_artifacts(model.model_id, str(tmp_path / "src"))
    finally:
        mlflow.set_tracking_uri(None)
    run_id = run.info.run_id
    found = requests.get(
        f"{plugin_env.url}/api/search/prop",
        params={"mlflow.run_id": run_id, "repos": plugin_env.repo},
        headers={"X-Result-Detail": "info"},
        auth=plugin_env.auth,
        timeout=10,
    ).json()["results"]
    base = f"{plugin_env.url}/api/storage/{plugin_env.repo}/mlflow-test/{run_id}/artifacts/"
    files = sorted(r["uri"].removeprefix(base) for r in found if "size" in r)
    assert files == sorted(["notes.txt", *(f"data/{n}" for n in names)])
    aql = requests.post(
        f"{plugin_env.url}/api/search/aql",
        data=f'items.find({{"@mlflow.logged_model_id": "{model.model_id}", "type": "file"}})',
        headers={"Content-Type": "text/plain"},
        auth=plugin_env.auth,
        timeout=10,
    ).json()["results"]
    assert sorted(f"{r['path']}/{r['name']}" for r in aql) == sorted(
        f"mlflow-test/models/{model.model_id}/artifacts/{n}" for n in names
    )


def test_archives_at_the_repository_root_never_tag_the_whole_repository(
    plugin_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    monkeypatch.delenv("MLFLOW_ARTIFACTORY_REPO")
    other = get_artifact_repository(f"artifactory://{plugin_env.repo}/someone-else")
    other.log_artifact(str(_write(tmp_path / "keep.txt")))  # no properties
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PROPERTIES", "team=ml")
    names = _tree(tmp_path / "src", 12)
    plugin_env.clear_requests()
    get_artifact_repository(f"artifactory://{plugin_env.repo}").log_artifacts(str(tmp_path / "src"))
    tagged = sorted(
        r["uri"].split("?")[0] for r in plugin_env.requests() if "?properties=" in r["uri"]
    )
    base = f"/artifactory/api/storage/{plugin_env.repo}/"
    assert tagged == [base + "d0", base + "d1", base + "d2"]
    assert _properties(plugin_env, names[0]) == {"team": ["ml"]}
    assert _properties(plugin_env, "someone-else/keep.txt") == {}
