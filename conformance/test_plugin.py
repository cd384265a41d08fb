"""The jfrog_mlflow plugin against the same target, through MLflow's own registry."""

from __future__ import annotations

import importlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given

from conformance.paths import join
from conformance.strategies import Tree, file_trees
from conformance.targets import Target, Workspace


class PluginEnv(dict[str, str]):
    """Environment variables for the plugin; never shows its values (they hold secrets)."""

    def __repr__(self) -> str:
        return f"PluginEnv({sorted(self)})"


@pytest.fixture(scope="session")
def plugin_env(target: Target) -> PluginEnv:
    """Environment that points the plugin at the target (skips if it is not importable)."""
    try:
        # MLflow's registry first, as in a real process: it loads the entry point itself.
        importlib.import_module("mlflow.store.artifact.artifact_repository_registry")
        importlib.import_module("jfrog_mlflow.repository")
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available yet"
        pytest.skip(f"jfrog_mlflow.repository is not importable: {type(exc).__name__}: {exc}")
    creds = target.client.credentials
    env = PluginEnv(
        MLFLOW_ARTIFACTORY_ENDPOINT_URL=target.client.base_url,
        MLFLOW_ARTIFACTORY_REPO=target.client.repo,
    )
    if creds.token:
        env["MLFLOW_ARTIFACTORY_TOKEN"] = creds.token
    elif creds.user and creds.password:
        env["MLFLOW_ARTIFACTORY_USER"] = creds.user
        env["MLFLOW_ARTIFACTORY_PASSWORD"] = creds.password
    elif creds.api_key:
        env["MLFLOW_ARTIFACTORY_KEY"] = creds.api_key
    return env


@contextmanager
def plugin_repo(env: dict[str, str], workspace: Workspace) -> Iterator[Any]:
    """A fresh ``artifactory://<prefix>/<run-id>/plugin/<id>`` repository."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    root = join(workspace.root, "plugin", uuid.uuid4().hex[:12])
    workspace.track(root)
    with mock.patch.dict(os.environ, env):
        yield get_artifact_repository(f"artifactory://{root}")


def _write_tree(base: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        target = base.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _read_tree(base: Path) -> dict[str, bytes]:
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


@given(tree=file_trees(max_files=6, max_depth=3, max_body=256))
def test_log_then_download_round_trips_trees(
    plugin_env: dict[str, str], workspace: Workspace, tree: Tree
) -> None:
    files, _ = tree
    with (
        plugin_repo(plugin_env, workspace) as repo,
        tempfile.TemporaryDirectory() as src,
        tempfile.TemporaryDirectory() as dst,
    ):
        _write_tree(Path(src), files)
        repo.log_artifacts(src)
        out = repo.download_artifacts("", dst_path=dst)
        assert _read_tree(Path(out)) == files


FIXED = {
    "a.txt": b"a",
    "dir/b.txt": b"bb",
    "dir/sub/c.bin": b"ccc",
    "odd name;#%+.txt": b"odd",
}


@pytest.fixture
def logged(plugin_env: dict[str, str], workspace: Workspace, tmp_path: Path) -> Iterator[Any]:
    """A plugin repository holding FIXED."""
    _write_tree(tmp_path, FIXED)
    with plugin_repo(plugin_env, workspace) as repo:
        repo.log_artifacts(str(tmp_path))
        yield repo


def _listing(repo: Any, path: str | None = None) -> list[tuple[str, bool, int | None]]:
    return [(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts(path)]


def test_list_artifacts_gives_sorted_direct_children(logged: Any) -> None:
    assert _listing(logged) == [
        ("a.txt", False, 1),
        ("dir", True, None),
        ("odd name;#%+.txt", False, 3),
    ]
    assert _listing(logged, "dir") == [("dir/b.txt", False, 2), ("dir/sub", True, None)]
    assert _listing(logged, "dir/sub") == [("dir/sub/c.bin", False, 3)]


def test_list_artifacts_of_a_file_or_missing_path_is_empty(logged: Any) -> None:
    assert logged.list_artifacts("a.txt") == []
    assert logged.list_artifacts("dir/b.txt") == []
    assert logged.list_artifacts("no/such/path") == []


def test_list_artifacts_of_a_fresh_root_is_empty(
    plugin_env: dict[str, str], workspace: Workspace
) -> None:
    with plugin_repo(plugin_env, workspace) as repo:
        assert repo.list_artifacts() == []


def test_delete_artifacts_of_a_file_keeps_the_rest(logged: Any) -> None:
    logged.delete_artifacts("dir/b.txt")
    assert _listing(logged, "dir") == [("dir/sub", True, None)]
    assert [p for p, _, _ in _listing(logged)] == ["a.txt", "dir", "odd name;#%+.txt"]


def test_delete_artifacts_of_a_folder_removes_it(logged: Any) -> None:
    logged.delete_artifacts("dir")
    assert [p for p, _, _ in _listing(logged)] == ["a.txt", "odd name;#%+.txt"]
    assert logged.list_artifacts("dir") == []


def test_delete_artifacts_of_a_missing_path_is_a_no_op(logged: Any) -> None:
    logged.delete_artifacts("never/was/here")
    assert len(logged.list_artifacts()) == 3


def test_download_of_a_single_file_is_byte_exact(logged: Any, tmp_path: Path) -> None:
    out = logged.download_artifacts("odd name;#%+.txt", dst_path=str(tmp_path))
    assert Path(out).read_bytes() == b"odd"
