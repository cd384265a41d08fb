"""Archive streams for the explode deploy and the folder download (pure: no HTTP, no store).

Reading: :func:`read_entries` walks a tar (optionally gzip-compressed) or zip archive
once, yielding one :class:`ArchiveEntry` per directory or regular file with a
validated, normalised ``/``-separated name; a file's content is read chunk by chunk
through :meth:`ArchiveEntry.chunks` (tar is read as a stream, zip needs a seekable
file because its directory is at the end).  Links, devices and FIFOs are skipped.

Writing: :func:`write_archive` turns :class:`OutEntry` values (name, size, mtime and a
chunk source) into the bytes of a PAX tar, a gzip-compressed PAX tar or a zip, yielded
as the archive grows, so an archive of any size is produced in flat memory.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, BinaryIO

__all__ = [
    "ARCHIVE_TYPES",
    "EXPLODED_EXTENSIONS",
    "NOT_EMULATED_EXTENSIONS",
    "ArchiveEntry",
    "ArchiveError",
    "ArchiveType",
    "OutEntry",
    "archive_type",
    "extension_of",
    "kind_of_name",
    "normalize_entry_name",
    "read_entries",
    "write_archive",
]

CHUNK_SIZE = 1024 * 1024
#: Response pieces are at least this big (fewer, larger chunks on the wire).
OUT_CHUNK = 256 * 1024
#: zlib level for zip entries and tar.gz: fast, the emulator favours throughput.
COMPRESS_LEVEL = 1
_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_S_IFMT, _S_IFREG, _S_IFDIR = 0o170000, 0o100000, 0o040000

#: What a failing archive read raises (corrupt data, bad compression, encrypted zip, ...).
_READ_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    zlib.error,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
)


class ArchiveError(ValueError):
    """The archive is corrupt, of an unknown type or holds an unacceptable entry."""


@dataclass(frozen=True, slots=True)
class ArchiveType:
    """One ``archiveType`` value: how it is written and announced."""

    name: str
    content_type: str
    compressed: bool
    zip: bool


ARCHIVE_TYPES: dict[str, ArchiveType] = {
    "tar": ArchiveType("tar", "application/x-tar", False, False),
    "zip": ArchiveType("zip", "application/zip", False, True),
    "tar.gz": ArchiveType("tar.gz", "application/x-gzip", True, False),
    "tgz": ArchiveType("tgz", "application/x-gzip", True, False),
}


def archive_type(value: str) -> ArchiveType:
    """The :class:`ArchiveType` for an ``archiveType`` query value (case-insensitive)."""
    found = ARCHIVE_TYPES.get(value.lower())
    if found is None:
        raise ArchiveError(
            f"Unsupported archive type: '{value}'. Supported types: " + ", ".join(ARCHIVE_TYPES)
        )
    return found


#: Extensions Artifactory explodes (its default ``explodedArchiveExtensions``): the
#: first match wins, the longest first.
EXPLODED_EXTENSIONS: dict[str, str] = {
    "tar.gz": "tar.gz",
    "tar.bz2": "tar.bz2",
    "tgz": "tar.gz",
    "tar": "tar",
    "zip": "zip",
    "7z": "7z",
}
#: Extensions Artifactory explodes but the emulator cannot read (no 7z in the standard
#: library): the emulator refuses them as not implemented rather than answering wrongly.
NOT_EMULATED_EXTENSIONS = frozenset({"7z"})


def extension_of(name: str) -> str:
    """The archive extension of a file name: a known one (``tar.gz`` included), else the
    text after the last dot (``""`` without one), lower-cased."""
    lower = name.lower()
    for extension in EXPLODED_EXTENSIONS:
        if lower.endswith("." + extension):
            return extension
    return lower.rsplit(".", 1)[1] if "." in lower else ""


def kind_of_name(name: str) -> str | None:
    """``"tar"``, ``"tar.gz"``, ``"tar.bz2"`` or ``"zip"`` (how to read the archive) from a
    file name's extension, else None (``7z`` included: see NOT_EMULATED_EXTENSIONS)."""
    kind = EXPLODED_EXTENSIONS.get(extension_of(name))
    return None if kind is None or kind in NOT_EMULATED_EXTENSIONS else kind


