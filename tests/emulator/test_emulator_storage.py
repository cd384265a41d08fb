"""The storage model without HTTP: blobs, folders, checksums, properties, reset."""

from __future__ import annotations

import hashlib

import pytest

from fake_artifactory.core.checksums import checksum_policy_message, verify_client_checksums
from fake_artifactory.core.errors import (
    ChecksumMismatch,
    ChecksumNotFound,
    NoSuchItem,
    NoSuchRepo,
    NotAFile,
    NotAFolder,
    ParentNotFolder,
    RepoExists,
)
from fake_artifactory.core.records import RepoRecord
from fake_artifactory.store import Store

R = "repo"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data", repos=[R, "other"])
    yield s
    s.close()


def put(store: Store, path: str, data: bytes, **kw):
    return store.commit_file(R, path, store.stage_upload([data]), user="admin", **kw)


def test_deploy_creates_parents_and_checksums(store):
    item = put(store, "a/b/c.txt", b"hello")
    assert item.size == 5 and item.type == "file" and item.name == "c.txt"
    assert item.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert item.sha1 == hashlib.sha1(b"hello").hexdigest()
    assert item.md5 == hashlib.md5(b"hello").hexdigest()
    assert item.mime_type == "text/plain"
    assert store.get_item(R, "a").is_folder
    assert store.get_item(R, "a/b").is_folder
    assert [c.name for c in store.list_children(R, "a")] == ["b"]


