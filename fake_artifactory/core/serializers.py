"""Records to Artifactory's wire formats (pure functions, no Flask).

JSON is laid out byte for byte like Artifactory's Jackson 1.x default pretty printer (see
:func:`to_json`; AQL results have their own hand-assembled frame, :func:`aql_json`),
``None`` fields are omitted, timestamps are ISO-8601 with three
millisecond digits and ``Z``.  URLs are built by :mod:`fake_artifactory.core.uri` from a
base URL that already includes the context path.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from fake_artifactory.core.errors import HttpError, StorageError, status_for
from fake_artifactory.core.uri import download_url, quote_path, storage_url

if TYPE_CHECKING:
    from fake_artifactory.core.records import ItemRecord, RepoRecord

ITEM_CREATED = "application/vnd.org.jfrog.artifactory.storage.ItemCreated+json"
FILE_INFO = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
FOLDER_INFO = "application/vnd.org.jfrog.artifactory.storage.FolderInfo+json"
FILE_LIST = "application/vnd.org.jfrog.artifactory.storage.FileList+json"
ITEM_PROPERTIES = "application/vnd.org.jfrog.artifactory.storage.ItemProperties+json"
VERSION = "application/vnd.org.jfrog.artifactory.system.Version+json"
REPOSITORY_LIST = "application/vnd.org.jfrog.artifactory.repositories.RepositoryDetailsList+json"


def to_json(obj: Any) -> str:
    """JSON laid out like Artifactory's Jackson 1.x default pretty printer, None values dropped.

    Objects put each entry on its own line, indented two spaces per nesting level, as
    ``"key" : value``; arrays stay on their line (``[ 1, 2 ]``, ``[ {`` ... ``}, {`` ...
    ``} ]``) and do not add a nesting level; empty ones are ``{ }`` and ``[ ]``; no
    newline at the end.  Written here rather than with ``json.dumps``, whose ``indent``
    cannot keep arrays inline (and would fall back to its slow pure-Python encoder):
    plain JSON types go through the C string encoder, anything else is first normalised
    through ``json``.
    """
    obj = _drop_none(obj)
    out: list[str] = []
    try:
        _pretty(obj, "\n", out)
    except _NotPlain:
        out.clear()
        _pretty(json.loads(json.dumps(obj, ensure_ascii=False)), "\n", out)
    return "".join(out)


class _NotPlain(Exception):
    """A value :func:`_pretty` cannot write directly (non-string keys, subclasses)."""


_c_encode_str: Any = getattr(json.encoder, "c_encode_basestring", None) or (
    json.encoder.py_encode_basestring
)
_SCALARS: dict[object, str] = {True: "true", False: "false"}
#: Control characters Python escapes as ``\u00xx``; Jackson writes the hex digits upper-case.
_CONTROL = re.compile(r"[\x00-\x07\x0b\x0e-\x1f]")
_LOWER_HEX_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u00([0-9a-f]{2})")


def _encode_str(text: str) -> str:
    """A JSON string literal as Jackson writes it (UTF-8 as is, ``\\u001F`` style escapes)."""
    encoded: str = _c_encode_str(text)
    if _CONTROL.search(text) is None:
        return encoded
    return _LOWER_HEX_ESCAPE.sub(lambda m: f"{m.group(1)}\\u00{m.group(2).upper()}", encoded)


def _pretty(obj: Any, newline: str, out: list[str]) -> None:
    kind = type(obj)
    if kind is str:
        out.append(_encode_str(obj))
    elif kind is bool:
        out.append(_SCALARS[obj])
    elif kind is int:
        out.append(int.__repr__(obj))
    elif obj is None:
        out.append("null")
    elif kind is float:
        out.append(json.dumps(obj))
    elif kind is dict:
        if not obj:
            out.append("{ }")
            return
        inner = newline + "  "
        sep = "{" + inner
        for key, value in obj.items():
            if type(key) is not str:
                raise _NotPlain
            out.append(sep)
            out.append(_encode_str(key))
            out.append(" : ")
            _pretty(value, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    elif kind is list:
        if not obj:
            out.append("[ ]")
            return
        sep = "[ "
        for value in obj:
            out.append(sep)
            _pretty(value, newline, out)
            sep = ", "
        out.append(" ]")
    else:
        raise _NotPlain


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list | tuple):
        return [_drop_none(v) for v in obj]
    return obj


def aql_json(result: Mapping[str, Any]) -> str:
    """An AQL answer framed as Artifactory streams it: a hand-written frame (a leading
    newline, ``"results"`` and ``"range"`` not indented, a final newline) around rows and a
    range block that are each pretty-printed on their own, rows joined by a bare comma."""
    rows = ",".join(to_json(row) for row in result.get("results", []))
    return f'\n{{\n"results" : [ {rows} ],\n"range" : {to_json(result.get("range", {}))}\n}}\n'


#: Formatted whole seconds (``strftime`` costs more than the rest of a small response);
#: plain dicts, cleared when full (their operations are atomic under the GIL).
_ISO_SECONDS: dict[int, str] = {}
_HTTP_DATES: dict[int, str] = {}
_DATE_CACHE_MAX = 4096


def iso(ms: int) -> str:
    """Epoch milliseconds to ``2024-05-02T10:11:12.345Z``."""
    seconds, millis = divmod(ms, 1000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        dt = datetime.fromtimestamp(seconds, tz=timezone.utc)
        prefix = dt.strftime("%Y-%m-%dT%H:%M:%S.")
        if len(_ISO_SECONDS) >= _DATE_CACHE_MAX:
            _ISO_SECONDS.clear()
        _ISO_SECONDS[seconds] = prefix
    return f"{prefix}{millis:03d}Z"


def http_date(ms: int) -> str:
    """Epoch milliseconds to an RFC 7231 HTTP-date."""
    seconds = ms // 1000
    text = _HTTP_DATES.get(seconds)
    if text is None:
        text = format_datetime(datetime.fromtimestamp(seconds, tz=timezone.utc), usegmt=True)
        if len(_HTTP_DATES) >= _DATE_CACHE_MAX:
            _HTTP_DATES.clear()
        _HTTP_DATES[seconds] = text
    return text


def error_body(status: int, message: str) -> str:
    """The error envelope ``{"errors":[{"status":N,"message":"..."}]}``."""
    return to_json({"errors": [{"status": status, "message": message}]})


ERROR_CONTENT_TYPE = "application/json"
PLAIN_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What an error looks like on the wire."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(status: int, message: str, headers: Mapping[str, str] | None = None) -> ErrorReply:
    """Artifactory's JSON error envelope as a reply."""
    return ErrorReply(status, ERROR_CONTENT_TYPE, error_body(status, message), dict(headers or {}))


