"""Serve the emulator with cheroot, a production-grade thread-pooled WSGI server.

:class:`ThreadedServer` runs it in a background thread for tests (port 0 picks a free
port); the CLI uses the same class in the foreground.  cheroot is used as shipped, plus
the correctness fixes of :mod:`fake_artifactory.server.cheroot_fixes`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from flask import Flask

from fake_artifactory.config import EmulatorConfig, with_control_token
from fake_artifactory.control.app import create_app, get_emulator
from fake_artifactory.server import cheroot_fixes
from fake_artifactory.server.private_files import write_control_token
from fake_artifactory.web.emulator import Emulator

log = logging.getLogger(__name__)


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
        #: The configuration served, with the control token in force (``.control_token``;
        #: generated here when the host is not loopback and none was given).
        self.config = with_control_token(config or EmulatorConfig(port=0))
        self.app: Flask = create_app(self.config, fast_path=fast_path)
        self.emulator: Emulator = get_emulator(self.app)
        self._server: wsgi.Server | None = None
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
            # Imported here: generating certificates needs ``cryptography``, serving not.
            from fake_artifactory.server.tls import make_self_signed

            self._tls_dir = tempfile.TemporaryDirectory(prefix="fake-artifactory-tls-")
            cert, key = make_self_signed(self.config.tls_self_signed_ca, Path(self._tls_dir.name))
        if cert is None or key is None:
            return None
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
            # connections); see fake_artifactory.server.workers.
            reuse_port=self.config.workers > 1,
        )
        cheroot_fixes.install(server)
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
        write_control_token(self.config)
        self._server = server
        self._thread = threading.Thread(
            target=self._serve, args=(server,), name="fake-artifactory", daemon=True
        )
        self._thread.start()
        log.info("fake_artifactory listening on %s", self.url)
        return self

    @staticmethod
    def _serve(server: wsgi.Server) -> None:
        try:
            server.serve()
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
