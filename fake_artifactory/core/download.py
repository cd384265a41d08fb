"""What a file download answers: headers, conditional requests and byte ranges (pure).

Both file views (:mod:`fake_artifactory.web.files` and the plain-request fast path in
:mod:`fake_artifactory.web.files_fast`) build their answers from these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.mime import DEFAULT_MIME, guess_mime_type
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.serializers import http_date
from fake_artifactory.core.uri import quote_path

MULTIPART_BOUNDARY = "BCD64322345343217845286A"
#: Content type of a checksum file (``.sha1``, ``.md5``, ``.sha256``) in the MIME table.
CHECKSUM_MIME = guess_mime_type("x.sha1")


def content_disposition(name: str) -> str:
    """``attachment`` with a plain ``filename`` when it is safe ASCII, and ``filename*``."""
    encoded = quote_path(name)
    plain = name if name.isascii() and '"' not in name else encoded
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


def file_headers(item: ItemRecord) -> dict[str, str]:
    """The headers of every answer about a file's content (200, 206, 304 and 416)."""
    headers = {
        "Last-Modified": http_date(item.modified),
        "ETag": item.sha1 or "",
        "X-Checksum-Sha1": item.sha1 or "",
        "X-Checksum-Md5": item.md5 or "",
        "Accept-Ranges": "bytes",
        "X-Artifactory-Filename": quote_path(item.name),
        "Content-Disposition": content_disposition(item.name),
    }
    if item.sha256:
        headers["X-Checksum-Sha256"] = item.sha256
    return headers


def mime_of(item: ItemRecord) -> str:
    return item.mime_type or DEFAULT_MIME


def not_modified(
    item: ItemRecord, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """RFC 7232: ``If-None-Match`` (sha1 ETags, ``*``) wins over ``If-Modified-Since``."""
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
        return "*" in tags or item.sha1 in tags
    if if_modified_since is None:
        return False
    try:
        when = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        return False
    return item.modified // 1000 <= int(when.timestamp())


def parse_byte_ranges(header: str) -> list[tuple[int, int | None]] | None:
    """Parse ``bytes=a-b,c-,-n`` into (start, stop-exclusive) pairs; suffixes have start < 0.

    Unlike werkzeug's parser this accepts overlapping and unordered ranges (Artifactory
    merges them).  Returns None when the header is unparseable or a range is inverted.
    """
    units, _, spec = header.partition("=")
    if units.strip().lower() != "bytes":
        return None
    out: list[tuple[int, int | None]] = []
    for part in spec.split(","):
        first, sep, last = part.strip().partition("-")
        if not sep or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
            return None
        if first == "":
            if last == "":
                return None
            out.append((-int(last), None))
            continue
        start = int(first)
        if last and int(last) < start:
            return None
        out.append((start, int(last) + 1 if last else None))
    return out or None


def requested_ranges(
    item: ItemRecord, range_header: str | None, if_range: str | None
) -> list[tuple[int, int]] | None:
    """Satisfiable ranges as [start, stop) (merged), None for 'whole file'.

    Raises HttpError 416 (with ``Content-Range: bytes */size``) when nothing is
    satisfiable.
    """
    if not range_header or "=" not in range_header:
        return None
    if if_range and if_range.strip('"') not in (item.sha1, http_date(item.modified)):
        return None
    size = item.size
    unsatisfiable = HttpError(416, "Requested Range Not Satisfiable")
    unsatisfiable.headers["Content-Range"] = f"bytes */{size}"
    parsed = parse_byte_ranges(range_header)
    if parsed is None or size == 0:
        raise unsatisfiable
    spans: list[tuple[int, int]] = []
    for begin, end in parsed:
        if begin < 0:
            start, stop = max(size + begin, 0), size
        else:
            start, stop = begin, size if end is None else min(end, size)
        if start < size and stop > start:
            spans.append((start, stop))
    if not spans:
        raise unsatisfiable
    spans.sort()
    merged = [spans[0]]
    for start, stop in spans[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            merged[-1] = (last_start, max(last_stop, stop))
        else:
            merged.append((start, stop))
    return merged


@dataclass(frozen=True, slots=True)
class Multipart:
    """The layout of a ``multipart/byteranges`` body: part heads, spans and the closing."""

    heads: list[bytes]
    spans: list[tuple[int, int]]
    closing: bytes
    content_type: str

    @property
    def length(self) -> int:
        return (
            sum(len(h) for h in self.heads) + sum(b - a for a, b in self.spans) + len(self.closing)
        )


def multipart(item: ItemRecord, spans: list[tuple[int, int]]) -> Multipart:
    """The multipart layout of several ranges of ``item``."""
    mime = mime_of(item)
    heads = [
        (
            f"\r\n--{MULTIPART_BOUNDARY}\r\nContent-Type: {mime}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{item.size}\r\n\r\n"
        ).encode()
        for start, stop in spans
    ]
    closing = f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()
    return Multipart(heads, spans, closing, f"multipart/byteranges; boundary={MULTIPART_BOUNDARY}")
