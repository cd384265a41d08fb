"""Archive transfers: many small files in one request (Artifactory Pro features; I/O).

Two server features turn a tree of small files into a handful of requests; which files
travel this way is decided in :mod:`jfrog_mlflow.planning`, and this module moves the
bytes through :class:`~jfrog_mlflow.client.ArtifactoryClient`:

* **Deploy from archive** ("explode"): a tar PUT with ``X-Explode-Archive-Atomic: true`` is
  unpacked by the server relative to the archive's parent folder; the archive itself is not
  stored and the response body is empty. :func:`build_tar` builds one batch's archive
  (PAX, UTF-8 names, in memory: a batch is bounded) and :func:`deploy_archive` sends it.
  Because the response says nothing about what was deployed, the caller verifies the
  result with one deep listing and re-uploads anything missing or different file by file.
* **Folder download**: ``GET /api/archive/download/<repo>/<folder>?archiveType=tar`` streams
  the folder as a tar (the admin must enable it). :func:`download_folder` extracts it
  streaming; each accepted entry must be named in the listing, is written through a
  temporary file beside its target (:func:`jfrog_mlflow.localfiles.replacing`), verified
  against the listing's size and checksum and only then renamed into place. Anything
  missing or failing is left to the per-file path.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

import requests

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.errors import ArtifactoryError, AuthenticationFailed, IntegrityError
from jfrog_mlflow.integrity import Digest, Expectation, hash_bytes
from jfrog_mlflow.localfiles import replacing, write_all
from jfrog_mlflow.models import error_detail
from jfrog_mlflow.planning import Batch, SmallFile, WritePlan, match_member
from jfrog_mlflow.urls import build_folder_archive_url, build_item_url, join_path

__all__ = ["BuiltArchive", "build_tar", "deploy_archive", "download_folder", "tar_bytes"]

_logger = logging.getLogger(__name__)

#: Statuses of a folder-archive request after which the client stops asking this server:
#: 403 is "folder download disabled" (an admin setting). A 400 is not sticky: it is also
#: the answer to a folder over the server's max-files or max-size limit, and a smaller
#: folder may still be served as an archive.
_FOLDER_DOWNLOAD_OFF = (403,)
_CHUNK = 1024 * 1024
#: Members up to this size are read into memory and written as a whole.
_SMALL_MEMBER = 1024 * 1024
#: Small members read but not yet written (bounds memory: at most this many MiB).
_MAX_QUEUED_MEMBERS = 64


@dataclass(frozen=True, slots=True)
class BuiltArchive:
    """A tar in memory, its checksums and what each member must look like once deployed."""

    data: bytes
    sha1: str
    sha256: str
    #: member name -> (size, sha1, sha256) of its content
    members: dict[str, tuple[int, str, str]]
    #: files of the batch not packed (unreadable, or changed size since planning): the
    #: caller sends them one by one, like any file the archive did not deliver
    left_out: tuple[SmallFile, ...] = ()


def tar_bytes(entries: Iterable[tuple[str, bytes, int]]) -> bytes:
    """An uncompressed PAX tar of ``(name, content, mtime)`` regular files (UTF-8 names)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for name, content, mtime in entries:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = mtime
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# ---------------------------------------------------------------------- uploads


def build_tar(batch: Batch) -> BuiltArchive:
    """Read the batch's files and build its archive (the files are small by construction).

    A file that cannot be read, or whose size is no longer the planned one (it is still
    being written, or was replaced), is left out of the archive and listed in
    :attr:`BuiltArchive.left_out`; at most ``size + 1`` bytes of it are read, so a file
    that grew never makes the archive exceed its bounds.
    """
    members: dict[str, tuple[int, str, str]] = {}
    entries: list[tuple[str, bytes, int]] = []
    left_out: list[SmallFile] = []
    for f in batch.files:
        try:
            with open(f.local, "rb") as src:
                content = src.read(f.size + 1)
                mtime = int(os.fstat(src.fileno()).st_mtime)
        except OSError as exc:
            _logger.debug("not packing %r (%s); it is sent on its own", f.local, exc)
            left_out.append(f)
            continue
        if len(content) != f.size:
            _logger.debug("%r changed size since planning; it is sent on its own", f.local)
            left_out.append(f)
            continue
        members[f.name] = hash_bytes(content)
        entries.append((f.name, content, mtime))
    data = tar_bytes(entries)
    _, sha1, sha256 = hash_bytes(data)
    return BuiltArchive(data, sha1, sha256, members, tuple(left_out))


def deploy_archive(
    client: ArtifactoryClient, repo: str, folder: str, name: str, archive: BuiltArchive
) -> None:
    """PUT ``archive`` as ``<folder>/<name>`` for atomic explosion; raises on error status.

    The body is known bytes and an atomic explosion can be repeated, so broken responses
    are retried like any idempotent request.
    """
    path = join_path(folder, name)
    what = f"archive upload to '{join_path(repo, folder)}'"
    url = build_item_url(client.base_url, repo, path)
    headers = {
        "X-Explode-Archive-Atomic": "true",
        "X-Checksum-Sha1": archive.sha1,
        "X-Checksum-Sha256": archive.sha256,
        "Content-Type": "application/x-tar",
    }

    def once() -> None:
        resp = client.request("PUT", url, what=what, headers=headers, data=archive.data)
        client.check(resp, what=what, ok=(200, 201, 202, 204)).close()

    client.with_retries(what, once)


