"""Archive transfers: many small files in one request (Artifactory Pro features).

Two server features turn a tree of small files into a handful of requests:

* **Deploy from archive** ("explode"): a tar PUT with ``X-Explode-Archive-Atomic: true`` is
  unpacked by the server relative to the archive's parent folder; the archive itself is not
  stored and the response body is empty. :func:`plan_batches` chooses which files go into
  which archive, :func:`build_tar` builds one (PAX, UTF-8 names, in memory: a batch is
  bounded) and :func:`deploy_archive` sends it. Because the response says nothing about
  what was deployed, the caller verifies the result with one deep listing
  (:func:`check_listing`) and re-uploads anything missing or different file by file.
* **Folder download**: ``GET /api/archive/download/<repo>/<folder>?archiveType=tar`` streams
  the folder as a tar (the admin must enable it). :func:`download_folder` extracts it
  streaming; each accepted entry must be named in the listing, is written through an
  ``O_EXCL`` temporary file beside its target, verified against the listing's size and
  checksum and only then renamed into place. Anything missing or failing is left to the
  per-file path.

The planning and matching helpers are pure; :func:`deploy_archive` and
:func:`download_folder` do the I/O through :class:`~jfrog_mlflow.client.ArtifactoryClient`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import os
import posixpath
import tarfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from jfrog_mlflow.errors import (
    ArtifactoryError,
    AuthenticationFailed,
    HTTPStatusError,
    IntegrityError,
)
from jfrog_mlflow.integrity import Digest, Expected
from jfrog_mlflow.models import ListEntry, error_detail
from jfrog_mlflow.transfer import create_temp, write_all
from jfrog_mlflow.urls import build_folder_archive_url, build_item_url, join_path

if TYPE_CHECKING:
    import requests

    from jfrog_mlflow.client import ArtifactoryClient

__all__ = [
    "BATCH_PREFIX",
    "Batch",
    "BuiltArchive",
    "SmallFile",
    "build_tar",
    "check_listing",
    "deploy_archive",
    "download_folder",
    "explode_refused",
    "is_batch_name",
    "match_member",
    "new_batch_name",
    "plan_batches",
]

_logger = logging.getLogger(__name__)

#: Name prefix of the archives PUT for explosion (never stored when the server explodes them).
BATCH_PREFIX = ".jfrog-mlflow-batch-"
#: Bounds of one archive: entries and bytes of content (the archive is built in memory).
MAX_BATCH_ENTRIES = 1000
MAX_BATCH_BYTES = 16 * 1024 * 1024
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
#: Small members are written by the thread that reads the archive until their average
#: write time exceeds this (then the writer pool takes the rest; see :class:`WritePlan`).
SLOW_WRITE_S = 0.002
_WRITES_BEFORE_JUDGING = 16


class WritePlan:
    """Where small archive members are written: by the reading thread, or by the pool.

    On a local disk a small file is created, written and renamed in well under a
    millisecond, and handing each one to a writer thread costs more than that: every
    system call a writer makes gives the GIL back to the reading thread, which may keep it
    for the whole switch interval (measured: 2,000 files of 4 KiB, 1.5 s of CPU more and
    0.3-0.5 s slower than writing them on the reading thread). On a network file system a
    create takes milliseconds and parallel writers pay off, so once the average write
    takes longer than :data:`SLOW_WRITE_S` the rest go to the pool.
    """

    def __init__(self, slow_after: float | None = None) -> None:
        self.slow_after = SLOW_WRITE_S if slow_after is None else slow_after
        self.pooled = False
        self._count = 0
        self._spent = 0.0

    def record(self, seconds: float) -> None:
        """One inline write took ``seconds``."""
        self._count += 1
        self._spent += seconds
        if self._count >= _WRITES_BEFORE_JUDGING and self._spent / self._count > self.slow_after:
            self.pooled = True


@dataclass(frozen=True, slots=True)
class SmallFile:
    """A local file to batch: ``name`` is its path relative to the archive's folder."""

    local: str
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class Batch:
    """Files that travel in one archive."""

    files: tuple[SmallFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


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


# ---------------------------------------------------------------------- pure planning


def plan_batches(
    files: Sequence[SmallFile],
    *,
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[Batch]:
    """Split ``files`` (in order) into balanced batches within both bounds.

    The number of batches is the least that respects the bounds; entries are spread
    evenly over them, so 2,000 files make two batches of 1,000, not 1,000 + 1,000 + 0.
    """
    if not files:
        return []
    total = sum(f.size for f in files)
    count = max(math.ceil(len(files) / max_entries), math.ceil(total / max_bytes), 1)
    per_batch = math.ceil(len(files) / count)
    batches: list[Batch] = []
    current: list[SmallFile] = []
    current_bytes = 0
    for f in files:
        if current and (len(current) >= per_batch or current_bytes + f.size > max_bytes):
            batches.append(Batch(tuple(current)))
            current, current_bytes = [], 0
        current.append(f)
        current_bytes += f.size
    if current:
        batches.append(Batch(tuple(current)))
    return batches


def new_batch_name() -> str:
    """A fresh archive file name (``.jfrog-mlflow-batch-<uuid4>.tar``)."""
    return f"{BATCH_PREFIX}{uuid.uuid4()}.tar"


def is_batch_name(name: str) -> bool:
    """Whether ``name`` (a single path segment) looks like one of our batch archives."""
    return name.startswith(BATCH_PREFIX) and name.endswith(".tar") and "/" not in name


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


def check_listing(
    expected: Mapping[str, tuple[int, str, str]],
    listing: Iterable[ListEntry],
    sent_archives: Iterable[str],
) -> tuple[list[str], list[str]]:
    """Compare a deep listing with what the archives should have deployed.

    Returns ``(bad, strays)``: names in ``expected`` that are missing or differ in size,
    SHA-1 or SHA-256 (when listed; a file listed with no checksum counts as different),
    and those of ``sent_archives`` that were stored as plain files (explode ignored).
    """
    listed = {e.path: e for e in listing if not e.is_folder}
    bad: list[str] = []
    for name, (size, sha1, sha256) in expected.items():
        entry = listed.get(name)
        if (
            entry is None
            or entry.size != size
            or not (entry.checksums.sha1 or entry.checksums.sha256)
            or (entry.checksums.sha1 is not None and entry.checksums.sha1 != sha1)
            or (entry.checksums.sha256 is not None and entry.checksums.sha256 != sha256)
        ):
            bad.append(name)
    strays = [name for name in sent_archives if name in listed]
    return bad, strays


def explode_refused(exc: ArtifactoryError) -> bool:
    """Whether an explode deploy failed in a way that means "not supported here".

    A 4xx other than 401/403 (the usual authentication/permission errors) and other than
    409 (a checksum conflict: the bytes were damaged on the way, not a missing feature).
    """
    return (
        isinstance(exc, HTTPStatusError)
        and 400 <= exc.status_code < 500
        and exc.status_code not in (401, 403, 409)
    )


def match_member(name: str, wanted: Mapping[str, object], folder_name: str) -> str | None:
    """The listing name an archive member stands for, or ``None`` to ignore the member.

    A leading ``./`` is dropped; a name prefixed with the folder's own name is accepted too
    (in case a server includes it). Only names present in ``wanted`` (which come from the
    validated listing) are ever returned, so ``../x`` or ``/etc/x`` can never match.
    """
    while name.startswith("./"):
        name = name[2:]
    if name in wanted:
        return name
    prefix = folder_name + "/"
    if folder_name and name.startswith(prefix) and name[len(prefix) :] in wanted:
        return name[len(prefix) :]
    return None


# ---------------------------------------------------------------------- uploads (I/O)


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
        members[f.name] = (
            len(content),
            hashlib.sha1(content).hexdigest(),
            hashlib.sha256(content).hexdigest(),
        )
        entries.append((f.name, content, mtime))
    data = tar_bytes(entries)
    return BuiltArchive(
        data,
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        members,
        tuple(left_out),
    )


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


# ---------------------------------------------------------------------- downloads (I/O)


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
    targets: Mapping[str, Expected],
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
    targets: Mapping[str, Expected],
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


def _write_member(source: IO[bytes], local_path: str, expected: Expected, what: str) -> bool:
    """Write one member through a temporary file; rename it into place once verified."""
    fd, tmp = create_temp(local_path)
    renamed = False
    try:
        digest = Digest(expected.checksums)
        try:
            while chunk := source.read(_CHUNK):
                write_all(fd, chunk)
                digest.update(chunk)
        finally:
            os.close(fd)
        digest.check(expected, what)
        os.replace(tmp, local_path)
        renamed = True
        return True
    except IntegrityError as exc:
        _logger.debug("%s", exc)
        return False
    finally:
        if not renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
