"""Serve the emulator with cheroot, a production-grade thread-pooled WSGI server.

:class:`ThreadedServer` runs it in a background thread for tests (port 0 picks a
free port); the CLI uses the same class in the foreground.  A custom cheroot gateway
exposes the connection object as ``environ["fake_artifactory.conn"]`` so fault
injection can reset or truncate a connection.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import select
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from cheroot import errors as cheroot_errors
from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.makefile import MakeFile
from flask import Flask

from fake_artifactory import fast_http
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


class SocketReader:
    """The read side of a plain TCP connection, for cheroot, in fewer Python steps.

    cheroot reads requests through the pure-Python ``_pyio.BufferedReader``, whose
    ``readline`` costs several microseconds per header line; this reader keeps one
    ``bytearray`` and finds line ends with ``bytearray.find``.  It offers what cheroot
    and the body readers use: ``readline``, ``read``, ``has_data``, ``bytes_read``,
    ``closed``, ``close`` and line iteration, with the blocking semantics of a buffered
    reader (``read(n)`` returns ``n`` bytes unless the peer closed; socket timeouts and
    errors propagate unchanged).
    """

    def __init__(self, sock: socket.socket, bufsize: int = 65536) -> None:
        self._sock = sock
        self._recv_size = max(bufsize, 65536)
        self._buf = bytearray()
        self.bytes_read = 0
        self.closed = False

    def has_data(self) -> bool:
        """True when bytes already received wait to be read (a pipelined request)."""
        return bool(self._buf)

    def fill(self) -> bool:
        """Receive once more into the buffer; False at EOF."""
        data = self._sock.recv(self._recv_size)
        if not data:
            return False
        self._buf += data
        return True

    def head_size(self, limit: int) -> int:
        """:func:`fast_http.find_head` on the received bytes (no copy of the buffer)."""
        return fast_http.find_head(self._buf, limit)

    def peek(self, size: int) -> bytes:
        """The first ``size`` received bytes, without consuming them."""
        return bytes(self._buf[:size])

    def skip(self, count: int) -> None:
        """Consume ``count`` received bytes."""
        del self._buf[:count]
        self.bytes_read += count

    def _take(self, count: int) -> bytes:
        data = bytes(self._buf[:count])
        del self._buf[:count]
        self.bytes_read += count
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """One line including its ``\\n`` (at most ``size`` bytes; partial at EOF)."""
        buf = self._buf
        start = 0
        while True:
            end = len(buf) if size is None or size < 0 else min(len(buf), size)
            found = buf.find(b"\n", start, end)
            if found >= 0:
                return self._take(found + 1)
            if size is not None and 0 <= size <= len(buf):
                return self._take(size)
            start = len(buf)
            if not self.fill():
                return self._take(len(buf))

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes (fewer only at EOF); everything up to EOF without a size."""
        if size is None or size < 0:
            while self.fill():
                pass
            return self._take(len(self._buf))
        have = len(self._buf)
        if have >= size:
            return self._take(size)
        # Receive the rest straight into the result (large bodies: one copy less).
        out = bytearray(size)
        out[:have] = self._buf
        self._buf.clear()
        view = memoryview(out)
        got = have
        while got < size:
            received = self._sock.recv_into(view[got:], size - got)
            if not received:
                break
            got += received
        view.release()
        self.bytes_read += got
        return bytes(out) if got == size else bytes(out[:got])

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self) -> None:
        self.closed = True
        self._buf.clear()


#: How much of a chunked request body the application left unread is read and dropped
#: before the connection is kept alive (Tomcat, under Artifactory, swallows up to 2 MiB).
UNREAD_BODY_DRAIN_LIMIT = 2 * 1024 * 1024


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


class DrainingRequest(cheroot_server.HTTPRequest):
    """cheroot's request, safe to keep alive after a chunked body the app did not read.

    cheroot reads the unread rest of a ``Content-Length`` body before keeping the
    connection, but not of a chunked one: a PUT refused before its body was read (401,
    403, 404) left the chunks on the socket, to be parsed as the next request.
    """

    def send_headers(self) -> None:
        if self.chunked_read and not self.close_connection:
            self.close_connection = not drain_chunked_body(self.rfile)
        super().send_headers()


