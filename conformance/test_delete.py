"""Deletion semantics: files, folders, missing paths and redeploying a deleted path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import assert_tree_matches, deploy_fresh_tree, deploy_tree
from conformance.client import RestClient, error_envelope
from conformance.model import TreeModel
from conformance.paths import join
from conformance.strategies import Tree, file_trees
from conformance.targets import Workspace


@given(tree=file_trees(), data=st.data())
def test_deleting_a_file_keeps_its_siblings_and_parents(
    rest: RestClient, workspace: Workspace, tree: Tree, data: st.DataObject
) -> None:
    files, _empty = tree
    root, model = deploy_fresh_tree(rest, workspace, "delf", tree)
    victim = data.draw(st.sampled_from(sorted(files)), label="file")
    r = rest.delete(join(root, victim))
    assert r.status_code == 204, (r.status_code, r.text[:300])
    assert r.content == b""
    model.delete(victim)
    assert rest.download(join(root, victim)).status_code == 404
    assert_tree_matches(rest, root, model)


@given(tree=file_trees(), data=st.data())
def test_deleting_a_folder_removes_exactly_its_subtree(
    rest: RestClient, workspace: Workspace, tree: Tree, data: st.DataObject
) -> None:
    root, model = deploy_fresh_tree(rest, workspace, "deld", tree)
    folders = sorted(model.folders - {""})
    if not folders:
        return
    victim = data.draw(st.sampled_from(folders), label="folder")
    gone = model.subtree_paths(victim) | {victim}
    r = rest.delete(join(root, victim))
    assert r.status_code == 204, (r.status_code, r.text[:300])
    model.delete(victim)
    for path in sorted(gone):
        assert rest.info(join(root, path)).status_code == 404, path
    assert_tree_matches(rest, root, model)


def test_deleting_with_a_trailing_slash_deletes_the_folder(rest: RestClient, area: str) -> None:
    deploy_tree(rest, area, {"d/f.txt": b"f", "keep.txt": b"k"}, [])
    r = rest.request("DELETE", rest.item_url(join(area, "d"), folder=True))
    assert r.status_code == 204
    assert_tree_matches(rest, area, TreeModel.from_files({"keep.txt": b"k"}))


def test_deleting_a_missing_path_is_404(rest: RestClient, area: str) -> None:
    deploy_tree(rest, area, {}, [])
    missing = join(area, "no such file.txt")
    r = rest.delete(missing)
    assert r.status_code == 404
    err = error_envelope(r)
    assert (
        err["message"] == f"Could not locate artifact '{rest.repo}:{missing}' (Nothing to delete)."
    ), err


def test_a_deleted_file_can_be_deployed_again(rest: RestClient, area: str) -> None:
    path = join(area, "again.txt")
    assert rest.deploy(path, b"first").status_code == 201
    assert rest.delete(path).status_code == 204
    assert rest.deploy(path, b"second").status_code == 201
    assert rest.download(path).content == b"second"


def test_a_deleted_folder_can_be_recreated_as_a_file(rest: RestClient, area: str) -> None:
    path = join(area, "shape")
    assert rest.deploy(join(path, "inner.txt"), b"x").status_code == 201
    assert rest.delete(path).status_code == 204
    assert rest.deploy(path, b"now a file").status_code == 201
    assert rest.download(path).content == b"now a file"
    info = rest.info(path).json()
    assert "children" not in info and info["size"] == str(len(b"now a file"))
