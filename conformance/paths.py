"""Pure path helpers: the one place that percent-encodes repository paths.

Artifactory parses the raw request URI: a literal ``;`` starts matrix parameters, ``#`` and
``?`` would end the path, ``%`` starts an escape and ``+`` is kept literally. Encoding every
byte outside the RFC 3986 unreserved set in every segment sidesteps all of that, and the
server decodes ``%XX`` (with ``+`` preserved) back to the stored name.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["join", "parent", "basename", "quote_path", "is_under", "relative_to"]


def quote_path(path: str) -> str:
    """Percent-encode each ``/``-separated segment of ``path`` (UTF-8, nothing kept raw)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def join(*parts: str) -> str:
    """Join non-empty path parts with ``/`` without normalising anything."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def parent(path: str) -> str:
    """Parent of a relative path (``""`` for a top-level name)."""
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    """Last segment of a path."""
    return path.rpartition("/")[2]


def is_under(path: str, folder: str) -> bool:
    """True when ``path`` equals ``folder`` or lies below it (``""`` is the root)."""
    return folder == "" or path == folder or path.startswith(folder + "/")


def relative_to(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` (which must contain it)."""
    if folder == "":
        return path
    if path == folder:
        return ""
    if not path.startswith(folder + "/"):
        raise ValueError(f"{path!r} is not under {folder!r}")
    return path[len(folder) + 1 :]
