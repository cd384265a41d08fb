"""The application factory and the per-app :class:`Emulator` state object."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers
from werkzeug.sansio.utils import get_content_length
from werkzeug.wsgi import get_input_stream

from fake_artifactory import admin, routes, serializers, tokens
from fake_artifactory.auth import (
    Principal,
    TokenLookup,
    authenticate,
    require_authenticated,
)
from fake_artifactory.config import ConfigurationError, EmulatorConfig
from fake_artifactory.errors import HttpError, register_error_handlers, render_error
from fake_artifactory.paths import InvalidRawPath, RepoRequest, parse_repo_request, split_context
from fake_artifactory.storage import (
    ItemRecord,
    Store,
    now_ms,
)

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
            store
            if store is not None
            else Store(config.data_dir, config.repos, fsync=config.fsync, shared=config.workers > 1)
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


def _wrap_middlewares(app: Flask, emulator: Emulator, *, fast_path: bool = True) -> None:
    """The fast path innermost around Flask, then faults, then the journal outermost
    (it sees injected faults too)."""
    if fast_path:
        app.wsgi_app = FastPath(app, emulator, app.wsgi_app)  # type: ignore[method-assign]
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
    if journal is not None and emulator.config.workers == 1:
        emulator.journal = journal.Journal()
        app.wsgi_app = journal.JournalMiddleware(app.wsgi_app, emulator.journal)  # type: ignore[method-assign]
    if emulator.store.shared:
        app.wsgi_app = SharedStoreSync(app.wsgi_app, emulator.store)  # type: ignore[method-assign]


class SharedStoreSync:
    """Outermost WSGI layer with ``--workers``: each request first picks up repository and
    token changes made by the other processes (:meth:`Store.sync_shared`)."""

    def __init__(self, inner: WSGIApp, store: Store) -> None:
        self.inner = inner
        self.store = store

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        self.store.sync_shared()
        return self.inner(environ, start_response)


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


def create_app(
    config: EmulatorConfig | None = None, store: Store | None = None, *, fast_path: bool = True
) -> Flask:
    """Build the emulator's WSGI app. No module-level state: every app is independent.

    ``fast_path=False`` sends every request through Flask (see :class:`FastPath`; the
    wire behaviour is the same either way, which the tests check).
    """
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

    if config.workers > 1:

        @app.before_request
        def _single_process_controls() -> None:
            refused = refused_with_workers(request.method, request.path)
            if refused:
                raise HttpError(
                    409,
                    f"{refused} needs a single emulator process; "
                    f"it is not available with --workers {config.workers}",
                )

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
    _wrap_middlewares(app, emulator, fast_path=fast_path)
    return app


def refused_with_workers(method: str, path: str) -> str | None:
    """What a control-plane request needs that several processes cannot share, or None.

    The request journal, fault rules and run-time settings live in each process, and a
    snapshot import rewrites the data dir under the other processes' feet.
    """
    if path.startswith("/_fake/requests"):
        return "the request journal"
    if path.startswith("/_fake/faults") and method != "GET":
        return "fault injection"
    if path.startswith("/_fake/settings/") and method != "GET":
        return "changing settings at run time"
    if path.startswith("/_fake/snapshot") and method == "POST":
        return "importing a snapshot"
    return None


def get_emulator(app: Flask) -> Emulator:
    """The Emulator of an app built by :func:`create_app`."""
    emulator: Emulator = app.extensions[EXTENSION_KEY]
    return emulator


# -- fast path ---------------------------------------------------------------------------

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]
_Reply = tuple[str, list[tuple[str, str]], Iterable[bytes]]

#: The only request headers (environ keys) the fast path accepts; a request carrying any
#: other (conditional or range requests, checksum deploy, archive explode, base-URL
#: overrides, whatever a future feature reads) goes through Flask.
_FAST_GET_KEYS = frozenset(
    {
        "HTTP_HOST",
        "HTTP_AUTHORIZATION",
        "HTTP_X_JFROG_ART_API",
        "HTTP_X_API_KEY",
        "HTTP_USER_AGENT",
        "HTTP_ACCEPT",
        "HTTP_ACCEPT_ENCODING",
        "HTTP_CONNECTION",
        "HTTP_KEEP_ALIVE",
        "HTTP_CONTENT_LENGTH",
        "HTTP_CONTENT_TYPE",
    }
)
_FAST_PUT_KEYS = _FAST_GET_KEYS | {
    "HTTP_EXPECT",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_X_CHECKSUM",
    "HTTP_X_CHECKSUM_SHA1",
    "HTTP_X_CHECKSUM_MD5",
    "HTTP_X_CHECKSUM_SHA256",
}
#: Uploads up to this declared size are received into memory rather than a temp file.
SMALL_BODY_BYTES = 256 * 1024
_HOST_URL_CACHE_MAX = 256


class _EnvironHeaders:
    """The ``get`` of a header mapping, read straight from a WSGI environ."""

    __slots__ = ("_environ",)

    def __init__(self, environ: WSGIEnviron) -> None:
        self._environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get("HTTP_" + name.upper().replace("-", "_"))
        return default if value is None else str(value)


class FastPath:
    """Serves plain file GET/HEAD/PUT without Flask's request machinery.

    The emulator's hot path (one small artifact up or down) spends most of its CPU in
    Flask and werkzeug objects that cannot change the answer.  This WSGI layer sits
    between the fault middleware and Flask and answers only requests it can prove are
    ordinary: authenticated with enough permissions, an existing repository, a file
    path without matrix parameters or query string, no conditional, range, checksum
    deploy or base-URL headers.  It builds the very same status, headers and body as
    the Flask views (:mod:`fake_artifactory.routes`, whose helpers it reuses).
    Anything else, including every request that would fail before its body is read,
    goes to Flask unchanged, so errors keep a single source.
    """

    def __init__(self, flask_app: Flask, emulator: Emulator, inner: WSGIApp) -> None:
        self.flask_app = flask_app
        self.inner = inner
        self.emulator = emulator
        self.config = emulator.config
        self._tail = [
            ("X-Artifactory-Id", emulator.config.server_id),
            ("Server", f"Artifactory/{emulator.config.version}"),
        ]
        self._host_urls: dict[tuple[str, ...], str] = {}

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        reply: _Reply | None = None
        method = environ.get("REQUEST_METHOD")
        if (method == "GET" or method == "HEAD") and not environ.get("QUERY_STRING"):
            reply = self._retrieve(environ, method == "HEAD")
        elif method == "PUT" and not environ.get("QUERY_STRING"):
            reply = self._deploy(environ)
        if reply is None:
            return self.inner(environ, start_response)
        status, headers, body = reply
        start_response(status, headers)
        return body

    # -- shared checks -------------------------------------------------------------------

    def _target(self, environ: WSGIEnviron, *perms: str) -> tuple[RepoRequest, Principal] | None:
        """The parsed file request and its caller, or None when Flask must answer."""
        rest = split_context(raw_path(environ), self.config.context_path)
        if rest is None or rest in ("", "/") or rest == "/api" or rest.startswith("/api/"):
            return None
        try:
            req = parse_repo_request(rest)
            who = authenticate(
                cast("Headers", _EnvironHeaders(environ)),
                self.config,
                self.emulator.token_lookup,
            )
            require_authenticated(who, self.config)
        except (InvalidRawPath, HttpError):
            return None
        if req.folder or req.matrix or req.path == "" or not all(who.can(p) for p in perms):
            return None
        if not self.emulator.store.has_repo(req.repo):
            return None
        return req, who

    def _finish(self, code: int, headers: list[tuple[str, str]], body: Iterable[bytes]) -> _Reply:
        headers.extend(self._tail)
        return _STATUS_LINES[code], headers, body

    # -- GET / HEAD --------------------------------------------------------------------

    def _retrieve(self, environ: WSGIEnviron, head: bool) -> _Reply | None:
        if not _only_headers(environ, _FAST_GET_KEYS):
            return None
        found = self._target(environ, "read")
        if found is None:
            return None
        req = found[0]
        store = self.emulator.store
        found_file = store.get_download(req.repo, req.path)
        if found_file is None:
            return None
        item, inline = found_file
        headers = list(routes._file_headers(item).items())
        headers.append(("Content-Type", item.mime_type or "application/octet-stream"))
        headers.append(("Content-Length", str(item.size)))
        body: Iterable[bytes]
        if head:
            body = []
        elif inline is not None:
            body = [inline]
        else:
            body = routes._stream(store, item, [(0, item.size)])
        return self._finish(200, headers, body)

    # -- PUT -------------------------------------------------------------------------------

    def _deploy(self, environ: WSGIEnviron) -> _Reply | None:
        if not _only_headers(environ, _FAST_PUT_KEYS):
            return None
        # Overwriting needs "delete"; without it Flask decides (it checks existence).
        found = self._target(environ, "deploy", "delete")
        if found is None:
            return None
        req, who = found
        path = req.path
        if any(path.endswith(s) for s in routes.CHECKSUM_SUFFIXES):
            return None
        try:
            item = self._store_file(environ, req, who)
        except Exception as exc:  # noqa: BLE001 - rendered like Flask's error handlers
            status, content_type, text, extra = render_error(exc)
            data = text.encode("utf-8")
            headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
            headers.extend(extra.items())
            return self._finish(status, headers, [data])
        agent = str(environ.get("HTTP_USER_AGENT", ""))
        base = self._host_url(environ) + self.config.context_path.rstrip("/")
        text = serializers.item_created_json(
            item, base, include_sha256="ArtifactoryBuildClient/" not in agent
        )
        data = text.encode("utf-8")
        uri = serializers.download_url(base, item.repo, item.path)
        headers = [
            ("Content-Type", serializers.ITEM_CREATED),
            ("Content-Length", str(len(data))),
            ("Location", routes.header_url(uri)),
        ]
        return self._finish(201, headers, [data])

    def _store_file(self, environ: WSGIEnviron, req: RepoRequest, who: Principal) -> ItemRecord:
        """Receive the body and commit it, exactly as :func:`routes.deploy_artifact`."""
        sent = routes.sent_checksums(_EnvironHeaders(environ).get)
        store = self.emulator.store
        stream = get_input_stream(environ, max_content_length=None)
        expected = _content_length(environ)
        if expected is not None and expected <= SMALL_BODY_BYTES:
            # Bounded by the declared length: hashed in memory, and no temp file at all
            # when a blob with this content is already stored.
            staged = store.stage_bytes(b"".join(routes.body_chunks(stream)))
        else:
            staged = store.stage_upload(routes.body_chunks(stream))
        routes.check_body_length(staged, expected, environ)
        return routes.commit_upload(store, req, staged, sent, user=who.name, properties={})

    def _host_url(self, environ: WSGIEnviron) -> str:
        """``request.host_url`` without the trailing slash (cached per host)."""
        key = tuple(
            str(environ.get(k, ""))
            for k in ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
        )
        url = self._host_urls.get(key)
        if url is None:
            url = str(self.flask_app.request_class(environ).host_url).rstrip("/")
            if len(self._host_urls) >= _HOST_URL_CACHE_MAX:
                self._host_urls.clear()
            self._host_urls[key] = url
        return url


def _only_headers(environ: WSGIEnviron, allowed: frozenset[str]) -> bool:
    """True when every request header of ``environ`` is in ``allowed``."""
    return all(key in allowed for key in environ if key.startswith("HTTP_"))


def _content_length(environ: WSGIEnviron) -> int | None:
    """``request.content_length`` (None for chunked bodies)."""
    return get_content_length(environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING"))
