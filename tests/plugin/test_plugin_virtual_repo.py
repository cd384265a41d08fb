"""The plugin with ``MLFLOW_ARTIFACTORY_REPO`` naming a virtual repository: logging goes to
its default deployment repository, listing and downloading see every member, deleting
(what ``mlflow gc`` calls) removes the path from every member."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from mlflow.exceptions import MlflowException
from plugin_support import (
    NAMES,
    calls,
    download_into,
    is_archive_get,
    journal,
    read_tree,
    write_tree,
)

VIRTUAL = "ml-virtual"


def _admin(handle: Any, method: str, path: str, **kwargs: Any) -> requests.Response:
    resp = requests.request(method, f"{handle.url}{path}", auth=handle.auth, timeout=30, **kwargs)
    assert resp.status_code < 300, resp.text
    return resp


@pytest.fixture
def virtual_env(plugin_env: Any, fresh_clients: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``ml-virtual`` over ``ml-a`` (default deployment) and ``ml-b``; the plugin uses it."""
    for key in ("ml-a", "ml-b"):
        _admin(plugin_env, "PUT", f"/api/repositories/{key}", json={"rclass": "local"})
    body = {"rclass": "virtual", "repositories": ["ml-a", "ml-b"], "defaultDeploymentRepo": "ml-a"}
    _admin(plugin_env, "PUT", f"/api/repositories/{VIRTUAL}", json=body)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", VIRTUAL)
    return plugin_env


def _exists(handle: Any, repo: str, path: str) -> bool:
    url = f"{handle.url}/api/storage/{repo}/{path}"
    return requests.get(url, auth=handle.auth, timeout=30).status_code == 200


def test_log_list_and_download_through_a_virtual_repository(virtual_env, make_repo, tmp_path):
    """Logged files land in the default deployment repository and read back through the
    virtual repository, with what other members hold."""
    src = tmp_path / "src"
    files = write_tree(src, ["a.txt", "sub/b.txt", "sub/deeper/c.bin"])
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/from-b.txt", data=b"held by b")
    repo = make_repo("artifactory://exp/run/artifacts")
    repo.log_artifacts(str(src))
    repo.log_artifact(str(src / "a.txt"), "single")
    assert _exists(virtual_env, "ml-a", "exp/run/artifacts/sub/deeper/c.bin")
    assert not _exists(virtual_env, "ml-b", "exp/run/artifacts/a.txt")
    listed = {(f.path, f.is_dir) for f in repo.list_artifacts()}
    assert listed == {
        ("a.txt", False),
        ("from-b.txt", False),
        ("single", True),
        ("sub", True),
    }
    assert [f.path for f in repo.list_artifacts("sub")] == ["sub/b.txt", "sub/deeper"]
    (tmp_path / "out").mkdir()
    out = Path(repo.download_artifacts("", str(tmp_path / "out")))
    expected = {**files, "from-b.txt": b"held by b", "single/a.txt": files["a.txt"]}
    assert read_tree(out) == expected


def test_delete_through_a_virtual_repository_removes_the_path_from_every_member(
    virtual_env, make_repo, tmp_path
):
    """A virtual repository stores nothing itself (a DELETE through it finds nothing), so
    the plugin deletes in its members: afterwards nothing is left to read."""
    src = tmp_path / "src"
    write_tree(src, ["a.txt", "sub/b.txt"])
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/from-b.txt", data=b"b")
    _admin(virtual_env, "PUT", "/ml-b/exp/other/keep.txt", data=b"k")
    repo = make_repo("artifactory://exp/run/artifacts")
    repo.log_artifacts(str(src))
    repo.delete_artifacts("sub")
    assert [f.path for f in repo.list_artifacts()] == ["a.txt", "from-b.txt"]
    repo.delete_artifacts()
    assert repo.list_artifacts() == []
    assert not _exists(virtual_env, "ml-a", "exp/run/artifacts")
    assert not _exists(virtual_env, "ml-b", "exp/run/artifacts")
    assert _exists(virtual_env, "ml-b", "exp/other/keep.txt")
    repo.delete_artifacts()  # nothing left: still a no-op


