"""Downloading one file: verified, atomic, with flat memory (built on the client; no MLflow).

* The bytes go to a temporary file beside the target that is renamed into place only once
  verified (:func:`jfrog_mlflow.localfiles.replacing`), so a failed or corrupted download
  never leaves a file behind. They are hashed as they are written
  (:class:`~jfrog_mlflow.integrity.Digest`), so the file is not read a second time. Files
  above the range threshold are fetched as parallel byte ranges written with ``pwrite``
  and hashed in order while later ranges arrive.
* Bodies are received with ``readinto`` into a few reused buffers of :data:`_BUFFER` bytes:
  no allocation per chunk, and each block is still in the CPU cache when it is hashed and
  written. Receiving a new ``bytes`` object per chunk (``iter_content``) costs more in page
  faults and cache misses than hashing the block does. Big bodies hash on a helper thread
  while the caller's thread receives and writes.
* Verification uses the checksum in the response headers. When the server sends none, it
  uses the checksum and size from the listing that produced the download, and otherwise
  asks for the file's storage info (one extra request, only on that path). The byte count
  is always checked against ``Content-Length`` and any known size.
* ``progress(done, total)``, when given, hears how many bytes of the file arrived (hashed,
  in order), once the size is known.
"""

from __future__ import annotations

import http.client
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

import requests

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.errors import ArtifactNotFound, IntegrityError, TransportError
from jfrog_mlflow.integrity import Digest, Expected, Stage, header_checksums
from jfrog_mlflow.localfiles import pwrite_all, replacing, write_all
from jfrog_mlflow.models import Checksums
from jfrog_mlflow.upload import ByteProgress
from jfrog_mlflow.urls import build_item_url, join_path

__all__ = ["download_file"]

_logger = logging.getLogger(__name__)

#: Receive buffer: small enough to stay in the CPU cache while it is hashed and written.
_BUFFER = 256 * 1024
#: Chunks queued for the hashing thread of a big download.
_HASH_DEPTH = 4
#: Streamed downloads of at least this many bytes hash on a helper thread.
_PIPELINE_MIN = 8 * 1024 * 1024
#: Parallel byte ranges per file (each file of a tree download already has its own thread).
_MAX_RANGE_WORKERS = 8
#: Bodies announced below this size are read in one call (no chunk iterator).
_SMALL_BODY = 1024 * 1024


def download_file(
    client: ArtifactoryClient,
    repo: str,
    path: str,
    local_path: str,
    *,
    size_hint: int | None = None,
    checksums: Checksums | None = None,
    progress: ByteProgress | None = None,
) -> None:
    """Download ``path`` to ``local_path`` atomically and verified; see the module docs.

    ``size_hint`` and ``checksums`` come from the listing that produced the download. They
    are trusted on the first attempt only: after a failure the storage info is asked for,
    in case the file changed since it was listed. Truncated bodies, broken connections and
    mismatches are retried with backoff.

    Raises:
        ArtifactNotFound: the file does not exist.
        IntegrityError: the bytes never matched.
    """
    what = f"download of '{join_path(repo, path)}'"
    url = build_item_url(client.base_url, repo, path)
    attempt = 0

    def stat() -> Expected:
        info = client.stat(repo, path)
        if info is None:
            # The GET was answered, yet there is no such item: the file is gone, or the
            # answer was not an artifact (``<file>.sha256`` is answered with the checksum
            # of ``<file>``). Either way the artifact does not exist.
            raise ArtifactNotFound(
                f"Artifactory {what} failed: no such file", status_code=404, method="GET", url=url
            )
        if info.is_folder:
            raise IntegrityError(
                f"Artifactory {what} failed: the file disappeared while it was downloaded"
            )
        return Expected(info.checksums, info.size)

    def once() -> None:
        nonlocal attempt
        hint = Expected(checksums or Checksums(), size_hint) if attempt == 0 else Expected()
        attempt += 1
        try:
            _download_once(client, url, what, local_path, hint, stat, progress)
        except IntegrityError as exc:
            exc.method, exc.url = exc.method or "GET", exc.url or url  # for the retry log
            raise

    client.with_retries(what, once, retry_on=(IntegrityError, TransportError))


def _download_once(
    client: ArtifactoryClient,
    url: str,
    what: str,
    local_path: str,
    hint: Expected,
    stat: Callable[[], Expected],
    progress: ByteProgress | None,
) -> None:
    with replacing(local_path) as fd:
        threshold = client.config.range_download_threshold
        if hint.size is not None and hint.size >= threshold:
            reported, digest = _ranged(client, url, what, fd, hint.size, Checksums(), progress)
        else:
            reported, digest = _streamed(client, url, what, fd, threshold, hint.checksums, progress)
        if reported.sha256 or reported.sha1:
            expected = Expected(reported)
        elif hint.has_checksum:
            expected = hint
        else:
            _logger.debug("no checksum header for %s; asking for its storage info", what)
            expected = stat()
        digest.check(expected, what)


