"""Plain file GET/HEAD/PUT answered without Flask's request machinery.

The emulator's hot path (one small artifact up or down) would spend most of its CPU in
Flask and werkzeug objects that cannot change the answer.  :class:`FastPath` sits
between the fault middleware and Flask and answers only requests it can prove are
ordinary: authenticated with enough permissions, an existing repository, a file path
without matrix parameters or query string, no conditional, range, checksum deploy or
base-URL headers.  It builds its answers with the very helpers of the Flask file views
(:mod:`fake_artifactory.web.uploads`, :func:`fake_artifactory.web.files.stream_blob`,
:mod:`fake_artifactory.core.download`, :func:`fake_artifactory.web.errors.render_error`),
so the wire cannot differ; anything else, including every request that would fail
before its body is read, goes to Flask unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from werkzeug.sansio.utils import get_content_length
from werkzeug.wsgi import get_input_stream

from fake_artifactory.core import download, uri
from fake_artifactory.core.auth import Principal, authenticate, require_authenticated
from fake_artifactory.core.checksums import CHECKSUM_SUFFIXES, sent_checksums
from fake_artifactory.core.errors import HttpError, InvalidRawPath
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.uri import RepoRequest, parse_repo_request, split_context
from fake_artifactory.core.wsgi import StartResponse, WSGIApp, WSGIEnviron
from fake_artifactory.web.emulator import Emulator
from fake_artifactory.web.errors import STATUS_LINES, render_error, server_headers
from fake_artifactory.web.files import stream_blob
from fake_artifactory.web.uploads import commit_upload, created, receive_body

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
_HOST_URL_CACHE_MAX = 256


class _EnvironHeaders:
    """The ``get`` of a header mapping, read straight from a WSGI environ."""

    __slots__ = ("_environ",)

    def __init__(self, environ: WSGIEnviron) -> None:
        self._environ = environ

    def get(self, name: str, /) -> str | None:
        value = self._environ.get("HTTP_" + name.upper().replace("-", "_"))
        return None if value is None else str(value)


class FastPath:
    """WSGI layer answering ordinary file requests itself (see the module docstring)."""

    def __init__(self, flask_app: Flask, emulator: Emulator, inner: WSGIApp) -> None:
        self.flask_app = flask_app
        self.inner = inner
        self.emulator = emulator
        self.config = emulator.config
        self._tail = server_headers(emulator.config)
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

    def _target(self, environ: WSGIEnviron, *perms: str) -> tuple[RepoRequest, Principal] | None:
        """The parsed file request and its caller, or None when Flask must answer."""
        rest = split_context(uri.raw_path(environ), self.config.context_path)
        if rest is None or rest in ("", "/") or rest == "/api" or rest.startswith("/api/"):
            return None
        try:
            req = parse_repo_request(rest)
            who = authenticate(_EnvironHeaders(environ), self.emulator.directory)
            require_authenticated(who, self.config)
        except (InvalidRawPath, HttpError):
            return None
        if req.folder or req.matrix or req.path == "":
            return None
        if not all(who.can(p, req.repo, req.path) for p in perms):
            return None
        repo = self.emulator.store.get_repo(req.repo)
        if repo is None or repo.rclass != "local":
            return None
        return req, who

    def _finish(self, code: int, headers: list[tuple[str, str]], body: Iterable[bytes]) -> _Reply:
        headers.extend(self._tail)
        return STATUS_LINES[code], headers, body

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
        headers = list(download.file_headers(item).items())
        headers.append(("Content-Type", download.mime_of(item)))
        headers.append(("Content-Length", str(item.size)))
        body: Iterable[bytes]
        if head:
            body = []
        elif inline is not None:
            body = [inline]
        else:
            body = stream_blob(store, item, [(0, item.size)])
        return self._finish(200, headers, body)

    def _deploy(self, environ: WSGIEnviron) -> _Reply | None:
        if not _only_headers(environ, _FAST_PUT_KEYS):
            return None
        # Overwriting needs "delete"; without it Flask decides (it checks existence).
        found = self._target(environ, "deploy", "delete")
        if found is None:
            return None
        req, who = found
        if any(req.path.endswith(s) for s in CHECKSUM_SUFFIXES):
            return None
        try:
            item = self._store_file(environ, req, who)
        except Exception as exc:  # noqa: BLE001 - rendered like Flask's error handler
            reply = render_error(exc)
            data = reply.body.encode("utf-8")
            headers = [("Content-Type", reply.content_type), ("Content-Length", str(len(data)))]
            headers.extend(reply.headers.items())
            return self._finish(reply.status, headers, [data])
        agent = str(environ.get("HTTP_USER_AGENT", ""))
        base = uri.base_url(self._host_url(environ), self.config.context_path)
        data, headers = created(item, base, agent)
        return self._finish(201, headers, [data])

    def _store_file(self, environ: WSGIEnviron, req: RepoRequest, who: Principal) -> ItemRecord:
        """Receive the body and commit it, as :func:`fake_artifactory.web.files.deploy`."""
        sent = sent_checksums(_EnvironHeaders(environ).get)
        store = self.emulator.store
        stream = get_input_stream(environ, max_content_length=None)
        expected = get_content_length(
            environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING")
        )
        staged = receive_body(store, stream, expected, environ)
        return commit_upload(store, req, staged, sent, user=who.name, properties={})

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
