"""The server's fast lane: which request heads it takes, and that it answers exactly like
cheroot for them (same bytes on the wire, over real HTTP on loopback).

The parser (:mod:`fake_artifactory.fast_http`) is pure and tested on bytes; the lane in
:class:`~fake_artifactory.server.FastReadConnection` is tested against a running
server, with the lane switched off for the reference answer.
"""

from __future__ import annotations

import io
import re
import socket
import threading
import time
import types
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from cheroot import server as cheroot_server
from cheroot import wsgi
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_artifactory import fast_http
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import FastReadConnection, ThreadedServer

TOKEN = "fast-lane-token"

# -- the parser ---------------------------------------------------------------------------


def _head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_plain_put_is_taken_with_cheroot_environ_values() -> None:
    raw = _head(
        "PUT /artifactory/repo/a%20b%2Fc/d.txt?x=1 HTTP/1.1",
        "Host: 127.0.0.1:1",
        "Content-Length: 12",
        "Content-Type: text/plain",
        "X-Checksum-Sha1:  abc ",
    )
    head = fast_http.parse_head(raw)
    assert head is not None
    assert head.size == len(raw) and head.method == "PUT" and head.content_length == 12
    env = head.environ
    assert env["PATH_INFO"] == "/artifactory/repo/a b%2Fc/d.txt"  # %2F stays encoded
    assert env["REQUEST_URI"] == "/artifactory/repo/a%20b%2Fc/d.txt?x=1"
    assert env["QUERY_STRING"] == "x=1"
    assert env["CONTENT_LENGTH"] == "12" and env["CONTENT_TYPE"] == "text/plain"
    assert env["HTTP_X_CHECKSUM_SHA1"] == "abc"
    assert "HTTP_CONTENT_LENGTH" not in env and "HTTP_CONTENT_TYPE" not in env


def test_utf8_path_is_decoded_like_cheroot() -> None:
    head = fast_http.parse_head(_head("GET /r/%C3%A9t%C3%A9 HTTP/1.1", "Host: h"))
    assert head is not None
    assert head.environ["PATH_INFO"] == "/r/été".encode().decode("latin-1")


@pytest.mark.parametrize(
    "raw",
    [
        _head("GET /r/a HTTP/1.0", "Host: h"),  # HTTP/1.0 keep-alive rules
        _head("OPTIONS * HTTP/1.1", "Host: h"),
        _head("get /r/a HTTP/1.1", "Host: h"),  # cheroot's strict-mode answer
        _head("GET http://h/r/a HTTP/1.1", "Host: h"),  # absolute form
        _head("GET //h/r/a HTTP/1.1", "Host: h"),  # urlsplit reads an authority
        _head("GET /r/a#frag HTTP/1.1", "Host: h"),
        _head("GET /r/a\tb HTTP/1.1", "Host: h"),
        _head("GET /r/a  HTTP/1.1", "Host: h"),
        _head("GET /r/\x85 HTTP/1.1", "Host: h"),
        _head("GET /r/a HTTP/1.1", "Host: h", " folded"),
        _head("GET /r/a HTTP/1.1", "Host: h", "host: again"),  # duplicate
        _head("GET /r/a HTTP/1.1", "X-A: 1", "X_A: 2"),  # one environ key
        _head("GET /r/a HTTP/1.1", "Host : h"),  # space before the colon
        _head("GET /r/a HTTP/1.1", "no colon"),
        _head("PUT /r/a HTTP/1.1", "Transfer-Encoding: chunked"),
        _head("PUT /r/a HTTP/1.1", "Content-Length: 3", "Expect: 100-continue"),
        _head("GET /r/a HTTP/1.1", "Connection: close"),
        _head("PUT /r/a HTTP/1.1", "Content-Length: -1"),
        _head("PUT /r/a HTTP/1.1", "Content-Length: 1e3"),
        _head("PUT /r/a HTTP/1.1", "Content-Length: \u00b2"),  # "²": isdigit() but not ASCII
        _head("GET /r/a HTTP/1.1", "Content-Length: 5"),  # a GET with a body
        b"\r\nGET /r/a HTTP/1.1\r\nHost: h\r\n\r\n",  # leading blank line
        b"GET /r/a HTTP/1.1\nHost: h\r\n\r\n",  # bare LF
        b"GET /r/a HTTP/1.1\r\nX-A: 1\nX-B: 2\r\n\r\n",  # bare LF in a header line
    ],
)
def test_everything_unusual_is_left_to_cheroot(raw: bytes) -> None:
    assert fast_http.parse_head(raw) is None


