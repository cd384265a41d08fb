"""The explode deploy over real HTTP: ``PUT`` of a tar, tar.gz or zip with
``X-Explode-Archive`` stores its entries, all or nothing, or stores nothing and says why."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import tarfile

import pytest
import requests
from emulator_support import EXPLODE, REPO, TREE, checksums, errors_of, make_tar, make_zip


def assert_tree(session, base_url, files, prefix="") -> None:
    for name, data in files.items():
        resp = session.get(f"{base_url}/{REPO}/{prefix}{name}")
        assert resp.status_code == 200, name
        assert resp.content == data
        info = session.get(f"{base_url}/api/storage/{REPO}/{prefix}{name}").json()
        assert info["checksums"] == checksums(data)
        assert info["size"] == str(len(data))
        assert info["createdBy"] == "admin"


def tree_paths(fake_artifactory) -> set[str]:
    return set(fake_artifactory.state()["repos"][REPO]["items"])


def gnu_tar(*members: tuple[tarfile.TarInfo, bytes | None], encoding: str = "utf-8") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding=encoding) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name: str, data: bytes | None = b"", kind: bytes = tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if data is not None and kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def leftovers(server) -> list[str]:
    return [p.name for p in server.emulator.store.tmp_dir.iterdir()]


def _big_tgz() -> bytes:
    return make_tar({"ok.txt": b"1", "big.bin": os.urandom(600_000)}, gz=True)


def _corrupt_zip() -> bytes:
    data = bytearray(make_zip({"a.txt": os.urandom(50_000)}))
    start = data.index(b"a.txt") + 40
    data[start : start + 64] = bytes(64)
    return bytes(data)


@pytest.mark.parametrize("ext", ["tar", "tar.gz", "tgz", "zip"])
def test_explode_round_trip(fake_artifactory, session, ext):
    body = make_zip(TREE) if ext == "zip" else make_tar(TREE, gz=ext != "tar")
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/run/1/bundle.{ext}",
        data=body,
        headers={**EXPLODE, "X-Checksum-Sha256": hashlib.sha256(body).hexdigest()},
    )
    assert resp.status_code == 200, resp.text
    assert resp.content == b""
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert_tree(session, fake_artifactory.url, TREE, prefix="run/1/")
    paths = tree_paths(fake_artifactory)
    assert f"run/1/bundle.{ext}" not in paths
    assert paths >= {"run/1/dir/sub/deeper", "run/1/long"}
    if ext == "zip":
        assert (
            fake_artifactory.state()["repos"][REPO]["items"]["run/1/emptydir"]["type"] == "folder"
        )


def test_explode_at_repo_root_and_atomic_header(fake_artifactory, session):
    big = bytes(range(251)) * 10_000
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/x.tar",
        data=make_tar({"top.txt": b"1", "d/e.txt": big}),
        headers={"X-Explode-Archive-Atomic": "TRUE"},
    )
    assert resp.status_code == 200
    assert tree_paths(fake_artifactory) == {"top.txt", "d", "d/e.txt"}
    assert_tree(session, fake_artifactory.url, {"d/e.txt": big})  # spans several chunks


def test_explode_overwrites_and_skips_links(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}/f"
    session.put(f"{url}/a.txt", data=b"old")
    link = tarfile.TarInfo("link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    hard = tarfile.TarInfo("hard")
    hard.type, hard.linkname = tarfile.LNKTYPE, "a.txt"
    body = make_tar({"a.txt": b"new"}, extra=[link, hard])
    assert session.put(f"{url}/p.tar", data=body, headers=EXPLODE).status_code == 200
    assert session.get(f"{url}/a.txt").content == b"new"
    assert tree_paths(fake_artifactory) == {"f", "f/a.txt"}


def test_explode_duplicates_last_wins_and_special_entries_skipped(
    fake_artifactory, fake_artifactory_server, session
):
    body = gnu_tar(
        member("a.txt", b"first"),
        member("fifo", kind=tarfile.FIFOTYPE),
        member("chr", kind=tarfile.CHRTYPE),
        member("blk", kind=tarfile.BLKTYPE),
        member("../link", kind=tarfile.SYMTYPE),
        member("./", kind=tarfile.DIRTYPE),
        member("a.txt", b"second"),
    )
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/p.tar", data=body, headers=EXPLODE)
    assert resp.status_code == 200, resp.text
    assert tree_paths(fake_artifactory) == {"t", "t/a.txt"}
    assert session.get(f"{fake_artifactory.url}/{REPO}/t/a.txt").content == b"second"
    assert leftovers(fake_artifactory_server) == []


@pytest.mark.parametrize(
    "bad_name", ["../escape.txt", "a/../../escape.txt", "/abs.txt", "bad|name.txt"]
)
def test_explode_is_all_or_nothing(fake_artifactory, fake_artifactory_server, session, bad_name):
    store = fake_artifactory_server.emulator.store
    blobs_before = sorted(store.blob_dir.rglob("*"))
    body = make_tar({"good.txt": b"1", bad_name: b"2", "z.txt": b"3"})
    resp = session.put(f"{fake_artifactory.url}/{REPO}/d/p.tar", data=body, headers=EXPLODE)
    assert errors_of(resp)[0] == 400
    assert tree_paths(fake_artifactory) == set()
    assert sorted(store.blob_dir.rglob("*")) == blobs_before  # nothing published
    assert [p for p in store.tmp_dir.iterdir() if p.name.startswith("upload-")] == []


def test_explode_conflict_rolls_back(fake_artifactory, session):
    session.put(f"{fake_artifactory.url}/{REPO}/d/clash", data=b"file")
    body = make_tar({"ok.txt": b"1", "clash/inner.txt": b"2"})
    resp = session.put(f"{fake_artifactory.url}/{REPO}/d/p.tar", data=body, headers=EXPLODE)
    assert errors_of(resp)[0] == 400
    assert tree_paths(fake_artifactory) == {"d", "d/clash"}


def test_explode_directory_entry_over_a_file_rolls_back(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    assert session.put(f"{url}/t/x", data=b"file").status_code == 201
    body = gnu_tar(member("new.txt", b"1"), member("x/", kind=tarfile.DIRTYPE))
    status, _ = errors_of(session.put(f"{url}/t/p.tar", data=body, headers=EXPLODE))
    assert status == 400
    assert tree_paths(fake_artifactory) == {"t", "t/x"}
    assert session.get(f"{url}/t/x").content == b"file"


def test_explode_empty_archive_is_a_no_op(fake_artifactory, session):
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/p.tar", data=gnu_tar(), headers=EXPLODE)
    assert resp.status_code == 200 and resp.content == b""
    assert tree_paths(fake_artifactory) == set()


def test_explode_corrupt_or_unknown_archive(fake_artifactory, session):
    url = f"{fake_artifactory.url}/{REPO}"
    assert errors_of(session.put(f"{url}/p.zip", data=b"not a zip", headers=EXPLODE))[0] == 400
    assert errors_of(session.put(f"{url}/p.tgz", data=b"not gzip", headers=EXPLODE))[0] == 400
    truncated = make_tar({"a.txt": b"x" * 5000})[:1000]
    assert errors_of(session.put(f"{url}/p.tar", data=truncated, headers=EXPLODE))[0] == 400
    assert errors_of(session.put(f"{url}/p.rar", data=b"x", headers=EXPLODE))[0] == 400
    assert tree_paths(fake_artifactory) == set()


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        ("p.tar", gnu_tar(member("caf\xe9.txt", b"1"), encoding="latin-1"), "utf-8"),
        ("p.tar", gnu_tar(member("ok", b"1"), member("a\x01b", b"2")), "Control character"),
        ("p.tar", gnu_tar(member("ok", b"1"), member("a\\b", b"2")), "not a valid name"),
        ("p.tar", gnu_tar(member("ok", b"1"), member(" lead", b"2")), "whitespace"),
        ("p.tar", gnu_tar(member("../", kind=tarfile.DIRTYPE)), "outside"),
        ("p.tar", b"", "Corrupt tar"),
        ("p.tar", gzip.compress(make_tar({"a": b"1"})), "Corrupt tar"),
        ("p.tgz", make_zip({"a": b"1"}), "Corrupt tar.gz"),
        ("p.zip", make_tar({"a": b"1"}), "Corrupt zip"),
        ("p.tgz", _big_tgz()[:-200_000], "Corrupt"),
        ("p.zip", _corrupt_zip(), "Corrupt"),
    ],
    ids=[
        "latin1-name",
        "control-char",
        "backslash",
        "leading-space",
        "dotdot-dir",
        "empty-body",
        "gzip-claiming-tar",
        "zip-claiming-tgz",
        "tar-claiming-zip",
        "truncated-in-data",
        "zip-bad-crc",
    ],
)
def test_explode_refusals_publish_nothing(
    fake_artifactory, fake_artifactory_server, session, name, body, words
):
    store = fake_artifactory_server.emulator.store
    blobs_before = sorted(store.blob_dir.rglob("*"))
    resp = session.put(f"{fake_artifactory.url}/{REPO}/t/{name}", data=body, headers=EXPLODE)
    status, message = errors_of(resp)
    assert status == 400 and words in message
    assert tree_paths(fake_artifactory) == set()
    assert sorted(store.blob_dir.rglob("*")) == blobs_before
    assert leftovers(fake_artifactory_server) == []


def test_explode_checksum_mismatch_like_a_deploy(fake_artifactory, session):
    body = make_tar({"a.txt": b"1"})
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/p.tar",
        data=body,
        headers={**EXPLODE, "X-Checksum-Sha1": "0" * 40},
    )
    status, message = errors_of(resp)
    assert status == 409 and f"'{REPO}:p.tar'" in message
    assert tree_paths(fake_artifactory) == set()


def test_explode_permissions(fake_artifactory):
    url = f"{fake_artifactory.url}/{REPO}"
    body = make_tar({"a.txt": b"1"})
    reader = ("reader", "readpw")
    deployer = ("deployer", "deploypw")
    assert requests.put(f"{url}/p.tar", data=body, headers=EXPLODE, auth=reader).status_code == 403
    resp = requests.put(f"{url}/p.tar", data=body, headers=EXPLODE, auth=deployer)
    assert resp.status_code == 200
    # overwriting needs DELETE, which the deployer lacks: nothing changes
    body2 = make_tar({"a.txt": b"2", "b.txt": b"3"})
    resp = requests.put(f"{url}/p.tar", data=body2, headers=EXPLODE, auth=deployer)
    assert resp.status_code == 403
    assert tree_paths(fake_artifactory) == {"a.txt"}


def test_explode_by_a_deployer_into_existing_folders_and_new_files(fake_artifactory, session):
    """Without DELETE, folders that exist already and new files are fine."""
    url = f"{fake_artifactory.url}/{REPO}"
    session.put(f"{url}/t/sub/")
    body = make_tar({"sub/new.txt": b"n"})
    resp = requests.put(f"{url}/t/p.tar", data=body, headers=EXPLODE, auth=("deployer", "deploypw"))
    assert resp.status_code == 200, resp.text
    info = session.get(f"{fake_artifactory.url}/api/storage/{REPO}/t/sub/new.txt").json()
    assert info["createdBy"] == "deployer"


def test_oss_refuses_explode_and_folder_download(make_server):
    server = make_server(edition="oss", folder_download=True)
    auth = ("admin", "password")
    body = make_tar({"a.txt": b"1"})
    resp = requests.put(f"{server.url}/{REPO}/p.tar", data=body, headers=EXPLODE, auth=auth)
    assert errors_of(resp) == (400, "This REST API is available only in Artifactory Pro.")
    assert requests.get(f"{server.url}/{REPO}/p.tar", auth=auth).status_code == 404
    assert requests.get(f"{server.url}/{REPO}/a.txt", auth=auth).status_code == 404
    resp = requests.get(f"{server.url}/api/archive/download/{REPO}/?archiveType=tar", auth=auth)
    assert errors_of(resp)[1].startswith("This REST API is available only in Artifactory Pro (")


def test_explode_of_a_tar_bz2(fake_artifactory, session):
    resp = session.put(
        f"{fake_artifactory.url}/{REPO}/b/bundle.tar.bz2",
        data=bz2.compress(make_tar(TREE)),
        headers=EXPLODE,
    )
    assert resp.status_code == 200, resp.text
    assert_tree(session, fake_artifactory.url, TREE, prefix="b/")
    assert "b/bundle.tar.bz2" not in tree_paths(fake_artifactory)


def test_explode_of_a_7z_is_refused_as_not_emulated(fake_artifactory, session):
    """Artifactory explodes 7z archives; the emulator cannot and says so (never 200)."""
    resp = session.put(f"{fake_artifactory.url}/{REPO}/s/p.7z", data=b"7z\xbc\xaf", headers=EXPLODE)
    status, message = errors_of(resp)
    assert status == 501 and "7z" in message
    assert tree_paths(fake_artifactory) == set()


@pytest.mark.parametrize(("name", "extension"), [("p.rar", "rar"), ("p.jar", "jar"), ("p", "")])
def test_explode_of_an_unsupported_extension_names_it(fake_artifactory, session, name, extension):
    resp = session.put(f"{fake_artifactory.url}/{REPO}/u/{name}", data=b"x", headers=EXPLODE)
    assert errors_of(resp) == (400, f"Unsupported archive extension: '{extension}'")
    assert tree_paths(fake_artifactory) == set()
