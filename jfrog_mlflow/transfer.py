"""Download and upload mechanics on top of :class:`~jfrog_mlflow.client.ArtifactoryClient`.

The client owns the session, retries, redirects and the translation of HTTP failures into
:mod:`jfrog_mlflow.errors`; this module owns what happens to the bytes:

* Downloads go to a temporary file beside the target and are renamed into place only once
  verified, so a failed or corrupted download never leaves a file behind. Bytes are hashed
  as they are written (:class:`Digest`), so the file is not read a second time. Files above
  the range threshold are fetched as parallel byte ranges written with ``pwrite`` and
  hashed in order while later ranges arrive; memory stays flat.
* Verification uses the checksum in the response headers. When the server sends none, it
  uses the checksum and size from the listing that produced the download, and otherwise
  asks for the file's storage info (one extra request, only on that path). The byte count
  is always checked against ``Content-Length`` and any known size.
* Uploads send SHA-1 and SHA-256 headers, try a checksum deploy above a threshold, and
  stream from disk; streamed uploads of unknown bytes are checked against the checksums
  the server reports.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import requests

from jfrog_mlflow.errors import ArtifactoryError, IntegrityError, TransportError
from jfrog_mlflow.integrity import (
    Digest,
    Expected,
    Stage,
    hash_file,
    header_checksums,
    verify_file,
)
from jfrog_mlflow.models import Checksums, parse_checksums
from jfrog_mlflow.urls import build_item_url, join_path

if TYPE_CHECKING:
    from jfrog_mlflow.client import ArtifactoryClient

__all__ = [
    "Digest",
    "Expected",
    "deploy_file",
    "deploy_stream",
    "download_file",
    "hash_file",
    "header_checksums",
    "verify_file",
]

_logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
#: Files smaller than this are read once and uploaded from memory.
_INLINE_LIMIT = 1024 * 1024
#: Streamed downloads of at least this many bytes write and hash on helper threads.
_PIPELINE_MIN = 8 * 1024 * 1024
#: Parallel byte ranges per file (each file of a tree download already has its own thread).
_MAX_RANGE_WORKERS = 8
#: Bodies announced below this size are read in one call (no chunk iterator).
_SMALL_BODY = 1024 * 1024
#: Flags of a download's temporary file: created new, never through a symlink.
_TMP_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
#: Distinguishes the temporary files of one process (with the pid and a random tag).
_tmp_counter = itertools.count()
_TMP_TAG = os.urandom(4).hex()


def _created_checksums(data: Any) -> Checksums:
    """Checksums from an ItemCreated response (none when it has no ``checksums``)."""
    return parse_checksums(data.get("checksums") if isinstance(data, dict) else None)


# ---------------------------------------------------------------------- downloads


def download_file(
    client: ArtifactoryClient,
    repo: str,
    path: str,
    local_path: str,
    *,
    size_hint: int | None = None,
    checksums: Checksums | None = None,
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
        if info is None or info.is_folder:
            raise IntegrityError(
                f"Artifactory {what} failed: the file disappeared while it was downloaded"
            )
        return Expected(info.checksums, info.size)

    def once() -> None:
        nonlocal attempt
        hint = Expected(checksums or Checksums(), size_hint) if attempt == 0 else Expected()
        attempt += 1
        _download_once(client, url, what, local_path, hint, stat)

    client.with_retries(what, once, retry_on=(IntegrityError, TransportError))


def _download_once(
    client: ArtifactoryClient,
    url: str,
    what: str,
    local_path: str,
    hint: Expected,
    stat: Callable[[], Expected],
) -> None:
    fd, tmp = _create_temp(local_path)
    try:
        try:
            threshold = client.config.range_download_threshold
            if hint.size is not None and hint.size >= threshold:
                reported, digest = _ranged(client, url, what, fd, hint.size, Checksums())
            else:
                reported, digest = _streamed(client, url, what, fd, threshold, hint.checksums)
        finally:
            os.close(fd)
        if reported.sha256 or reported.sha1:
            expected = Expected(reported)
        elif hint.has_checksum:
            expected = hint
        else:
            _logger.debug("no checksum header for %s; asking for its storage info", what)
            expected = stat()
        digest.check(expected, what)
        os.replace(tmp, local_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _create_temp(local_path: str) -> tuple[int, str]:
    """A new, empty temporary file beside ``local_path`` (``O_EXCL``): ``(fd, path)``.

    The name is unique per process and call (pid, a random per-process tag and a counter);
    a leftover of a crashed process with the same name is never reused, the next number is.
    """
    directory = os.path.dirname(local_path) or "."
    while True:
        tmp = os.path.join(
            directory, f".jfrog-mlflow-{os.getpid()}-{_TMP_TAG}-{next(_tmp_counter)}.part"
        )
        try:
            return os.open(tmp, _TMP_FLAGS, 0o666), tmp
        except FileExistsError:
            continue


def _streamed(
    client: ArtifactoryClient,
    url: str,
    what: str,
    fd: int,
    threshold: int,
    hinted: Checksums,
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
            return _ranged(client, url, what, fd, total, reported)
        digest = Digest(reported if reported.sha256 or reported.sha1 else hinted)
        if total is not None and total >= _PIPELINE_MIN:
            # Receive, write and hash on three threads: each of the three costs about as
            # much as the others, and all of them release the GIL.
            with Stage(lambda c: _write_all(fd, c)) as write, Stage(digest.update) as hash_:
                for chunk in client.iter_body(resp, what):
                    write.put(chunk)
                    hash_.put(chunk)
        elif total is not None and total < _SMALL_BODY:
            # A small body: one read, one hash update and one write on this thread.
            try:
                data = resp.content
            except requests.RequestException as exc:
                raise client.broken(resp, what, type(exc).__name__) from exc
            _write_all(fd, data)
            digest.update(data)
        else:
            for chunk in client.iter_body(resp, what):
                _write_all(fd, chunk)
                digest.update(chunk)
        if total is not None and digest.size != total:
            raise IntegrityError(
                f"Artifactory {what} failed: received {digest.size} of {total} bytes"
            )
        return reported, digest
    finally:
        resp.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _ranged(
    client: ArtifactoryClient,
    url: str,
    what: str,
    fd: int,
    size: int,
    known: Checksums,
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
            for data in client.iter_body(resp, what):
                if offset + len(data) > end + 1:
                    raise IntegrityError(
                        f"Artifactory {what} failed: byte range {start}-{end} came back long"
                    )
                os.pwrite(fd, data, offset)
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
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-range") as pool:
        futures = [pool.submit(fetch, span) for span in ranges]
        try:
            for (start, end), future in zip(ranges, futures, strict=True):
                future.result()
                if digest is None:
                    digest = Digest(reported())
                offset = start
                while offset <= end:
                    data = os.pread(fd, min(_CHUNK, end + 1 - offset), offset)
                    if not data:
                        break
                    digest.update(data)
                    offset += len(data)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return reported(), digest if digest is not None else Digest(known)


# ---------------------------------------------------------------------- uploads


def deploy_file(client: ArtifactoryClient, repo: str, path: str, local_file: str) -> Checksums:
    """Upload a local file to ``path`` with SHA-1/SHA-256 headers.

    A file below :data:`_INLINE_LIMIT` is read once and sent from memory. A bigger one is
    hashed in one pass and then streamed from disk (urllib3 sends it in 1 MiB blocks, see
    :mod:`jfrog_mlflow.session`), so memory stays flat. Files of at least
    ``checksum_deploy_threshold`` bytes first try a checksum deploy (no body); on 404 they
    are uploaded normally. A response that breaks off is retried (a PUT of known bytes is
    idempotent).
    """
    inline = _read_small(local_file)
    if inline is not None:
        size = len(inline)
        sha1, sha256 = hashlib.sha1(inline).hexdigest(), hashlib.sha256(inline).hexdigest()
    else:
        size, sha1, sha256 = hash_file(local_file)
    url = build_item_url(client.base_url, repo, path)
    what = f"upload of '{join_path(repo, path)}'"
    headers = {"X-Checksum-Sha1": sha1, "X-Checksum-Sha256": sha256}

    def put(body: Any) -> None:
        resp = client.request(
            "PUT",
            url,
            what=what,
            headers={**headers, "Content-Type": "application/octet-stream"},
            data=body,
        )
        client.check(resp, what=what, ok=(200, 201))
        resp.close()

    def once() -> None:
        if size >= client.config.checksum_deploy_threshold:
            resp = client.request(
                "PUT", url, what=what, headers={**headers, "X-Checksum-Deploy": "true"}
            )
            if resp.status_code in (200, 201):
                resp.close()
                _logger.debug("checksum deploy hit for %s", path)
                return
            if resp.status_code != 404:
                client.check(resp, what=what, ok=(200, 201))
            resp.close()
        if inline is not None:
            put(inline)
            return
        with open(local_file, "rb") as body:
            put(body)

    client.with_retries(what, once)
    return Checksums(sha1, sha256)


def _read_small(local_file: str) -> bytes | None:
    """The whole file when it is smaller than :data:`_INLINE_LIMIT`, else ``None``."""
    with open(local_file, "rb") as f:
        data = f.read(_INLINE_LIMIT)
        if len(data) < _INLINE_LIMIT:
            return data
    return None


def deploy_stream(
    client: ArtifactoryClient, repo: str, path: str, chunks: Iterable[bytes]
) -> Checksums:
    """Upload bytes from an iterator (chunked, never retried), verifying checksums.

    The body is hashed while it streams; the hashes are compared with the checksums in
    the server's ItemCreated response. On mismatch the item is deleted and
    :class:`IntegrityError` raised.
    """
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            if chunk:
                sha1.update(chunk)
                sha256.update(chunk)
                yield chunk

    url = build_item_url(client.base_url, repo, path)
    what = f"upload of '{join_path(repo, path)}'"
    resp = client.request(
        "PUT",
        url,
        what=what,
        headers={"Content-Type": "application/octet-stream"},
        data=body(),
        session=client.no_retry_session(),
    )
    client.check(resp, what=what, ok=(200, 201))
    try:
        reported = client.read_json(resp, what, _created_checksums)
    except ArtifactoryError:
        reported = Checksums()  # nothing to compare with; the upload itself succeeded
    finally:
        resp.close()
    local = Checksums(sha1.hexdigest(), sha256.hexdigest())
    if (reported.sha256 and reported.sha256 != local.sha256) or (
        reported.sha1 and reported.sha1 != local.sha1
    ):
        try:
            client.delete(repo, path)
        finally:
            raise IntegrityError(
                f"Artifactory {what} failed: the server stored different bytes than were "
                "sent (checksum mismatch); the item was deleted",
                method="PUT",
                url=url,
            )
    return local
