"""Content-addressed blob files and the durability policy (no HTTP, no metadata).

Blobs live under ``<root>/blobs/<sha256[:2]>/<sha256>`` and never change once written.
Uploads are staged in ``<root>/tmp`` while sha1/md5/sha256 are computed in one pass,
then renamed into place when committed.  Whether the staged file and the blob
directory are fsynced is the store's durability policy (:class:`Durability`).

Small uploads received in memory (at most :data:`INLINE_BLOB_MAX` bytes) are *inline*:
they get no file at all, the store keeps their bytes in SQLite, in the transaction that
commits their metadata (:class:`StagedBlob.inline`): creating, writing and renaming a
file per small upload would cost more system calls than the rest of the request.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import secrets
import shutil
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, Literal

CHUNK_SIZE = 1024 * 1024
#: Uploads up to this size, when received in memory, are stored inside SQLite.
INLINE_BLOB_MAX = 64 * 1024

#: ``--fsync`` values; ``auto`` is ``never`` for an ephemeral store, ``blobs`` otherwise.
FsyncPolicy = Literal["auto", "never", "blobs", "always"]
FSYNC_POLICIES: tuple[str, ...] = ("auto", "never", "blobs", "always")


@dataclass(frozen=True, slots=True)
class Durability:
    """What a store fsyncs, and the SQLite ``synchronous`` level that goes with it.

    * ``never``: no fsync, ``synchronous=OFF``.  Every acknowledged write has reached
      the kernel (``write(2)`` and ``rename(2)`` returned), so it survives the
      *process* dying, ``kill -9`` included; a kernel crash or power loss may lose it.
    * ``blobs`` (the default with a data dir): the blob file is fsynced before its
      metadata is committed, ``synchronous=NORMAL`` (WAL).  Same guarantee against a
      process crash; the blob's bytes are on disk before its metadata commits, but a
      power loss may still lose the most recent commits.
    * ``always``: also fsync the blob directory after the rename and commit with
      ``synchronous=FULL``: an acknowledged write survives a power loss.
    """

    policy: str
    fsync_files: bool
    fsync_dirs: bool
    synchronous: str

    @classmethod
    def resolve(cls, policy: str, *, ephemeral: bool) -> Durability:
        """The durability for ``policy`` (one of :data:`FSYNC_POLICIES`)."""
        if policy == "auto":
            policy = "never" if ephemeral else "blobs"
        if policy == "never":
            return cls(policy, False, False, "OFF")
        if policy == "blobs":
            return cls(policy, True, False, "NORMAL")
        if policy == "always":
            return cls(policy, True, True, "FULL")
        raise ValueError(f"unknown fsync policy {policy!r}; choose from {FSYNC_POLICIES}")


@dataclass(slots=True)
class StagedBlob:
    """A fully received upload waiting in ``tmp/`` to be committed."""

    tmp_path: Path
    size: int
    sha1: str
    md5: str
    sha256: str
    #: Set once renamed into the blob store (nothing left to discard).
    published: bool = field(default=False, compare=False)
    #: A small upload kept in memory (:meth:`BlobStore.stage_bytes`): ``tmp_path`` is
    #: only written when publishing needs a new blob file.
    data: bytes | None = field(default=None, compare=False, repr=False)

    def checksums(self) -> dict[str, str]:
        return {"sha1": self.sha1, "md5": self.md5, "sha256": self.sha256}

    @property
    def inline(self) -> bytes | None:
        """The bytes the store keeps in SQLite instead of a file (None: a file blob)."""
        if self.data is not None and self.size <= INLINE_BLOB_MAX:
            return self.data
        return None

    def discard(self) -> None:
        """Remove the staged file (after a rejected deploy; a no-op once published)."""
        if self.published or self.data is not None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()


class BlobStore:
    """The blob directory of a data dir; thread-safe because blobs are immutable."""

    def __init__(
        self, root: Path, durability: Durability | None = None, *, shared: bool = False
    ) -> None:
        self.durability = durability or Durability.resolve("always", ephemeral=False)
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        #: Several processes use this directory (``--workers``): a blob is protected only by
        #: an in-process pin between publication and commit, so nothing is ever deleted
        #: here (unreferenced blobs stay until a single-process run collects them), and
        #: ``tmp/`` is not emptied (another process may be receiving into it).
        self.shared = shared
        #: Blobs being published outside the store's write lock; never garbage collected.
        self._pinned: Counter[str] = Counter()
        self._pin_lock = threading.Lock()
        # Unique temp names without mkstemp's retry loop (count() is thread-safe).
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._counter = itertools.count()
        #: Threads deleting blob directories set aside by :meth:`drop_all`.
        self._cleaners: list[threading.Thread] = []
        for directory in (self.blob_dir, self.tmp_dir):
            directory.mkdir(parents=True, exist_ok=True)
        if not shared:
            # Partial uploads, and blob directories set aside, from a crash.
            for leftover in self.tmp_dir.iterdir():
                if leftover.is_dir() and not leftover.is_symlink():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        leftover.unlink()

    def path(self, sha256: str) -> Path:
        """Host path of a blob."""
        return self.blob_dir / sha256[:2] / sha256

    def open(self, sha256: str) -> BinaryIO:
        """Open a blob for reading."""
        return open(self.path(sha256), "rb")  # noqa: SIM115

    def stage(self, chunks: Iterable[bytes]) -> StagedBlob:
        """Write ``chunks`` to a temp file while hashing (then fsync it if the policy
        says so).  Memory stays flat; no lock is held.

        Whatever goes wrong (including an exception raised by ``chunks``), the temp
        file is removed and the exception propagates.
        """
        h_sha1, h_md5, h_sha256 = hashlib.sha1(), hashlib.md5(), hashlib.sha256()
        name = os.path.join(self.tmp_dir, f"upload-{self._prefix}-{next(self._counter)}")
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if not chunk:
                        continue
                    out.write(chunk)
                    h_sha1.update(chunk)
                    h_md5.update(chunk)
                    h_sha256.update(chunk)
                    size += len(chunk)
                if self.durability.fsync_files:
                    out.flush()
                    os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise
        return StagedBlob(
            Path(name), size, h_sha1.hexdigest(), h_md5.hexdigest(), h_sha256.hexdigest()
        )

    def stage_bytes(self, data: bytes) -> StagedBlob:
        """Stage a small upload already in memory: hashed now, written to ``tmp/`` (and
        renamed into place) by :meth:`publish` only if no blob has this content yet."""
        name = os.path.join(self.tmp_dir, f"upload-{self._prefix}-{next(self._counter)}")
        return StagedBlob(
            Path(name),
            len(data),
            hashlib.sha1(data).hexdigest(),
            hashlib.md5(data).hexdigest(),
            hashlib.sha256(data).hexdigest(),
            data=data,
        )

    def stage_small(self, chunks: Iterable[bytes], *, in_memory: bool = True) -> StagedBlob:
        """:meth:`stage_bytes` when ``chunks`` add up to at most :data:`INLINE_BLOB_MAX`
        bytes (and ``in_memory``), else :meth:`stage`; memory stays bounded either way."""
        rest = iter(chunks)
        head: list[bytes] = []
        size = 0
        if in_memory:
            for chunk in rest:
                head.append(chunk)
                size += len(chunk)
                if size > INLINE_BLOB_MAX:
                    break
            else:
                return self.stage_bytes(b"".join(head))
        return self.stage(itertools.chain(head, rest))

    def _write_staged(self, staged: StagedBlob) -> None:
        """Write an in-memory staged upload to its ``tmp_path`` (fsynced per policy)."""
        data = staged.data
        if data is None:
            return
        fd = os.open(staged.tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self.durability.fsync_files:
                    out.flush()
                    os.fsync(out.fileno())
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.tmp_path)
            raise
        staged.data = None  # from here on it is an ordinary staged file

    def stage_stream(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> StagedBlob:
        """:meth:`stage` over a file-like object read in ``chunk_size`` pieces."""

        def chunks() -> Iterator[bytes]:
            while True:
                data = stream.read(chunk_size)
                if not data:
                    return
                yield data

        return self.stage(chunks())

    def publish(self, staged: StagedBlob) -> None:
        """Move a staged upload into place; a duplicate is simply dropped.

        The directory is fsynced afterwards when the policy is ``always``.  An inline
        blob needs no file: its bytes are committed with its metadata.
        """
        if staged.inline is not None:
            return
        target = self.path(staged.sha256)
        if os.path.exists(target):
            staged.discard()
            staged.published = True
            staged.data = None
            return
        self._write_staged(staged)
        dirs = [target.parent]
        try:
            os.replace(staged.tmp_path, target)
        except FileNotFoundError:  # first blob of this prefix
            target.parent.mkdir(exist_ok=True)
            dirs.append(self.blob_dir)
            os.replace(staged.tmp_path, target)
        staged.published = True
        if self.durability.fsync_dirs:
            for directory in dirs:
                dir_fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    @contextlib.contextmanager
    def pinned(self, sha256: str) -> Iterator[None]:
        """Protect blob ``sha256`` from :meth:`collect_garbage` (publish, then commit)."""
        with self._pin_lock:
            self._pinned[sha256] += 1
        try:
            yield
        finally:
            with self._pin_lock:
                self._pinned[sha256] -= 1
                if self._pinned[sha256] <= 0:
                    del self._pinned[sha256]

    def drop_if_unused(self, sha256: str, *, referenced: bool) -> None:
        """Remove a blob published for a deploy that then failed, unless something else
        uses it (``referenced`` by an item, or pinned by another deploy).  The caller
        holds one pin and the store's write lock."""
        with self._pin_lock:
            if referenced or self._pinned[sha256] > 1 or self.shared:
                return
            with contextlib.suppress(OSError):
                self.path(sha256).unlink()

    def drop_all(self) -> bool:
        """Remove every blob file at once; False (nothing done) when that is not safe.

        A full reset leaves no blob referenced, and deleting its files one by one costs an
        ``unlink`` each while the test that asked for the reset waits. So the blob directory
        is renamed into ``tmp/`` (one system call), a fresh one is made, and a background
        thread deletes the old one. Not while a blob is pinned (an upload between publishing
        and committing it: the caller then collects file by file) nor in a shared
        directory, where nothing is ever deleted.
        """
        with self._pin_lock:
            if self.shared or self._pinned:
                return False
            with os.scandir(self.blob_dir) as entries:
                if next(entries, None) is None:
                    return True  # nothing to drop
            aside = self.tmp_dir / f"dropped-{self._prefix}-{next(self._counter)}"
            try:
                os.rename(self.blob_dir, aside)
            except OSError:
                return False
            self.blob_dir.mkdir()
        self._cleaners = [t for t in self._cleaners if t.is_alive()]
        cleaner = threading.Thread(
            target=shutil.rmtree,
            args=(aside,),
            kwargs={"ignore_errors": True},
            name="fake-artifactory-blob-cleaner",
            daemon=True,
        )
        cleaner.start()
        self._cleaners.append(cleaner)
        return True

    def wait_for_cleaners(self, timeout: float | None = None) -> None:
        """Wait until the blob directories set aside by :meth:`drop_all` are deleted."""
        for cleaner in self._cleaners:
            cleaner.join(timeout)

    def collect_garbage(self, used: Collection[str]) -> int:
        """Delete blobs whose sha256 is neither in ``used`` nor pinned; returns the count."""
        removed = 0
        if self.shared:
            return removed
        for sub in self.blob_dir.iterdir():
            for blob in sub.iterdir():
                if blob.name in used:
                    continue
                with self._pin_lock:
                    if blob.name in self._pinned:
                        continue
                    with contextlib.suppress(OSError):
                        blob.unlink()
                        removed += 1
        return removed
