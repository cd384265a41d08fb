"""Content: blob files plus the inline blobs SQLite keeps, read and collected as one.

A blob of at most :data:`~fake_artifactory.store.blobs.INLINE_BLOB_MAX` bytes received in
memory is stored in the ``blob_data`` table, in the transaction that commits its item;
every larger one is a file of the :class:`~fake_artifactory.store.blobs.BlobStore`.
"""

from __future__ import annotations

import io
import sqlite3
from typing import BinaryIO

from fake_artifactory.store.blobs import INLINE_BLOB_MAX, BlobStore, StagedBlob
from fake_artifactory.store.database import Database


class Content:
    """Blob reads, inline blob writes and garbage collection."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db = db
        self.blobs = blobs

    def open(self, sha256: str, size: int | None = None) -> BinaryIO:
        """Open a blob for reading (it never changes once written).

        A blob of ``size`` at most :data:`INLINE_BLOB_MAX` is looked up in SQLite first
        (an inline blob); otherwise, or when not found there, its file is opened.
        """
        data = self._inline(sha256, size)
        return io.BytesIO(data) if data is not None else self.blobs.open(sha256)

    def has(self, sha256: str, size: int) -> bool:
        """Whether the content ``sha256`` is stored (inline or as a file)."""
        return self._inline(sha256, size) is not None or self.blobs.path(sha256).exists()

    def _inline(self, sha256: str, size: int | None) -> bytes | None:
        """The bytes of an inline blob, or None (too large to be one, or not stored so)."""
        if size is not None and size > INLINE_BLOB_MAX:
            return None
        row = (
            self.db.conn()
            .execute("SELECT data FROM blob_data WHERE sha256 = ?", (sha256,))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def stored(self) -> set[str]:
        """The sha256 of every stored blob, inline or file (for tests and checks)."""
        inline = {row[0] for row in self.db.conn().execute("SELECT sha256 FROM blob_data")}
        files = {p.name for p in self.blobs.blob_dir.glob("*/*") if p.is_file()}
        return inline | files

    @staticmethod
    def insert_inline(db: sqlite3.Connection, staged: StagedBlob) -> None:
        """Keep an inline blob's bytes (in the transaction that commits its item)."""
        data = staged.inline
        if data is not None:
            db.execute(
                "INSERT OR IGNORE INTO blob_data(sha256, data) VALUES (?, ?)",
                (staged.sha256, data),
            )

    def used(self, sha256: str) -> bool:
        """Whether an item references the content ``sha256``."""
        row = (
            self.db.conn()
            .execute("SELECT 1 FROM items WHERE sha256 = ? LIMIT 1", (sha256,))
            .fetchone()
        )
        return row is not None

    def drop_if_unused(self, sha256: str) -> None:
        """After a failed commit: remove the blob file published for it, unless used.
        The caller holds a pin on it (see :meth:`BlobStore.drop_if_unused`)."""
        with self.db.write_lock:
            self.blobs.drop_if_unused(sha256, referenced=self.used(sha256))

    def collect_garbage(self) -> int:
        """Remove blobs no item references. Returns the number removed.

        Inline blobs go in one transaction; blob files as :meth:`BlobStore.collect_garbage`.
        In a shared data dir (``--workers``) neither is removed: another process may have
        found the content (a deploy by checksum, a copy, a download under way) and not
        yet committed or read it, so unreferenced blobs stay until a single-process run.
        """
        with self.db.write_lock:
            inline = 0
            if not self.db.shared:
                with self.db.tx() as db:
                    inline = db.execute(
                        "DELETE FROM blob_data WHERE sha256 NOT IN "
                        "(SELECT sha256 FROM items WHERE sha256 IS NOT NULL)"
                    ).rowcount
            used = {
                row[0]
                for row in self.db.conn().execute(
                    "SELECT DISTINCT sha256 FROM items WHERE sha256 IS NOT NULL"
                )
            }
            return inline + self.blobs.collect_garbage(used)

    def drop_all(self) -> None:
        """Remove all content once every item is gone (a full reset, which holds the write
        lock): inline blobs in one statement, blob files all at once
        (:meth:`BlobStore.drop_all`) or, while an upload pins one, file by file. Nothing
        in a shared data dir (see :meth:`collect_garbage`)."""
        with self.db.write_lock:
            if self.db.shared:
                return
            with self.db.tx() as db:
                db.execute("DELETE FROM blob_data")
            if not self.blobs.drop_all():
                self.blobs.collect_garbage(())
