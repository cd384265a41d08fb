"""Serve the emulator with cheroot, a production-grade thread-pooled WSGI server.

:class:`ThreadedServer` runs it in a background thread for tests (port 0 picks a
free port); the CLI uses the same class in the foreground.  A custom cheroot gateway
exposes the connection object as ``environ["fake_artifactory.conn"]`` so fault
injection can reset or truncate a connection.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from flask import Flask

from fake_artifactory.app import Emulator, create_app, get_emulator
from fake_artifactory.config import ConfigurationError, EmulatorConfig

log = logging.getLogger(__name__)

CONN_ENVIRON_KEY = "fake_artifactory.conn"


class ConnectionExposingGateway(wsgi.Gateway_10):
    """WSGI 1.0 gateway that also puts the cheroot connection into the environ."""

    def __init__(self, req: Any) -> None:
        super().__init__(req)
        self.env[CONN_ENVIRON_KEY] = req.conn
        if req.chunked_read:
            strict = StrictChunkedRFile(req.conn.rfile, req.server.max_request_body_size)
            req.rfile = strict
            self.env["wsgi.input"] = strict

    def write(self, chunk: bytes) -> None:
        """Send the status line and headers together with the first body chunk.

        cheroot writes (and flushes) the headers on their own, then the body: two
        socket writes per small response.  Capturing the header bytes and sending them
        with the first chunk halves the system calls and packets of small responses.
        """
        req = self.req
        if req.sent_headers or not chunk or not self.started_response:
            super().write(chunk)
            return
        rbo = self.remaining_bytes_out
        if rbo is not None and len(chunk) > rbo:
            super().write(chunk)  # cheroot's own error path
            return
        conn = req.conn
        real = conn.wfile
        capture = _Capture()
        conn.wfile = capture
        try:
            req.ensure_headers_sent()
            req.write(chunk)
        finally:
            conn.wfile = real
        real.write(capture.getvalue())


class _Capture:
    """Stands in for a connection's ``wfile`` while headers and a first chunk are built."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


_HEX = frozenset(b"0123456789abcdefABCDEF")


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


def _log_server_error(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's error hook, routed to logging instead of raw stderr writes."""
    log.log(level, "cheroot: %s", msg, exc_info=traceback)


class ThreadedServer:
    """The emulator on a cheroot server in a background thread.

    Usage::

        with ThreadedServer(EmulatorConfig(port=0)) as server:
            requests.get(server.url + "/api/system/ping")
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig(port=0)
        self.app: Flask = create_app(self.config)
        self.emulator: Emulator = get_emulator(self.app)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._scheme = "http"
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        """``scheme://host:port`` (no context path)."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self._scheme}://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL including the context path, e.g. ``http://127.0.0.1:40123/artifactory``."""
        return self.root_url + self.config.context_path.rstrip("/")

    def _ssl_adapter(self) -> Any:
        cert, key = self.config.tls_cert, self.config.tls_key
        if self.config.tls_self_signed_ca is not None:
            try:
                tls = importlib.import_module("fake_artifactory.tls")
            except ImportError as exc:
                raise ConfigurationError(
                    "self-signed TLS needs the fake_artifactory.tls module"
                ) from exc
            self._tls_dir = tempfile.TemporaryDirectory(prefix="fake-artifactory-tls-")
            cert, key = tls.make_self_signed(
                self.config.tls_self_signed_ca, Path(self._tls_dir.name)
            )
        if cert is None or key is None:
            return None
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        return BuiltinSSLAdapter(str(cert), str(key))

    def start(self) -> ThreadedServer:
        """Bind (port 0 = free port), start serving, return once listening."""
        if self._server is not None:
            return self
        server = wsgi.Server(
            (self.config.host, self.config.port),
            self.app,
            numthreads=max(self.config.threads, 1),
            server_name="fake-artifactory",
            request_queue_size=64,
            timeout=self.config.socket_timeout,
            shutdown_timeout=2,
        )
        server.gateway = ConnectionExposingGateway
        server.error_log = _log_server_error  # type: ignore[method-assign]
        server.max_request_header_size = self.config.max_header_bytes
        # cheroot closes idle keep-alive connections beyond 10 by default, which makes a
        # client with a 32-connection pool reconnect hundreds of times per tree transfer.
        server.keep_alive_conn_limit = 1024
        adapter = self._ssl_adapter()
        if adapter is not None:
            server.ssl_adapter = adapter
            self._scheme = "https"
        server.prepare()  # binds and listens before we report the port
        self.port = int(server.socket.getsockname()[1])
        self._server = server
        self._thread = threading.Thread(target=self._serve, name="fake-artifactory", daemon=True)
        self._thread.start()
        log.info("fake_artifactory listening on %s", self.url)
        return self

    def _serve(self) -> None:
        try:
            self._server.serve()
        except Exception:
            log.exception("fake_artifactory server loop failed")

    def stop(self) -> None:
        """Stop serving and release the store (an ephemeral data dir is removed)."""
        if self._server is not None:
            self._server.stop()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
            self._thread = None
        self.emulator.close()
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir = None

    def serve_forever(self, stop_event: threading.Event) -> None:
        """Start, block until ``stop_event`` is set, then stop."""
        self.start()
        try:
            stop_event.wait()
        finally:
            self.stop()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
