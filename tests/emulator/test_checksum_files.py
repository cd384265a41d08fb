"""Checksum files over real HTTP: ``GET``/``HEAD <file>.sha1|.md5|.sha256`` answer the
checksum the repository's policy holds, and a checksum upload names folders as such.

Under a local repository's default policy (client checksums) the ``.sha1`` and ``.md5``
files exist only when the client sent that checksum (with the deploy or as a checksum
upload); ``.sha256`` always exists.
"""

from __future__ import annotations

import hashlib

import pytest
from emulator_support import REPO, errors_of


def sha(data: bytes, alg: str) -> str:
    return hashlib.new(alg, data).hexdigest()


def test_sha256_file_answers_the_checksum_as_text(session, repo_url):
    session.put(f"{repo_url}/dir/model.pkl", data=b"weights")
    resp = session.get(f"{repo_url}/dir/model.pkl.sha256")
    assert resp.status_code == 200
    assert resp.content == sha(b"weights", "sha256").encode()
    assert resp.headers["Content-Type"] == "application/x-checksum"
    assert resp.headers["Content-Length"] == "64"
    head = session.head(f"{repo_url}/dir/model.pkl.sha256")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == "64"


@pytest.mark.parametrize("alg", ["sha1", "md5"])
def test_sha1_and_md5_files_exist_only_when_the_client_sent_them(session, repo_url, alg):
    session.put(f"{repo_url}/plain.bin", data=b"plain")
    missing = session.get(f"{repo_url}/plain.bin.{alg}")
    assert errors_of(missing) == (404, "Checksum not found for plain.bin")

    header = {"sha1": "X-Checksum-Sha1", "md5": "X-Checksum-Md5"}[alg]
    session.put(f"{repo_url}/sent/x.bin", data=b"sent", headers={header: sha(b"sent", alg)})
    found = session.get(f"{repo_url}/sent/x.bin.{alg}")
    assert found.status_code == 200 and found.text == sha(b"sent", alg)


def test_a_checksum_upload_makes_the_checksum_file_readable(session, repo_url):
    session.put(f"{repo_url}/later.jar", data=b"jar")
    assert session.get(f"{repo_url}/later.jar.sha1").status_code == 404
    assert session.put(f"{repo_url}/later.jar.sha1", data=sha(b"jar", "sha1")).status_code == 201
    assert session.get(f"{repo_url}/later.jar.sha1").text == sha(b"jar", "sha1")


def test_checksum_file_of_a_missing_file_is_file_not_found(session, repo_url):
    assert errors_of(session.get(f"{repo_url}/ghost.txt.sha256")) == (404, "File not found.")


def test_checksum_upload_onto_a_folder_is_409(session, repo_url):
    session.put(f"{repo_url}/folder.d/")
    resp = session.put(f"{repo_url}/folder.d.sha1", data="0" * 40)
    assert errors_of(resp) == (
        409,
        f"Checksum only supported for files (but found folder): {REPO}:folder.d",
    )
