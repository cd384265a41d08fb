"""Deploy, retrieve and delete over real HTTP against the session emulator."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from emulator_support import REPO, errors_of, raw_request


def sha(data: bytes, alg: str = "sha256") -> str:
    return hashlib.new(alg, data).hexdigest()


def test_deploy_returns_item_created(session, repo_url, base):
    resp = session.put(f"{repo_url}/dir/file.bin", data=b"abc")
    assert resp.status_code == 201
    assert resp.headers["Content-Type"].startswith(
        "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json"
    )
    body = resp.json()
    assert body["repo"] == REPO and body["path"] == "/dir/file.bin"
    assert body["size"] == "3"
    assert body["uri"] == body["downloadUri"] == f"{repo_url}/dir/file.bin"
    assert resp.headers["Location"] == f"{repo_url}/dir/file.bin"
    assert body["checksums"] == {
        "sha1": sha(b"abc", "sha1"),
        "md5": sha(b"abc", "md5"),
        "sha256": sha(b"abc"),
    }
    assert body["originalChecksums"] == {"sha256": sha(b"abc")}
    assert body["created"].endswith("Z") and len(body["created"]) == 24
    assert "lastModified" not in body
    assert resp.text.startswith('{\n  "repo" : ')
    assert resp.headers["X-JFrog-Version"].startswith("Artifactory/")
    assert resp.headers["X-Artifactory-Id"]


def test_overwrite_is_201_too(session, repo_url):
    assert session.put(f"{repo_url}/f", data=b"1").status_code == 201
    assert session.put(f"{repo_url}/f", data=b"22").status_code == 201
    assert session.get(f"{repo_url}/f").content == b"22"


def test_chunked_upload(session, repo_url):
    resp = session.put(f"{repo_url}/chunked.bin", data=iter([b"ab", b"cd", b"ef"]))
    assert resp.status_code == 201 and resp.json()["size"] == "6"
    assert session.get(f"{repo_url}/chunked.bin").content == b"abcdef"


def test_client_checksums_are_verified(session, repo_url, fake_artifactory):
    good = {
        "X-Checksum-Sha1": sha(b"x", "sha1"),
        "X-Checksum-Md5": sha(b"x", "md5"),
        "X-Checksum-Sha256": sha(b"x"),
    }
    resp = session.put(f"{repo_url}/ok", data=b"x", headers=good)
    assert resp.status_code == 201
    assert resp.json()["originalChecksums"] == {
        "sha1": good["X-Checksum-Sha1"],
        "md5": good["X-Checksum-Md5"],
        "sha256": sha(b"x"),
    }
    bad = session.put(f"{repo_url}/bad/f.txt", data=b"x", headers={"X-Checksum-Sha1": "0" * 40})
    status, message = errors_of(bad)
    assert status == 409
    assert message.startswith(
        "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact "
        f"'{REPO}:bad/f.txt'. Checksums info: ChecksumsInfo{{checksums={{SHA-1=ChecksumInfo"
        f"{{type=SHA-1, original='{'0' * 40}', actual='{sha(b'x', 'sha1')}'}}, MD5="
    )
    assert "bad/f.txt" not in json.dumps(fake_artifactory.state())
    assert session.get(f"{repo_url}/bad/f.txt").status_code == 404


def test_generic_x_checksum_is_typed_by_length(session, repo_url):
    assert (
        session.put(f"{repo_url}/g1", data=b"y", headers={"X-Checksum": sha(b"y")}).status_code
        == 201
    )
    assert (
        session.put(f"{repo_url}/g2", data=b"y", headers={"X-Checksum": "f" * 64}).status_code
        == 409
    )
    assert (
        session.put(f"{repo_url}/g3", data=b"y", headers={"X-Checksum": "f" * 32}).status_code
        == 409
    )
    # the specific header wins over the generic one
    resp = session.put(
        f"{repo_url}/g4",
        data=b"y",
        headers={"X-Checksum-Sha256": sha(b"y"), "X-Checksum": "f" * 64},
    )
    assert resp.status_code == 201


def test_checksum_deploy(session, repo_url):
    data = b"checksum-deploy-me"
    session.put(f"{repo_url}/orig.bin", data=data)
    resp = session.put(
        f"{repo_url}/copy.bin",
        headers={"X-Checksum-Deploy": "true", "X-Checksum-Sha256": sha(data)},
    )
    assert resp.status_code == 201 and resp.json()["size"] == str(len(data))
    assert session.get(f"{repo_url}/copy.bin").content == data
    by_sha1 = session.put(
        f"{repo_url}/copy2.bin",
        headers={"X-Checksum-Deploy": "TRUE", "X-Checksum-Sha1": sha(data, "sha1")},
    )
    assert by_sha1.status_code == 201
    miss = session.put(
        f"{repo_url}/none.bin", headers={"X-Checksum-Deploy": "true", "X-Checksum-Sha256": "a" * 64}
    )
    assert errors_of(miss) == (
        404,
        f"Checksum deploy failed. No existing file with SHA-256: {'a' * 64}",
    )
    md5_only = session.put(
        f"{repo_url}/none.bin",
        headers={"X-Checksum-Deploy": "true", "X-Checksum-Md5": sha(data, "md5")},
    )
    assert md5_only.status_code == 404


def test_matrix_params_become_properties(session, repo_url, base):
    resp = session.put(f"{repo_url}/m/a%3Bb+c.txt;k=v1;k=v2;mime=image/svg+xml;flag", data=b"1")
    assert resp.status_code == 201
    assert resp.json()["path"] == "/m/a;b+c.txt"
    props = session.get(f"{base}/api/storage/{REPO}/m/a%3Bb%2Bc.txt?properties").json()
    assert props["properties"] == {"flag": [""], "k": ["v1", "v2"], "mime": ["image/svg xml"]}


def test_invalid_property_key_is_400(session, repo_url):
    resp = session.put(f"{repo_url}/p.txt;1bad=v", data=b"1")
    status, message = errors_of(resp)
    assert status == 400 and "is invalid due to Name must start with a letter" in message


def test_checksum_side_files(session, repo_url, base):
    session.put(f"{repo_url}/lib.jar", data=b"jar")
    ok = session.put(f"{repo_url}/lib.jar.sha1", data=sha(b"jar", "sha1").encode())
    assert ok.status_code == 201 and ok.headers["Location"].endswith("/lib.jar.sha1")
    info = session.get(f"{base}/api/storage/{REPO}/lib.jar").json()
    assert info["originalChecksums"]["sha1"] == sha(b"jar", "sha1")
    # not stored as a file: answered from the checksum the upload recorded
    assert session.get(f"{repo_url}/lib.jar.sha1").text == sha(b"jar", "sha1")
    bad = session.put(f"{repo_url}/lib.jar.md5", data=b"0" * 32)
    assert errors_of(bad) == (
        409,
        f"Checksum error for 'lib.jar': received '{'0' * 32}' but actual is '{sha(b'jar', 'md5')}'",
    )
    missing = session.put(f"{repo_url}/nothing.sha256", data=b"0" * 64)
    assert errors_of(missing) == (
        404,
        f"Target file to set checksum on doesn't exist: {REPO}:nothing",
    )


def test_parent_is_a_file_is_400(session, repo_url):
    session.put(f"{repo_url}/a.txt", data=b"1")
    resp = session.put(f"{repo_url}/a.txt/b.txt", data=b"2")
    assert errors_of(resp) == (400, "Parent a.txt must be a folder")


def test_create_folder_is_201_and_idempotent(session, repo_url):
    for _ in range(2):
        resp = session.put(f"{repo_url}/new/folder/")
        assert resp.status_code == 201
        body = resp.json()
        assert body["path"] == "/new/folder/" and body["uri"] == f"{repo_url}/new/folder/"
        assert "children" not in body and "size" not in body
        assert resp.headers["Location"] == f"{repo_url}/new/folder/"


def test_empty_body_without_slash_creates_an_empty_file(session, repo_url):
    resp = session.put(f"{repo_url}/touched", data=b"")
    assert resp.status_code == 201 and resp.json()["size"] == "0"


def test_get_headers(session, repo_url):
    session.put(f"{repo_url}/docs/my file.json", data=b'{"a": 1}')
    resp = session.get(f"{repo_url}/docs/my%20file.json")
    assert resp.status_code == 200 and resp.content == b'{"a": 1}'
    h = resp.headers
    assert h["Content-Type"] == "application/json"
    assert h["ETag"] == sha(b'{"a": 1}', "sha1")
    assert h["X-Checksum-Sha1"] == h["ETag"]
    assert h["X-Checksum-Md5"] == sha(b'{"a": 1}', "md5")
    assert h["X-Checksum-Sha256"] == sha(b'{"a": 1}')
    assert h["Accept-Ranges"] == "bytes"
    assert h["X-Artifactory-Filename"] == "my%20file.json"
    assert h["Content-Disposition"] == (
        "attachment; filename=\"my file.json\"; filename*=UTF-8''my%20file.json"
    )
    assert h["Last-Modified"].endswith("GMT")
    assert h["Content-Length"] == "8"
    head = session.head(f"{repo_url}/docs/my%20file.json")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == "8" and head.headers["ETag"] == h["ETag"]
    assert (
        session.get(
            f"{repo_url}/docs/my%20file.json", headers={"If-None-Match": h["ETag"]}
        ).status_code
        == 304
    )


def test_unicode_and_special_names_round_trip(session, repo_url, base):
    from urllib.parse import quote

    for name in ["ü日本.txt", "a#b", "50%", "x=y&z@w:v", "semi;colon", "plus+sign"]:
        url = f"{repo_url}/names/{quote(name, safe='')}"
        assert session.put(url, data=name.encode()).status_code == 201, name
        assert session.get(url).content == name.encode()
    children = session.get(f"{base}/api/storage/{REPO}/names").json()["children"]
    assert sorted(c["uri"] for c in children) == sorted(
        "/" + n for n in ["ü日本.txt", "a#b", "50%", "x=y&z@w:v", "semi;colon", "plus+sign"]
    )


def test_ranges(session, repo_url):
    data = bytes(range(100))
    session.put(f"{repo_url}/r.bin", data=data)
    one = session.get(f"{repo_url}/r.bin", headers={"Range": "bytes=10-19"})
    assert one.status_code == 206 and one.content == data[10:20]
    assert one.headers["Content-Range"] == "bytes 10-19/100"
    clamp = session.get(f"{repo_url}/r.bin", headers={"Range": "bytes=90-500"})
    assert clamp.content == data[90:] and clamp.headers["Content-Range"] == "bytes 90-99/100"
    open_end = session.get(f"{repo_url}/r.bin", headers={"Range": "bytes=95-"})
    assert open_end.content == data[95:]
    multi = session.get(f"{repo_url}/r.bin", headers={"Range": "bytes=0-1,50-51"})
    assert multi.status_code == 206
    assert multi.headers["Content-Type"] == (
        "multipart/byteranges; boundary=BCD64322345343217845286A"
    )
    assert b"Content-Range: bytes 0-1/100\r\n\r\n\x00\x01" in multi.content
    assert b"Content-Range: bytes 50-51/100\r\n\r\n\x32\x33" in multi.content
    assert int(multi.headers["Content-Length"]) == len(multi.content)
    merged = session.get(f"{repo_url}/r.bin", headers={"Range": "bytes=0-5,3-9"})
    assert merged.content == data[:10]
    for bad in ["bytes=100-", "bytes=200-300", "bytes=5-2"]:
        resp = session.get(f"{repo_url}/r.bin", headers={"Range": bad})
        assert resp.status_code == 416, bad
        assert resp.headers["Content-Range"] == "bytes */100"
    ignored = session.get(f"{repo_url}/r.bin", headers={"Range": "nonsense"})
    assert ignored.status_code == 200 and ignored.content == data
    if_range_mismatch = session.get(
        f"{repo_url}/r.bin", headers={"Range": "bytes=0-1", "If-Range": "deadbeef"}
    )
    assert if_range_mismatch.status_code == 200


def test_empty_file_with_range_is_416(session, repo_url):
    session.put(f"{repo_url}/empty", data=b"")
    resp = session.get(f"{repo_url}/empty", headers={"Range": "bytes=0-"})
    assert resp.status_code == 416 and resp.headers["Content-Range"] == "bytes */0"


def test_folder_get_redirects_then_lists(session, repo_url):
    session.put(f"{repo_url}/fold/sub/x.txt", data=b"1")
    resp = session.get(f"{repo_url}/fold", allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"] == f"{repo_url}/fold/"
    page = session.get(f"{repo_url}/fold/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert f"<title>Index of {REPO}/fold</title>" in page.text
    assert '<a href="sub/">sub/</a>' in page.text
    root = session.get(repo_url, allow_redirects=False)
    assert root.status_code == 302 and root.headers["Location"] == repo_url + "/"
    assert session.head(f"{repo_url}/fold", allow_redirects=False).status_code == 302


def test_missing_file_is_404_file_not_found(session, repo_url):
    resp = session.get(f"{repo_url}/nope.txt")
    assert errors_of(resp) == (404, "File not found.")
    assert (
        resp.text == '{\n  "errors" : [ {\n    "status" : 404,\n'
        '    "message" : "File not found."\n  } ]\n}'
    )


def test_delete_file_and_folder(session, repo_url, base):
    session.put(f"{repo_url}/del/a/1", data=b"1")
    session.put(f"{repo_url}/del/b", data=b"2")
    assert session.delete(f"{repo_url}/del/b").status_code == 204
    resp = session.delete(f"{repo_url}/del/")
    assert resp.status_code == 204 and resp.content == b""
    assert session.get(f"{base}/api/storage/{REPO}/del/a/1").status_code == 404
    missing = session.delete(f"{repo_url}/del")
    assert errors_of(missing) == (
        404,
        f"Could not locate artifact '{REPO}:del' (Nothing to delete).",
    )


def test_delete_repo_root_keeps_repo(session, repo_url, base):
    session.put(f"{repo_url}/x", data=b"1")
    assert session.delete(f"{repo_url}/").status_code == 204
    info = session.get(f"{base}/api/storage/{REPO}").json()
    assert info["children"] == []


def test_unknown_repo(session, base):
    assert errors_of(session.get(f"{base}/no-such-repo/x"))[0] == 404
    assert errors_of(session.put(f"{base}/no-such-repo/x", data=b"1"))[0] == 404


def test_repo_keys_are_case_sensitive(session, base):
    assert session.put(f"{base}/Other-Repo/x", data=b"1").status_code == 201
    assert session.get(f"{base}/other-repo/x").status_code == 404


def test_invalid_path_is_400(fake_artifactory):
    for bad in ["a/../b", "..", "a%7Cb", "%20x", "x/./..", "q%3Fmark", "a%22", "a%2F..%2Fb", "a*"]:
        resp = raw_request(fake_artifactory.root_url, "PUT", f"/artifactory/{REPO}/{bad}", b"1")
        assert errors_of(resp)[0] == 400, bad
    assert fake_artifactory.state()["repos"][REPO]["items"] == {}


def test_dot_segments_collapse_and_encoded_slash_separates(fake_artifactory, session, repo_url):
    resp = raw_request(fake_artifactory.root_url, "PUT", f"/artifactory/{REPO}/a/./b%2Fc", b"1")
    assert resp.status_code == 201 and resp.json()["path"] == "/a/b/c"
    assert session.get(f"{repo_url}/a/b/c").content == b"1"


def test_unimplemented_is_501(session, repo_url, base):
    resp = session.post(f"{repo_url}/x", data=b"1")
    status, message = errors_of(resp)
    assert status == 501 and "POST" in message
    resp = session.get(f"{base}/api/nothing/here")
    status, message = errors_of(resp)
    assert status == 501 and "/api/nothing/here" in message


def test_override_base_url(session, repo_url):
    resp = session.put(
        f"{repo_url}/o.txt",
        data=b"1",
        headers={"X-JFrog-Override-Base-Url": "https://arti.example.com"},
    )
    assert resp.json()["uri"] == f"https://arti.example.com/artifactory/{REPO}/o.txt"


def test_outside_context_path_is_404(fake_artifactory):
    resp = requests.get(f"{fake_artifactory.root_url}/elsewhere")
    assert errors_of(resp)[0] == 404


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def _exchange(
    conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str], body=None
) -> http.client.HTTPResponse:
    """One request on ``conn`` (kept open), its body read."""
    conn.request(method, path, body=body, headers=headers, encode_chunked=body is not None)
    resp = conn.getresponse()
    resp.read()
    return resp


@pytest.mark.parametrize(
    ("who", "repo", "status"),
    [("reader", REPO, 403), ("admin", "no-such-repo", 404), (None, REPO, 401)],
)
@pytest.mark.parametrize("size", [3, 200 * 1024])
def test_a_refused_chunked_upload_leaves_the_connection_usable(
    fake_artifactory, who: str | None, repo: str, status: int, size: int
) -> None:
    """The unread chunks of a refused PUT must not be parsed as the next request."""
    parts = urlsplit(fake_artifactory.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    password = {"reader": "readpw", "admin": "password"}
    headers = {}
    if who:
        token = base64.b64encode(f"{who}:{password[who]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    try:
        refused = _exchange(conn, "PUT", f"{parts.path}/{repo}/refused.bin", headers, _chunks(size))
        assert refused.status == status
        assert refused.getheader("Connection") is None  # kept alive: the rest was drained
        ping = _exchange(conn, "GET", f"{parts.path}/api/system/ping", headers)
        assert ping.status == 200
    finally:
        conn.close()


def test_a_large_unread_chunked_body_closes_the_connection(fake_artifactory) -> None:
    """Beyond the drain limit the answer says ``Connection: close`` (like Tomcat's swallow)."""
    with requests.Session() as s:
        s.auth = ("reader", "readpw")
        url = f"{fake_artifactory.url}/{REPO}/refused-big.bin"
        refused = s.put(url, data=_chunks(8 * 1024 * 1024))
        assert refused.status_code == 403
        assert refused.headers.get("Connection", "").lower() == "close"
        assert s.get(f"{fake_artifactory.url}/api/system/ping").text == "OK"
