"""The application factory: the REST API, the control plane and the WSGI middlewares."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from flask import Flask

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.control import views
from fake_artifactory.control.fault_middleware import FaultMiddleware
from fake_artifactory.control.journal_middleware import JournalMiddleware
from fake_artifactory.core.wsgi import StartResponse, WSGIApp, WSGIEnviron
from fake_artifactory.store import Store
from fake_artifactory.web.app import build_app, get_emulator
from fake_artifactory.web.emulator import Emulator
from fake_artifactory.web.files_fast import FastPath

__all__ = ["Emulator", "SharedStoreSync", "create_app", "get_emulator"]


class SharedStoreSync:
    """Outermost WSGI layer with ``--workers``: each request first picks up repository and
    token changes made by the other processes (:meth:`Store.sync_shared`)."""

    def __init__(self, inner: WSGIApp, store: Store) -> None:
        self.inner = inner
        self.store = store

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        self.store.sync_shared()
        return self.inner(environ, start_response)


def create_app(
    config: EmulatorConfig | None = None,
    store: Store | None = None,
    *,
    fast_path: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Flask:
    """Build the emulator's WSGI app. No module-level state: every app is independent.

    ``fast_path=False`` sends every request through Flask (see
    :class:`~fake_artifactory.web.files_fast.FastPath`; the wire behaviour is the same
    either way, which the tests check).
    """
    emulator = Emulator(config or EmulatorConfig(), store)
    app = build_app(emulator)
    app.register_blueprint(views.bp)
    # Innermost first: the fast path around Flask, then faults, then the journal (it
    # sees injected faults too), then the shared-store sync.
    wsgi: WSGIApp = app.wsgi_app
    if fast_path:
        wsgi = FastPath(app, emulator, wsgi)
    wsgi = FaultMiddleware(
        wsgi,
        emulator.faults,
        latency_ms=emulator.config.latency_ms,
        context_path=emulator.config.context_path,
        sleep=sleep,
    )
    if emulator.journal is not None:
        wsgi = JournalMiddleware(wsgi, emulator.journal)
    if emulator.store.shared:
        wsgi = SharedStoreSync(wsgi, emulator.store)
    app.wsgi_app = wsgi  # type: ignore[method-assign]
    return app