def describe_error(exc: BaseException) -> ErrorReply | None:
    """The answer to an error of the emulator's tree, or None for any other exception."""
    if isinstance(exc, HttpError):
        if exc.plain:
            content_type = exc.content_type or PLAIN_CONTENT_TYPE
            return ErrorReply(exc.status, content_type, exc.message, dict(exc.headers))
        return error_reply(exc.status, exc.message, exc.headers)
    if isinstance(exc, StorageError):
        return error_reply(status_for(exc), exc.message)
    return None


def _flat_object(pairs: Iterable[tuple[str, str | None]]) -> str:
    """A nested one-level object of :func:`to_json` (two more spaces), None dropped."""
    present = [f'    "{key}" : {_encode_str(value)}' for key, value in pairs if value is not None]
    return "{\n" + ",\n".join(present) + "\n  }" if present else "{ }"


def item_created_json(item: ItemRecord, base: str, *, include_sha256: bool = True) -> str:
    """``to_json(item_created(item, base, ...))``, built directly (the deploy hot path)."""
    if item.is_folder or type(item.created_by) is not str or type(item.repo) is not str:
        return to_json(item_created(item, base, include_sha256=include_sha256))
    enc = _encode_str
    url = enc(download_url(base, item.repo, item.path))
    sums: list[tuple[str, str | None]] = [("sha1", item.sha1), ("md5", item.md5)]
    originals: list[tuple[str, str | None]] = [
        ("sha1", item.original_sha1),
        ("md5", item.original_md5),
    ]
    if include_sha256:
        sums.append(("sha256", item.sha256))
        originals.append(("sha256", item.sha256))
    lines = [
        f'{{\n  "repo" : {enc(item.repo)}',
        f'  "path" : {enc("/" + item.path)}',
        f'  "created" : {enc(iso(item.created))}',
        f'  "createdBy" : {enc(item.created_by)}',
        f'  "downloadUri" : {url}',
    ]
    if item.mime_type is not None:
        lines.append(f'  "mimeType" : {enc(item.mime_type)}')
    lines.append(f'  "size" : "{int(item.size)}"')
    lines.append(f'  "checksums" : {_flat_object(sums)}')
    lines.append(f'  "originalChecksums" : {_flat_object(originals)}')
    lines.append(f'  "uri" : {url}\n}}')
    return ",\n".join(lines)


def _checksums(item: ItemRecord) -> dict[str, str | None]:
    return {"sha1": item.sha1, "md5": item.md5, "sha256": item.sha256}


def _original_checksums(item: ItemRecord) -> dict[str, str | None]:
    return {"sha1": item.original_sha1, "md5": item.original_md5, "sha256": item.sha256}


