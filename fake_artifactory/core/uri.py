"""Every rule about request URIs and repository paths, and the URLs the emulator builds.

Artifactory works on the *raw*, still percent-encoded request URI, so the emulator
must too: a literal ``;`` starts matrix parameters while ``%3B`` is a ``;`` inside a
name, ``+`` in a path is a literal plus while ``+`` in a matrix value is a space, and
``%2F`` decodes to a separator.  Flask's decoded ``PATH_INFO`` loses all of that, so
routing, fault matching and the journal all read the raw URI through this module
(reference: artifactory-rest-api.md section 12 and 1.4).  Pure: a WSGI environ is read
as a plain mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from fake_artifactory.core.errors import InvalidRawPath

__all__ = [
    "CONTROL_PREFIX",
    "FORBIDDEN_CHARS",
    "InvalidRawPath",
    "RepoRequest",
    "base_url",
    "decode_key",
    "decode_path",
    "download_url",
    "header_url",
    "is_control_plane",
    "parse_matrix",
    "parse_repo_request",
    "quote_path",
    "raw_path",
    "raw_request_uri",
    "relative_path",
    "split_context",
    "storage_url",
    "validate_path",
]

#: Path prefix of the emulator's control plane (never under the context path).
CONTROL_PREFIX = "/_fake/"

#: Characters Artifactory's PathValidator rejects anywhere in a path.
FORBIDDEN_CHARS = frozenset('\\|*?"')
#: Longest item name and repo-relative path accepted (Artifactory's database columns).
MAX_NAME_LENGTH = 255
MAX_PATH_LENGTH = 1024
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


# -- the request target -------------------------------------------------------------------


def raw_request_uri(environ: Mapping[str, Any]) -> str:
    """The request target as the client sent it (path plus query).

    The emulator's server and gunicorn provide ``REQUEST_URI``/``RAW_URI``; other servers (and the
    werkzeug test client) only give the decoded ``PATH_INFO``, which is re-quoted here.
    """
    for key in ("REQUEST_URI", "RAW_URI"):
        value = environ.get(key)
        if value:
            return str(value)
    path = _quoted_path_info(environ)
    query = str(environ.get("QUERY_STRING", ""))
    return f"{path}?{query}" if query else path


def raw_path(environ: Mapping[str, Any]) -> str:
    """The raw (still percent-encoded) request path, without the query string.

    An absolute-form target (``GET http://host/x``) is reduced to its path.
    """
    for key in ("REQUEST_URI", "RAW_URI"):
        value = environ.get(key)
        if value:
            raw = str(value).split("?", 1)[0]
            if "://" in raw:  # absolute-form request target
                raw = "/" + raw.split("://", 1)[1].partition("/")[2]
            return raw
    return _quoted_path_info(environ)


def _quoted_path_info(environ: Mapping[str, Any]) -> str:
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1").decode("utf-8", "replace"), safe="/;=&+@:,$!*'()~")


def is_control_plane(environ: Mapping[str, Any]) -> bool:
    """True for requests addressed to the ``/_fake/`` control plane.

    Decided on the decoded ``PATH_INFO``, as Flask routes them.
    """
    path = str(environ.get("PATH_INFO", ""))
    return path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/")


@dataclass(frozen=True, slots=True)
class RepoRequest:
    """A parsed ``/<repo>/<path>[;matrix]`` request path.

    ``path`` is decoded, repo-relative, without leading or trailing slash (``""`` is the
    repository root); ``folder`` is True when the request path ended with ``/``.
    """

    repo: str
    path: str
    folder: bool
    matrix: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Last path segment (``""`` for the root)."""
        return self.path.rsplit("/", 1)[-1]


def split_context(raw_path: str, context_path: str) -> str | None:
    """Return the part of ``raw_path`` after ``context_path`` (starting with ``/`` or empty).

    Returns None when the path is not under the context path.
    """
    ctx = context_path.rstrip("/")
    if not ctx:
        return raw_path
    if raw_path == ctx:
        return ""
    if raw_path.startswith(ctx + "/"):
        return raw_path[len(ctx) :]
    return None


def relative_path(raw: str, context_path: str) -> str | None:
    """The decoded path below ``context_path``, without leading slash; None outside it."""
    context = "/" + context_path.strip("/") if context_path.strip("/") else ""
    if context and raw != context and not raw.startswith(context + "/"):
        return None
    return unquote(raw[len(context) :]).lstrip("/")


# -- repository paths -----------------------------------------------------------------------


def parse_matrix(raw: str) -> dict[str, list[str]]:
    """Parse ``k=v;k2=v2;flag`` (without the leading ``;``).

    Values are form-decoded (``+`` becomes a space), keys are kept raw, repeated keys
    are multi-valued, a bare key has the empty value and empty pairs are ignored.
    """
    props: dict[str, list[str]] = {}
    for pair in raw.split(";"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        props.setdefault(key, []).append(unquote_plus(value))
    return props


def decode_path(raw: str) -> str:
    """Percent-decode a raw path keeping ``+`` literal (``%2B`` and ``+`` both mean plus)."""
    if _BAD_PERCENT.search(raw):
        raise InvalidRawPath(f"Invalid path. Malformed percent-encoding in '{raw}'")
    try:
        return unquote(raw.replace("+", "%2B"), errors="strict")
    except UnicodeDecodeError:
        raise InvalidRawPath(f"Invalid path. '{raw}' is not valid UTF-8 once decoded") from None


def decode_key(raw: str, *, plus_is_space: bool = False) -> str:
    """Percent-decode a key captured from an API path: a repository key, project key,
    token id or security entity name (not an item path: :func:`decode_path`).

    Lenient, unlike :func:`decode_path`: a malformed escape stays as written and
    invalid UTF-8 becomes U+FFFD, so the resource answers for a key that does not exist
    (how a real server treats such keys is not verified).  ``plus_is_space``: a literal
    ``+`` stands for a space (the security API's default
    ``security.api.plus.insteadof.space``), while ``%2B`` is still a plus.
    """
    if plus_is_space:
        raw = raw.replace("+", " ")
    return unquote(raw)


#: Paths made of names of letters, digits, ``_``, ``-`` and ``.`` that do not start with
#: a dot: none of the rules of :func:`validate_path` can fail for them (names up to
#: 255 characters are implied by the overall length bound below).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]*(?:/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)*\Z")
_PLAIN_PATH_MAX = 255


def validate_path(path: str) -> None:
    """Validate a decoded repo-relative path (``""`` = root is valid).

    Raises InvalidRawPath for forbidden characters, control characters, dot-only
    segments (which also stops ``..`` escaping the repository), a lone ``&`` and
    segments that start or end with whitespace.
    """
    if path == "":
        return
    if len(path) <= _PLAIN_PATH_MAX and _PLAIN_PATH.match(path):
        return  # the common shape, valid by construction (checked below otherwise)
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidRawPath(
            f"Invalid path. The path is longer than {MAX_PATH_LENGTH} characters ({len(path)})"
        )
    for segment in path.split("/"):
        if len(segment) > MAX_NAME_LENGTH:
            raise InvalidRawPath(
                f"Invalid path. A name is longer than {MAX_NAME_LENGTH} characters ({len(segment)})"
            )
        for ch in segment:
            if ch in FORBIDDEN_CHARS:
                raise InvalidRawPath(f"Invalid path. '{ch}' is not a valid name character: {path}")
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                raise InvalidRawPath(
                    f"Invalid path. Control character {ord(ch):#04x} is not allowed: {path!r}"
                )
        if segment == "":
            raise InvalidRawPath(f"Invalid path. Empty path element: {path}")
        if set(segment) == {"."}:
            raise InvalidRawPath(f"Invalid path. '{segment}' is not a valid name: {path}")
        if segment == "&":
            raise InvalidRawPath(f"Invalid path. '&' is not a valid name: {path}")
        if segment[0].isspace() or segment[-1].isspace():
            raise InvalidRawPath(
                f"Invalid path. Path element cannot start or end with whitespace: {path}"
            )


def parse_repo_request(raw: str) -> RepoRequest:
    """Parse a raw ``/repo[;m]/a/b[/][;k=v...]`` path (query string already removed).

    Follows Artifactory's pipeline: the first segment is the repository key (its own
    matrix params stripped), the first literal ``;`` of the remainder starts matrix
    params, ``/./`` segments are dropped, the rest is decoded with ``+`` preserved and
    ``%2F`` acting as a separator, then validated.
    """
    body = raw.lstrip("/")
    repo_raw, slash, rest = body.partition("/")
    repo_raw, _, repo_matrix = repo_raw.partition(";")
    repo = decode_path(repo_raw)
    path_raw, semi, matrix_raw = rest.partition(";")
    folder = bool(slash) and (path_raw == "" or path_raw.endswith("/"))
    segments = [s for s in path_raw.split("/") if s not in ("", ".")]
    decoded = decode_path("/".join(segments))
    parts = [p for p in decoded.split("/") if p != ""]
    path = "/".join(parts)
    validate_path(path)
    matrix = parse_matrix(repo_matrix)
    for key, values in parse_matrix(matrix_raw if semi else "").items():
        matrix.setdefault(key, []).extend(values)
    return RepoRequest(repo=repo, path=path, folder=folder, matrix=matrix)


def quote_path(path: str) -> str:
    """Percent-encode a stored repo-relative path for use in a URL (inverse of decoding).

    Everything except unreserved characters and ``/`` is encoded, so ``;``, ``#``,
    ``?``, ``%``, ``+``, spaces and non-ASCII survive a round trip through
    :func:`parse_repo_request`.
    """
    return quote(path, safe="/")


# -- URLs in responses ------------------------------------------------------------------------
# Paths are *not* re-percent-encoded in response bodies, as in Artifactory.


def base_url(
    host_url: str, context_path: str, override: str | None = None, legacy: str | None = None
) -> str:
    """Absolute base URL (with the context path) for URLs in responses.

    ``override``/``legacy``: the ``X-JFrog-Override-Base-Url`` and
    ``X-Artifactory-Override-Base-Url`` request headers (the first wins).
    """
    ctx = context_path.rstrip("/")
    if override:
        override = override.rstrip("/")
        return override if override.endswith(ctx) else override + ctx
    if legacy:
        return legacy.rstrip("/")
    return host_url.rstrip("/") + ctx


def download_url(base: str, repo: str, path: str, folder: bool = False) -> str:
    url = f"{base}/{repo}/{path}" if path else f"{base}/{repo}"
    return url + "/" if folder else url


def storage_url(base: str, repo: str, path: str) -> str:
    return f"{base}/api/storage/{repo}/{path}" if path else f"{base}/api/storage/{repo}"


def header_url(url: str) -> str:
    """A URL safe for a header: non-ASCII and spaces percent-encoded, the rest kept."""
    return quote(url, safe=":/;=&+@,$!*'()~%?#[]")
