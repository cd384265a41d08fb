"""Serve the emulator on gevent's WSGI server, on an event loop in a background thread.

:class:`ThreadedServer` runs it for tests (port 0 picks a free port); the CLI uses the
same class in the foreground. The server is :class:`~.background.BackgroundServer` with
the emulator's handler (:mod:`fake_artifactory.server.handler`).
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from types import TracebackType

import gevent
from flask import Flask

from fake_artifactory.config import EmulatorConfig, with_control_token
from fake_artifactory.control.app import create_app, get_emulator
from fake_artifactory.server.background import BackgroundServer, root_url
from fake_artifactory.server.private_files import write_control_token
from fake_artifactory.web.emulator import Emulator

log = logging.getLogger(__name__)


class ThreadedServer:
    """The emulator on gevent's server, on an event loop in a background thread.

    Usage::

        with ThreadedServer(EmulatorConfig(port=0)) as server:
            requests.get(server.url + "/api/system/ping")
    """

    def __init__(self, config: EmulatorConfig | None = None, *, fast_path: bool = True) -> None:
        #: The configuration served, with the control token in force (``.control_token``;
        #: generated here when the host is not loopback and none was given).
        self.config = with_control_token(config or EmulatorConfig(port=0))
        # Injected latency and slow bodies sleep on the server's loop, not its thread.
        self.app: Flask = create_app(self.config, fast_path=fast_path, sleep=gevent.sleep)
        self.emulator: Emulator = get_emulator(self.app)
        self._server: BackgroundServer | None = None
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

    def _tls_files(self) -> tuple[Path, Path] | None:
        cert, key = self.config.tls_cert, self.config.tls_key
        if self.config.tls_self_signed_ca is not None:
            # Imported here: generating certificates needs ``cryptography``, serving not.
            from fake_artifactory.server.tls import make_self_signed

            self._tls_dir = tempfile.TemporaryDirectory(prefix="fake-artifactory-tls-")
            cert, key = make_self_signed(self.config.tls_self_signed_ca, Path(self._tls_dir.name))
        if cert is None or key is None:
            return None
        return cert, key

    def start(self) -> ThreadedServer:
        """Bind (port 0 = free port), start serving, return once listening."""
        if self._server is not None:
            return self
        tls = self._tls_files()
        server = BackgroundServer(
            self.app,
            host=self.config.host,
            port=self.config.port,
            tls=tls,
            socket_timeout=self.config.socket_timeout,
            head_limit=self.config.max_header_bytes,
            # --workers: every process listens on the same port (the kernel spreads the
            # connections); see fake_artifactory.server.workers.
            reuse_port=self.config.workers > 1,
            name="fake-artifactory",
        )
        self.port = server.start()
        self._scheme = server.scheme
        write_control_token(self.config)
        self._server = server
        log.info("fake_artifactory listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and release the store (an ephemeral data dir is removed)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
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