def item_created(item: ItemRecord, base: str, *, include_sha256: bool = True) -> dict[str, Any]:
    """Deploy / create-folder response body (``uri`` = download URL)."""
    if item.is_folder:
        return {
            "repo": item.repo,
            "path": f"/{item.path}/" if item.path else "/",
            "created": iso(item.created),
            "createdBy": item.created_by,
            "uri": download_url(base, item.repo, item.path, folder=True),
        }
    checksums, originals = _checksums(item), _original_checksums(item)
    if not include_sha256:
        checksums.pop("sha256")
        originals.pop("sha256")
    url = download_url(base, item.repo, item.path)
    return {
        "repo": item.repo,
        "path": f"/{item.path}",
        "created": iso(item.created),
        "createdBy": item.created_by,
        "downloadUri": url,
        "mimeType": item.mime_type,
        "size": str(item.size),
        "checksums": checksums,
        "originalChecksums": originals,
        "uri": url,
    }


def _base_info(item: ItemRecord) -> dict[str, Any]:
    return {
        "repo": item.repo,
        "path": f"/{item.path}",
        "created": iso(item.created),
        "createdBy": item.created_by,
        "lastModified": iso(item.modified),
        "modifiedBy": item.modified_by,
        "lastUpdated": iso(item.updated),
    }


def file_info(item: ItemRecord, base: str) -> dict[str, Any]:
    """Storage API FileInfo (``size`` string, ``uri`` = storage URL)."""
    body = _base_info(item)
    body.update(
        downloadUri=download_url(base, item.repo, item.path),
        mimeType=item.mime_type,
        size=str(item.size),
        checksums=_checksums(item),
        originalChecksums=_original_checksums(item),
        uri=storage_url(base, item.repo, item.path),
    )
    return body


def folder_info(item: ItemRecord, children: Iterable[ItemRecord], base: str) -> dict[str, Any]:
    """Storage API FolderInfo (root path ``/``, ``children[{uri, folder: bool}]``)."""
    body = _base_info(item)
    body["children"] = [{"uri": f"/{c.name}", "folder": c.is_folder} for c in children]
    body["uri"] = storage_url(base, item.repo, item.path)
    return body


def file_list(
    folder: ItemRecord,
    entries: Iterable[ItemRecord],
    base: str,
    *,
    include_root: bool = False,
    md_timestamps: bool = False,
) -> dict[str, Any]:
    """``?list`` body: numeric ``size`` (-1 for folders), ``sha2``, uris relative to folder."""
    prefix = len(folder.path) + 1 if folder.path else 0
    files: list[dict[str, Any]] = []
    if include_root:
        files.append({"uri": "/", "size": -1, "lastModified": iso(folder.modified), "folder": True})
    for entry in entries:
        row: dict[str, Any] = {
            "uri": "/" + entry.path[prefix:],
            "size": -1 if entry.is_folder else entry.size,
            "lastModified": iso(entry.modified),
            "folder": entry.is_folder,
        }
        if not entry.is_folder:
            row["sha1"] = entry.sha1
            row["sha2"] = entry.sha256
        if md_timestamps and entry.properties:
            row["mdTimestamps"] = {"properties": iso(entry.updated)}
        files.append(row)
    return {
        "uri": storage_url(base, folder.repo, folder.path),
        "created": iso(folder.created),
        "files": files,
    }


def item_properties(
    item: ItemRecord, base: str, keys: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """Properties body, or None when there is nothing to report (Artifactory's 404)."""
    props = {k: list(v) for k, v in sorted(item.properties.items()) if keys is None or k in keys}
    if not props:
        return None
    return {"properties": props, "uri": storage_url(base, item.repo, item.path)}


def repo_details(repo: RepoRecord, base: str) -> dict[str, Any]:
    """One entry of ``GET /api/repositories``."""
    return {
        "key": repo.key,
        "type": repo.rclass.upper(),
        "url": f"{base}/{repo.key}",
        "packageType": repo.package_type.capitalize(),
        "description": repo.description,
    }


def index_html(repo: str, path: str, children: Iterable[ItemRecord]) -> str:
    """Apache-style ``Index of`` page for a folder GET with trailing slash."""
    title = html.escape(f"{repo}/{path}" if path else repo)
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        f'<head><meta name="robots" content="noindex" />\n<title>Index of {title}</title>',
        "</head>",
        "<body>",
        f"<h1>Index of {title}</h1>",
        "<pre>Name    Last modified      Size</pre><hr/>",
        '<pre><a href="../">../</a>',
    ]
    for child in children:
        name = child.name + ("/" if child.is_folder else "")
        when = datetime.fromtimestamp(child.modified / 1000, tz=timezone.utc)
        size = "-" if child.is_folder else f"{child.size} bytes"
        href = quote_path(name)
        lines.append(
            f'<a href="{href}">{html.escape(name)}</a>  {when.strftime("%d-%b-%Y %H:%M")}  {size}'
        )
    lines += [
        "</pre>",
        '<hr/><address style="font-size:small;">Artifactory</address>',
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
