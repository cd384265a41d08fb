"""MIME types from file names, the way Artifactory guesses them (pure)."""

from __future__ import annotations

import functools
import mimetypes


def guess_mime_type(name: str) -> str:
    """MIME type from the file name, like Artifactory (unknown: application/octet-stream)."""
    if ":" in name or "." not in name or name[0] == ".":  # URL-like, no or odd extension
        return _guess_mime_type(name)
    # Only the last two extensions count (``.tar.gz``): one lookup per extension pair.
    last = name.rfind(".")
    prev = name.rfind(".", 0, last)
    return _guess_mime_type("x" + name[prev if prev > 0 else last :])


@functools.lru_cache(maxsize=1024)
def _guess_mime_type(name: str) -> str:
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or "application/octet-stream"
