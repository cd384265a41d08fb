"""Request journal: redaction (pure), the middleware, and the control plane over HTTP."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, Response, request
from support.wsgi_server import serve_wsgi

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.control.journal_middleware import JournalMiddleware
from fake_artifactory.control.views import bp
from fake_artifactory.core.journal import Journal, curl_command, redact_headers, redact_uri
from fake_artifactory.core.uri import raw_request_uri


def make_app(journal: Journal) -> Flask:
    app = Flask(__name__)
    app.extensions["fake_artifactory"] = SimpleNamespace(journal=journal, config=EmulatorConfig())
    app.register_blueprint(bp)

    @app.route("/artifactory/<path:path>", methods=["GET", "PUT", "POST"])
    def anything(path: str) -> Response:
        if request.method == "PUT":
            return Response(str(len(request.get_data())), 201)
        if request.method == "POST":  # reads nothing: the journal must not drain it
            return Response("ignored", 400)
        return Response(b"x" * 1234)

    app.wsgi_app = JournalMiddleware(app.wsgi_app, journal)  # type: ignore[method-assign]
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Journal]]:
    journal = Journal()
    with serve_wsgi(make_app(journal)) as url:
        yield url, journal


@pytest.fixture
def base_url(server: tuple[str, Journal]) -> str:
    url, journal = server
    journal.clear()
    return url


def fetch(base_url: str, **params: str) -> list[dict]:
    resp = requests.get(f"{base_url}/_fake/requests", params=params, timeout=10)
    assert resp.status_code == 200
    return resp.json()["requests"]


# --- pure --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Basic YWRtaW46cGFzc3dvcmQ=", "Basic ***"),
        ("Authorization", "Bearer eyJ.abc.def", "Bearer ***"),
        ("Authorization", "opaque", "***"),
        ("X-JFrog-Art-Api", "AKCp8secret", "***"),
        ("Cookie", "session=abc", "***"),
        ("Content-Type", "text/plain", "text/plain"),
    ],
)
def test_redact_headers(name, value, expected):
    assert redact_headers([(name, value)]) == {name: expected}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/a/b", "/a/b"),
        ("/a?list&deep=1", "/a?list&deep=1"),
        ("/a?token=abc&x=1", "/a?token=***&x=1"),
        ("/a?access_token=abc", "/a?access_token=***"),
        ("/a?password=p%40ss&user=me", "/a?password=***&user=me"),
        ("/a;k=v?apiKey=zzz", "/a;k=v?apiKey=***"),
    ],
)
def test_redact_uri(uri, expected):
    assert redact_uri(uri) == expected


def test_raw_request_uri_prefers_the_server_raw_form():
    assert raw_request_uri({"REQUEST_URI": "/a%3Bb?x=1", "PATH_INFO": "/a;b"}) == "/a%3Bb?x=1"
    assert raw_request_uri({"RAW_URI": "/r"}) == "/r"
    assert raw_request_uri({"PATH_INFO": "/a b", "QUERY_STRING": "q=1"}) == "/a%20b?q=1"


def test_curl_command_quotes_for_the_shell():
    line = curl_command("GET", "http://h/a b", {"X-Odd": "it's", "Host": "h"})
    assert line == "curl -X GET -H 'X-Odd: it'\"'\"'s' 'http://h/a b'"


def test_journal_is_bounded_and_ordered():
    journal = Journal(max_entries=3)
    for seq in (2, 1, 3, 4):
        journal.record({"seq": seq})
    assert [e["seq"] for e in journal.entries()] == [1, 3, 4]
    journal.clear()
    assert journal.entries() == [] and len(journal) == 0


# --- middleware over HTTP ----------------------------------------------------------------


def test_every_request_is_journaled_with_raw_uri_status_and_body_hash(base_url):
    payload = b"hello journal" * 1000
    requests.put(f"{base_url}/artifactory/repo/a%3Bb/x+y.bin;p=1", data=payload, timeout=10)
    requests.get(f"{base_url}/artifactory/repo/missing?list&deep=1", timeout=10)
    first, second = fetch(base_url)
    assert first["seq"] < second["seq"]
    assert first["method"] == "PUT"
    assert first["uri"] == "/artifactory/repo/a%3Bb/x+y.bin;p=1"
    assert first["status"] == 201
    assert first["body_size"] == len(payload)
    assert first["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert first["headers"]["Content-Length"] == str(len(payload))
    assert first["time"].endswith("+00:00")
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert second["uri"] == "/artifactory/repo/missing?list&deep=1"
    assert second["body_size"] == 0 and second["body_sha256"] is None
    assert second["response_bytes"] == 1234


def test_credentials_never_reach_the_journal(base_url):
    requests.get(
        f"{base_url}/artifactory/repo/f?token=s3cr3t",
        auth=("admin", "s3cr3t"),
        headers={"X-JFrog-Art-Api": "s3cr3t", "Cookie": "s=s3cr3t"},
        timeout=10,
    )
    requests.get(
        f"{base_url}/artifactory/repo/f", headers={"Authorization": "Bearer s3cr3t"}, timeout=10
    )
    raw = requests.get(f"{base_url}/_fake/requests", timeout=10).text
    assert "s3cr3t" not in raw
    first, second = fetch(base_url)
    assert first["headers"]["Authorization"] == "Basic ***"
    assert first["headers"]["X-Jfrog-Art-Api"] == "***"
    assert first["headers"]["Cookie"] == "***"
    assert second["headers"]["Authorization"] == "Bearer ***"
    assert "-H 'Authorization: Bearer ***'" in second["curl"]


def test_curl_line_replays_the_request(base_url):
    requests.put(f"{base_url}/artifactory/repo/it's here", data=b"abc", timeout=10)
    [entry] = fetch(base_url)
    port = base_url.rsplit(":", 1)[1]
    assert entry["curl"].startswith("curl -X PUT ")
    assert "--data-binary @body" in entry["curl"]
    assert entry["curl"].endswith(f"'http://127.0.0.1:{port}/artifactory/repo/it'\"'\"'s%20here'")
    assert "Content-Length" not in entry["curl"]


def test_unread_body_is_not_drained_by_the_journal(base_url):
    resp = requests.post(f"{base_url}/artifactory/repo/x", data=b"z" * 5000, timeout=10)
    assert resp.status_code == 400
    [entry] = fetch(base_url)
    assert entry["body_size"] == 0 and entry["status"] == 400


def test_filters_and_clear(base_url):
    requests.put(f"{base_url}/artifactory/repo/one", data=b"1", timeout=10)
    requests.get(f"{base_url}/artifactory/repo/one", timeout=10)
    requests.get(f"{base_url}/artifactory/repo/two", timeout=10)
    assert [e["method"] for e in fetch(base_url, method="put")] == ["PUT"]
    assert [e["uri"] for e in fetch(base_url, contains="two")] == ["/artifactory/repo/two"]
    first_seq = fetch(base_url)[0]["seq"]
    assert [e["method"] for e in fetch(base_url, since=str(first_seq))] == ["GET", "GET"]
    assert len(fetch(base_url)) == 3  # reading the journal is not journaled
    assert requests.delete(f"{base_url}/_fake/requests", timeout=10).status_code == 204
    assert fetch(base_url) == []


def test_entries_are_visible_as_soon_as_the_client_has_its_response(base_url):
    with requests.Session() as session:
        for i in range(20):
            session.get(f"{base_url}/artifactory/repo/{i}", timeout=10)
            assert len(fetch(base_url)) == i + 1


def test_concurrent_requests_are_all_recorded(base_url):
    def worker(n: int) -> None:
        with requests.Session() as session:
            for i in range(10):
                session.put(f"{base_url}/artifactory/repo/{n}/{i}", data=b"d", timeout=10)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = fetch(base_url)
    assert len(entries) == 40
    assert len({e["seq"] for e in entries}) == 40
    assert all(e["status"] == 201 for e in entries)


def test_werkzeug_test_client_without_raw_uri():
    journal = Journal()
    client = make_app(journal).test_client()
    client.put("/artifactory/repo/ab?x=1", data=b"abc")
    [entry] = journal.entries()
    assert entry["uri"] == "/artifactory/repo/ab?x=1"
    assert entry["body_size"] == 3 and entry["complete"] is True


# --- through the real emulator (ThreadedServer + the pytest plugin's handle) -------------


def test_emulator_fixture_journal(fake_artifactory):
    fake_artifactory.clear_requests()
    base = fake_artifactory.url
    payload = b"journal me"
    resp = requests.put(
        f"{base}/example-repo-local/j/a%20b.txt;prop=1",
        data=payload,
        headers={"Authorization": "Bearer fake-test-token"},
        timeout=10,
    )
    assert resp.status_code == 201
    requests.get(f"{base}/example-repo-local/j/missing", auth=fake_artifactory.auth, timeout=10)
    entries = fake_artifactory.requests()
    assert [(e["method"], e["status"]) for e in entries] == [("PUT", 201), ("GET", 404)]
    put = entries[0]
    assert put["uri"].endswith("/example-repo-local/j/a%20b.txt;prop=1")
    assert put["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert put["headers"]["Authorization"] == "Bearer ***"
    assert "fake-test-token" not in str(entries)
    fake_artifactory.clear_requests()
    assert fake_artifactory.requests() == []
