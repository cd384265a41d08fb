"""Compatibility with an independent client: dohq-artifactory's ArtifactoryPath."""

from __future__ import annotations

import hashlib
import io

import pytest
from artifactory import ArtifactoryPath
from conftest import REPO


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