class FastReadConnection(cheroot_server.HTTPConnection):
    """cheroot's connection with :class:`SocketReader` on plain (non-TLS) sockets."""

    RequestHandlerClass = DrainingRequest
    #: Serve plain requests on the fast lane (:meth:`_serve_fast`); read per request.
    fast_lane: ClassVar[bool] = True

    def __init__(self, server: Any, sock: Any, makefile: Any = MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self._reader: SocketReader | None = None
        if makefile is MakeFile and isinstance(sock, socket.socket):
            self.rfile = self._reader = SocketReader(sock, self.rbufsize)

    def communicate(self) -> bool:
        """Serve one request, then the next ones that arrive within :data:`LINGER_S`.

        cheroot hands a kept-alive connection back to its selector thread after every
        response, and the next request then costs a hop to that thread and back to a
        worker (two wake-ups and several GIL hand-offs).  A client that sends its next
        request at once (a load test, a transfer pool) is served on this thread instead;
        a quiet connection goes back to the selector after a few milliseconds.  Plain
        TCP only (a TLS socket may hold decrypted bytes that ``poll`` cannot see).
        Never while another connection waits for a worker: a client that sends at once
        would otherwise keep its worker for as long as it keeps sending.
        """
        while True:
            keep = self._serve_fast() if self._reader is not None and self.fast_lane else None
            if keep is None:
                keep = bool(super().communicate())  # type: ignore[no-untyped-call]
            if not keep or self._reader is None or not self.server.ready:
                return keep
            if _others_queued(self.server):
                return True  # back of the line (queued at once if it has a request)
            if not self._reader.has_data() and not _readable(self.socket, LINGER_S):
                return True

    # -- the fast lane -------------------------------------------------------------------

    def _serve_fast(self) -> bool | None:
        """Serve one plain request without cheroot's request machinery.

        None when the request is not one :func:`fast_http.parse_head` accepts (or its
        head has not fully arrived in one read): nothing is consumed and cheroot reads
        it.  Otherwise the request is answered like cheroot's ``HTTPRequest`` and
        ``Gateway_10`` would, and the result says whether to keep the connection.
        """
        reader = self._reader
        assert reader is not None
        limit = int(self.server.max_request_header_size or 0)
        if not reader.has_data():
            try:
                if not reader.fill():
                    return False  # closed between requests: cheroot closes quietly too
            except TimeoutError:
                return None  # let cheroot answer (408) or wait as it does
            except OSError:
                return False
        size = reader.head_size(limit)
        if size < 0:
            return None
        head = fast_http.parse_head(reader.peek(size))
        if head is None:
            return None
        mrbs = self.server.max_request_body_size
        if mrbs and head.content_length > mrbs:
            return None  # cheroot's 413
        reader.skip(size)
        return _FastExchange(self, head).run()


class _FastExchange:
    """One request and response on the fast lane of a :class:`FastReadConnection`."""

    __slots__ = ("body", "chunked", "conn", "head", "headers", "keep", "left", "sent", "status")

    def __init__(self, conn: FastReadConnection, head: fast_http.RequestHead) -> None:
        self.conn = conn
        self.head = head
        self.body = cheroot_server.KnownLengthRFile(conn.rfile, head.content_length)
        self.status: bytes | None = None
        self.headers: list[tuple[str, str]] = []
        self.sent = False
        self.chunked = False
        self.keep = True
        self.left: int | None = None  # declared response bytes not yet written

    def environ(self) -> dict[str, Any]:
        conn, server = self.conn, self.conn.server
        env = {
            "ACTUAL_SERVER_PROTOCOL": server.protocol,
            "REMOTE_ADDR": conn.remote_addr or "",
            "REMOTE_PORT": str(conn.remote_port or ""),
            "SCRIPT_NAME": "",
            "SERVER_NAME": server.server_name,
            "SERVER_PORT": str(server.bind_addr[1]),
            "SERVER_SOFTWARE": server.software,
            "wsgi.errors": sys.stderr,
            "wsgi.input": self.body,
            "wsgi.input_terminated": False,
            "wsgi.multiprocess": False,
            "wsgi.multithread": True,
            "wsgi.run_once": False,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            CONN_ENVIRON_KEY: conn,
        }
        env.update(self.head.environ)
        return env

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if self.status is not None and not exc_info:
            raise RuntimeError("WSGI start_response called a second time with no exc_info.")
        if self.sent and exc_info:
            raise exc_info[1]
        self.status = status.encode("latin-1")
        self.headers = list(headers)
        for name, value in self.headers:
            if name.lower() == "content-length":
                self.left = int(value)
        return self.write

    def write(self, chunk: bytes) -> None:
        """Send ``chunk`` (the status line and headers first, in the same system call)."""
        if self.status is None:
            raise RuntimeError("WSGI write called before start_response.")
        if self.left is not None:
            if len(chunk) > self.left:
                chunk = chunk[: self.left]
                self.keep = False
                log.error("response body exceeds its declared Content-Length; cut")
            self.left -= len(chunk)
        head = b"" if self.sent else self._head()  # decides on chunked coding
        if self.chunked and chunk:
            chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
        if head or chunk:
            self.conn.socket.sendall(head + chunk)

    def _head(self) -> bytes:
        assert self.status is not None
        self.sent = True
        conn = self.conn
        keep = self.keep and bool(conn.server.can_add_keepalive_connection)
        data, self.chunked, self.keep = fast_http.response_head(
            self.status,
            self.headers,
            head_request=self.head.method == "HEAD",
            server_name=conn.server.server_name.encode("latin-1"),
            keep_alive=keep,
        )
        if not fast_http.body_follows(
            int(self.status[:3]), head_request=self.head.method == "HEAD"
        ):
            self.left = None  # no body follows, whatever the headers declare
        if self.keep and self.body.remaining > 0:
            self.body.read(self.body.remaining)  # unread request body (as cheroot does)
        return data

    def run(self) -> bool:
        """Call the application and send its answer; True to keep the connection."""
        conn = self.conn
        try:
            response = conn.server.wsgi_app(self.environ(), self.start_response)
            try:
                for chunk in response:
                    if chunk:
                        self.write(chunk)
                if not self.sent:
                    self.write(b"")
                if self.chunked:
                    conn.socket.sendall(b"0\r\n\r\n")
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()
        except OSError as exc:
            if exc.errno not in cheroot_errors.socket_errors_to_ignore:
                conn.server.error_log(f"socket.error {exc.errno!r}", logging.WARNING, True)
                self._error_answer()
            return False
        except Exception as exc:  # noqa: BLE001 - as cheroot: log, 500 if possible, close
            conn.server.error_log(repr(exc), logging.ERROR, True)
            self._error_answer()
            return False
        # A body shorter than its declared length leaves the client waiting: close.
        return self.keep and not self.left

    def _error_answer(self) -> None:
        if self.sent:
            return
        self.sent = True
        with contextlib.suppress(OSError):
            self.conn.socket.sendall(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                b"Content-Type: text/plain\r\nConnection: close\r\n\r\n"
            )


def _others_queued(server: Any) -> bool:
    """True when connections wait in cheroot's queue for a free worker thread."""
    try:
        return int(server.requests.qsize) > 0
    except (AttributeError, TypeError):  # not a cheroot thread pool: do not linger
        return True


#: How long a worker keeps a kept-alive plain-TCP connection after a response, waiting
#: for the next request, before handing it back to cheroot's selector.  15 % more small
#: PUTs per second with 8 busy clients (2 cores).  A request queued for a free worker
#: waits at most this much plus one request of each lingering connection.
LINGER_S = 0.003


def _readable(sock: socket.socket, timeout: float) -> bool:
    """True when ``sock`` has bytes (or EOF) to read within ``timeout`` seconds."""
    poller = select.poll()
    try:
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    except (OSError, ValueError):  # closed meanwhile: let cheroot find out
        return True


def _log_server_error(msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
    """cheroot's error hook, routed to logging instead of raw stderr writes."""
    log.log(level, "cheroot: %s", msg, exc_info=traceback)


def root_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, an IPv6 host in brackets."""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class ThreadedServer:
    """The emulator on a cheroot server in a background thread.

    Usage::

        with ThreadedServer(EmulatorConfig(port=0)) as server:
            requests.get(server.url + "/api/system/ping")
    """

    def __init__(self, config: EmulatorConfig | None = None, *, fast_path: bool = True) -> None:
        self.config = config or EmulatorConfig(port=0)
        self.app: Flask = create_app(self.config, fast_path=fast_path)
        self.emulator: Emulator = get_emulator(self.app)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._scheme = "http"
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0

    @property
    def root_url(self) -> str:
        """``scheme://host:port`` (no context path)."""
        return root_url(self._scheme, self.config.host, self.port)

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
            # --workers: every process listens on the same port (the kernel spreads the
            # connections); see fake_artifactory.workers.
            reuse_port=self.config.workers > 1,
        )
        server.gateway = ConnectionExposingGateway
        # A class per server: its fast lane can be switched without touching others.
        server.ConnectionClass = type("FastReadConnection", (FastReadConnection,), {})
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