def normalize_entry_name(raw: str) -> str:
    """An entry name as a relative ``/``-separated path (``""`` for the archive root).

    Leading ``./`` and empty or ``.`` segments are dropped; absolute names and ``..``
    segments raise :class:`ArchiveError` (they would escape the target folder).
    """
    if raw.startswith("/"):
        raise ArchiveError(f"Archive entry '{raw}' has an absolute path")
    segments = [s for s in raw.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise ArchiveError(f"Archive entry '{raw}' points outside the target folder")
    return "/".join(segments)


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """A directory or regular file read from an archive.

    ``name`` is normalised (see :func:`normalize_entry_name`).  A file's content must be
    consumed with :meth:`chunks` before the next entry is requested.
    """

    name: str
    is_dir: bool
    _stream: IO[bytes] | None = None

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The file content; read errors become :class:`ArchiveError`."""
        if self._stream is None:
            return
        try:
            while data := self._stream.read(chunk_size):
                yield data
        except _READ_ERRORS as exc:
            raise ArchiveError(f"Corrupt archive entry '{self.name}': {exc}") from None


def read_entries(fh: BinaryIO, kind: str) -> Iterator[ArchiveEntry]:
    """Directory and regular-file entries of a ``tar``, ``tar.gz``, ``tar.bz2`` or ``zip``
    archive.

    ``fh`` must be seekable for zip.  Entries whose normalised name is empty (the
    archive's own root) are skipped; so are links, devices and FIFOs.
    """
    try:
        if kind == "zip":
            yield from _zip_entries(fh)
        elif kind in ("tar", "tar.gz", "tar.bz2"):
            yield from _tar_entries(fh, kind)
        else:
            raise ArchiveError(f"Unsupported archive type: '{kind}'")
    except ArchiveError:
        raise
    except _READ_ERRORS as exc:
        raise ArchiveError(f"Corrupt {kind} archive: {exc}") from None


def _tar_entries(fh: BinaryIO, kind: str) -> Iterator[ArchiveEntry]:
    if kind == "tar.gz":
        tar = tarfile.open(fileobj=fh, mode="r|gz", encoding="utf-8", errors="strict")
    elif kind == "tar.bz2":
        tar = tarfile.open(fileobj=fh, mode="r|bz2", encoding="utf-8", errors="strict")
    else:
        tar = tarfile.open(fileobj=fh, mode="r|", encoding="utf-8", errors="strict")
    # TarFile keeps every member it has read (an undocumented list); an archive is read
    # once here, so drop them (else a small tar.gz of many empty entries costs ~0.5 KB
    # of memory per entry).
    seen: list[tarfile.TarInfo] = tar.members  # type: ignore[attr-defined]
    with tar:
        while (member := tar.next()) is not None:
            seen.clear()
            if not (member.isreg() or member.isdir()):
                continue
            name = normalize_entry_name(member.name)
            if not name:
                continue
            if member.isdir():
                yield ArchiveEntry(name, True)
                continue
            stream = tar.extractfile(member)
            yield ArchiveEntry(name, False, stream)


def _zip_entries(fh: BinaryIO) -> Iterator[ArchiveEntry]:
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            file_type = (info.external_attr >> 16) & _S_IFMT
            is_dir = info.is_dir() or file_type == _S_IFDIR
            if file_type not in (0, _S_IFREG, _S_IFDIR):
                continue  # a symlink or special file made on Unix
            name = normalize_entry_name(info.filename)
            if not name:
                continue
            if is_dir:
                yield ArchiveEntry(name, True)
                continue
            with zf.open(info) as stream:
                yield ArchiveEntry(name, False, stream)


# -- writing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutEntry:
    """A regular file to write: ``open_chunks()`` yields exactly ``size`` bytes."""

    name: str
    size: int
    mtime: float
    open_chunks: Callable[[], Iterable[bytes]]


def bytes_entry(name: str, data: bytes, mtime: float) -> OutEntry:
    """An :class:`OutEntry` for a small in-memory file (e.g. a checksum file)."""
    return OutEntry(name, len(data), mtime, lambda: [data])


class _Sink:
    """A write-only, unseekable buffer drained by the generator that owns it."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        if data:
            self._parts.append(bytes(data))
            self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return out


def write_archive(entries: Iterable[OutEntry], kind: ArchiveType) -> Iterator[bytes]:
    """The archive bytes for ``entries``, in pieces of about :data:`OUT_CHUNK` bytes."""
    raw = _zip_stream(entries) if kind.zip else _tar_stream(entries)
    if kind.compressed:
        raw = _gzip(raw)
    return _coalesce(raw)


def _coalesce(pieces: Iterable[bytes]) -> Iterator[bytes]:
    buf: list[bytes] = []
    size = 0
    for piece in pieces:
        if not piece:
            continue
        buf.append(piece)
        size += len(piece)
        if size >= OUT_CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def _gzip(pieces: Iterable[bytes]) -> Iterator[bytes]:
    comp = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)  # 31: gzip container
    for piece in pieces:
        out = comp.compress(piece)
        if out:
            yield out
    yield comp.flush()


def _tar_stream(entries: Iterable[OutEntry]) -> Iterator[bytes]:
    """A PAX tar, header by header; file data is never buffered whole."""
    offset = 0
    for entry in entries:
        info = tarfile.TarInfo(entry.name)
        info.size = entry.size
        info.mode = 0o644
        info.mtime = int(entry.mtime)
        info.type = tarfile.REGTYPE
        header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        yield header
        offset += len(header)
        written = 0
        for chunk in entry.open_chunks():
            written += len(chunk)
            if written > entry.size:
                raise ArchiveError(f"'{entry.name}' is longer than its recorded size")
            yield chunk
        if written != entry.size:
            raise ArchiveError(f"'{entry.name}' is shorter than its recorded size")
        padding = -entry.size % _BLOCK
        yield b"\0" * padding
        offset += entry.size + padding
    end = b"\0" * (2 * _BLOCK)
    offset += len(end)
    yield end + b"\0" * (-offset % _RECORD)


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    when = datetime.fromtimestamp(mtime, tz=timezone.utc)
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    return max(stamp, _ZIP_EPOCH)


def _zip_stream(entries: Iterable[OutEntry]) -> Iterator[bytes]:
    """A deflated zip written to an unseekable sink (sizes go in data descriptors)."""
    sink = _Sink()
    with zipfile.ZipFile(
        sink,
        "w",
        compression=zipfile.ZIP_DEFLATED,
        compresslevel=COMPRESS_LEVEL,
    ) as zf:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, _zip_time(entry.mtime))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = entry.size
            info.external_attr = (_S_IFREG | 0o644) << 16
            with zf.open(info, "w") as out:
                for chunk in entry.open_chunks():
                    out.write(chunk)
                    if sink.size >= OUT_CHUNK:
                        yield sink.drain()
            yield sink.drain()
    yield sink.drain()