def test_find_head_needs_the_blank_line_within_the_limit() -> None:
    raw = _head("GET /r/a HTTP/1.1", "Host: h")
    assert fast_http.find_head(raw + b"next", 0) == len(raw)
    assert fast_http.find_head(raw[:-2], 0) == -1
    assert fast_http.find_head(raw, len(raw) - 4) == len(raw)
    assert fast_http.find_head(raw, len(raw) - 5) == -1


def test_response_head_adds_what_cheroot_adds() -> None:
    data, chunked, keep = fast_http.response_head(
        b"200 OK", [("Content-Length", "2")], head_request=False, server_name=b"s", keep_alive=True
    )
    assert not chunked and keep
    assert data.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: ")
    assert data.endswith(b"\r\nServer: s\r\n\r\n") and b"Connection" not in data
    data, chunked, keep = fast_http.response_head(
        b"200 OK", [("Server", "x")], head_request=False, server_name=b"s", keep_alive=True
    )
    assert chunked and keep and b"Transfer-Encoding: chunked\r\n" in data
    assert b"Server: s" not in data
    _, chunked, keep = fast_http.response_head(
        b"200 OK", [], head_request=True, server_name=b"s", keep_alive=True
    )
    assert not chunked and not keep
    data, _, keep = fast_http.response_head(
        b"413 Too Large",
        [("Content-Length", "0")],
        head_request=False,
        server_name=b"s",
        keep_alive=True,
    )
    assert not keep and b"Connection: close\r\n" in data
    data, chunked, keep = fast_http.response_head(
        b"204 No Content", [], head_request=False, server_name=b"s", keep_alive=True
    )
    assert not chunked and keep


# -- the lane against the emulator --------------------------------------------------------

_DATE = re.compile(rb"\r\nDate: [^\r]*")
_RESPONSE_END = re.compile(rb"\r\n\r\n")


def _recv_response(sock: socket.socket, buf: bytearray, head_request: bool = False) -> bytes:
    """One whole response (Content-Length or chunked bodies), taken from ``buf`` + ``sock``."""

    def need(count: int) -> None:
        while len(buf) < count:
            data = sock.recv(65536)
            if not data:
                raise EOFError(bytes(buf))
            buf.extend(data)

    while (end := buf.find(b"\r\n\r\n")) < 0:
        need(len(buf) + 1)
    head = bytes(buf[: end + 4])
    del buf[: end + 4]
    match = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    if head_request or head.split(b" ", 2)[1] in (b"204", b"304"):
        return head
    if match:
        need(int(match.group(1)))
        body = bytes(buf[: int(match.group(1))])
        del buf[: int(match.group(1))]
        return head + body
    assert b"transfer-encoding: chunked" in head.lower(), head
    body = b""
    while True:
        while (line_end := buf.find(b"\r\n")) < 0:
            need(len(buf) + 1)
        size = int(bytes(buf[:line_end]), 16)
        need(line_end + 2 + size + 2)
        body += bytes(buf[line_end + 2 : line_end + 2 + size])
        del buf[: line_end + 2 + size + 2]
        if size == 0:
            return head + body


@pytest.fixture
def emulator() -> Iterator[ThreadedServer]:
    server = ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,))).start()
    assert server.emulator.journal is not None
    try:
        yield server
    finally:
        server.stop()


def _lane(server: ThreadedServer) -> type[FastReadConnection]:
    cls = server._server.ConnectionClass  # type: ignore[union-attr]
    assert issubclass(cls, FastReadConnection) and cls is not FastReadConnection
    return cls


def _exchange(server: ThreadedServer, raw: bytes, *, fast: bool, head: bool = False) -> bytes:
    _lane(server).fast_lane = fast
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        return _DATE.sub(b"\r\nDate: -", _recv_response(sock, bytearray(), head))


