"""Parsing of Artifactory JSON responses into small dataclasses (pure, no I/O).

Wire quirks handled here: ``size`` is a string in storage info and deploy responses but a
number (``-1`` for folders) in File List output; File List calls SHA-256 ``sha2``; entry
``uri`` values are relative to the listed folder with a leading ``/`` and are not
percent-encoded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Checksums",
    "ItemInfo",
    "ListEntry",
    "build_children_aql",
    "parse_aql_children",
    "parse_checksums",
    "parse_error_message",
    "parse_file_list",
    "parse_storage_info",
    "parse_virtual_members",
]


@dataclass(frozen=True, slots=True)
class Checksums:
    """Hex digests reported by the server (lower-case; ``None`` when absent)."""

    sha1: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One child of a folder.

    Attributes:
        path: Path relative to the listed folder, no leading slash.
        is_folder: Whether it is a folder.
        size: Size in bytes for files (``None`` for folders or when unknown).
    """

    path: str
    is_folder: bool
    size: int | None = None
    checksums: Checksums = Checksums()


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """Storage-API item info (file or folder)."""

    is_folder: bool
    size: int | None
    checksums: Checksums
    children: tuple[ListEntry, ...] = ()


def _as_dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"Unexpected {what} response from Artifactory: not a JSON object")
    return data


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _hex(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def parse_checksums(data: Any) -> Checksums:
    """Parse a ``checksums`` object (``sha256`` or File List's ``sha2``)."""
    if not isinstance(data, dict):
        return Checksums()
    return Checksums(
        sha1=_hex(data.get("sha1")), sha256=_hex(data.get("sha256") or data.get("sha2"))
    )


def _child_path(uri: Any) -> str:
    if not isinstance(uri, str):
        raise ValueError("Unexpected listing entry from Artifactory: 'uri' is not a string")
    return uri[1:] if uri.startswith("/") else uri


def parse_storage_info(data: Any) -> ItemInfo:
    """Parse FileInfo or FolderInfo JSON (``GET /api/storage/<repo>/<path>``)."""
    obj = _as_dict(data, "storage info")
    if "children" in obj:
        children = tuple(
            ListEntry(path=_child_path(c.get("uri")), is_folder=bool(c.get("folder")))
            for c in obj.get("children") or []
            if isinstance(c, dict)
        )
        return ItemInfo(is_folder=True, size=None, checksums=Checksums(), children=children)
    return ItemInfo(
        is_folder=False,
        size=_as_int(obj.get("size")),
        checksums=parse_checksums(obj.get("checksums")),
    )


def parse_file_list(data: Any) -> list[ListEntry]:
    """Parse File List JSON (``?list``); paths stay relative to the listed folder."""
    obj = _as_dict(data, "file list")
    entries = []
    for f in obj.get("files") or []:
        if not isinstance(f, dict):
            continue
        path = _child_path(f.get("uri"))
        if path == "":
            continue  # includeRootPath entry for the folder itself
        folder = bool(f.get("folder"))
        entries.append(
            ListEntry(
                path=path,
                is_folder=folder,
                size=None if folder else _as_int(f.get("size")),
                checksums=Checksums() if folder else parse_checksums(f),
            )
        )
    return entries


def parse_virtual_members(data: Any) -> tuple[str, ...]:
    """The members of a virtual repository's configuration (``GET /api/repositories/<key>``);
    ``()`` for any other repository."""
    if not isinstance(data, dict) or data.get("rclass") != "virtual":
        return ()
    members = data.get("repositories")
    if not isinstance(members, list):
        return ()
    return tuple(m for m in members if isinstance(m, str) and m)


def parse_error_message(data: Any) -> str:
    """Extract ``errors[0].message`` from Artifactory's error envelope, or ``""``."""
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message")
            if isinstance(message, str):
                return message
    return ""


def error_detail(body: bytes, content_type: str = "") -> str:
    """The most useful message in an error response body (``""`` when there is none).

    Artifactory's JSON envelope message when there is one, otherwise the start of the body
    as text, except HTML pages (proxies' error pages), which say nothing useful.
    """
    if body.lstrip()[:1] == b"{":
        try:
            message = parse_error_message(json.loads(body))
        except ValueError:
            message = ""
        if message:
            return message
    if "html" in content_type.lower():
        return ""
    return body[:65536].decode("utf-8", "replace").strip()


def build_children_aql(repo: str, path: str) -> str:
    """AQL text selecting the direct children (files and folders) of ``path``.

    AQL calls the repository root ``"."``. Values are JSON-encoded, so any name is safe.
    """
    criteria = json.dumps({"repo": repo, "path": path or ".", "type": "any"})
    return f'items.find({criteria}).include("repo","name","type","size")'


def parse_aql_children(data: Any, repo: str) -> list[ListEntry] | None:
    """Parse AQL results into children entries (skipping the ``.`` root-folder row).

    ``None`` when a row belongs to another repository than ``repo``: the query named a
    virtual repository, which AQL searches member by member, so one name can come back
    once per member, with that member's size; only the storage API shows the virtual
    repository's own view (the first member holding the name).
    """
    obj = _as_dict(data, "AQL")
    entries = []
    for row in obj.get("results") or []:
        if not isinstance(row, dict):
            continue
        if row.get("repo", repo) != repo:
            return None
        name = row.get("name")
        if not isinstance(name, str) or name in ("", ".") or "/" in name:
            continue
        folder = row.get("type") == "folder"
        entries.append(ListEntry(name, folder, None if folder else _as_int(row.get("size"))))
    return entries
