"""Nested listing: folder info at every level and the deep file list equal the model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import (
    assert_listing_matches,
    assert_tree_matches,
    deploy_fresh_tree,
    deploy_tree,
)
from conformance.client import RestClient
from conformance.model import TreeModel
from conformance.paths import join
from conformance.strategies import Tree, file_trees
from conformance.targets import Workspace


@given(tree=file_trees())
def test_folder_info_children_match_the_model_at_every_level(
    rest: RestClient, workspace: Workspace, tree: Tree
) -> None:
    root, model = deploy_fresh_tree(rest, workspace, "ls", tree)
    for folder in sorted(model.folders):
        children = rest.children(join(root, folder))
        got = {str(c["uri"]): c["folder"] for c in children}
        assert len(got) == len(children), children
        want = {"/" + name: is_folder for name, is_folder in model.children(folder).items()}
        assert got == want, folder
    assert_tree_matches(rest, root, model)


def test_folder_info_of_a_folder_reports_its_path(rest: RestClient, area: str) -> None:
    deploy_tree(rest, area, {"sub/f.txt": b"f"}, [])
    r = rest.info(join(area, "sub"))
    assert r.status_code == 200
    body = r.json()
    assert body["repo"] == rest.repo
    assert body["path"] == "/" + join(area, "sub")
    assert body["children"] == [{"uri": "/f.txt", "folder": False}]
    assert "/api/storage/" in body["uri"]


def test_folder_info_of_the_repository_root_has_path_slash(rest: RestClient) -> None:
    r = rest.info("")
    assert r.status_code == 200
    body = r.json()
    assert body["path"] == "/"
    assert isinstance(body["children"], list)


@pytest.mark.requires("deep_list")
@given(
    tree=file_trees(),
    depth=st.one_of(st.none(), st.integers(1, 3)),
    list_folders=st.booleans(),
)
def test_deep_file_list_matches_the_model(
    rest: RestClient, workspace: Workspace, tree: Tree, depth: int | None, list_folders: bool
) -> None:
    root, model = deploy_fresh_tree(rest, workspace, "ls", tree)
    r = rest.file_list(root, deep=True, depth=depth, list_folders=list_folders)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith(
        "application/vnd.org.jfrog.artifactory.storage.FileList+json"
    )
    assert_listing_matches(r.json(), model, "", depth=depth, list_folders=list_folders)


@pytest.mark.requires("deep_list")
@given(tree=file_trees(), list_folders=st.booleans())
def test_shallow_file_list_has_direct_children_only(
    rest: RestClient, workspace: Workspace, tree: Tree, list_folders: bool
) -> None:
    root, model = deploy_fresh_tree(rest, workspace, "ls", tree)
    r = rest.file_list(root, deep=False, list_folders=list_folders)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert_listing_matches(r.json(), model, "", depth=1, list_folders=list_folders)


@pytest.mark.requires("deep_list")
@given(tree=file_trees())
def test_include_root_path_adds_exactly_the_folder_itself(
    rest: RestClient, workspace: Workspace, tree: Tree
) -> None:
    root, model = deploy_fresh_tree(rest, workspace, "ls", tree)
    plain = rest.file_list(root, deep=True, list_folders=True)
    with_root = rest.file_list(root, deep=True, list_folders=True, include_root=True)
    assert plain.status_code == with_root.status_code == 200
    before = {(f["uri"], f["folder"]) for f in plain.json()["files"]}
    after = [(f["uri"], f["folder"]) for f in with_root.json()["files"]]
    extra = [e for e in after if e not in before]
    assert len(after) == len(before) + 1, (after, before)
    assert len(extra) == 1 and extra[0][1] is True, extra


@pytest.mark.requires("deep_list")
def test_file_list_of_a_subfolder_is_relative_to_it(rest: RestClient, area: str) -> None:
    files = {"a/b/c.txt": b"c", "a/d.txt": b"dd", "e.txt": b"eee"}
    deploy_tree(rest, area, files, [])
    model = TreeModel.from_files(files)
    r = rest.file_list(join(area, "a"), deep=True, list_folders=True)
    assert r.status_code == 200
    assert_listing_matches(r.json(), model, "a")
    assert r.json()["uri"].endswith("/api/storage/" + rest.repo + "/" + join(area, "a"))


@pytest.mark.requires("deep_list")
def test_file_list_of_a_missing_folder_is_404(rest: RestClient, area: str) -> None:
    r = rest.file_list(join(area, "missing"))
    assert r.status_code == 404