def _req(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} /artifactory/{path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if body or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return _head(*lines) + body


AUTH = f"Authorization: Bearer {TOKEN}"


def test_lane_answers_byte_for_byte_like_cheroot(emulator: ThreadedServer) -> None:
    put = _req("PUT", "example-repo-local/same/f.txt", AUTH, body=b"hello")
    first = _exchange(emulator, put, fast=False)
    assert first.startswith(b"HTTP/1.1 201 ")
    cases = [
        (_req("GET", "example-repo-local/same/f.txt", AUTH), False),
        (_req("HEAD", "example-repo-local/same/f.txt", AUTH), True),
        (_req("GET", "example-repo-local/same/missing.txt", AUTH), False),  # Flask 404
        (_req("GET", "example-repo-local/same/f.txt"), False),  # 401 from Flask
        (_req("GET", "api/storage/example-repo-local/same", AUTH, "Accept: */*"), False),
        (_req("GET", "api/system/ping"), False),
        (_req("GET", "example-repo-local/same/f.txt?x=1", AUTH), False),
        (_req("DELETE", "example-repo-local/nothing-here", AUTH), False),
        (_req("PUT", "no-such-repo/f.txt", AUTH, body=b"abc"), False),
    ]
    for raw, head in cases:
        slow = _exchange(emulator, raw, fast=False, head=head)
        fast = _exchange(emulator, raw, fast=True, head=head)
        assert fast == slow, raw


def test_lane_put_then_get_round_trip_on_one_connection(emulator: ThreadedServer) -> None:
    _lane(emulator).fast_lane = True
    bodies = {f"example-repo-local/rt/{i}%20x.bin": bytes([i]) * (i * 1000) for i in range(1, 6)}
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        buf = bytearray()
        # Pipelined: every PUT at once, then every GET, answered in order.
        sock.sendall(b"".join(_req("PUT", p, AUTH, body=b) for p, b in bodies.items()))
        for _ in bodies:
            assert _recv_response(sock, buf).startswith(b"HTTP/1.1 201 Created\r\n")
        sock.sendall(b"".join(_req("GET", p, AUTH) for p in bodies))
        for body in bodies.values():
            response = _recv_response(sock, buf)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n")
            assert response.endswith(b"\r\n\r\n" + body)


def test_lane_and_cheroot_alternate_on_one_connection(emulator: ThreadedServer) -> None:
    """A chunked PUT (cheroot) between plain requests (lane), all pipelined."""
    _lane(emulator).fast_lane = True
    chunked = (
        _head(
            "PUT /artifactory/example-repo-local/mix/c.txt HTTP/1.1",
            "Host: h",
            AUTH,
            "Transfer-Encoding: chunked",
        )
        + b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        buf = bytearray()
        sock.sendall(
            _req("PUT", "example-repo-local/mix/a.txt", AUTH, body=b"A")
            + chunked
            + _req("GET", "example-repo-local/mix/c.txt", AUTH)
            + _req("GET", "example-repo-local/mix/a.txt", AUTH, "Connection: close")
        )
        assert _recv_response(sock, buf).startswith(b"HTTP/1.1 201 ")
        assert _recv_response(sock, buf).startswith(b"HTTP/1.1 201 ")
        assert _recv_response(sock, buf).endswith(b"\r\n\r\nabcde")
        last = _recv_response(sock, buf)
        assert last.endswith(b"\r\n\r\nA") and b"Connection: close" in last
        assert sock.recv(10) == b""  # cheroot closed it as asked


def test_lane_drains_an_unread_body_and_keeps_the_connection(emulator: ThreadedServer) -> None:
    """A PUT refused before its body is read (404 from Flask): the body is skipped, and
    the next request on the connection is parsed where it starts."""
    _lane(emulator).fast_lane = True
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        buf = bytearray()
        sock.sendall(
            _req("PUT", "no-such-repo/f.txt", AUTH, body=b"GET / HTTP/1.1\r\n\r\n" * 100)
            + _req("GET", "api/system/ping")
        )
        assert _recv_response(sock, buf).startswith(b"HTTP/1.1 404 ")
        assert _recv_response(sock, buf).endswith(b"\r\n\r\nOK")


def test_lane_journals_requests(emulator: ThreadedServer) -> None:
    _lane(emulator).fast_lane = True
    journal = emulator.emulator.journal
    assert journal is not None
    before = len(journal.entries())
    _exchange(emulator, _req("PUT", "example-repo-local/j/x.txt", AUTH, body=b"xyz"), fast=True)
    entries = journal.entries()[before:]
    assert [(e["method"], e["status"]) for e in entries] == [("PUT", 201)]


# -- the lane's own rules, with small WSGI apps --------------------------------------------


@pytest.fixture
def app_server() -> Iterator[Any]:
    """Starts a cheroot server with the lane (or without: ``fast=False``) around ``app``."""
    servers: list[wsgi.Server] = []

    def start(app: Any, fast: bool = True) -> int:
        server = wsgi.Server(("127.0.0.1", 0), app, numthreads=2)
        server.ConnectionClass = type("Lane", (FastReadConnection,), {"fast_lane": fast})
        server.prepare()
        threading.Thread(target=server.serve, daemon=True).start()
        servers.append(server)
        return int(server.socket.getsockname()[1])

    yield start
    for server in servers:
        server.stop()


def _talk(port: int, raw: bytes, count: int = 1) -> tuple[list[bytes], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        buf = bytearray()
        answers = [_recv_response(sock, buf) for _ in range(count)]
        sock.settimeout(0.5)  # an answer that closes does so at once
        try:
            rest = bytes(buf) + sock.recv(100)
        except TimeoutError:
            rest = b"(open)"
    return answers, rest


def test_response_without_length_is_chunked_and_kept(app_server: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ab", b"", b"cde"]

    port = app_server(app)
    answers, rest = _talk(port, _head("GET /x HTTP/1.1", "Host: h") * 2, count=2)
    assert all(a.endswith(b"\r\n\r\nabcde") for a in answers)
    assert b"Transfer-Encoding: chunked" in answers[0] and rest == b"(open)"


def test_app_error_answers_500_and_closes(app_server: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    answers, rest = _talk(app_server(app), _head("GET /x HTTP/1.1", "Host: h"))
    assert answers[0].startswith(b"HTTP/1.1 500 ") and rest == b""


def _declaring(length: int, body: bytes) -> Any:
    """A WSGI app that declares ``Content-Length: length`` and sends ``body``."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", str(length))])
        return [body]

    return app


def test_body_longer_than_declared_is_cut_and_the_connection_closed(app_server: Any) -> None:
    answers, rest = _talk(app_server(_declaring(3, b"abcdef")), _head("GET /x HTTP/1.1", "Host: h"))
    assert answers[0].endswith(b"\r\n\r\nabc") and rest == b""


def test_body_shorter_than_declared_closes_the_connection(app_server: Any) -> None:
    port = app_server(_declaring(10, b"abc"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_head("GET /x HTTP/1.1", "Host: h"))
        data = b""
        while chunk := sock.recv(100):
            data += chunk
    assert data.endswith(b"\r\n\r\nabc")  # then EOF instead of a hang


def test_write_callable_and_close_are_honoured(app_server: Any) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"-tail"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Length", "9")])
        write(b"head")
        return Body()

    answers, _ = _talk(app_server(app), _head("GET /x HTTP/1.1", "Host: h"))
    assert answers[0].endswith(b"\r\n\r\nhead-tail") and closed == [True]


def test_wsgi_environ_matches_cheroot(app_server: Any) -> None:
    seen: list[dict[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        env = {k: v for k, v in environ.items() if isinstance(v, (str, bool, tuple))}
        env["body"] = environ["wsgi.input"].read()
        seen.append(env)
        start_response("204 No Content", [])
        return []

    raw = _head("PUT /a%2Fb/%41?q=%41 HTTP/1.1", "Host: h", "Content-Length: 3", "X-Y: z")
    for fast in (True, False):
        _talk(app_server(app, fast), raw + b"abc")
    fast_env, slow_env = seen
    for env in (fast_env, slow_env):
        env.pop("REMOTE_PORT")
        env.pop("SERVER_PORT")
    assert fast_env == slow_env
    assert fast_env["PATH_INFO"] == "/a%2Fb/A" and fast_env["body"] == b"abc"


# -- the parser agrees with cheroot (property) ---------------------------------------------

_TARGET_CHARS = st.sampled_from(list("abcXYZ019-._~/!$&'()*+,;=:@%?#") + ["%2F", "%2f", "%41"])
_NAMES = st.sampled_from(
    [
        "Host",
        "Content-Length",
        "Content-Type",
        "X-A",
        "x-a",
        "X_A",
        "Connection",
        "Accept",
        "Transfer-Encoding",
        "Expect",
        "Bad Name",
        "Authorization",
    ]
)
_VALUES = st.one_of(
    st.text(st.sampled_from(list("abc 019,;=-\t\x0b\x0c\xa0\x85\r\n\xe9")), max_size=12),
    st.sampled_from(["keep-alive", "Keep-Alive", "close", "chunked", "100-continue"]),
)


def _cheroot_environ(raw: bytes) -> dict[str, Any] | None:
    """What cheroot's own parser and WSGI gateway make of ``raw`` (None: refused)."""
    server = wsgi.Server(("127.0.0.1", 0), lambda e, s: [])
    conn = types.SimpleNamespace(
        rfile=io.BufferedReader(io.BytesIO(raw)),  # type: ignore[arg-type]
        wfile=io.BytesIO(),
        remote_addr="127.0.0.1",
        remote_port=1,
        ssl_env={},
    )
    req = cheroot_server.HTTPRequest(server, conn)
    req.parse_request()
    if not req.ready or conn.wfile.getvalue():
        return None
    env = wsgi.Gateway_10(req).get_environ()
    return {k: v for k, v in env.items() if k in _REQUEST_KEYS or k.startswith("HTTP_")}


#: The request-specific environ keys (the lane adds the server and ``wsgi.*`` ones).
_REQUEST_KEYS = {
    "REQUEST_METHOD",
    "REQUEST_URI",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_PROTOCOL",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
}


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "get"]),
    target=st.lists(_TARGET_CHARS, max_size=12).map(lambda c: "/" + "".join(c)),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=5),
    length=st.one_of(st.none(), st.integers(0, 5).map(str), st.sampled_from(["x", "-1", " 3"])),
)
def test_every_head_the_lane_takes_cheroot_reads_the_same(
    method: str, target: str, headers: list[tuple[str, str]], length: str | None
) -> None:
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in headers)]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    raw = _head(*lines)
    head = fast_http.parse_head(raw)
    if head is None:
        return  # cheroot reads it, as before
    expected = _cheroot_environ(raw + b"x" * head.content_length)
    assert expected is not None, raw
    assert head.environ == expected, raw


def test_head_keeps_the_connection(emulator: ThreadedServer) -> None:
    _lane(emulator).fast_lane = True
    _exchange(emulator, _req("PUT", "example-repo-local/h/x.txt", AUTH, body=b"12345"), fast=True)
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        buf = bytearray()
        sock.sendall(
            _req("HEAD", "example-repo-local/h/x.txt", AUTH)
            + _req("GET", "example-repo-local/h/x.txt", AUTH)
        )
        head = _recv_response(sock, buf, head_request=True)
        assert head.startswith(b"HTTP/1.1 200 ") and b"Content-Length: 5\r\n" in head
        assert _recv_response(sock, buf).endswith(b"\r\n\r\n12345")


def test_a_head_split_across_packets_is_read_by_cheroot(emulator: ThreadedServer) -> None:
    """Half a head in the first read: the lane leaves it, cheroot waits for the rest."""
    _lane(emulator).fast_lane = True
    raw = _req("GET", "api/system/ping")
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        for _ in range(2):  # the second time on a kept-alive connection
            sock.sendall(raw[:20])
            time.sleep(0.2)
            sock.sendall(raw[20:])
            assert _recv_response(sock, buf).endswith(b"\r\n\r\nOK")
