"""Request journal: a bounded, thread-safe record of every request the emulator served.

Tests use it to count and inspect what a client really sent (method, raw URI, headers,
body size and hash) and what it got back (status, bytes, duration). It lives in a WSGI
middleware rather than in Flask hooks so that it also sees responses produced outside
Flask (injected faults, streamed bodies) and measures the bytes actually handed to the
server. Credentials never reach the journal: the ``Authorization``, ``X-JFrog-Art-Api``
and ``Cookie`` headers and secret-looking query values are redacted on the way in.

Control-plane requests (``/_fake/...``) are not recorded, so reading the journal does
not change it.
"""

from __future__ import annotations

import hashlib
import itertools
import shlex
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol, cast
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request

__all__ = [
    "ABORT_HOOK_KEY",
    "CONTROL_PREFIX",
    "DEFAULT_MAX_ENTRIES",
    "Journal",
    "JournalMiddleware",
    "bp",
    "curl_command",
    "is_control_plane",
    "raw_request_uri",
    "redact_headers",
    "redact_uri",
]

#: Path prefix of the emulator's control plane; never journaled.
CONTROL_PREFIX = "/_fake/"
#: Default bound of the journal; the oldest entries are dropped first.
DEFAULT_MAX_ENTRIES = 50_000

#: Environ key of a callable ``(error_name) -> None`` that fault injection calls just
#: before it breaks a connection, so the request is journaled before the client notices.
ABORT_HOOK_KEY = "fake_artifactory.journal_abort"

_REDACTED = "***"
#: Headers whose whole value is a secret.
_SECRET_HEADERS = frozenset(
    {"x-jfrog-art-api", "cookie", "set-cookie", "x-api-key", "proxy-authorization"}
)
#: Substrings that make a query parameter name secret (compared in lower case).
_SECRET_QUERY_WORDS = ("token", "password", "passwd", "apikey", "api_key", "secret")

WSGIEnviron = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]


class _InputStream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


def is_control_plane(environ: Mapping[str, Any]) -> bool:
    """Return True for requests addressed to the ``/_fake/`` control plane."""
    path = str(environ.get("PATH_INFO", ""))
    return path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/")


def raw_request_uri(environ: Mapping[str, Any]) -> str:
    """Return the request target as the client sent it (path plus query).

    cheroot and gunicorn provide ``REQUEST_URI``/``RAW_URI``; other servers (and the
    werkzeug test client) only give the decoded ``PATH_INFO``, which is re-quoted here.
    """
    for key in ("REQUEST_URI", "RAW_URI"):
        value = environ.get(key)
        if value:
            return str(value)
    path = quote(str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", "")))
    query = str(environ.get("QUERY_STRING", ""))
    return f"{path}?{query}" if query else path


def _is_secret_query_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in _SECRET_QUERY_WORDS)


def redact_uri(uri: str) -> str:
    """Replace the values of secret-looking query parameters in ``uri`` with ``***``.

    The rest of the URI is kept byte for byte, so the journal still shows the raw form.
    """
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    parts = []
    for pair in query.split("&"):
        key, eq, _value = pair.partition("=")
        if eq and _is_secret_query_key(key):
            parts.append(f"{key}={_REDACTED}")
        else:
            parts.append(pair)
    return f"{path}?{'&'.join(parts)}"


