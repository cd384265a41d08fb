"""Checksums: the one home of hashing and of the integrity rules of transfers.

Pure apart from reading local files; no network, no MLflow. Uploads hash what they send
(:func:`hash_file`, :func:`hash_bytes`, :class:`Digest` for a stream); downloads hash what
they receive with :class:`Digest` while it is written, so verifying a download never reads
the file a second time (only the algorithm that will be checked is computed). The rules
that compare checksums live here too: :meth:`Digest.check` for a received file and
:func:`contradicts` for what a server reports about bytes it stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from jfrog_mlflow.errors import IntegrityError
from jfrog_mlflow.models import Checksums

__all__ = [
    "Digest",
    "Expectation",
    "Expected",
    "Stage",
    "contradicts",
    "hash_bytes",
    "hash_file",
    "header_checksums",
    "verify_file",
]

_logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_NO_CHECKSUMS = Checksums()

_T = TypeVar("_T")


class Expectation(Protocol):
    """What received bytes are checked against: a size and checksums, either unknown
    (``None``). An :class:`Expected`, or a listing entry as the server gave it."""

    @property
    def checksums(self) -> Checksums: ...

    @property
    def size(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Expected:
    """What a downloaded file must match; either part may be unknown."""

    checksums: Checksums = Checksums()
    size: int | None = None

    @property
    def has_checksum(self) -> bool:
        return bool(self.checksums.sha256 or self.checksums.sha1)


def hash_file(path: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Return ``(size, sha1, sha256)`` of a local file, reading it once in 1 MiB chunks.

    For a large file SHA-1 runs on a helper thread beside SHA-256: both release the GIL,
    so on a multi-core machine the pass takes as long as the slower hash, not the sum.
    """
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        first = f.read(_CHUNK)
        size += len(first)
        sha1.update(first)
        sha256.update(first)
        if len(first) == _CHUNK:
            with Stage(sha1.update) as side:
                while chunk := f.read(_CHUNK):
                    side.put(chunk)
                    sha256.update(chunk)
                    size += len(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def hash_bytes(data: bytes) -> tuple[int, str, str]:
    """Return ``(size, sha1, sha256)`` of ``data`` (the shape of :func:`hash_file`)."""
    return len(data), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()


def contradicts(reported: Checksums, actual: Checksums) -> bool:
    """Whether a checksum the server reported differs from the one of the actual bytes.

    A checksum the server did not report contradicts nothing.
    """
    return bool(
        (reported.sha256 and reported.sha256 != actual.sha256)
        or (reported.sha1 and reported.sha1 != actual.sha1)
    )


def header_checksums(headers: Mapping[str, str]) -> Checksums:
    """Checksums from ``X-Checksum-Sha1`` / ``X-Checksum-Sha256`` response headers."""
    sha1 = headers.get("X-Checksum-Sha1")
    sha256 = headers.get("X-Checksum-Sha256")
    return Checksums(sha1.lower() if sha1 else None, sha256.lower() if sha256 else None)


class Digest:
    """Size and running hashes of bytes as they are received (one pass, no re-read).

    Only the algorithm that will be checked is computed: SHA-256 when ``known`` has it,
    else SHA-1; when nothing is known yet, both (the expected value comes later).
    """

    __slots__ = ("_hashes", "size")

    def __init__(self, known: Checksums = _NO_CHECKSUMS) -> None:
        names = ["sha256"] if known.sha256 else ["sha1"] if known.sha1 else ["sha256", "sha1"]
        self._hashes = {name: hashlib.new(name) for name in names}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        for h in self._hashes.values():
            h.update(data)
        self.size += len(data)

    def checksums(self) -> Checksums:
        """The digests computed so far (``None`` for an algorithm not computed)."""
        hashes = self._hashes
        return Checksums(
            hashes["sha1"].hexdigest() if "sha1" in hashes else None,
            hashes["sha256"].hexdigest() if "sha256" in hashes else None,
        )

    def check(self, expected: Expectation, what: str) -> None:
        """Raise :class:`IntegrityError` unless size and checksum match ``expected``.

        SHA-256 is preferred over SHA-1; the size is checked when known. With neither a
        checksum nor a size there is nothing to check against (logged at DEBUG).
        """
        if expected.size is not None and self.size != expected.size:
            raise IntegrityError(
                f"Artifactory {what} failed: received {self.size} bytes, the server reported "
                f"{expected.size}"
            )
        wanted = (("sha256", expected.checksums.sha256), ("sha1", expected.checksums.sha1))
        for name, want in wanted:
            if want and name in self._hashes:
                got = self._hashes[name].hexdigest()
                if got != want:
                    raise IntegrityError(
                        f"Artifactory {what} failed: checksum mismatch (server reported {want}, "
                        f"received {got})"
                    )
                return
        _logger.debug("no checksum known for %s; only the size was checked", what)


def verify_file(path: str, expected: Expectation, what: str) -> None:
    """Raise :class:`IntegrityError` unless the local file matches ``expected``."""
    digest = Digest(expected.checksums)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    digest.check(expected, what)


class Stage(Generic[_T]):
    """Runs ``sink`` on every chunk in a background thread, behind a short bounded queue.

    Used as a context manager: leaving it normally waits for the queue to drain and
    re-raises the sink's error; leaving it with an error stops the thread. :meth:`put`
    raises as soon as the sink has failed, so the producer stops early.

    Chunks are handled in order, one at a time: when :meth:`put` returns, at most
    ``depth + 1`` earlier chunks are still queued or being handled. A producer that
    recycles ``depth + 2`` buffers round robin therefore never overwrites one in use.
    """

    def __init__(self, sink: Callable[[_T], object], depth: int = 4) -> None:
        self._sink = sink
        self.depth = depth
        self._queue: queue.Queue[_T | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jfrog-stage", daemon=True)

    def __enter__(self) -> Stage[_T]:
        self._thread.start()
        return self

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._sink(chunk)
                except BaseException as exc:  # re-raised in the producer's thread
                    self._error = exc
                    self._failed.set()

    def put(self, chunk: _T) -> None:
        while not self._failed.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue
        assert self._error is not None
        raise self._error

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None:
            self._failed.set()  # the sink skips whatever is still queued
            self._error = self._error or RuntimeError("aborted")
        self._queue.put(None)  # the consumer always drains, so this cannot block forever
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error
