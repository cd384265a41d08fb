"""The one module that percent-encodes paths and builds Artifactory URLs (pure, no I/O).

Why not ``posixpath.join`` plus requests' own quoting: requests leaves ``;``, ``#``, ``?``
and ``%`` alone, and Artifactory reads a literal ``;`` as the start of matrix parameters, a
``#`` or ``?`` ends the path, and ``%41`` is decoded to ``A`` — silent renames. So every path
segment is quoted here with :data:`PATH_SEGMENT_SAFE`: only RFC 3986 *unreserved* characters
(letters, digits, ``-._~``) stay literal, everything else, including ``;``, ``#``, ``?``,
``%``, ``+``, ``&``, ``=``, ``@``, ``:``, space and non-ASCII (as UTF-8), is ``%XX``-encoded.
Artifactory decodes ``%XX`` in paths (keeping a raw ``+`` literal), so the stored name is
exactly the given name.

This module also validates names against Artifactory's path rules (forbidden characters
``\\ | * ? "``, control characters, segments that start or end with whitespace, dot-only
segments, a lone ``&``), so an unstorable name fails before anything is uploaded.

Properties travel in two forms built here: matrix parameters after the path of a deploy
(``;key=value``: a literal ``;`` starts them, since every ``;`` of the path itself is
``%3B``; Artifactory decodes values, ``+`` included, but not keys, which
:mod:`jfrog_mlflow.properties` keeps to plain ASCII), and the ``properties=`` query
parameter of Set Item Properties (Artifactory's ``k=v1,v2;k2=v`` syntax, special
characters backslash-escaped, then the whole value percent-encoded).
"""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote

from jfrog_mlflow.errors import InvalidArtifactPath
from jfrog_mlflow.properties import Properties, escape_value

__all__ = [
    "PATH_SEGMENT_SAFE",
    "build_aql_url",
    "build_deep_list_url",
    "build_folder_archive_url",
    "build_item_url",
    "build_list_url",
    "build_ping_url",
    "build_repo_config_url",
    "build_set_properties_url",
    "build_storage_url",
    "join_path",
    "quote_path",
    "quote_segment",
    "relative_to",
    "unquote_path",
    "validate_listed_path",
    "validate_path",
]

#: Characters (beyond letters, digits and ``_.-~``) left unencoded in a path segment: none.
PATH_SEGMENT_SAFE = ""

_FORBIDDEN = frozenset('\\|*?"')
#: File-name suffixes Artifactory reads as checksum uploads for the sibling file.
_CHECKSUM_SUFFIXES = (".sha1", ".sha256", ".md5")


def quote_segment(segment: str) -> str:
    """Percent-encode one path segment (UTF-8), leaving only unreserved characters."""
    return quote(segment, safe=PATH_SEGMENT_SAFE, encoding="utf-8", errors="strict")


def quote_path(path: str) -> str:
    """Percent-encode each ``/``-separated segment of a POSIX path."""
    return "/".join(quote_segment(seg) for seg in path.split("/"))


def unquote_path(encoded: str) -> str:
    """Inverse of :func:`quote_path` (used by tests and by the emulator's callers)."""
    return "/".join(unquote(seg, encoding="utf-8", errors="strict") for seg in encoded.split("/"))


def join_path(*parts: str | None) -> str:
    """Join POSIX path pieces, dropping empty pieces and stray slashes."""
    segments: list[str] = []
    for part in parts:
        if part:
            segments.extend(s for s in part.split("/") if s)
    return "/".join(segments)


def relative_to(path: str, root: str) -> str | None:
    """Return ``path`` relative to ``root`` (both slash-free at the edges), or ``None``."""
    if not root:
        return path
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1 :]
    return None


