"""MIME types from file names, as Artifactory assigns them (pure).

The table is Artifactory's default ``mimetypes.xml``, shipped as the package data file
``mimetypes.json`` (which names its source): the text after the last dot of the name,
lower-cased, looked up there; anything else is ``application/octet-stream``.  Python's
``mimetypes`` would answer differently for many names an ML run logs (``.yaml``,
``.png``, ``.csv``, ``.md``), and a client must not learn a type no server sends.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

DEFAULT_MIME = "application/octet-stream"


def _load_table() -> dict[str, str]:
    raw: dict[str, Any] = json.loads(
        files(__package__ or "fake_artifactory.core").joinpath("mimetypes.json").read_text("utf-8")
    )
    return {str(ext): str(mime) for ext, mime in raw["by_extension"].items()}


#: Extension (lower case) -> MIME type.
BY_EXTENSION: dict[str, str] = _load_table()


def guess_mime_type(name: str) -> str:
    """MIME type of a file name (the last path segment), like Artifactory."""
    dot = name.rfind(".")
    if dot < 0:
        return DEFAULT_MIME
    return BY_EXTENSION.get(name[dot + 1 :].lower(), DEFAULT_MIME)
