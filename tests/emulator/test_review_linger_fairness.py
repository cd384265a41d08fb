"""Review of the keep-alive linger: a lingering worker must not starve queued clients.

``LINGER_S`` promises at most that much delay for a request waiting for a free worker
thread.  A client that sends its next request as soon as it has read a response keeps
its worker busy forever unless the worker hands the connection back when another
connection is queued for a worker.  The linger is made long here so that no timing can
hide the problem: only the order of events matters.
"""

from __future__ import annotations

import http.client
import socket
import threading
from urllib.parse import urlsplit

import pytest

from fake_artifactory import server as server_module
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

PING = "/artifactory/api/system/ping"
#: Requests the busy client sends at most; far more than a fair server needs.
BUSY_MAX = 1000


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


def _connect(server: ThreadedServer) -> http.client.HTTPConnection:
    parts = urlsplit(server.root_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _ping(conn: http.client.HTTPConnection) -> None:
    conn.request("GET", PING)
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == b"OK"


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


def _wait_for_size(server: ThreadedServer, size: int) -> bool:
    selector = server._server._connections._selector
    for _ in range(500):
        if len(selector) == size:
            return True
        threading.Event().wait(0.01)
    return False


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
