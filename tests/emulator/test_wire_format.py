"""JSON bodies and response headers byte for byte as Artifactory writes them, over real HTTP.

Artifactory lays out JSON with Jackson 1.x's default pretty printer: ``"key" : value``,
two spaces per object level, arrays kept on their line (``[ {`` ... ``}, {`` ... ``} ]``,
``[ "a", "b" ]``, empty ``[ ]`` and ``{ }``), no final newline.  AQL results come in a
hand-written frame around rows printed one by one.  Users who record real responses
compare bytes, so these tests do too.
"""

from __future__ import annotations

import hashlib
import re

import pytest
import requests
from emulator_support import REPO

from fake_artifactory.core.serializers import to_json

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def sha(data: bytes, alg: str) -> str:
    return hashlib.new(alg, data).hexdigest()


# -- Jackson's layout ------------------------------------------------------------------------


def test_an_error_body_is_jacksons_layout_byte_for_byte(session, repo_url):
    """The error envelope: the array of one object opens ``[ {`` and closes ``} ]``."""
    resp = session.get(f"{repo_url}/no/such/file.txt")
    assert resp.status_code == 404
    assert resp.content == (
        b'{\n  "errors" : [ {\n    "status" : 404,\n    "message" : "File not found."\n  } ]\n}'
    )


def test_a_string_array_stays_on_its_line(session, base):
    """``/api/system/version``: ``"addons" : [ "build", ... ]`` (one line, spaced)."""
    resp = session.get(f"{base}/api/system/version")
    text = resp.text
    assert re.fullmatch(
        r'\{\n  "version" : "7\.90\.10",\n  "revision" : "79010900",\n'
        r'  "addons" : \[ "build", "docker", "rest", "properties", "search" \],\n'
        r'  "license" : "[^"]+"\n\}',
        text,
    ), text


def test_folder_info_children_are_objects_in_one_inline_array(session, base, repo_url):
    session.put(f"{repo_url}/d/a.txt", data=b"a")
    session.put(f"{repo_url}/d/sub/")
    text = session.get(f"{base}/api/storage/{REPO}/d").text
    assert (
        '  "children" : [ {\n    "uri" : "/a.txt",\n    "folder" : false\n'
        '  }, {\n    "uri" : "/sub",\n    "folder" : true\n  } ],\n'
    ) in text
    assert text.endswith(f'"uri" : "{base}/api/storage/{REPO}/d"\n}}')


def test_an_empty_array_is_bracket_space_bracket(session, base, repo_url):
    session.put(f"{repo_url}/empty/")
    text = session.get(f"{base}/api/storage/{REPO}/empty").text
    assert '  "children" : [ ],\n' in text
    found = session.get(f"{base}/api/search/prop", params={"nothing": "here"})
    assert found.content == b'{\n  "results" : [ ]\n}'


def test_nested_objects_indent_two_more_spaces(session, base, repo_url):
    session.put(f"{repo_url}/n.bin", data=b"n")
    text = session.get(f"{base}/api/storage/{REPO}/n.bin").text
    assert (
        f'  "checksums" : {{\n    "sha1" : "{sha(b"n", "sha1")}",\n'
        f'    "md5" : "{sha(b"n", "md5")}",\n    "sha256" : "{sha(b"n", "sha256")}"\n  }},\n'
    ) in text


def test_an_empty_object_is_brace_space_brace(session, repo_url):
    """A deploy by JFrog's build client without checksum headers: no original checksums
    are echoed (sha256 is left out for that client), so the object is empty."""
    resp = session.put(
        f"{repo_url}/b.bin", data=b"b", headers={"User-Agent": "ArtifactoryBuildClient/2.1"}
    )
    assert resp.status_code == 201
    assert '  "originalChecksums" : { },\n' in resp.text


def test_file_list_rows_follow_the_layout(session, base, repo_url):
    session.put(f"{repo_url}/l/x.txt", data=b"x")
    text = session.get(f"{base}/api/storage/{REPO}/l", params={"list": "", "deep": "1"}).text
    assert re.fullmatch(
        r'\{\n  "uri" : "[^"]+",\n  "created" : "' + ISO + r'",\n'
        r'  "files" : \[ \{\n    "uri" : "/x\.txt",\n    "size" : 1,\n'
        r'    "lastModified" : "' + ISO + r'",\n    "folder" : false,\n'
        r'    "sha1" : "[0-9a-f]{40}",\n    "sha2" : "[0-9a-f]{64}"\n  \} \]\n\}',
        text,
    ), text


