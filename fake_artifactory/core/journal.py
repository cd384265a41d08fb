"""Request journal: a bounded, thread-safe record of every request the emulator served
(pure: records, redaction, the ``curl`` line).

Tests use it to count and inspect what a client really sent (method, raw URI, headers,
body size and hash) and what it got back (status, bytes, duration).  The recording is
done by :class:`fake_artifactory.control.journal_middleware.JournalMiddleware`, a WSGI
middleware, so that it also sees responses produced outside Flask (injected faults,
streamed bodies).  Credentials never reach the journal: the ``Authorization``,
``X-JFrog-Art-Api`` and ``Cookie`` headers and secret-looking query values are redacted
on the way in (:func:`new_entry`).

Control-plane requests (``/_fake/...``) are not recorded, so reading the journal does
not change it.
"""

from __future__ import annotations

import itertools
import shlex
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from fake_artifactory.core.uri import raw_request_uri

__all__ = [
    "ABORT_HOOK_KEY",
    "DEFAULT_MAX_ENTRIES",
    "Journal",
    "curl_command",
    "filter_entries",
    "new_entry",
    "redact_headers",
    "redact_uri",
]
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


def new_entry(environ: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The journal entry of a request as it arrives (credentials redacted, no outcome yet)."""
    return {
        "seq": seq,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "method": str(environ.get("REQUEST_METHOD", "")),
        "uri": redact_uri(raw_request_uri(environ)),
        "headers": redact_headers(_request_headers(environ)),
        "status": 0,
        "complete": False,
        _ORIGIN_KEY: _origin(environ),  # ``curl`` is built when the journal is read
    }


def filter_entries(
    entries: list[dict[str, Any]],
    *,
    method: str | None = None,
    contains: str | None = None,
    since: int | None = None,
) -> list[dict[str, Any]]:
    """Entries with a ``seq`` above ``since``, of ``method``, whose URI has ``contains``."""
    if since is not None:
        entries = [e for e in entries if e["seq"] > since]
    if method:
        entries = [e for e in entries if e["method"].upper() == method.upper()]
    if contains:
        entries = [e for e in entries if contains in e["uri"]]
    return entries
