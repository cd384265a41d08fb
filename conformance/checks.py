"""Shared assertions of the test modules: deploy a tree, walk it, compare with the model."""

from __future__ import annotations

from typing import Any

from conformance.client import RestClient
from conformance.model import Entry, TreeModel, checksums
from conformance.paths import join
from conformance.strategies import Tree
from conformance.targets import Workspace

__all__ = [
    "assert_listing_matches",
    "assert_tree_matches",
    "deploy_fresh_tree",
    "deploy_tree",
    "entries_of",
    "walk",
]


def deploy_tree(rest: RestClient, root: str, files: dict[str, bytes], folders: list[str]) -> None:
    """Create ``root``, the empty ``folders`` and the ``files`` below it (asserting 201s)."""
    r = rest.mkdir(root)
    assert r.status_code == 201, (root, r.status_code, r.text[:300])
    for folder in folders:
        r = rest.mkdir(join(root, folder))
        assert r.status_code == 201, (folder, r.status_code, r.text[:300])
    for path, data in files.items():
        r = rest.deploy(join(root, path), data)
        assert r.status_code == 201, (path, r.status_code, r.text[:300])


def deploy_fresh_tree(
    rest: RestClient, workspace: Workspace, prefix: str, tree: Tree
) -> tuple[str, TreeModel]:
    """Deploy a generated ``tree`` into a fresh folder; return that folder and the model."""
    files, empty = tree
    root = workspace.fresh(prefix)
    deploy_tree(rest, root, files, empty)
    return root, TreeModel.from_files(files, empty)


def walk(rest: RestClient, root: str) -> tuple[set[str], set[str]]:
    """(files, folders) below ``root`` found by recursive folder info (no Pro needed)."""
    files: set[str] = set()
    folders: set[str] = set()
    pending = [""]
    while pending:
        rel = pending.pop()
        children = rest.children(join(root, rel))
        names = [str(c["uri"]) for c in children]
        assert len(names) == len(set(names)), f"duplicate children under {rel!r}: {names}"
        for child in children:
            uri = str(child["uri"])
            assert uri.startswith("/") and "/" not in uri[1:], child
            assert isinstance(child["folder"], bool), child
            path = join(rel, uri[1:]) if rel else uri[1:]
            if child["folder"]:
                folders.add(path)
                pending.append(path)
            else:
                files.add(path)
    return files, folders


def assert_tree_matches(rest: RestClient, root: str, model: TreeModel) -> None:
    """The subtree under ``root`` equals the model (structure, by folder info)."""
    files, folders = walk(rest, root)
    assert files == set(model.files), (sorted(files), sorted(model.files))
    assert folders == model.folders - {""}, (sorted(folders), sorted(model.folders))


def entries_of(body: dict[str, Any]) -> list[Entry]:
    """Listing entries of a ``?list`` body, asserting the field types of the reference."""
    out = []
    for f in body["files"]:
        assert isinstance(f["folder"], bool), f
        assert isinstance(f["size"], int) and not isinstance(f["size"], bool), f
        out.append(Entry(str(f["uri"]), f["folder"], f["size"]))
    return out


def assert_listing_matches(
    body: dict[str, Any], model: TreeModel, folder: str, **kwargs: Any
) -> None:
    """A deep ``?list`` body equals the model's prediction, including sha1/sha2 of files."""
    entries = entries_of(body)
    assert len(entries) == len(set(entries)), "duplicate entries"
    expected = model.deep_list(folder, **kwargs)
    assert set(entries) == expected, (sorted(map(str, entries)), sorted(map(str, expected)))
    for f in body["files"]:
        if not f["folder"]:
            data = model.files[join(folder, str(f["uri"])[1:])]
            sums = checksums(data)
            assert f.get("sha1") == sums["sha1"], f
            assert f.get("sha2") == sums["sha256"], f
