"""Fault injection: pure matching, the control plane, and what a client really sees.

HTTP tests serve a tiny Flask app on 127.0.0.1:0 on the emulator's server, whose handler
exposes the connection to the middleware, then check over real sockets that each
injected failure reaches the client exactly as requested and that the server keeps
serving afterwards. Latency is checked through an injected sleep function,
never with wall-clock assertions.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from flask import Flask, Response, request
from support.wsgi_server import serve_wsgi

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.control.fault_middleware import FaultMiddleware
from fake_artifactory.control.journal_middleware import JournalMiddleware
from fake_artifactory.control.views import bp
from fake_artifactory.core.faults import FaultError, FaultRegistry, FaultRule, classify
from fake_artifactory.core.journal import Journal

BODY = bytes(range(256)) * 40  # 10240 bytes


def make_app(registry: FaultRegistry, sleeps: list[float]) -> Flask:
    app = Flask(__name__)
    journal = Journal()
    app.extensions["fake_artifactory"] = SimpleNamespace(
        faults=registry, journal=journal, config=EmulatorConfig()
    )
    app.register_blueprint(bp)

    @app.route("/artifactory/<path:path>", methods=["GET", "HEAD", "PUT", "DELETE", "POST"])
    def anything(path: str) -> Response:
        if request.method == "PUT":
            data = request.get_data()
            return Response(json.dumps({"size": str(len(data))}), 201, mimetype="application/json")
        if path.endswith("stream"):
            return Response(iter([BODY[:4000], BODY[4000:]]), mimetype="application/octet-stream")
        return Response(BODY, mimetype="application/octet-stream")

    app.wsgi_app = JournalMiddleware(  # type: ignore[method-assign]
        FaultMiddleware(app.wsgi_app, registry, sleep=sleeps.append), journal
    )
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[SimpleNamespace]:
    """One server per module; state reset per test."""
    registry = FaultRegistry(seed=7)
    sleeps: list[float] = []
    app = make_app(registry, sleeps)
    with serve_wsgi(app) as url:
        yield SimpleNamespace(url=url, registry=registry, sleeps=sleeps, app=app)


@pytest.fixture
def registry(server: SimpleNamespace) -> Iterator[FaultRegistry]:
    server.registry.clear()
    server.sleeps.clear()
    server.app.extensions["fake_artifactory"].journal.clear()
    yield server.registry
    server.registry.clear()


@pytest.fixture
def sleeps(server: SimpleNamespace) -> list[float]:
    return server.sleeps


@pytest.fixture
def base_url(server: SimpleNamespace, registry: FaultRegistry) -> str:
    return server.url


def raw_get(base_url: str, path: str) -> tuple[bytes, BaseException | None]:
    """Send one GET over a raw socket; return every byte received and how it ended."""
    port = int(base_url.rsplit(":", 1)[1])
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n".encode())
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return received, None
                received += data
        except OSError as exc:
            return received, exc


def split_response(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], {k.lower(): v for k, v in headers.items()}, body


def assert_still_serving(base_url: str) -> None:
    resp = requests.get(f"{base_url}/artifactory/repo/after.bin", timeout=10)
    assert resp.status_code == 200
    assert resp.content == BODY


# --- pure core ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("PUT", "/artifactory/repo/a/b.bin", "", ("repo", "deploy")),
        ("PUT", "/artifactory/repo/a/b/", "", ("repo", "mkdir")),
        ("PUT", "/artifactory/repo;p=1/x", "", ("repo", "deploy")),
        ("GET", "/artifactory/repo/a.bin", "", ("repo", "download")),
        ("HEAD", "/artifactory/repo/a.bin", "", ("repo", "head")),
        ("DELETE", "/artifactory/repo/a", "", ("repo", "delete")),
        ("POST", "/artifactory/repo/a", "", ("repo", "other")),
        ("GET", "/artifactory/api/storage/repo/a", "", ("repo", "storage_info")),
        ("GET", "/artifactory/api/storage/repo/a", "list&deep=1", ("repo", "file_list")),
        ("GET", "/artifactory/api/storage/repo/a", "properties", ("repo", "properties")),
        ("PUT", "/artifactory/api/storage/repo/a", "properties=k=v", ("repo", "properties")),
        ("DELETE", "/artifactory/api/storage/repo/a", "properties=k", ("repo", "properties")),
        ("PATCH", "/artifactory/api/metadata/repo/a", "", ("repo", "properties")),
        ("POST", "/artifactory/api/search/aql", "", (None, "aql")),
        ("POST", "/artifactory/api/copy/repo/a", "to=/r2/b", ("repo", "copy")),
        ("POST", "/artifactory/api/move/repo/a", "to=/r2/b", ("repo", "move")),
        ("GET", "/artifactory/api/system/ping", "", (None, "ping")),
        ("GET", "/artifactory/api/system/version", "", (None, "version")),
        ("GET", "/artifactory/api/repositories", "", (None, "repositories")),
        ("PUT", "/artifactory/api/repositories/new-repo", "", ("new-repo", "repositories")),
        ("PUT", "/artifactory/api/security/users/u", "", (None, "security")),
        ("GET", "/artifactory/api/v2/security/permissions/p", "", (None, "security")),
        ("GET", "/artifactory/api/unknown/x", "", (None, "other")),
        ("GET", "/elsewhere/repo/a", "", (None, "other")),
        ("GET", "/artifactory", "", (None, "other")),
        ("GET", "/artifactory/api%2Dlike/x", "", ("api-like", "download")),
    ],
)
def test_classify(method, path, query, expected):
    assert classify(method, path, query, "/artifactory") == expected


def test_classify_honours_another_context_path():
    assert classify("GET", "/a/b/repo/x", "", "/a/b") == ("repo", "download")
    assert classify("GET", "/repo/x", "", "") == ("repo", "download")


def test_rule_matching_by_method_glob_repo_and_operation():
    reg = FaultRegistry()
    reg.add(FaultRule(method="put", path="repo/*.bin", operation="deploy", status=500))
    assert reg.match("GET", "/artifactory/repo/x.bin") is None
    assert reg.match("PUT", "/artifactory/other/x.bin") is None
    assert reg.match("PUT", "/artifactory/repo/deep/x.txt") is None
    fired = reg.match("PUT", "/artifactory/repo/deep/x.bin")
    assert fired is not None and fired.status == 500


def test_nth_and_times_schedule():
    reg = FaultRegistry()
    reg.add({"method": "GET", "nth": 2, "times": 2, "status": 503})
    outcomes = [reg.match("GET", "/artifactory/r/f") is not None for _ in range(5)]
    assert outcomes == [False, True, True, False, False]
    [rule] = reg.list()
    assert (rule.matched, rule.fired) == (5, 2)


def test_nth_alone_fires_from_that_call_on():
    reg = FaultRegistry()
    reg.add({"nth": 3, "status": 500})
    outcomes = [reg.match("GET", "/artifactory/r/f") is not None for _ in range(4)]
    assert outcomes == [False, False, True, True]


def test_probability_is_deterministic_under_a_seed():
    def run(seed: int) -> list[bool]:
        reg = FaultRegistry(seed=seed)
        reg.add({"probability": 0.5, "status": 500})
        return [reg.match("GET", "/artifactory/r/f") is not None for _ in range(64)]

    first = run(1)
    assert first == run(1)
    assert 0 < sum(first) < 64
    assert run(1) != run(2)


def test_reseeding_replays_the_sequence_of_that_seed():
    def draws(reg: FaultRegistry) -> list[bool]:
        return [reg.match("GET", "/artifactory/r/f") is not None for _ in range(64)]

    reg = FaultRegistry(seed=1)
    reg.add({"probability": 0.5, "status": 500})
    draws(reg)
    reg.reseed(2)
    assert reg.seed == 2
    fresh = FaultRegistry(seed=2)
    fresh.add({"probability": 0.5, "status": 500})
    assert draws(reg) == draws(fresh)
    reg.clear()  # clearing re-seeds with the last seed
    reg.add({"probability": 0.5, "status": 500})
    fresh.clear()
    fresh.add({"probability": 0.5, "status": 500})
    assert draws(reg) == draws(fresh)


def test_fault_seed_option_reaches_the_config():
    assert EmulatorConfig.from_args([]).fault_seed == 0
    assert EmulatorConfig.from_args(["--fault-seed", "17"]).fault_seed == 17


def test_first_firing_rule_wins_but_every_rule_counts():
    reg = FaultRegistry()
    a = reg.add({"times": 1, "status": 500})
    b = reg.add({"nth": 2, "status": 503})
    assert reg.match("GET", "/artifactory/r/f").id == a  # type: ignore[union-attr]
    assert reg.match("GET", "/artifactory/r/f").id == b  # type: ignore[union-attr]


def test_registry_remove_clear_and_json_round_trip(tmp_path):
    reg = FaultRegistry()
    rid = reg.add(FaultRule(path="r/*", status=429, retry_after=3))
    as_json = reg.to_json()
    assert as_json[0]["id"] == rid and as_json[0]["retry_after"] == 3
    assert FaultRule.from_dict(as_json[0]) == reg.list()[0]
    assert reg.remove(rid) and not reg.remove(rid)
    path = tmp_path / "faults.json"
    path.write_text(json.dumps([{"path_glob": "r/*", "status": 500}, {"delay_ms": 5}]))
    ids = reg.load_file(path)
    assert len(ids) == 2 and reg.list()[0].path == "r/*"
    reg.clear()
    assert reg.list() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"method": "GET"},
        {"status": 99},
        {"status": 500, "reset": "before"},
        {"reset": "sometimes"},
        {"operation": "frobnicate", "status": 500},
        {"probability": 1.5, "status": 500},
        {"nth": 0, "status": 500},
        {"status": 500, "colour": "red"},
        {"slow_body_bps": 0},
    ],
)
def test_invalid_rules_are_rejected(bad):
    with pytest.raises(FaultError):
        FaultRule.from_dict(bad)


# --- control plane -----------------------------------------------------------------------


def test_control_plane_add_list_remove_clear(base_url):
    fake = f"{base_url}/_fake/faults"
    resp = requests.post(fake, json={"path": "repo/*", "status": 500}, timeout=10)
    assert resp.status_code == 201
    [first] = resp.json()["ids"]
    resp = requests.post(fake, json=[{"status": 502}, {"delay_ms": 1}], timeout=10)
    assert len(resp.json()["ids"]) == 2
    listed = requests.get(fake, timeout=10).json()["faults"]
    assert [f["id"] for f in listed][0] == first
    assert requests.delete(f"{fake}/{first}", timeout=10).status_code == 204
    assert requests.delete(f"{fake}/{first}", timeout=10).status_code == 404
    assert requests.delete(fake, timeout=10).status_code == 204
    assert requests.get(fake, timeout=10).json()["faults"] == []


def test_control_plane_rejects_bad_rules_with_the_error_envelope(base_url):
    resp = requests.post(f"{base_url}/_fake/faults", json={"status": 500, "x": 1}, timeout=10)
    assert resp.status_code == 400
    assert "x" in resp.json()["errors"][0]["message"]
    resp = requests.post(f"{base_url}/_fake/faults", data=b"not json", timeout=10)
    assert resp.status_code == 400


def test_control_plane_is_never_faulted(base_url, registry):
    registry.add({"status": 500})
    assert requests.get(f"{base_url}/_fake/faults", timeout=10).status_code == 200


# --- what the client sees ----------------------------------------------------------------


def test_status_fault_has_the_artifactory_envelope_and_retry_after(base_url, registry):
    rule_id = registry.add({"method": "GET", "path": "repo/*", "status": 503, "retry_after": 7})
    resp = requests.get(f"{base_url}/artifactory/repo/a.bin", timeout=10)
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "7"
    assert resp.json() == {"errors": [{"status": 503, "message": f"Injected fault {rule_id}"}]}
    registry.clear()
    assert_still_serving(base_url)


def test_status_fault_on_head_sends_no_body(base_url, registry):
    registry.add({"operation": "head", "times": 1, "status": 404})
    with requests.Session() as session:  # one keep-alive connection for both requests
        resp = session.head(f"{base_url}/artifactory/repo/a.bin", timeout=10)
        assert resp.status_code == 404 and int(resp.headers["Content-Length"]) > 0
        assert session.get(f"{base_url}/artifactory/repo/a.bin", timeout=10).content == BODY


def test_status_fault_on_upload_with_custom_message(base_url, registry):
    registry.add({"operation": "deploy", "times": 1, "status": 500, "message": "boom"})
    url = f"{base_url}/artifactory/repo/up.bin"
    resp = requests.put(url, data=BODY * 20, timeout=10)
    assert resp.status_code == 500 and resp.json()["errors"][0]["message"] == "boom"
    resp = requests.put(url, data=BODY, timeout=10)
    assert resp.status_code == 201 and resp.json()["size"] == str(len(BODY))


def test_latency_and_delay_are_applied_through_sleep():
    registry = FaultRegistry()
    sleeps: list[float] = []
    app = make_app(registry, sleeps)
    middleware = app.wsgi_app.wsgi_app  # type: ignore[attr-defined]
    middleware.latency_ms = 40
    registry.add({"path": "repo/slow*", "delay_ms": 250})
    with serve_wsgi(app) as url:
        assert requests.get(f"{url}/artifactory/repo/fast", timeout=10).content == BODY
        assert requests.get(f"{url}/artifactory/repo/slow", timeout=10).content == BODY
        requests.get(f"{url}/_fake/faults", timeout=10)
    assert sleeps == [0.04, 0.04, 0.25]


def test_slow_body_streams_the_real_body_in_paced_pieces(base_url, registry, sleeps):
    registry.add({"slow_body_bps": 20000})
    resp = requests.get(f"{base_url}/artifactory/repo/a.bin", timeout=10)
    assert resp.content == BODY
    assert sum(sleeps) == pytest.approx(len(BODY) / 20000)
    assert len(sleeps) == -(-len(BODY) // 2000)


@pytest.mark.parametrize("path", ["/artifactory/repo/a.bin", "/artifactory/repo/stream"])
def test_truncated_body_keeps_full_content_length_then_closes(base_url, registry, path):
    registry.add({"truncate_after": 100, "times": 1})
    raw, error = raw_get(base_url, path)
    status, headers, body = split_response(raw)
    assert status.startswith("HTTP/1.1 200")
    if "content-length" in headers:
        assert headers["content-length"] == str(len(BODY))
        assert body == BODY[:100]
    else:  # a streamed response goes out chunked: the chunk is cut, no terminator
        assert headers["transfer-encoding"] == "chunked"
        assert not body.endswith(b"0\r\n\r\n")
    assert error is None  # an orderly FIN, not a reset
    assert_still_serving(base_url)


def test_truncated_body_makes_requests_fail(base_url, registry):
    registry.add({"truncate_after": 0, "times": 1})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{base_url}/artifactory/repo/a.bin", timeout=10).content  # noqa: B018
    assert_still_serving(base_url)


def test_reset_before_response_is_a_connection_reset(base_url, registry):
    registry.add({"reset": "before", "times": 1})
    raw, error = raw_get(base_url, "/artifactory/repo/a.bin")
    assert raw == b""
    assert isinstance(error, ConnectionResetError)
    assert_still_serving(base_url)


def test_reset_before_response_on_upload_raises_connection_error(base_url, registry):
    registry.add({"method": "PUT", "reset": "before", "times": 2})
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            requests.put(f"{base_url}/artifactory/repo/x.bin", data=BODY, timeout=10)
    assert_still_serving(base_url)


def test_reset_mid_body_sends_headers_and_part_of_the_body(base_url, registry):
    registry.add({"reset": "mid_body", "truncate_after": 1000, "times": 1})
    raw, error = raw_get(base_url, "/artifactory/repo/a.bin")
    status, headers, body = split_response(raw)
    assert status.startswith("HTTP/1.1 200")
    assert headers["content-length"] == str(len(BODY))
    assert body == BODY[:1000]
    assert isinstance(error, ConnectionResetError)
    assert_still_serving(base_url)


def test_reset_mid_body_makes_requests_fail(base_url, registry):
    registry.add({"reset": "mid_body", "times": 1})
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{base_url}/artifactory/repo/a.bin", timeout=10).content  # noqa: B018
    assert_still_serving(base_url)


def test_faulted_requests_are_journaled(base_url, registry):
    registry.add({"path": "repo/err", "status": 418})
    rst = registry.add({"path": "repo/rst", "reset": "before"})
    requests.get(f"{base_url}/artifactory/repo/err", timeout=10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/artifactory/repo/rst", timeout=10)
    entries = requests.get(f"{base_url}/_fake/requests", timeout=10).json()["requests"]
    assert [(e["uri"], e["status"]) for e in entries] == [
        ("/artifactory/repo/err", 418),
        ("/artifactory/repo/rst", 0),
    ]
    assert entries[1]["error"] == f"fault {rst}: reset before response"


def test_without_a_connection_object_a_reset_raises():
    registry = FaultRegistry()
    app = make_app(registry, [])
    registry.add({"reset": "before"})
    with pytest.raises(ConnectionResetError):
        app.test_client().get("/artifactory/repo/a.bin")


# --- through the real emulator (ThreadedServer + the pytest plugin's handle) -------------


def test_emulator_fixture_injects_and_removes_faults(fake_artifactory):
    url = f"{fake_artifactory.url}/example-repo-local/faulty/x.bin"
    auth = fake_artifactory.auth
    rule = {"operation": "deploy", "path": "example-repo-local/faulty/*", "nth": 2}
    with fake_artifactory.faults({**rule, "times": 1, "status": 503, "retry_after": 2}) as ids:
        assert len(ids) == 1
        assert requests.put(url, data=b"one", auth=auth, timeout=10).status_code == 201
        second = requests.put(url, data=b"two", auth=auth, timeout=10)
        assert second.status_code == 503 and second.headers["Retry-After"] == "2"
        assert second.json()["errors"][0]["status"] == 503
        assert requests.put(url, data=b"three", auth=auth, timeout=10).status_code == 201
    assert requests.put(url, data=b"four", auth=auth, timeout=10).status_code == 201
    assert requests.get(url, auth=auth, timeout=10).content == b"four"


def _fired_pattern(handle, seed: int | None) -> list[int]:
    """Which of 40 pings a 50% rule failed, with its rule installed under ``seed``."""
    url = f"{handle.url}/api/system/ping"
    with handle.faults({"operation": "ping", "probability": 0.5, "status": 503}, seed=seed):
        return [requests.get(url, timeout=10).status_code for _ in range(40)]


def test_the_fault_seed_set_over_the_control_plane_chooses_the_sequence(fake_artifactory):
    """POST /_fake/faults?seed=N picks the fault sequence; GET shows the seed; another
    seed gives another sequence, the same seed the same one."""
    try:
        first = _fired_pattern(fake_artifactory, 11)
        assert 0 < first.count(503) < 40
        listed = requests.get(f"{fake_artifactory.root_url}/_fake/faults", timeout=10).json()
        assert listed["seed"] == 11
        assert _fired_pattern(fake_artifactory, 11) == first
        assert _fired_pattern(fake_artifactory, 12) != first
        bad = requests.post(
            f"{fake_artifactory.root_url}/_fake/faults?seed=x", json={"status": 500}, timeout=10
        )
        assert bad.status_code == 400 and "seed" in bad.json()["errors"][0]["message"]
    finally:
        requests.delete(f"{fake_artifactory.root_url}/_fake/faults?seed=0", timeout=10)


def test_fault_seed_on_the_command_line_chooses_the_sequence(tmp_path):
    from fake_artifactory.testing import start_process

    patterns = []
    for seed in ("5", "5", "6"):
        with start_process("--fault-seed", seed, log_file=tmp_path / f"{seed}.log") as proc:
            handle = proc.handle()
            shown = requests.get(f"{handle.root_url}/_fake/faults", timeout=10).json()["seed"]
            assert shown == int(seed)
            patterns.append(_fired_pattern(handle, None))
    assert patterns[0] == patterns[1] != patterns[2]


def test_emulator_download_truncation_and_reset(fake_artifactory):
    url = f"{fake_artifactory.url}/example-repo-local/big.bin"
    auth = fake_artifactory.auth
    assert requests.put(url, data=BODY, auth=auth, timeout=10).status_code == 201
    with fake_artifactory.faults({"operation": "download", "truncate_after": 10, "times": 1}):
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            requests.get(url, auth=auth, timeout=10).content  # noqa: B018
    with fake_artifactory.faults({"operation": "download", "reset": "mid_body", "times": 1}):
        with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
            requests.get(url, auth=auth, timeout=10).content  # noqa: B018
    with fake_artifactory.faults({"method": "PUT", "reset": "before", "times": 1}):
        with pytest.raises(requests.ConnectionError):
            requests.put(url, data=BODY, auth=auth, timeout=10)
    assert requests.get(url, auth=auth, timeout=10).content == BODY
    statuses = [(e["method"], e["status"]) for e in fake_artifactory.requests()]
    assert statuses == [("PUT", 201), ("GET", 200), ("GET", 200), ("PUT", 0), ("GET", 200)]
