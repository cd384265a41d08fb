"""Raw request-URI parsing and validation of repository paths (pure, no I/O).

Artifactory works on the *raw*, still percent-encoded request URI, so the emulator
must too: a literal ``;`` starts matrix parameters while ``%3B`` is a ``;`` inside a
name, ``+`` in a path is a literal plus while ``+`` in a matrix value is a space, and
``%2F`` decodes to a separator.  Flask's decoded ``PATH_INFO`` loses all of that, so
routing parses the raw URI here (reference: artifactory-rest-api.md section 12 and 1.4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, unquote_plus

__all__ = [
    "FORBIDDEN_CHARS",
    "InvalidRawPath",
    "RepoRequest",
    "decode_path",
    "parse_matrix",
    "parse_repo_request",
    "quote_path",
    "split_context",
    "validate_path",
]

#: Characters Artifactory's PathValidator rejects anywhere in a path.
FORBIDDEN_CHARS = frozenset('\\|*?"')
#: Characters a property key may not contain (besides whitespace).
FORBIDDEN_KEY_CHARS = frozenset(")(}{][*+^$\\/~`!@#%&<>;=,±§")
#: Longest item name and repo-relative path accepted (Artifactory's database columns).
MAX_NAME_LENGTH = 255
MAX_PATH_LENGTH = 1024
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class InvalidRawPath(ValueError):
    """The request path cannot denote a repository item; ``message`` is user-facing."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


def validate_property_key(key: str) -> None:
    """Reject property keys the way Artifactory does (400 with its message)."""
    bad = (
        not key
        or not key[0].isalpha()
        or any(ch.isspace() or ch in FORBIDDEN_KEY_CHARS for ch in key)
    )
    if bad:
        raise InvalidRawPath(
            f"Property key: {key} is invalid due to Name must start with a letter and "
            "cannot contain whitespace or special characters"
        )


def decode_path(raw: str) -> str:
    """Percent-decode a raw path keeping ``+`` literal (``%2B`` and ``+`` both mean plus)."""
    if _BAD_PERCENT.search(raw):
        raise InvalidRawPath(f"Invalid path. Malformed percent-encoding in '{raw}'")
    try:
        return unquote(raw.replace("+", "%2B"), errors="strict")
    except UnicodeDecodeError:
        raise InvalidRawPath(f"Invalid path. '{raw}' is not valid UTF-8 once decoded") from None


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