def test_aql_results_come_in_artifactorys_hand_written_frame(session, base, repo_url):
    """A leading newline, unindented ``"results"``/``"range"``, rows joined by ``},{``,
    the range block printed on its own, and a final newline."""
    session.put(f"{repo_url}/q/a.txt", data=b"a")
    session.put(f"{repo_url}/q/b.txt", data=b"b")
    query = f'items.find({{"repo":"{REPO}","path":"q"}}).include("name","size")'
    resp = session.post(
        f"{base}/api/search/aql", data=query, headers={"Content-Type": "text/plain"}
    )
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.content == (
        b'\n{\n"results" : [ {\n  "name" : "a.txt",\n  "size" : 1\n},{\n'
        b'  "name" : "b.txt",\n  "size" : 1\n} ],\n"range" : {\n  "start_pos" : 0,\n'
        b'  "end_pos" : 2,\n  "total" : 2\n}\n}\n'
    )
    empty = session.post(
        f"{base}/api/search/aql",
        data=f'items.find({{"repo":"{REPO}","name":"none"}})',
        headers={"Content-Type": "text/plain"},
    )
    assert empty.content.startswith(b'\n{\n"results" : [  ],\n"range" : {\n')


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"k": []}, '{\n  "k" : [ ]\n}'),
        ({}, "{ }"),
        ([[1, 2], []], "[ [ 1, 2 ], [ ] ]"),
        (
            {"a": [{"b": {"c": [{}]}}]},
            '{\n  "a" : [ {\n    "b" : {\n      "c" : [ { } ]\n    }\n  } ]\n}',
        ),
        ("ctl\x01\x1f\n\\u001f", '"ctl\\u0001\\u001F\\n\\\\u001f"'),
        ({"ü": "☃"}, '{\n  "ü" : "☃"\n}'),
    ],
)
def test_to_json_prints_like_jackson(value, text):
    """Pure cases: nesting, empties, Jackson's upper-case ``\\u`` escapes, raw UTF-8."""
    assert to_json(value) == text


# -- response headers ---------------------------------------------------------------------


def _identity_headers(resp: requests.Response) -> dict[str, str | None]:
    names = ("X-JFrog-Version", "X-Artifactory-Id", "X-Artifactory-Node-Id", "Server")
    return {name: resp.headers.get(name) for name in names}


def test_a_7x_emulator_sends_x_jfrog_version_and_a_node_id_and_no_server(session, base, repo_url):
    """Every kind of answer (REST, a plain file up and down, an error) carries the 7.x
    identity headers, ``Artifactory/<version> <revision>``, and never a ``Server`` header."""
    answers = [
        session.get(f"{base}/api/system/version"),
        session.put(f"{repo_url}/h.txt", data=b"h"),
        session.get(f"{repo_url}/h.txt"),
        session.head(f"{repo_url}/h.txt"),
        session.get(f"{repo_url}/missing"),
        requests.get(f"{base}/api/system/ping"),
    ]
    for resp in answers:
        headers = _identity_headers(resp)
        assert headers["X-JFrog-Version"] == "Artifactory/7.90.10 79010900", resp.url
        assert headers["X-Artifactory-Id"] and headers["X-Artifactory-Node-Id"], resp.url
        assert headers["Server"] is None, (resp.url, headers)


@pytest.mark.parametrize(
    ("version", "revision"),
    [("7.33.9", "73309900"), ("7.104.6", "80406900"), ("7.71.5", "77105900")],
)
def test_the_revision_follows_the_version_like_real_7x_servers(make_server, version, revision):
    server = make_server(version=version)
    resp = requests.get(f"{server.url}/api/system/version", auth=("admin", "password"))
    assert resp.json()["revision"] == revision
    assert resp.headers["X-JFrog-Version"] == f"Artifactory/{version} {revision}"


def test_a_6x_emulator_sends_a_server_header_and_no_7x_headers(make_server):
    server = make_server(version="6.20.0")
    auth = ("admin", "password")
    answers = [
        requests.get(f"{server.url}/api/system/version", auth=auth),
        requests.put(f"{server.url}/{REPO}/h.txt", data=b"h", auth=auth),
        requests.get(f"{server.url}/{REPO}/h.txt", auth=auth),
        requests.get(f"{server.url}/{REPO}/missing", auth=auth),
    ]
    for resp in answers:
        headers = _identity_headers(resp)
        assert headers["Server"] == "Artifactory/6.20.0", resp.url
        assert headers["X-Artifactory-Id"], resp.url
        assert headers["X-JFrog-Version"] is None and headers["X-Artifactory-Node-Id"] is None