def _redact_header(name: str, value: str) -> str:
    lowered = name.lower()
    if lowered == "authorization":
        scheme, _sep, _credentials = value.strip().partition(" ")
        return f"{scheme} {_REDACTED}" if scheme and _credentials else _REDACTED
    if lowered in _SECRET_HEADERS:
        return _REDACTED
    return value


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return ``headers`` as a dict with credentials replaced by ``***``.

    ``Authorization`` keeps its scheme (``Basic ***``, ``Bearer ***``) because tests
    often need to know which kind of credential a client sent.
    """
    return {name: _redact_header(name, value) for name, value in headers}


#: Private entry field: the request's ``scheme://host``, from which ``entries`` derives
#: the ``curl`` line (formatting it per request would cost more than recording it).
_ORIGIN_KEY = "_origin"

#: Headers a replayed request should not copy (curl sets them itself).
_CURL_SKIPPED_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


def _origin(environ: Mapping[str, Any]) -> str:
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = (
        environ.get("HTTP_HOST")
        or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    )
    return f"{scheme}://{host}"


def curl_command(method: str, url: str, headers: Mapping[str, str]) -> str:
    """A ready-to-run ``curl`` line for a journaled request (credentials stay redacted).

    A request body is shown as ``--data-binary @body`` for the reader to supply.
    """
    parts = ["curl", "-X", method]
    for name, value in headers.items():
        if name.lower() not in _CURL_SKIPPED_HEADERS:
            parts += ["-H", f"{name}: {value}"]
    if headers.get("Content-Length", "0") not in ("", "0") or "Transfer-Encoding" in headers:
        parts += ["--data-binary", "@body"]
    parts.append(url)
    return shlex.join(parts)


#: Environ key -> header name (``HTTP_X_CHECKSUM_SHA1`` -> ``X-Checksum-Sha1``), memoised;
#: cleared when full so odd clients cannot grow it without bound.
_HEADER_NAMES: dict[str, str] = {}
_HEADER_NAMES_MAX = 1024


def _header_name(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    if name is None:
        bare = key[5:] if key.startswith("HTTP_") else key
        name = "-".join(p.capitalize() for p in bare.split("_"))
        if len(_HEADER_NAMES) >= _HEADER_NAMES_MAX:
            _HEADER_NAMES.clear()
        _HEADER_NAMES[key] = name
    return name


def _request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((_header_name(key), str(value)))
        elif (key == "CONTENT_TYPE" or key == "CONTENT_LENGTH") and value != "":
            headers.append((_header_name(key), str(value)))
    headers.sort()
    return headers


class _HashingInput:
    """Wraps ``wsgi.input``; counts and hashes whatever the application reads.

    Nothing is read on the application's behalf (the journal never drains a body), so
    ``body_size`` is what the application consumed.
    """

    def __init__(self, stream: _InputStream) -> None:
        self._stream = stream
        self.size = 0
        self._sha256 = hashlib.sha256()

    def _account(self, data: bytes) -> bytes:
        self.size += len(data)
        self._sha256.update(data)
        return data

    # Servers disagree on what ``read(-1)`` means (cheroot's bounded reader passes it to
    # the socket and blocks), so "everything" is always spelled without an argument.
    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._account(self._stream.read())
        return self._account(self._stream.read(size))

    def readline(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._account(self._stream.readline())
        return self._account(self._stream.readline(size))

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readlines(self, hint: int = -1, /) -> list[bytes]:
        lines = []
        total = 0
        while hint <= 0 or total < hint:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @property
    def sha256(self) -> str | None:
        return self._sha256.hexdigest() if self.size else None


class Journal:
    """A bounded, thread-safe list of request records (plain JSON-able dicts)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        """Return the next sequence number (requests are numbered as they arrive)."""
        with self._lock:
            return next(self._seq)

    def record(self, entry: dict[str, Any]) -> None:
        """Append one request record."""
        with self._lock:
            self._entries.append(entry)

    def update(self, entry: dict[str, Any], fields: Mapping[str, Any]) -> None:
        """Update a recorded entry in place (readers never see a half-made update)."""
        with self._lock:
            entry.update(fields)

    def entries(self) -> list[dict[str, Any]]:
        """Return a copy of all records, oldest first (ordered by ``seq``)."""
        with self._lock:
            items = [dict(e) for e in self._entries]
        items.sort(key=lambda e: int(e["seq"]))
        for item in items:
            origin = item.pop(_ORIGIN_KEY, None)
            if origin is not None and "curl" not in item:
                item["curl"] = curl_command(item["method"], origin + item["uri"], item["headers"])
        return items

    def clear(self) -> None:
        """Forget every record (sequence numbers keep increasing)."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class _Recorder:
    """The journal entry of one request, published as soon as the client could see it.

    The entry enters the journal when the status is chosen (before any response byte
    is sent) or when a fault is about to break the connection, so a client that has
    seen its response always finds the request in the journal. ``duration_ms``,
    ``response_bytes`` and the body fields are final once ``complete`` is true.
    """

    def __init__(self, journal: Journal, entry: dict[str, Any], body: _HashingInput | None):
        self.journal = journal
        self.entry = entry
        self.body = body
        self.started = time.monotonic()
        self.bytes_out = 0
        self._published = False
        self._done = False

    def _progress(self) -> dict[str, Any]:
        return {
            "duration_ms": round((time.monotonic() - self.started) * 1000.0, 3),
            "body_size": self.body.size if self.body is not None else 0,
            "body_sha256": self.body.sha256 if self.body is not None else None,
            "response_bytes": self.bytes_out,
        }

    def publish(self, **fields: Any) -> None:
        fields.update(self._progress())
        if self._published:
            self.journal.update(self.entry, fields)
        else:
            self.entry.update(fields)
            self._published = True
            self.journal.record(self.entry)

    def abort(self, error: str) -> None:
        """Called (through the environ) just before a fault breaks the connection."""
        self.publish(error=error)

    def finish(self, exc: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        fields: dict[str, Any] = {"complete": True}
        if exc is not None and "error" not in self.entry:
            fields["error"] = type(exc).__name__
        self.publish(**fields)


class _JournaledResponse:
    """Response iterable that counts bytes and completes the entry when closed."""

    def __init__(self, inner: Iterable[bytes], recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._recorder.bytes_out += len(chunk)
                yield chunk
        except BaseException as exc:
            self._recorder.finish(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._recorder.finish(None)


class JournalMiddleware:
    """WSGI middleware recording every non-control-plane request into a `Journal`.

    Put it outside `fake_artifactory.faults.FaultMiddleware` so injected faults are
    journaled too (a reset before the response shows ``status`` 0 and an ``error``).

    Args:
        wsgi_app: the application to wrap.
        journal: where records go.
    """

    def __init__(self, wsgi_app: WSGIApp, journal: Journal) -> None:
        self.wsgi_app = wsgi_app
        self.journal = journal

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        if is_control_plane(environ):
            return self.wsgi_app(environ, start_response)
        method = str(environ.get("REQUEST_METHOD", ""))
        uri = redact_uri(raw_request_uri(environ))
        headers = redact_headers(_request_headers(environ))
        entry: dict[str, Any] = {
            "seq": self.journal.next_seq(),
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "method": method,
            "uri": uri,
            "headers": headers,
            "status": 0,
            "complete": False,
            _ORIGIN_KEY: _origin(environ),  # ``curl`` is built when the journal is read
        }
        body = _HashingInput(environ["wsgi.input"]) if "wsgi.input" in environ else None
        if body is not None:
            environ["wsgi.input"] = body
        recorder = _Recorder(self.journal, entry, body)
        environ[ABORT_HOOK_KEY] = recorder.abort

        def journaling_start_response(
            status: str, headers: list[tuple[str, str]], *args: Any
        ) -> Callable[[bytes], object]:
            code = status.split(" ", 1)[0]
            recorder.publish(status=int(code) if code.isdigit() else 0)
            return start_response(status, headers, *args)

        try:
            inner = self.wsgi_app(environ, journaling_start_response)
        except BaseException as exc:
            recorder.finish(exc)
            raise
        return _JournaledResponse(inner, recorder)


bp = Blueprint("fake_artifactory_journal", __name__)


def _journal() -> Journal:
    return cast(Journal, current_app.extensions["fake_artifactory"].journal)


@bp.get("/_fake/requests")
def list_requests() -> Response:
    """List journaled requests, oldest first.

    Filters: ``?method=PUT``, ``?contains=<text in the URI>``, ``?since=<seq>`` (only
    entries with a larger ``seq``).
    """
    method = request.args.get("method")
    contains = request.args.get("contains")
    since = request.args.get("since", type=int)
    entries = _journal().entries()
    if since is not None:
        entries = [e for e in entries if e["seq"] > since]
    if method:
        entries = [e for e in entries if e["method"].upper() == method.upper()]
    if contains:
        entries = [e for e in entries if contains in e["uri"]]
    return jsonify({"requests": entries})


@bp.delete("/_fake/requests")
def clear_requests() -> Response:
    """Empty the journal."""
    _journal().clear()
    return Response(status=204)