def validate_path(path: str, *, what: str | None = None) -> str:
    """Check that Artifactory can store ``path`` and return it unchanged.

    Args:
        path: POSIX path inside a repository (no leading slash needed).
        what: Name reported in the error (defaults to ``path``), e.g. the local file.

    Raises:
        InvalidArtifactPath: naming the file and the rule it breaks.
    """
    label = what or path
    for seg in path.split("/"):
        if seg == "":
            continue
        reason = _segment_problem(seg)
        if reason:
            raise InvalidArtifactPath(
                f"Artifactory cannot store '{label}': path segment {seg!r} {reason}"
            )
    name = path.rstrip("/").rsplit("/", 1)[-1]
    suffix = next((s for s in _CHECKSUM_SUFFIXES if name.endswith(s)), None)
    if suffix and len(name) > len(suffix):
        # Artifactory treats a deploy to '<x>.sha1' (.md5, .sha256) as a checksum upload for
        # the sibling '<x>': the body is never stored as a file (REST reference §1.5).
        raise InvalidArtifactPath(
            f"Artifactory cannot store '{label}': a file name ending in '{suffix}' is taken as "
            f"the checksum of the sibling file '{name[: -len(suffix)]}' and not stored; "
            f"rename it (e.g. '{name}.txt')"
        )
    return path


def _segment_problem(seg: str) -> str | None:
    bad = sorted({c for c in seg if c in _FORBIDDEN})
    if bad:
        return "contains the forbidden character(s) " + " ".join(bad)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in seg):
        return "contains a control character"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in seg):
        return "contains an unpaired surrogate"
    if seg != seg.strip():
        return "starts or ends with whitespace"
    if set(seg) == {"."}:
        return "consists only of dots"
    if seg == "&":
        return "is a lone '&'"
    return None


def validate_listed_path(path: str) -> str:
    """Reject a path from a server listing that could escape the download destination.

    Raises:
        InvalidArtifactPath: for absolute paths, ``..`` segments or backslashes.
    """
    if (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(seg in ("..", ".") for seg in path.split("/"))
        or posixpath.isabs(path)
    ):
        raise InvalidArtifactPath(f"Refusing unsafe path from server listing: {path!r}")
    return path


def build_item_url(
    base_url: str, repo: str, path: str, *, folder: bool = False, properties: Properties = ()
) -> str:
    """URL to deploy, download or delete ``path`` in ``repo``; ``properties`` become matrix
    parameters (one ``;key=value`` per value), which a deploy stores on the item."""
    url = f"{base_url}/{quote_segment(repo)}"
    if path:
        url += "/" + quote_path(path)
    if folder:
        url += "/"
    for key, values in properties:
        url += "".join(f";{key}={quote_segment(value)}" for value in values)
    return url


def build_set_properties_url(
    base_url: str, repo: str, path: str, properties: Properties, *, recursive: bool
) -> str:
    """``PUT`` URL of Set Item Properties on ``path`` (and, ``recursive``, all below it)."""
    text = ";".join(
        f"{escape_value(key)}={','.join(escape_value(v) for v in values)}"
        for key, values in properties
    )
    query = f"properties={quote_segment(text)}&recursive={'1' if recursive else '0'}"
    return f"{build_storage_url(base_url, repo, path)}?{query}"


def build_ping_url(base_url: str) -> str:
    """``GET`` URL of System Ping (answers ``OK`` without credentials)."""
    return f"{base_url}/api/system/ping"


def build_storage_url(base_url: str, repo: str, path: str) -> str:
    """Storage API URL (item info) of ``path`` in ``repo``."""
    url = f"{base_url}/api/storage/{quote_segment(repo)}"
    if path:
        url += "/" + quote_path(path)
    return url


def build_list_url(base_url: str, repo: str, path: str) -> str:
    """File List URL for the direct children of a folder, folders included (Pro)."""
    return build_storage_url(base_url, repo, path) + "?list&deep=0&listFolders=1"


def build_deep_list_url(base_url: str, repo: str, path: str) -> str:
    """File List URL for the whole tree below a folder, folders included (Pro)."""
    return build_storage_url(base_url, repo, path) + "?list&deep=1&listFolders=1"


def build_aql_url(base_url: str) -> str:
    """AQL search endpoint."""
    return f"{base_url}/api/search/aql"


def build_repo_config_url(base_url: str, repo: str) -> str:
    """Repository configuration URL (``GET /api/repositories/<key>``)."""
    return f"{base_url}/api/repositories/{quote_segment(repo)}"


def build_folder_archive_url(base_url: str, repo: str, folder: str) -> str:
    """``GET`` URL of a folder as a tar archive (Retrieve Folder Archive, Pro)."""
    return (
        f"{base_url}/api/archive/download/{quote_segment(repo)}/{quote_path(folder)}"
        "?archiveType=tar"
    )
