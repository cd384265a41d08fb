"""A worker keeps a kept-alive connection for ``LINGER_S`` after each response.

The next request of a busy client is then served on the same worker thread instead of a
round trip through cheroot's selector thread.  These tests look at where the connection
is between requests (cheroot's selector holds the idle ones: a private attribute, read
only here), with a linger long or short enough that no timing can make them flaky.
"""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

import pytest

from fake_artifactory import server as server_module
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

PING = "/artifactory/api/system/ping"


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
