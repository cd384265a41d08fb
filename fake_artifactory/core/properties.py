"""Property rules: key validation, the ``properties=`` parameter and metadata patches (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fake_artifactory.core.errors import HttpError, InvalidRawPath

#: Characters a property key may not contain (besides whitespace).
FORBIDDEN_KEY_CHARS = frozenset(")(}{][*+^$\\/~`!@#%&<>;=,±§")


def validate_property_key(key: str) -> None:
    """Reject property keys the way Artifactory does (InvalidRawPath with its message)."""
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


def matrix_properties(
    matrix: Mapping[str, list[str]], *, may_annotate: bool
) -> dict[str, list[str]]:
    """The properties a deploy's matrix parameters set: keys validated (400), and nothing
    at all when the caller may not annotate (Artifactory drops them silently)."""
    for key in matrix:
        validate_property_key(key)
    return dict(matrix) if may_annotate else {}


def _split_unescaped(text: str, seps: str) -> list[str]:
    """Split on separators not preceded by a backslash escape (escapes are kept)."""
    out, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch in seps:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_properties_param(raw: str) -> dict[str, list[str]]:
    """Parse ``k1=v1,v2;k2=v3`` (``|`` also separates pairs, ``\\`` escapes ``=,;|``)."""
    props: dict[str, list[str]] = {}
    for pair in _split_unescaped(raw, ";|"):
        if not pair:
            continue
        key_part, *value_parts = _split_unescaped(pair, "=")
        value_text = pair[len(key_part) + 1 :]
        values = [_unescape(v) for v in _split_unescaped(value_text, ",")] if value_parts else [""]
        props[_unescape(key_part)] = values
    return props


@dataclass(frozen=True, slots=True)
class MetadataPatch:
    """``PATCH /api/metadata`` as changes: keys to set (values replaced) and to remove."""

    to_set: dict[str, list[str]]
    to_delete: list[str]


def parse_metadata_patch(body: Any) -> MetadataPatch:
    """The ``{"props": {...}}`` merge patch: ``null`` removes a key, a string or string
    array replaces it; ``stats`` is accepted and ignored.  Errors are 400 ``text/plain``."""
    if not isinstance(body, dict) or not ("props" in body or "stats" in body):
        raise HttpError(400, "props or stats fields required", plain=True)
    props = body.get("props") or {}
    if not isinstance(props, dict):
        raise HttpError(400, "props must be an object", plain=True)
    to_set: dict[str, list[str]] = {}
    to_delete: list[str] = []
    for key, value in props.items():
        if value is None:
            to_delete.append(key)
        elif isinstance(value, str):
            to_set[key] = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            to_set[key] = list(value)
        else:
            raise HttpError(400, f"Invalid value for property '{key}'", plain=True)
        if value is not None:
            try:
                validate_property_key(key)
            except InvalidRawPath as exc:
                raise HttpError(400, exc.message, plain=True) from None
    return MetadataPatch(to_set, to_delete)