# ---------------------------------------------------------------------- downloads


class _BodyReader(io.RawIOBase):
    """A read-only file object over a streamed response body (for ``tarfile`` ``r|``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def download_folder(
    client: ArtifactoryClient,
    repo: str,
    folder: str,
    targets: Mapping[str, Expectation],
    local_path_of: Callable[[str], str],
    *,
    workers: int = 8,
) -> dict[str, str]:
    """Fetch ``folder`` as one tar and write the wanted members; returns name -> local path.

    ``targets`` maps a listing name (relative to ``folder``) to what its bytes must match;
    ``local_path_of(name)`` gives (and prepares) its destination. The tar is read as it
    streams on this thread; small members are written here too, or by ``workers`` threads
    once writes prove slow (see :class:`WritePlan`), large ones here. An empty result means
    the server refused the archive (the caller falls back to per-file downloads); a 403
    (folder download disabled) also switches them off on ``client``. A body or archive that
    breaks off ends extraction early: what was verified is kept.

    Raises:
        AuthenticationFailed: on 401, like every other request.
    """
    what = f"folder archive download of '{join_path(repo, folder)}'"
    url = build_folder_archive_url(client.base_url, repo, folder)
    try:
        resp = client.request("GET", url, what=what, stream=True, session=client.no_retry_session())
    except ArtifactoryError as exc:
        _logger.debug("%s failed (%s); downloading file by file", what, exc)
        return {}
    done: dict[str, str] = {}
    try:
        if resp.status_code != 200:
            if resp.status_code == 401:
                client.check(resp, what=what)
            head = resp.raw.read(65536, decode_content=True) or b""  # bounded: never the whole body
            detail = error_detail(head, resp.headers.get("Content-Type", ""))
            _logger.debug("%s refused: HTTP %s %s", what, resp.status_code, detail[:200])
            if resp.status_code in _FOLDER_DOWNLOAD_OFF:
                client.disable_folder_download(f"HTTP {resp.status_code}")
            return {}
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="jfrog-untar") as pool:
            pending: list[Future[tuple[str, str] | None]] = []
            try:
                _extract(resp, client, what, folder, targets, local_path_of, pool, pending, done)
            finally:
                for future in pending:
                    result = future.result()
                    if result is not None:
                        done[result[0]] = result[1]
        return done
    finally:
        resp.close()


def _extract(
    resp: requests.Response,
    client: ArtifactoryClient,
    what: str,
    folder: str,
    targets: Mapping[str, Expectation],
    local_path_of: Callable[[str], str],
    pool: ThreadPoolExecutor,
    pending: list[Future[tuple[str, str] | None]],
    done: dict[str, str],
) -> None:
    """Read the tar stream; write small members here or on ``pool`` (see :class:`WritePlan`),
    large ones here."""
    seen: set[str] = set()
    folder_name = posixpath.basename(folder)
    in_flight = threading.BoundedSemaphore(_MAX_QUEUED_MEMBERS)
    plan = WritePlan()

    def write_small(name: str, data: bytes) -> tuple[str, str] | None:
        try:
            local = local_path_of(name)
            ok = _write_member(io.BytesIO(data), local, targets[name], f"{what}: {name!r}")
            return (name, local) if ok else None
        except OSError as exc:
            _logger.debug("%s: cannot write %r (%s)", what, name, exc)
            return None
        finally:
            in_flight.release()

    try:
        reader = io.BufferedReader(_BodyReader(client.iter_body(resp, what)), _CHUNK)
        with tarfile.open(fileobj=reader, mode="r|", encoding="utf-8") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                name = match_member(member.name, targets, folder_name)
                if name is None or name in seen:
                    _logger.debug("%s: ignoring archive member %r", what, member.name)
                    continue
                seen.add(name)
                expected = targets[name]
                if expected.size is not None and member.size != expected.size:
                    _logger.debug("%s: member %r has the wrong size", what, name)
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                if member.size <= _SMALL_MEMBER:
                    data = source.read()
                    in_flight.acquire()
                    if plan.pooled:
                        pending.append(pool.submit(write_small, name, data))
                        continue
                    started = time.perf_counter()
                    written = write_small(name, data)
                    plan.record(time.perf_counter() - started)
                    if written is not None:
                        done[name] = written[1]
                    continue
                local = local_path_of(name)
                if _write_member(source, local, expected, f"{what}: {name!r}"):
                    done[name] = local
    except (ArtifactoryError, tarfile.TarError, OSError, ValueError, EOFError) as exc:
        # ValueError: tarfile lets some malformed headers through as plain ValueError
        # (e.g. GNU sparse PAX records that are not numbers); damage, not a failure.
        if isinstance(exc, AuthenticationFailed):
            raise
        _logger.debug("%s ended early (%s); verified files are kept", what, exc)


def _write_member(source: IO[bytes], local_path: str, expected: Expectation, what: str) -> bool:
    """Write one member through a temporary file; rename it into place once verified."""
    try:
        with replacing(local_path) as fd:
            digest = Digest(expected.checksums)
            while chunk := source.read(_CHUNK):
                write_all(fd, chunk)
                digest.update(chunk)
            digest.check(expected, what)
    except IntegrityError as exc:
        _logger.debug("%s", exc)
        return False
    return True
