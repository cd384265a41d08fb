"""Uploading one file or one stream, verified (built on the client; no MLflow).

* A file is sent with its SHA-1 and SHA-256 in the request headers, so Artifactory rejects
  bytes damaged on the way (409). Files above a threshold first try a checksum deploy (no
  body: Artifactory may already hold the content). A small file is read once and sent from
  memory; a big one is hashed in one pass and then streamed from disk, so memory stays
  flat. A PUT of known bytes is idempotent, so every failure is retried.
* A stream of unknown bytes is sent chunked and never retried (the bytes are gone); it is
  hashed while it is sent and compared with the checksums in the server's answer.
  :func:`deploy_async_stream` feeds an async iterator to that upload on a worker thread.
* Every deploy carries the item's properties as matrix parameters (no extra request);
  :func:`set_properties` tags a folder's files at once (for what archives deployed).
* ``progress(done, total)``, when given, hears how many bytes of a file went out.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterable, Callable, Iterable, Iterator
from typing import Any, BinaryIO

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.errors import ArtifactoryError, IntegrityError
from jfrog_mlflow.integrity import Digest, contradicts, hash_bytes, hash_file
from jfrog_mlflow.models import Checksums, parse_checksums
from jfrog_mlflow.properties import Properties
from jfrog_mlflow.urls import build_item_url, build_set_properties_url, join_path

__all__ = ["ByteProgress", "deploy_async_stream", "deploy_file", "deploy_stream", "set_properties"]

#: ``progress(bytes done, bytes in all)``.
ByteProgress = Callable[[int, int], None]

_logger = logging.getLogger(__name__)

#: Files smaller than this are read once and uploaded from memory.
_INLINE_LIMIT = 1024 * 1024
#: Chunks of an async source queued for the upload thread.
_ASYNC_QUEUE = 8


def _created_checksums(data: Any) -> Checksums:
    """Checksums from an ItemCreated response (none when it has no ``checksums``)."""
    return parse_checksums(data.get("checksums") if isinstance(data, dict) else None)


def deploy_file(
    client: ArtifactoryClient,
    repo: str,
    path: str,
    local_file: str,
    *,
    properties: Properties = (),
    progress: ByteProgress | None = None,
) -> Checksums:
    """Upload a local file to ``path`` with SHA-1/SHA-256 headers.

    A file below :data:`_INLINE_LIMIT` is read once and sent from memory. A bigger one is
    hashed in one pass and then streamed from disk (urllib3 sends it in 1 MiB blocks, see
    :mod:`jfrog_mlflow.session`), so memory stays flat. Files of at least
    ``checksum_deploy_threshold`` bytes first try a checksum deploy (no body); on 404 they
    are uploaded normally. A response that breaks off is retried (a PUT of known bytes is
    idempotent). ``properties`` travel as matrix parameters.
    """
    inline = _read_small(local_file)
    size, sha1, sha256 = hash_bytes(inline) if inline is not None else hash_file(local_file)
    url = build_item_url(client.base_url, repo, path, properties=properties)
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
            put(body if progress is None else _Counted(body, size, progress))

    client.with_retries(what, once)
    if progress is not None:
        progress(size, size)
    return Checksums(sha1, sha256)


class _Counted:
    """A file body that reports how far it has been read (the furthest point, so a
    rewound retry does not count twice). urllib3 reads it in blocks; requests takes its
    length from ``__len__`` and rewinds it with ``seek``."""

    def __init__(self, body: BinaryIO, size: int, progress: ByteProgress) -> None:
        self._body = body
        self._size = size
        self._progress = progress
        self._furthest = 0

    def read(self, n: int = -1) -> bytes:
        data = self._body.read(n)
        position = self._body.tell()
        if position > self._furthest:
            self._furthest = position
            self._progress(position, self._size)
        return data

    def __len__(self) -> int:
        return self._size  # requests subtracts tell() itself

    def tell(self) -> int:
        return self._body.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._body.seek(offset, whence)


def _read_small(local_file: str) -> bytes | None:
    """The whole file when it is smaller than :data:`_INLINE_LIMIT`, else ``None``."""
    with open(local_file, "rb") as f:
        data = f.read(_INLINE_LIMIT)
        if len(data) < _INLINE_LIMIT:
            return data
    return None


def deploy_stream(
    client: ArtifactoryClient,
    repo: str,
    path: str,
    chunks: Iterable[bytes],
    *,
    properties: Properties = (),
) -> Checksums:
    """Upload bytes from an iterator (chunked, never retried), verifying checksums.

    The body is hashed while it streams; the hashes are compared with the checksums in
    the server's ItemCreated response. On mismatch the item is deleted and
    :class:`IntegrityError` raised.
    """
    digest = Digest()  # nothing known yet: both algorithms

    def body() -> Iterator[bytes]:
        for chunk in chunks:
            if chunk:
                digest.update(chunk)
                yield chunk

    url = build_item_url(client.base_url, repo, path, properties=properties)
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
    local = digest.checksums()
    if contradicts(reported, local):
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


async def deploy_async_stream(
    client: ArtifactoryClient,
    repo: str,
    path: str,
    chunks: AsyncIterable[bytes],
    *,
    properties: Properties = (),
) -> Checksums:
    """:func:`deploy_stream` of an async iterator: the upload runs on a worker thread fed
    through a bounded queue, so the event loop never blocks on the network.

    An error of the source ends the upload with an error (nothing complete is stored) and
    is re-raised; an upload error stops reading the source.
    """
    feed: queue.Queue[bytes | _EndOfStream] = queue.Queue(maxsize=_ASYNC_QUEUE)
    stop = threading.Event()

    def consume() -> Iterator[bytes]:
        while True:
            item = feed.get()
            if isinstance(item, _EndOfStream):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def upload() -> Checksums:
        try:
            return deploy_stream(client, repo, path, consume(), properties=properties)
        finally:
            stop.set()

    def put(item: bytes | _EndOfStream) -> None:
        while not stop.is_set():
            try:
                feed.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    task = asyncio.ensure_future(asyncio.to_thread(upload))
    try:
        async for chunk in chunks:
            if stop.is_set():
                break
            if chunk:
                await asyncio.to_thread(put, bytes(chunk))
    except BaseException as exc:
        await asyncio.to_thread(put, _EndOfStream(OSError(f"upload source failed: {exc}")))
        await asyncio.gather(task, return_exceptions=True)
        raise
    await asyncio.to_thread(put, _EndOfStream(None))
    return await task


class _EndOfStream:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def set_properties(
    client: ArtifactoryClient, repo: str, path: str, properties: Properties, *, recursive: bool
) -> None:
    """Set Item Properties on ``path`` (and, ``recursive``, everything below it; Pro)."""
    what = f"setting properties on '{join_path(repo, path)}'"
    url = build_set_properties_url(client.base_url, repo, path, properties, recursive=recursive)

    def once() -> None:
        client.check(client.request("PUT", url, what=what), what=what, ok=(200, 204)).close()

    client.with_retries(what, once)
