"""A Hypothesis state machine: random operations, the tree compared with a model each step."""

from __future__ import annotations

from hypothesis import assume, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conformance.checks import assert_listing_matches, assert_tree_matches
from conformance.client import RestClient
from conformance.model import TreeModel
from conformance.paths import join
from conformance.targets import Capabilities, Workspace

#: A small pool of hazardous names, so operations keep hitting the same paths.
NAMES = ["a", "b c", "d;e", "f#g", "h+i", "j%k", "ü", "l.m", "n&o=p"]
segment = st.sampled_from(NAMES)
rel_paths = st.lists(segment, min_size=1, max_size=3).map("/".join)
small_bodies = st.binary(max_size=64)


class ArtifactoryMachine(RuleBasedStateMachine):
    """Drives one fresh folder of the target and a TreeModel side by side."""

    def __init__(self, rest: RestClient, workspace: Workspace, deep_list: bool) -> None:
        super().__init__()
        self.rest = rest
        self.deep_list = deep_list
        self.root = workspace.fresh("sm")
        self.model = TreeModel()
        r = rest.mkdir(self.root)
        assert r.status_code == 201, r.status_code

    def _at(self, rel: str) -> str:
        return join(self.root, rel)

    @rule(path=rel_paths, body=small_bodies)
    def deploy(self, path: str, body: bytes) -> None:
        assume(path not in self.model.folders)
        note(f"deploy {path!r} ({len(body)} bytes)")
        r = self.rest.deploy(self._at(path), body)
        if self.model.parent_is_file(path):
            assert r.status_code == 400, (path, r.status_code)
            return
        assert r.status_code == 201, (path, r.status_code, r.text[:200])
        self.model.deploy(path, body)

    @precondition(lambda self: bool(self.model.files))
    @rule(data=st.data(), body=small_bodies)
    def overwrite(self, data: st.DataObject, body: bytes) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.files)), label="file")
        note(f"overwrite {path!r}")
        r = self.rest.deploy(self._at(path), body)
        assert r.status_code == 201, (path, r.status_code)
        self.model.deploy(path, body)

    @rule(path=rel_paths)
    def mkdir(self, path: str) -> None:
        assume(path not in self.model.files and not self.model.parent_is_file(path))
        note(f"mkdir {path!r}")
        r = self.rest.mkdir(self._at(path))
        assert r.status_code == 201, (path, r.status_code)
        self.model.mkdir(path)

    @precondition(lambda self: bool(self.model.files))
    @rule(data=st.data())
    def delete_file(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.files)), label="file")
        note(f"delete file {path!r}")
        r = self.rest.delete(self._at(path))
        assert r.status_code == 204, (path, r.status_code)
        self.model.delete(path)

    @precondition(lambda self: len(self.model.folders) > 1)
    @rule(data=st.data())
    def delete_folder(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.folders - {""})), label="folder")
        note(f"delete folder {path!r}")
        r = self.rest.delete(self._at(path))
        assert r.status_code == 204, (path, r.status_code)
        self.model.delete(path)

    @rule(path=rel_paths)
    def delete_missing(self, path: str) -> None:
        assume(not self.model.exists(path))
        note(f"delete missing {path!r}")
        assert self.rest.delete(self._at(path)).status_code == 404

    @precondition(lambda self: bool(self.model.files))
    @rule(data=st.data())
    def download(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted(self.model.files)), label="file")
        r = self.rest.download(self._at(path))
        assert r.status_code == 200 and r.content == self.model.files[path], path

    @rule(data=st.data())
    def list_folder(self, data: st.DataObject) -> None:
        folder = data.draw(st.sampled_from(sorted(self.model.folders)), label="folder")
        children = self.rest.children(self._at(folder))
        got = {str(c["uri"]): c["folder"] for c in children}
        want = {"/" + n: f for n, f in self.model.children(folder).items()}
        assert got == want, folder

    @invariant()
    def subtree_matches_the_model(self) -> None:
        if self.deep_list:
            r = self.rest.file_list(self.root, deep=True, list_folders=True)
            assert r.status_code == 200, r.status_code
            assert_listing_matches(r.json(), self.model, "")
        else:
            assert_tree_matches(self.rest, self.root, self.model)


def bind(rest: RestClient, workspace: Workspace, deep_list: bool) -> type[RuleBasedStateMachine]:
    """The machine class with its target bound (Hypothesis instantiates it per run)."""

    class BoundMachine(ArtifactoryMachine):
        def __init__(self) -> None:
            super().__init__(rest, workspace, deep_list)

    return BoundMachine


def test_random_operations_keep_the_repository_equal_to_the_model(
    rest: RestClient, workspace: Workspace, capabilities: Capabilities
) -> None:
    run_state_machine_as_test(bind(rest, workspace, capabilities.deep_list))


def test_random_operations_agree_with_folder_info_walks(
    rest: RestClient, workspace: Workspace
) -> None:
    run_state_machine_as_test(bind(rest, workspace, False))