def _streamed(
    client: ArtifactoryClient,
    url: str,
    what: str,
    fd: int,
    threshold: int,
    hinted: Checksums,
    progress: ByteProgress | None,
) -> tuple[Checksums, Digest]:
    """One GET, written and hashed as it arrives; switches to ranges for big files."""
    resp = client.request("GET", url, what=what, stream=True)
    try:
        client.check(resp, what=what)
        headers = resp.headers
        reported = header_checksums(headers)
        length = headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if (
            total is not None
            and total >= threshold
            and headers.get("Accept-Ranges", "").lower() == "bytes"
        ):
            resp.close()
            return _ranged(client, url, what, fd, total, reported, progress)
        digest = Digest(reported if reported.sha256 or reported.sha1 else hinted)
        if total is not None and total >= _PIPELINE_MIN:
            # Hash on a helper thread (hashlib releases the GIL) while this one receives
            # and writes; round robin over depth + 2 buffers (see Stage).
            written = 0
            with Stage(digest.update, _HASH_DEPTH) as hash_:
                for view in _body(client, resp, what, headers, _HASH_DEPTH + 2):
                    hash_.put(view)
                    write_all(fd, view)
                    written += len(view)
                    if progress is not None:
                        progress(written, total)
        elif total is not None and total < _SMALL_BODY:
            # A small body: one read, one hash update and one write on this thread.
            try:
                data = resp.content
            except requests.RequestException as exc:
                raise client.broken(resp, what, exc) from exc
            write_all(fd, data)
            digest.update(data)
            if progress is not None:
                progress(len(data), total)
        else:
            for view in _body(client, resp, what, headers, 1):
                digest.update(view)
                write_all(fd, view)
                if progress is not None and total is not None:
                    progress(digest.size, total)
        if total is not None and digest.size != total:
            raise IntegrityError(
                f"Artifactory {what} failed: received {digest.size} of {total} bytes"
            )
        return reported, digest
    finally:
        resp.close()


def _body(
    client: ArtifactoryClient,
    resp: requests.Response,
    what: str,
    headers: Mapping[str, str],
    buffers: int,
) -> Iterator[bytes | memoryview]:
    """The body of a streamed response, as views into ``buffers`` reused buffers.

    A view is valid until ``buffers`` more have been taken. With a known length and no
    content coding the bytes are read with ``readinto`` straight from the HTTP response
    beneath urllib3 (no allocation or copy per chunk); otherwise they come from
    :meth:`ArtifactoryClient.iter_body` (then each chunk is a new ``bytes``). A break or
    an early end is detected by the caller's byte count against ``Content-Length``.
    """
    readinto = _direct_reader(resp, headers)
    if readinto is None:
        yield from client.iter_body(resp, what)
        return
    pool = [memoryview(bytearray(_BUFFER)) for _ in range(max(buffers, 1))]
    for buf in itertools.cycle(pool):
        try:
            n = readinto(buf)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise client.broken(resp, what, exc) from exc
        if not n:
            return
        yield buf[:n]


def _direct_reader(
    resp: requests.Response, headers: Mapping[str, str]
) -> Callable[[memoryview], int] | None:
    """``readinto`` of the standard library response under ``resp``, when it is safe.

    Safe means: a ``Content-Length`` (a short body shows as a byte count below it), no
    ``Content-Encoding`` to undo, nothing read yet, and urllib3 keeping the usual
    :class:`http.client.HTTPResponse` in ``_fp``. Anything else returns ``None``.
    """
    if not (headers.get("Content-Length") or "").isdigit():
        return None
    if (headers.get("Content-Encoding") or "identity").strip().lower() != "identity":
        return None
    raw = resp.raw
    fp = getattr(raw, "_fp", None)
    if not isinstance(fp, http.client.HTTPResponse) or fp.chunked:
        return None
    tell = getattr(raw, "tell", None)
    if not callable(tell) or tell() != 0:
        return None
    return fp.readinto


def _ranged(
    client: ArtifactoryClient,
    url: str,
    what: str,
    fd: int,
    size: int,
    known: Checksums,
    progress: ByteProgress | None = None,
) -> tuple[Checksums, Digest]:
    """Parallel byte ranges written with ``pwrite``; hashed in order while later ranges
    are still arriving (each finished range is read back from the page cache once)."""
    os.ftruncate(fd, size)
    chunk = max(client.config.range_chunk_size, 1)
    ranges = [(start, min(start + chunk, size) - 1) for start in range(0, size, chunk)]
    seen: list[Checksums] = []
    lock = threading.Lock()

    def fetch(span: tuple[int, int]) -> None:
        start, end = span
        resp = client.request(
            "GET", url, what=what, headers={"Range": f"bytes={start}-{end}"}, stream=True
        )
        try:
            client.check(resp, what=what, ok=(206,))
            with lock:
                seen.append(header_checksums(resp.headers))
            offset = start
            for data in _body(client, resp, what, resp.headers, 1):
                if offset + len(data) > end + 1:
                    raise IntegrityError(
                        f"Artifactory {what} failed: byte range {start}-{end} came back long"
                    )
                pwrite_all(fd, data, offset)
                offset += len(data)
            if offset != end + 1:
                raise IntegrityError(
                    f"Artifactory {what} failed: byte range {start}-{end} came back short"
                )
        finally:
            resp.close()

    def reported() -> Checksums:
        if known.sha256 or known.sha1:
            return known
        with lock:
            return next((c for c in seen if c.sha256 or c.sha1), Checksums())

    workers = max(1, min(len(ranges), client.config.max_workers, _MAX_RANGE_WORKERS))
    digest: Digest | None = None
    buf = memoryview(bytearray(_BUFFER))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-range") as pool:
        futures = [pool.submit(fetch, span) for span in ranges]
        try:
            for (start, end), future in zip(ranges, futures, strict=True):
                future.result()
                if digest is None:
                    digest = Digest(reported())
                offset = start
                while offset <= end:
                    view = buf[: min(_BUFFER, end + 1 - offset)]
                    n = os.preadv(fd, [view], offset)
                    if not n:
                        break
                    digest.update(view[:n])
                    offset += n
                if progress is not None:
                    progress(offset, size)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return reported(), digest if digest is not None else Digest(known)
