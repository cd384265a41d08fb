"""Compatibility with an independent client: dohq-artifactory's ArtifactoryPath."""

from __future__ import annotations

import hashlib
import io

import pytest
from artifactory import ArtifactoryPath
from emulator_support import REPO


@pytest.fixture
def root(fake_artifactory) -> ArtifactoryPath:
    return ArtifactoryPath(f"{fake_artifactory.url}/{REPO}", auth=fake_artifactory.auth)


def test_deploy_stat_read(root):
    path = root / "dohq" / "my file+1.txt"
    path.deploy(io.BytesIO(b"hello dohq"))
    assert path.exists() and path.is_file()
    st = path.stat()
    assert st.size == 10 and not st.is_dir
    assert st.sha1 == hashlib.sha1(b"hello dohq").hexdigest()
    assert st.sha256 == hashlib.sha256(b"hello dohq").hexdigest()
    assert path.read_bytes() == b"hello dohq"
    with path.open() as fh:
        assert fh.read() == b"hello dohq"


def test_list_folder(root):
    (root / "tree" / "a.txt").deploy(io.BytesIO(b"a"))
    (root / "tree" / "sub" / "b.txt").deploy(io.BytesIO(b"b"))
    folder = root / "tree"
    assert folder.is_dir()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["a.txt", "sub"]
    assert (folder / "sub").is_dir()


def test_deploy_by_checksum(root):
    data = b"reuse me" * 1000
    (root / "orig.bin").deploy(io.BytesIO(data))
    copy = root / "copies" / "copy.bin"
    copy.deploy_by_checksum(sha1=hashlib.sha1(data).hexdigest())
    assert copy.read_bytes() == data
    missing = root / "copies" / "missing.bin"
    with pytest.raises(Exception):  # noqa: B017 - dohq raises its own error type
        missing.deploy_by_checksum(sha256="0" * 64)
    assert not missing.exists()


def test_properties_via_dohq(root):
    path = root / "props.txt"
    path.deploy(io.BytesIO(b"p"), parameters={"team": ["ml"], "stage": "dev"})
    assert path.properties == {"stage": ["dev"], "team": ["ml"]}
    path.properties = {"stage": ["prod"]}
    assert path.properties == {"stage": ["prod"]}


def test_mkdir_touch_unlink_rmdir(root):
    folder = root / "made"
    folder.mkdir()
    assert folder.is_dir()
    (folder / "empty").touch()
    assert (folder / "empty").stat().size == 0
    (folder / "empty").unlink()
    assert not (folder / "empty").exists()
    folder.rmdir()
    assert not folder.exists()


def test_set_update_and_delete_properties_via_dohq(root):
    path = root / "dohq-props" / "p.txt"
    path.deploy(io.BytesIO(b"p"))
    path.set_properties({"a": ["1", "2"], "b": "x,y|z=w"})
    assert path.properties == {"a": ["1", "2"], "b": ["x,y|z=w"]}
    path.update_properties({"c": "3", "a": None})
    assert path.properties == {"b": ["x,y|z=w"], "c": ["3"]}
    path.del_properties(["b", "c"])
    assert path.properties == {}


def test_aql_via_dohq(root):
    (root / "dohq-aql" / "one.bin").deploy(io.BytesIO(b"1"))
    (root / "dohq-aql" / "sub" / "two.bin").deploy(io.BytesIO(b"22"))
    rows = root.aql(
        "items.find",
        {"repo": REPO, "path": {"$match": "dohq-aql*"}, "type": "file"},
        ".include",
        ["repo", "path", "name", "type", "size"],
        ".sort",
        {"$asc": ["name"]},
    )
    assert [(r["name"], r["size"]) for r in rows] == [("one.bin", 1), ("two.bin", 2)]
    found = [root.from_aql(r) for r in rows]
    assert [p.read_bytes() for p in found] == [b"1", b"22"]


def test_copy_and_move_via_dohq(root):
    src = root / "dohq-cm" / "src.txt"
    src.deploy(io.BytesIO(b"moving bytes"))
    copied = root / "dohq-cm" / "copied.txt"
    src.copy(copied)
    assert copied.read_bytes() == b"moving bytes" and src.exists()
    folder = root / "dohq-cm" / "into"
    folder.mkdir()
    src.move(folder)
    assert (folder / "src.txt").read_bytes() == b"moving bytes"
    assert not src.exists()
    dry = root / "dohq-cm" / "dry.txt"
    copied.copy(dry, dry_run=True)
    assert not dry.exists()
