"""Pure archive helpers of the archive checks: build the tar/zip the tests deploy, read back
the archives the server sends. In memory (every archive of the suite is a few KiB).

Tar is written in PAX format with UTF-8 names, so Unicode names and names longer than the
100-byte ustar field survive; zip names are UTF-8 (``zipfile`` sets the UTF-8 flag for any
non-ASCII name).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["ArchiveContent", "build_archive", "parent_folders", "read_archive"]

#: Fixed entry time (2024-01-01T00:00:00Z): the tests never depend on the clock.
_MTIME = 1_704_067_200
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class ArchiveContent:
    """What an archive holds: regular files by name, and every entry name in order."""

    files: dict[str, bytes]
    names: list[str]

    def describe(self) -> str:
        """The entry names (directories end in ``/``), for failure messages."""
        return repr(self.names)


def parent_folders(names: Iterable[str]) -> list[str]:
    """Every ancestor folder of ``names``, parents before children (``a``, ``a/b``)."""
    out: set[str] = set()
    for name in names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return sorted(out, key=lambda p: (p.count("/"), p))


def build_archive(kind: str, files: Mapping[str, bytes], folders: Iterable[str] = ()) -> bytes:
    """A ``tar`` or ``zip`` holding ``folders`` as directory entries, then ``files`` in
    their mapping order (names are written exactly as given, ``..`` included)."""
    if kind == "tar":
        return _build_tar(files, folders)
    if kind == "zip":
        return _build_zip(files, folders)
    raise ValueError(f"unsupported archive kind {kind!r}")


def _build_tar(files: Mapping[str, bytes], folders: Iterable[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder + "/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = _MTIME
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _MTIME
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _build_zip(files: Mapping[str, bytes], folders: Iterable[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for folder in folders:
            info = zipfile.ZipInfo(folder + "/", _ZIP_TIME)
            info.external_attr = (0o040755 << 16) | 0x10
            zf.writestr(info, b"")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def read_archive(kind: str, data: bytes) -> ArchiveContent:
    """The regular files and all entry names of a ``tar`` (also gzip-compressed) or ``zip``.

    Raises ``tarfile.TarError`` / ``zipfile.BadZipFile`` for a body that is not one.
    """
    if kind == "zip":
        return _read_zip(data)
    if kind in ("tar", "tar.gz", "tgz"):
        return _read_tar(data)
    raise ValueError(f"unsupported archive kind {kind!r}")


def _read_tar(data: bytes) -> ArchiveContent:
    files: dict[str, bytes] = {}
    names: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*", encoding="utf-8") as tar:
        for member in tar:
            names.append(member.name + ("/" if member.isdir() else ""))
            if member.isreg():
                stream = tar.extractfile(member)
                files[member.name] = stream.read() if stream is not None else b""
    return ArchiveContent(files, names)


def _read_zip(data: bytes) -> ArchiveContent:
    files: dict[str, bytes] = {}
    names: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            names.append(info.filename)
            if not info.is_dir():
                files[info.filename] = zf.read(info)
    return ArchiveContent(files, names)