def test_a_user_who_is_not_an_admin_deletes_through_a_virtual_repository(
    virtual_env, make_repo, tmp_path, monkeypatch
):
    """The members come from the repository's public configuration, which users who are
    not admins get too."""
    handle = virtual_env
    body = {"email": "ml@example.com", "password": "ml-Pa55w0rd"}
    _admin(handle, "PUT", "/api/security/users/ml", json=body)
    target = {"repositories": ["ml-a", "ml-b"], "principals": {"users": {"ml": ["r", "w", "d"]}}}
    _admin(handle, "PUT", "/api/security/permissions/ml", json=target)
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_USER", "ml")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PASSWORD", "ml-Pa55w0rd")
    _admin(handle, "PUT", "/ml-b/exp/run/artifacts/b.txt", data=b"b")
    repo = make_repo("artifactory://exp/run/artifacts")
    (tmp_path / "a.txt").write_bytes(b"a")
    repo.log_artifact(str(tmp_path / "a.txt"))
    assert sorted(f.path for f in repo.list_artifacts()) == ["a.txt", "b.txt"]
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_a_virtual_repository_without_a_default_deployment_repository_is_read_only(
    virtual_env, make_repo, tmp_path, monkeypatch
):
    _admin(
        virtual_env,
        "PUT",
        "/api/repositories/ml-readonly",
        json={"rclass": "virtual", "repositories": ["ml-b"]},
    )
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/b.txt", data=b"b")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", "ml-readonly")
    repo = make_repo("artifactory://exp/run/artifacts")
    assert [f.path for f in repo.list_artifacts()] == ["b.txt"]
    assert (Path(repo.download_artifacts("b.txt", str(tmp_path))).read_bytes()) == b"b"
    (tmp_path / "new.txt").write_bytes(b"n")
    with pytest.raises(MlflowException, match="No local repository was configured"):
        repo.log_artifact(str(tmp_path / "new.txt"))


def test_a_delete_in_a_local_repository_costs_no_extra_request(
    plugin_env, fresh_clients, make_repo, tmp_path
):
    """Only a delete that finds nothing asks what the repository is, once per client."""
    repo = make_repo("artifactory://exp/run/artifacts")
    (tmp_path / "a.txt").write_bytes(b"a")
    repo.log_artifact(str(tmp_path / "a.txt"))
    plugin_env.clear_requests()
    repo.delete_artifacts("a.txt")
    repo.delete_artifacts("a.txt")
    repo.delete_artifacts("never.txt")
    seen = [(m, u.split("?")[0]) for m, u, _ in calls(journal(plugin_env))]
    config = f"/artifactory/api/repositories/{plugin_env.repo}"
    item = f"/artifactory/{plugin_env.repo}/exp/run/artifacts"
    assert seen == [
        ("DELETE", f"{item}/a.txt"),
        ("DELETE", f"{item}/a.txt"),
        ("GET", config),
        ("DELETE", f"{item}/never.txt"),
    ]


def test_a_folder_archive_through_a_virtual_repository_holds_every_member(
    virtual_env, make_repo, tmp_path
):
    """With folder download on, one archive through the virtual repository brings the
    files of every member."""
    files = write_tree(tmp_path / "src", NAMES)
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/m/from-b.txt", data=b"held by b")
    repo = make_repo("artifactory://exp/run/artifacts")
    repo.log_artifacts(str(tmp_path / "src"), "m")
    with virtual_env.folder_download():
        virtual_env.clear_requests()
        out = download_into(repo, "m", tmp_path / "dst")
        archives = [e for e in journal(virtual_env) if is_archive_get(e["method"], e["uri"])]
    assert read_tree(out) == {**files, "from-b.txt": b"held by b"}
    assert [(e["status"], f"/{VIRTUAL}/" in e["uri"]) for e in archives] == [(200, True)]


def test_a_missing_path_through_a_virtual_repository_is_not_a_missing_repository(
    virtual_env, make_repo, tmp_path
):
    """The check that tells a missing repository from a missing path accepts a virtual
    repository: an empty listing and a delete of nothing keep MLflow's meaning."""
    repo = make_repo("artifactory://exp/never-logged")
    assert repo.list_artifacts() == []
    repo.delete_artifacts()
    dst = tmp_path / "dst"
    dst.mkdir()
    assert list(Path(repo.download_artifacts("", str(dst))).iterdir()) == []


def test_an_aql_listing_of_a_virtual_repository_shows_what_reads_resolve_to(virtual_env, make_repo):
    """Where the plugin lists with AQL (an OSS server, which may hold virtual repositories
    made in its UI), a query naming a virtual repository answers once per member, each
    with that member's size. The plugin then lists with the storage API instead, whose
    view is the virtual repository's own: one entry per name, from the first member."""
    _admin(virtual_env, "PUT", "/ml-a/exp/run/artifacts/both.txt", data=b"from a")
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/both.txt", data=b"longer, from b")
    _admin(virtual_env, "PUT", "/ml-b/exp/run/artifacts/only-b.txt", data=b"b")
    repo = make_repo("artifactory://exp/run/artifacts")
    repo.client.learn_edition(False)  # as an OSS server would have taught it
    virtual_env.clear_requests()
    listed = [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts()]
    assert listed == [("both.txt", False, 6), ("only-b.txt", False, 1)]
    assert any("api/search/aql" in r["uri"] for r in journal(virtual_env))
    assert repo.client.aql_supported  # a virtual repository is not a refusal
