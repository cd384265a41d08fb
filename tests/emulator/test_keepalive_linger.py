"""A worker keeps a kept-alive connection for ``LINGER_S`` after each response.
The next request of a busy client is then served on the same worker thread instead of a
round trip through cheroot's selector thread.  These tests look at where the connection
is between requests (cheroot's selector holds the idle ones: a private attribute, read
only here), with a linger long or short enough that no timing can make them flaky.
The linger must not starve connections queued for a worker, apply to TLS or to a closing
request, or reorder pipelined requests.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from fake_artifactory import server as server_module
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

PING = "/artifactory/api/system/ping"
#: Requests a busy client sends at most; far more than a fair server needs.
BUSY_MAX = 1000


def _selector_size(server: ThreadedServer) -> int:
    """Sockets cheroot's selector waits on: the listening one plus idle connections."""
    return len(server._server._connections._selector)  # type: ignore[union-attr]


def _connect(server: ThreadedServer) -> http.client.HTTPConnection:
    parts = urlsplit(server.root_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def _ping(conn: http.client.HTTPConnection) -> None:
    conn.request("GET", PING)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b"OK"


@pytest.fixture
def started(monkeypatch):
    def _start(linger: float, **config) -> ThreadedServer:
        monkeypatch.setattr(server_module, "LINGER_S", linger)
        server = ThreadedServer(EmulatorConfig(port=0, **config)).start()
        servers.append(server)
        return server

    servers: list[ThreadedServer] = []
    yield _start
    for server in servers:
        server.stop()


def _wait_for_size(server: ThreadedServer, size: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _selector_size(server) == size:
            return True
        time.sleep(0.01)
    return False


def test_a_busy_connection_stays_with_its_worker(started) -> None:
    server = started(linger=30.0)
    conn = _connect(server)
    try:
        _ping(conn)
        time.sleep(0.2)
        assert _selector_size(server) == 1  # only the listening socket: the worker has it
        _ping(conn)  # served by the lingering worker
        _ping(conn)
    finally:
        conn.close()


def test_a_quiet_connection_goes_back_to_the_selector(started) -> None:
    server = started(linger=0.001)
    conn = _connect(server)
    try:
        _ping(conn)
        assert _wait_for_size(server, 2)  # listening socket + this idle connection
        _ping(conn)
    finally:
        conn.close()


def test_a_client_closing_while_lingered_frees_the_worker(started) -> None:
    server = started(linger=30.0, threads=1)
    first = _connect(server)
    _ping(first)
    first.close()  # EOF wakes the lingering worker, which drops the connection
    second = _connect(server)
    try:
        _ping(second)  # the only worker thread is free again
    finally:
        second.close()


def test_more_busy_connections_than_workers_all_progress(started) -> None:
    server = started(linger=0.003, threads=2)
    conns = [_connect(server) for _ in range(6)]
    try:
        for _ in range(5):
            for conn in conns:
                _ping(conn)
    finally:
        for conn in conns:
            conn.close()


def test_stop_is_prompt_with_a_lingering_connection(monkeypatch) -> None:
    monkeypatch.setattr(server_module, "LINGER_S", 0.5)
    server = ThreadedServer(EmulatorConfig(port=0)).start()
    conn = _connect(server)
    _ping(conn)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(timeout=20)
    conn.close()
    assert not stopper.is_alive()


@pytest.mark.parametrize("threads", [1, 2])
def test_busy_clients_do_not_starve_a_queued_one(started, threads: int) -> None:
    server = started(linger=30.0, threads=threads)
    busy = [_connect(server) for _ in range(threads)]
    for conn in busy:
        _ping(conn)  # every worker now lingers on a busy connection
    waiting_done = threading.Event()
    sent: list[int] = []

    def hammer(conn: http.client.HTTPConnection) -> None:
        count = 0
        while count < BUSY_MAX and not waiting_done.is_set():
            _ping(conn)
            count += 1
        sent.append(count)
        conn.close()  # a worker lingering on it is free again (a failure stays quick)

    hammers = [threading.Thread(target=hammer, args=(conn,)) for conn in busy]
    for thread in hammers:
        thread.start()
    waiting = _connect(server)
    try:
        _ping(waiting)
        waiting_done.set()
    finally:
        waiting.close()  # (a worker lingering on it must not hold up the busy clients)
        for thread in hammers:
            thread.join(timeout=60)
        for conn in busy:
            conn.close()
    # Served while the busy clients were still sending, not after they gave up.
    assert all(count < BUSY_MAX for count in sent), sent


def test_a_pipelined_burst_is_served_in_order(started) -> None:
    server = started(linger=0.003, threads=1)
    parts = urlsplit(server.root_url)
    request = f"GET {PING} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n\r\n".encode()
    last = f"GET {PING} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request * 20 + last)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 21
    assert received.endswith(b"OK")


def test_a_tls_connection_never_lingers(started, tmp_path) -> None:
    """A TLS socket may hold decrypted bytes ``poll`` cannot see: straight back to the
    selector after each response, even with a long linger."""
    import requests

    ca = tmp_path / "ca.pem"
    server = started(linger=30.0, tls_self_signed_ca=ca)
    with requests.Session() as session:
        for _ in range(3):
            resp = session.get(f"{server.url}/api/system/ping", verify=str(ca), timeout=30)
            assert resp.status_code == 200 and resp.text == "OK"
            # listening socket + this kept-alive connection, idle in the selector
            assert _wait_for_size(server, 2)


@pytest.mark.parametrize(
    "request_head",
    [
        b"GET /artifactory/api/system/ping HTTP/1.0\r\n\r\n",
        b"GET /artifactory/api/system/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ],
    ids=["http-1.0", "connection-close"],
)
def test_a_closing_request_is_not_lingered_on(started, request_head: bytes) -> None:
    """The response ends with EOF at once (a long linger would hold the socket open),
    and the only worker is then free for the next client."""
    server = started(linger=30.0, threads=1)
    parts = urlsplit(server.root_url)
    for _ in range(2):
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(request_head)
            received = b""
            while chunk := sock.recv(65536):  # a TimeoutError here: the server lingered
                received += chunk
        assert received.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")) and received.endswith(b"OK")
