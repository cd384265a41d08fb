"""What the emulator changes in cheroot (11.x): correctness fixes only.

* :class:`StrictChunkedRFile`: a chunked request body is read strictly; cheroot's own
  reader would store a truncated artifact for a negative chunk size or a body cut short
  before its last chunk.
* :class:`DrainingRequest`: the unread rest of a chunked body is read (or the
  connection closed) before the connection is kept alive; cheroot does so only for a
  ``Content-Length`` body, so a PUT refused before its body was read (401, 403, 404)
  left chunks on the socket, to be parsed as the next request.
* :class:`ConnectionExposingGateway`: the WSGI environ carries the server connection
  (``environ[CONN_ENVIRON_KEY]``), which fault injection needs to reset or cut it.
* cheroot adds a ``Server`` header to every answer that has none; Artifactory 7.x sends
  none, so the application alone decides (:class:`DrainingRequest` drops cheroot's).
"""

from __future__ import annotations

from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi

from fake_artifactory.core.faults import CONN_ENVIRON_KEY

_HEX = frozenset(b"0123456789abcdefABCDEF")

#: How much of a chunked request body the application left unread is read and dropped
#: before the connection is kept alive (Tomcat, under Artifactory, swallows up to 2 MiB).
UNREAD_BODY_DRAIN_LIMIT = 2 * 1024 * 1024


class StrictChunkedRFile(cheroot_server.ChunkedRFile):
    """Chunked-body reader that rejects what cheroot's tolerates.

    cheroot treats a negative chunk size as the end of the body and does not notice a
    body cut short before the last chunk; both would store a truncated artifact.  This
    reader raises ValueError instead (the deploy view answers 400 and stores nothing).
    """

    def _fetch(self) -> None:
        if self.closed:
            return
        line = self.rfile.readline()
        self.bytes_read += len(line)
        if not line.endswith(b"\n"):
            raise ValueError("chunked body ended inside a chunk-size line")
        size_text = line.strip().split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 15 or not set(size_text) <= _HEX:
            raise ValueError(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            while True:  # optional trailers, then the blank line
                trailer = self.rfile.readline()
                if not trailer:
                    raise ValueError("chunked body ended before its final blank line")
                if trailer in (b"\r\n", b"\n"):
                    break
            self.closed = True
            return
        if self.maxlen and self.bytes_read + size > self.maxlen:
            raise OSError("Request Entity Too Large")
        chunk = self.rfile.read(size)
        self.bytes_read += len(chunk)
        if len(chunk) != size or self.rfile.read(2) != b"\r\n":
            raise ValueError("chunked body ended inside a chunk")
        self.buffer += chunk


def drain_chunked_body(rfile: Any, limit: int = UNREAD_BODY_DRAIN_LIMIT) -> bool:
    """Read and drop what is left of a chunked body; False when the connection must close.

    False when more than ``limit`` bytes remain, the coding is broken or the peer is gone.
    """
    drained = 0
    try:
        while not (rfile.closed and not rfile.buffer):
            if drained > limit:
                return False
            data = rfile.read(65536)
            if not data:
                break
            drained += len(data)
    except Exception:  # noqa: BLE001 - any failure to read the rest means: close
        return False
    return bool(rfile.closed)


class _ServerLineDropper:
    """The connection's writer while cheroot sends a response head: the ``Server`` line
    cheroot adds itself (its own server name) is left out of the head."""

    def __init__(self, wfile: Any, server_name: str) -> None:
        self._wfile = wfile
        self._line = b"\r\nServer: " + server_name.encode("latin-1") + b"\r\n"

    def write(self, data: bytes) -> Any:
        return self._wfile.write(data.replace(self._line, b"\r\n", 1))


class DrainingRequest(cheroot_server.HTTPRequest):
    """cheroot's request, safe to keep alive after a chunked body the app did not read,
    whose response head carries no ``Server`` header unless the application set one."""

    def send_headers(self) -> None:
        if self.chunked_read and not self.close_connection:
            self.close_connection = not drain_chunked_body(self.rfile)
        # cheroot writes the whole head in one call, appending its own ``Server`` header
        # when the application sent none; an application ``Server`` header (6.x) has
        # another value and passes.
        wfile = self.conn.wfile
        self.conn.wfile = _ServerLineDropper(wfile, self.server.server_name)
        try:
            super().send_headers()
        finally:
            self.conn.wfile = wfile


class DrainingConnection(cheroot_server.HTTPConnection):
    """cheroot's connection, with :class:`DrainingRequest` as its request class."""

    RequestHandlerClass = DrainingRequest


class ConnectionExposingGateway(wsgi.Gateway_10):
    """WSGI 1.0 gateway that puts the connection into the environ and reads chunked
    bodies with :class:`StrictChunkedRFile`."""

    def __init__(self, req: Any) -> None:
        super().__init__(req)
        self.env[CONN_ENVIRON_KEY] = req.conn
        if req.chunked_read:
            strict = StrictChunkedRFile(req.conn.rfile, req.server.max_request_body_size)
            req.rfile = strict
            self.env["wsgi.input"] = strict


def install(server: wsgi.Server) -> None:
    """Apply the fixes to a cheroot WSGI server (before it serves)."""
    server.gateway = ConnectionExposingGateway
    server.ConnectionClass = DrainingConnection