def test_blobs_are_content_addressed_and_stored_once(store):
    put(store, "x", b"same")
    put(store, "y/z", b"same")
    blobs = [p for p in store.blob_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert blobs[0].name == hashlib.sha256(b"same").hexdigest()
    assert blobs[0].parent.name == blobs[0].name[:2]


def test_user_paths_never_become_host_file_names(store):
    put(store, "../../escape.txt".replace("../", "dots-"), b"x")
    names = {p.name for p in store.root.rglob("*")}
    assert not any("escape" in n for n in names)


def test_folders_remain_after_files_are_deleted(store):
    put(store, "d/f.txt", b"1")
    store.delete(R, "d/f.txt")
    assert store.get_item(R, "d").is_folder
    assert store.list_children(R, "d") == []


def test_recursive_delete_and_prefix_siblings_survive(store):
    put(store, "d/f.txt", b"1")
    put(store, "d/sub/g.txt", b"2")
    put(store, "d-sibling/h.txt", b"3")
    put(store, "d0", b"4")
    store.delete(R, "d")
    assert store.get_item(R, "d") is None and store.get_item(R, "d/sub/g.txt") is None
    assert store.get_item(R, "d-sibling/h.txt") is not None
    assert store.get_item(R, "d0") is not None
    with pytest.raises(NoSuchItem):
        store.delete(R, "d")


def test_parent_is_a_file(store):
    put(store, "a.txt", b"1")
    with pytest.raises(ParentNotFolder, match="^Parent a.txt must be a folder$"):
        put(store, "a.txt/b.txt", b"2")
    with pytest.raises(ParentNotFolder):
        store.create_folder(R, "a.txt/sub", user="admin")


def test_file_over_folder_and_folder_over_file(store):
    store.create_folder(R, "dir", user="admin")
    with pytest.raises(NotAFile):
        put(store, "dir", b"x")
    put(store, "file", b"x")
    with pytest.raises(NotAFolder):
        store.create_folder(R, "file", user="admin")


def test_create_folder_is_idempotent(store):
    first = store.create_folder(R, "a/b", user="admin")
    again = store.create_folder(R, "a/b", user="admin")
    assert first.created == again.created


def test_overwrite_last_write_wins(store):
    put(store, "f", b"old")
    item = put(store, "f", b"newer")
    assert item.size == 5
    with store.open_blob(item.sha256) as fh:
        assert fh.read() == b"newer"


def test_deep_iteration_and_depth(store):
    for p in ["a/1", "a/b/2", "a/b/c/3"]:
        put(store, p, p.encode())
    assert [i.path for i in store.iter_descendants(R, "a", depth=1)] == ["a/1", "a/b"]
    assert [i.path for i in store.iter_descendants(R, "a", depth=2)] == [
        "a/1",
        "a/b",
        "a/b/2",
        "a/b/c",
    ]
    assert len(list(store.iter_descendants(R, "a"))) == 5
    assert len(list(store.iter_descendants(R, ""))) == 6


def test_iter_items_includes_roots_and_properties(store):
    put(store, "p", b"x", properties={"k": ["v1", "v2"]})
    items = {(i.repo, i.path): i for i in store.iter_items()}
    assert (R, "") in items and ("other", "") in items
    assert items[(R, "p")].properties == {"k": ["v1", "v2"]}
    assert [i.path for i in store.iter_items("other")] == [""]


def test_checksum_deploy(store):
    item = put(store, "src", b"payload")
    copy = store.deploy_by_checksum(R, "dst", sha256=item.sha256, sha1=None, user="admin")
    assert copy.sha1 == item.sha1 and copy.original_sha1 == item.sha1
    by_sha1 = store.deploy_by_checksum(R, "dst2", sha256=None, sha1=item.sha1, user="admin")
    assert by_sha1.size == 7
    with pytest.raises(ChecksumNotFound, match="No existing file with SHA-256: "):
        store.deploy_by_checksum(R, "x", sha256="0" * 64, sha1=None, user="admin")
    with pytest.raises(ChecksumNotFound, match="No existing file with SHA-1: "):
        store.deploy_by_checksum(R, "x", sha256=None, sha1="0" * 40, user="admin")
    with pytest.raises(ChecksumNotFound, match="no checksum header"):
        store.deploy_by_checksum(R, "x", sha256=None, sha1=None, user="admin")


def test_checksum_policy_message_is_exact():
    actual = {"sha1": "a" * 40, "md5": "b" * 32, "sha256": "c" * 64}
    msg = checksum_policy_message("r", "p/f", {"sha1": "x"}, actual)
    assert msg == (
        "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact 'r:p/f'. "
        "Checksums info: ChecksumsInfo{checksums={SHA-1=ChecksumInfo{type=SHA-1, "
        f"original='x', actual='{'a' * 40}'}}, MD5=ChecksumInfo{{type=MD5, original='null', "
        f"actual='{'b' * 32}'}}, SHA-256=ChecksumInfo{{type=SHA-256, original='null', "
        f"actual='{'c' * 64}'}}}}}}"
    )
    verify_client_checksums("r", "p", {"sha1": "A" * 40}, actual)
    with pytest.raises(ChecksumMismatch):
        verify_client_checksums("r", "p", {"md5": "0" * 32}, actual)


def test_properties_set_and_delete(store):
    put(store, "d/f", b"x")
    store.set_properties(R, "d", {"a": ["1"], "b": ["2", "3"]}, recursive=True)
    assert store.get_item(R, "d/f").properties == {"a": ["1"], "b": ["2", "3"]}
    store.set_properties(R, "d/f", {"a": ["9"]})
    assert store.get_item(R, "d/f").properties == {"a": ["9"], "b": ["2", "3"]}
    store.delete_properties(R, "d", ["b", "missing"], recursive=True)
    assert store.get_item(R, "d/f").properties == {"a": ["9"]}


def test_unknown_repo(store):
    with pytest.raises(NoSuchRepo):
        store.get_item("nope", "x")


def test_repos_create_and_reset(store):
    store.create_repo(RepoRecord("new-local"))
    with pytest.raises(RepoExists):
        store.create_repo(RepoRecord("new-local"))
    put(store, "f", b"data")
    store.reset()
    assert [r.key for r in store.list_repos()] == ["other", R]
    assert store.get_item(R, "f") is None
    assert not [p for p in store.blob_dir.rglob("*") if p.is_file()]


def _blob_files(store: Store) -> set[str]:
    return {p.name for p in store.blob_dir.rglob("*") if p.is_file()}


def test_a_full_reset_removes_blob_files_in_the_background_and_the_store_keeps_working(store):
    """The blob directory is set aside at once and deleted by a background thread; the
    store writes and reads blobs right after (the same content too)."""
    for i in range(20):
        put(store, f"d/f{i}", bytes([i]) * 1000)
    assert len(_blob_files(store)) == 20
    store.reset()
    assert _blob_files(store) == set()
    assert store.stored_blobs() == set()
    item = put(store, "again", bytes([3]) * 1000)
    with store.open_blob(item.sha256) as fh:
        assert fh.read() == bytes([3]) * 1000
    store.blobs.wait_for_cleaners()
    assert list(store.tmp_dir.iterdir()) == []
    assert _blob_files(store) == {item.sha256}


def test_a_full_reset_during_an_upload_keeps_the_blob_it_is_publishing(store):
    """A blob pinned between its publication and its commit survives a reset (the reset
    then collects the other blob files one by one)."""
    put(store, "old", b"old content")
    staged = store.stage_upload([b"in flight"])
    with store.blobs.pinned(staged.sha256):
        store.blobs.publish(staged)
        store.reset()
        assert _blob_files(store) == {staged.sha256}
        store.commit_file(R, "new", staged, user="admin")
    with store.open_blob(staged.sha256) as fh:
        assert fh.read() == b"in flight"


def test_a_blob_directory_set_aside_before_a_crash_is_removed_when_the_store_opens(tmp_path):
    s = Store(tmp_path / "d", repos=[R])
    aside = s.tmp_dir / "dropped-crashed-0" / "ab"
    aside.mkdir(parents=True)
    (aside / ("ab" + "0" * 62)).write_bytes(b"left behind")
    s.close()
    s2 = Store(tmp_path / "d", repos=[R])
    assert list(s2.tmp_dir.iterdir()) == []
    s2.close()


def test_a_shared_blob_directory_is_never_dropped(tmp_path):
    from fake_artifactory.store.blobs import BlobStore

    blobs = BlobStore(tmp_path / "d", shared=True)
    staged = blobs.stage([b"shared"])
    blobs.publish(staged)
    assert blobs.drop_all() is False
    assert blobs.path(staged.sha256).exists()


def test_reset_one_repo(store):
    put(store, "f", b"data")
    store.commit_file("other", "g", store.stage_upload([b"x"]), user="admin")
    store.reset("other")
    assert store.get_item(R, "f") is not None
    assert store.get_item("other", "g") is None
    assert store.get_item("other", "") is not None


def test_persistence_across_reopen(tmp_path):
    s = Store(tmp_path / "d", repos=[R])
    put(s, "keep/me.bin", b"persist")
    s.close()
    s2 = Store(tmp_path / "d", repos=[R])
    item = s2.get_item(R, "keep/me.bin")
    with s2.open_blob(item.sha256) as fh:
        assert fh.read() == b"persist"
    s2.close()


def test_staged_leftovers_are_cleared_and_invisible(tmp_path):
    s = Store(tmp_path / "d", repos=[R])
    s.stage_upload([b"partial"])  # never committed, like a crash mid-upload
    s.close()
    s2 = Store(tmp_path / "d", repos=[R])
    assert list(s2.tmp_dir.iterdir()) == []
    assert [i.path for i in s2.iter_items(R)] == [""]
    s2.close()


def test_ephemeral_store_removes_its_directory():
    s = Store(None, repos=[R])
    root = s.root
    assert root.exists()
    s.close()
    assert not root.exists()
