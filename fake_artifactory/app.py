"""The application factory and the per-app :class:`Emulator` state object."""

from __future__ import annotations

import importlib
import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request

from fake_artifactory import admin, routes, tokens
from fake_artifactory.auth import TokenLookup, authenticate, require_authenticated
from fake_artifactory.config import ConfigurationError, EmulatorConfig
from fake_artifactory.errors import register_error_handlers
from fake_artifactory.paths import split_context
from fake_artifactory.storage import Store, now_ms

log = logging.getLogger(__name__)

EXTENSION_KEY = "fake_artifactory"
#: Optional blueprints written alongside the core; missing modules are skipped.
OPTIONAL_BLUEPRINTS = ("fake_artifactory.journal", "fake_artifactory.faults")
#: Optional API blueprints mounted under the context path (e.g. ``/api/search/aql``).
OPTIONAL_API_BLUEPRINTS = ("fake_artifactory.aql",)


class Emulator:
    """Everything one app instance owns: config, store and the optional hooks."""

    def __init__(self, config: EmulatorConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = (
            store if store is not None else Store(config.data_dir, config.repos, fsync=config.fsync)
        )
        if config.seed is not None:
            self._load_seed(config.seed)
        self.started_ms = now_ms()
        #: Filled by fake_artifactory.faults when available (a FaultRegistry).
        self.faults: Any = None
        #: Filled by fake_artifactory.journal when available (a Journal).
        self.journal: Any = None
        #: Resolves Access API tokens (set by create_app).
        self.token_lookup: TokenLookup | None = None

    def _load_seed(self, seed: Path) -> None:
        from fake_artifactory.snapshot import SnapshotError, import_snapshot

        try:
            with seed.open("rb") as fh:
                import_snapshot(self.store, fh)
        except (OSError, SnapshotError) as exc:
            self.store.close()
            raise ConfigurationError(f"cannot load seed snapshot {seed}: {exc}") from None

    def close(self) -> None:
        self.store.close()


#: ``"404 Not Found"`` status lines with the reason phrases in title case.
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _optional_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name != name:
            raise
        return None


def _wrap_middlewares(app: Flask, emulator: Emulator) -> None:
    """Faults innermost around Flask, the journal outermost (it sees injected faults too)."""
    faults = _optional_module("fake_artifactory.faults")
    if faults is not None:
        registry = faults.FaultRegistry(seed=0)
        if emulator.config.faults_file is not None:
            registry.load_file(emulator.config.faults_file)
        emulator.faults = registry
        app.wsgi_app = faults.FaultMiddleware(  # type: ignore[method-assign]
            app.wsgi_app,
            registry,
            latency_ms=emulator.config.latency_ms,
            context_path=emulator.config.context_path,
        )
    journal = _optional_module("fake_artifactory.journal")
    if journal is not None:
        emulator.journal = journal.Journal()
        app.wsgi_app = journal.JournalMiddleware(app.wsgi_app, emulator.journal)  # type: ignore[method-assign]


def raw_path(environ: dict[str, Any]) -> str:
    """The raw (still percent-encoded) request path, without the query string."""
    for key in ("REQUEST_URI", "RAW_URI"):
        value = environ.get(key)
        if value:
            raw = str(value)
            if "://" in raw.split("?", 1)[0]:  # absolute-form request target
                raw = "/" + raw.split("://", 1)[1].partition("/")[2]
            return raw.split("?", 1)[0]
    from urllib.parse import quote

    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1").decode("utf-8", "replace"), safe="/;=&+@:,$!*'()~")


def create_app(config: EmulatorConfig | None = None, store: Store | None = None) -> Flask:
    """Build the emulator's WSGI app. No module-level state: every app is independent."""
    config = config or EmulatorConfig()
    here = str(Path(__file__).resolve().parent)
    app = Flask(__name__, root_path=here, instance_path=here)
    app.config["MAX_CONTENT_LENGTH"] = None
    emulator = Emulator(config, store)
    emulator.token_lookup = tokens.make_lookup(emulator.store, config)
    app.extensions[EXTENSION_KEY] = emulator
    register_error_handlers(app)

    @app.before_request
    def _authenticate() -> None:
        rest = split_context(raw_path(request.environ), config.context_path)
        g.fake_rest = rest
        if rest is None or rest.rstrip("/") == "/api/system/ping":
            return
        principal = authenticate(request.headers, config, emulator.token_lookup)
        require_authenticated(principal, config)
        g.principal = principal

    server_header = f"Artifactory/{config.version}"

    @app.after_request
    def _artifactory_headers(resp: Response) -> Response:
        status = _STATUS_LINES.get(resp.status_code)
        if status is not None:
            resp.status = status
        resp.headers["X-Artifactory-Id"] = config.server_id
        resp.headers["Server"] = server_header
        return resp

    app.register_blueprint(admin.bp)
    app.register_blueprint(tokens.bp)
    for name in OPTIONAL_BLUEPRINTS:
        module = _optional_module(name)
        if module is not None and hasattr(module, "bp"):
            app.register_blueprint(module.bp)
    for name in OPTIONAL_API_BLUEPRINTS:
        module = _optional_module(name)
        if module is not None and hasattr(module, "bp"):
            app.register_blueprint(module.bp, url_prefix=config.context_path)
    routes.register(app)
    _wrap_middlewares(app, emulator)
    return app


def get_emulator(app: Flask) -> Emulator:
    """The Emulator of an app built by :func:`create_app`."""
    emulator: Emulator = app.extensions[EXTENSION_KEY]
    return emulator
