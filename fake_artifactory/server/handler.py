"""What the emulator changes in gevent's WSGI server (``gevent.pywsgi``, 26.x).

gevent reads requests strictly already (a malformed chunk size, a body cut short and a
bad chunk terminator are errors, not a shorter artifact) and adds no ``Server`` header,
like Artifactory 7.x. What :class:`EmulatorHandler` adds:

* the raw request target in ``environ["REQUEST_URI"]`` (gevent gives only the decoded
  ``PATH_INFO``; Artifactory's path rules need the percent-encoded form) and the handler
  itself in ``environ[CONN_ENVIRON_KEY]``, which fault injection needs to reset or cut
  the connection;
* ``TCP_NODELAY`` and the socket timeout (``--socket-timeout``) on every connection
  (without ``TCP_NODELAY`` a kept-alive client waits for a delayed ACK on every request);
* ``100 Continue`` as soon as the head of a request that expects it has been read, as
  Tomcat does by default (gevent waits until the application reads the body, so a
  refused request's body would never come and could not be skipped);
* one limit on the whole request head (``--max-header-bytes``, request line and headers,
  like Tomcat's), where gevent limits the request line only, to 8 KiB;
* an unread request body is read and dropped *before* the response head is sent, up to
  :data:`UNREAD_BODY_DRAIN_LIMIT` (Tomcat swallows up to 2 MiB); beyond it, or when the
  body is broken, the response says ``Connection: close`` and the connection ends.
  gevent reads the whole rest after the response, however large, and says nothing.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from gevent import pywsgi

from fake_artifactory.core.faults import CONN_ENVIRON_KEY

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

#: How much of a request body the application left unread is read and dropped before
#: the connection is kept alive.
UNREAD_BODY_DRAIN_LIMIT = 2 * 1024 * 1024


def allow_request_lines_up_to(limit: int) -> None:
    """Let gevent accept request lines up to ``limit`` bytes.

    gevent answers 414 to a request line of 8 KiB or more (a module constant); the
    emulator applies its own limit to the whole head instead (see
    :meth:`EmulatorHandler.read_request`). Raising the constant also lets chunk
    extensions and trailer lines be that long, which the head limit bounds anyway.
    """
    pywsgi.MAX_REQUEST_LINE = max(pywsgi.MAX_REQUEST_LINE, limit + 1)


class DrainingInput(pywsgi.Input):  # type: ignore[misc]  # gevent ships no types
    """gevent's request body reader, drained by :meth:`drain` before the response head
    rather than after the response."""

    def drain(self, limit: int = UNREAD_BODY_DRAIN_LIMIT) -> bool:
        """Read and drop the unread rest of the body; False when the connection must
        close (more than ``limit`` bytes left, a broken body, a peer gone)."""
        if self._chunked_input_error:
            return False
        unread = (
            self.chunk_length != 0
            if self.chunked_input
            else self.position < (self.content_length or 0)
        )
        if not unread:
            return True
        drained = 0
        try:
            while data := self.read(65536):
                drained += len(data)
                if drained > limit:
                    return False
        except Exception:  # noqa: BLE001 - any failure to read the rest means: close
            return False
        return True

    def _discard(self) -> None:
        """Nothing: :meth:`EmulatorHandler.finalize_headers` drained the body already."""


class EmulatorHandler(pywsgi.WSGIHandler):  # type: ignore[misc]  # gevent ships no types
    """gevent's per-connection handler with the emulator's changes (module docstring).

    Its server carries ``socket_timeout`` and ``head_limit`` (see
    :class:`~fake_artifactory.server.background.BackgroundServer`).
    """

    wsgi_input: Any
    close_connection: bool

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # not a TCP socket (a test's socketpair)
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.settimeout(self.server.socket_timeout)
        super().handle()

    def read_requestline(self) -> str:
        line: bytes = self.rfile.readline(self.server.head_limit + 1)
        return line.decode("latin-1")

    def read_request(self, raw_requestline: str) -> Any:
        result = super().read_request(raw_requestline)
        head = len(raw_requestline) + sum(len(line) for line in self.headers.headers)
        if head > self.server.head_limit:
            raise ValueError(f"request head larger than {self.server.head_limit} bytes")
        return result

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        env["REQUEST_URI"] = self.path
        env[CONN_ENVIRON_KEY] = self
        stock = self.wsgi_input
        if stock.socket is not None and self.request_version != "HTTP/1.0":
            self.socket.sendall(_CONTINUE)  # the request said "Expect: 100-continue"
        draining = DrainingInput(
            stock.rfile, stock.content_length, socket=None, chunked_input=stock.chunked_input
        )
        self.wsgi_input = draining
        if env.get("wsgi.input") is stock:
            env["wsgi.input"] = draining
        return env

    def finalize_headers(self) -> None:
        if not self.close_connection and not self.wsgi_input.drain():
            self.close_connection = True
        if self.close_connection and self.request_version != "HTTP/1.0":
            if not any(name.lower() == b"connection" for name, _ in self.response_headers):
                self.response_headers.append((b"Connection", b"close"))
        super().finalize_headers()
