"""A WSGI app on gevent's server, on an event loop in a thread of its own.

Every connection is a greenlet on that one thread: while a request waits for the
network (a slow upload, a client reading slowly, injected latency) the others run, and
no request pays for handing the GIL between worker threads at every socket or SQLite
call, which is what a thread pool costs in CPython. Nothing is monkey-patched: the
thread's loop drives the server's own (gevent) sockets, and the process around it (a
test run, MLflow, pytest) keeps its ordinary threads.

What that asks of the application, to keep requests concurrent (the emulator's meets
it): a request never waits for another one (no lock held across a read of the request
body or a write of the response, no ``threading.Event`` wait), and it sleeps with
``gevent.sleep`` (the emulator's fault middleware is given it). An application that
blocks otherwise, such as a test's forwarding proxy waiting for its upstream, still works,
one request at a time.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from gevent import pywsgi
from gevent import ssl as gevent_ssl

from fake_artifactory.server.handler import EmulatorHandler, allow_request_lines_up_to

log = logging.getLogger(__name__)

#: Pending connections the kernel queues for the listener.
BACKLOG = 1024
#: Seconds in-flight requests get to finish when the server stops.
STOP_TIMEOUT_S = 2.0
#: Seconds :meth:`BackgroundServer.start` waits for the loop to listen.
START_TIMEOUT_S = 30.0


def root_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, an IPv6 host in brackets."""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


class _LogStream:
    """A ``write()`` target for gevent's error output, routed to :mod:`logging`."""

    def __init__(self, level: int) -> None:
        self.level = level

    def write(self, text: str) -> None:
        text = text.rstrip()
        if text:
            log.log(self.level, "gevent: %s", text)

    def flush(self) -> None:
        pass


class _Server(pywsgi.WSGIServer):  # type: ignore[misc]  # gevent ships no types
    """gevent's server with the emulator's handler and the settings the handler reads."""

    handler_class = EmulatorHandler

    def __init__(self, *args: Any, socket_timeout: float, head_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.socket_timeout = socket_timeout
        self.head_limit = head_limit


class BackgroundServer:
    """Serve ``app`` on ``host:port`` (0 = a free port) until :meth:`stop`.

    ``tls`` is a (certificate, key) pair of PEM files; ``reuse_port`` lets several
    processes listen on one port (``--workers``).
    """

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
        socket_timeout: float = 60.0,
        head_limit: int = 65536,
        reuse_port: bool = False,
        name: str = "wsgi-server",
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.tls = tls
        self.socket_timeout = socket_timeout
        self.head_limit = head_limit
        self.reuse_port = reuse_port
        self.name = name
        self._thread: threading.Thread | None = None
        self._loop: Any = None
        self._stop: gevent.event.Event | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def root_url(self) -> str:
        """``scheme://host:port``."""
        return root_url(self.scheme, self.host, self.port)

    def start(self) -> int:
        """Bind and listen (the port is known on return), start serving; the port.

        A certificate that does not load, or a port that cannot be bound, raises here
        (``OSError``), in the caller's thread.
        """
        if self._thread is not None:
            return self.port
        ssl_args = self._ssl_args()
        listener = self._listen()
        self.port = int(listener.getsockname()[1])
        allow_request_lines_up_to(self.head_limit)
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run,
            args=(listener, ssl_args, ready, failure),
            name=self.name,
            daemon=True,
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S) or failure:
            self.stop()
            if failure:
                raise failure[0]
            raise RuntimeError(f"{self.name} did not start within {START_TIMEOUT_S:.0f} s")
        return self.port

    def _listen(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.reuse_port:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listener.bind((self.host, self.port))
            listener.listen(BACKLOG)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        return listener

    def _ssl_args(self) -> dict[str, Any]:
        if self.tls is None:
            return {}
        # gevent's own SSLContext: its sockets hand the handshake to the loop.
        context = gevent_ssl.SSLContext(gevent_ssl.PROTOCOL_TLS_SERVER)
        cert, key = self.tls
        context.load_cert_chain(str(cert), str(key))
        return {"ssl_context": context}

    def _run(
        self,
        listener: socket.socket,
        ssl_args: dict[str, Any],
        ready: threading.Event,
        failure: list[BaseException],
    ) -> None:
        hub = gevent.get_hub()
        hub.exception_stream = _LogStream(logging.ERROR)
        try:
            server = _Server(
                listener,
                self.app,
                log=None,
                error_log=_LogStream(logging.INFO),
                socket_timeout=self.socket_timeout,
                head_limit=self.head_limit,
                **ssl_args,
            )
            server.start()
        except BaseException as exc:
            failure.append(exc)
            listener.close()
            ready.set()
            hub.destroy(destroy_loop=True)
            return
        self._loop = hub.loop
        self._stop = gevent.event.Event()
        ready.set()
        try:
            self._stop.wait()
            server.stop(timeout=STOP_TIMEOUT_S)
        except Exception:
            log.exception("%s: the server loop failed", self.name)
        finally:
            hub.destroy(destroy_loop=True)

    def stop(self) -> None:
        """Stop serving (in-flight requests get :data:`STOP_TIMEOUT_S`); idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.run_callback_threadsafe(self._stop.set)
        thread.join(timeout=STOP_TIMEOUT_S + 10)
        self._loop = None
        self._stop = None
