"""Path round-tripping: any storable name downloads byte-equal and reports itself exactly."""

from __future__ import annotations

import pytest
from hypothesis import example, given

from conformance.client import RestClient
from conformance.model import checksums
from conformance.paths import basename, join, parent
from conformance.strategies import HAZARD_NAMES, bodies, paths
from conformance.targets import Workspace


def check_round_trip(rest: RestClient, full: str, body: bytes) -> None:
    """Deploy ``body`` at ``full``; download, storage info and parent listing all agree."""
    sums = checksums(body)
    r = rest.deploy(full, body)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    created = r.json()
    assert created["path"] == "/" + full
    assert created["size"] == str(len(body))
    assert created["checksums"] == sums

    r = rest.download(full)
    assert r.status_code == 200, r.status_code
    assert r.content == body

    r = rest.info(full)
    assert r.status_code == 200, r.status_code
    info = r.json()
    assert info["repo"] == rest.repo
    assert info["path"] == "/" + full
    assert info["size"] == str(len(body))
    assert {k: info["checksums"].get(k) for k in sums} == sums

    siblings = rest.children(parent(full))
    mine = [c for c in siblings if c["uri"] == "/" + basename(full)]
    assert mine == [{"uri": "/" + basename(full), "folder": False}], siblings


@pytest.mark.parametrize("name", HAZARD_NAMES, ids=lambda n: repr(n)[:24])
def test_hazardous_names_round_trip(rest: RestClient, workspace: Workspace, name: str) -> None:
    check_round_trip(rest, join(workspace.fresh("hz"), name), name.encode() * 3)


@pytest.mark.parametrize("name", HAZARD_NAMES[:-1], ids=lambda n: repr(n)[:24])
def test_hazardous_names_work_as_folders(rest: RestClient, workspace: Workspace, name: str) -> None:
    check_round_trip(rest, join(workspace.fresh("hzd"), name, "inner", "file.txt"), b"x")


def test_deeply_nested_path_round_trips(rest: RestClient, workspace: Workspace) -> None:
    deep = "/".join(f"level{i}" for i in range(25))
    check_round_trip(rest, join(workspace.fresh("deep"), deep, "leaf.bin"), b"\x00deep\xff")


@given(path=paths(), body=bodies())
@example(path="a;b/c#d/e%f/g+h/i&j=k@l", body=b"hazards")
@example(path="name with spaces/ünïcödé 文件 \U0001f600.txt", body=b"")
@example(path="v1.2.3/archive.tar.gz", body=bytes(range(256)))
def test_generated_paths_round_trip(
    rest: RestClient, workspace: Workspace, path: str, body: bytes
) -> None:
    check_round_trip(rest, join(workspace.fresh("gen"), path), body)
