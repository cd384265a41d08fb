"""Writes to the item tree: deploy, folders, delete, properties, copy and move.

Every metadata write takes the store's write lock and commits in one SQLite
transaction, so readers see the old or the new state, never a mix.  Blob content is
written and hashed before the lock is taken.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from fake_artifactory.blobs import (
    StagedBlob,
)
from fake_artifactory.copymove import (
    CopyOutcome,
    check_not_into_itself,
    rebase,
    resolve_target,
)
from fake_artifactory.errors import (
    ChecksumNotFound,
    NoSuchItem,
    NotAFile,
    NotAFolder,
    ParentNotFolder,
)
from fake_artifactory.storage_base import (
    ItemRecord,
    StoreBase,
    ancestors,
    guess_mime_type,
    now_ms,
    parent_of,
)

log = logging.getLogger(__name__)


class ItemStore(StoreBase):
    """Item-tree writes on top of :class:`StoreBase`."""

    def commit_file(
        self,
        repo: str,
        path: str,
        staged: StagedBlob,
        *,
        user: str,
        original: Mapping[str, str] | None = None,
        properties: Mapping[str, list[str]] | None = None,
        mime_type: str | None = None,
    ) -> ItemRecord:
        """Publish a staged blob at ``repo/path`` atomically (last complete write wins).

        The blob is renamed into place outside the write lock (pinned against garbage
        collection until its metadata is committed); only the commit is serialised.
        """
        self._require_repo(repo)
        sha256 = staged.sha256
        try:
            if staged.inline is None:  # early answer before a blob file is written;
                self._check_file_target(repo, path)  # checked again under the lock
            with self.blobs.pinned(sha256):
                self.blobs.publish(staged)
                try:
                    with self._write_lock:
                        return self._commit_item(
                            repo,
                            path,
                            staged.checksums(),
                            staged.size,
                            user,
                            original,
                            properties,
                            mime_type,
                            check_target=True,
                            staged=staged,
                        )
                except BaseException:
                    with self._write_lock:
                        self.blobs.drop_if_unused(sha256, referenced=self._blob_used(sha256))
                    raise
        finally:
            staged.discard()

    def deploy_by_checksum(
        self,
        repo: str,
        path: str,
        *,
        sha256: str | None,
        sha1: str | None,
        user: str,
        properties: Mapping[str, list[str]] | None = None,
    ) -> ItemRecord:
        """Create ``repo/path`` from an already stored blob (ChecksumNotFound if unknown)."""
        self._require_repo(repo)
        if sha256:
            column, value, label = "sha256", sha256.lower(), "SHA-256"
        elif sha1:
            column, value, label = "sha1", sha1.lower(), "SHA-1"
        else:
            raise ChecksumNotFound(
                "Checksum deploy failed. no checksum header "
                "'X-Checksum-Sha1/X-Checksum-Sha256' was found."
            )
        with self._write_lock:
            row = (
                self._db()
                .execute(
                    "SELECT sha1, md5, sha256, size FROM items "
                    f"WHERE {column} = ? AND type = 'file' LIMIT 1",
                    (value,),
                )
                .fetchone()
            )
            if row is None or not self.has_blob(row[2], int(row[3])):
                raise ChecksumNotFound(
                    f"Checksum deploy failed. No existing file with {label}: {value}"
                )
            self._check_file_target(repo, path)
            checksums = {"sha1": row[0], "md5": row[1], "sha256": row[2]}
            return self._commit_item(
                repo, path, checksums, int(row[3]), user, checksums, properties, None
            )

    def _blob_used(self, sha256: str) -> bool:
        row = (
            self._db().execute("SELECT 1 FROM items WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
        )
        return row is not None

    def _check_file_target(self, repo: str, path: str) -> None:
        row = (
            self._db()
            .execute("SELECT type FROM items WHERE repo = ? AND path = ?", (repo, path))
            .fetchone()
        )
        if (row is not None and row[0] == "folder") or path == "":
            raise NotAFile(repo, path)

    def _commit_item(
        self,
        repo: str,
        path: str,
        checksums: Mapping[str, str],
        size: int,
        user: str,
        original: Mapping[str, str] | None,
        properties: Mapping[str, list[str]] | None,
        mime_type: str | None,
        *,
        check_target: bool = False,
        staged: StagedBlob | None = None,
    ) -> ItemRecord:
        """Write a file row (``check_target``: NotAFile first if ``path`` is a folder).

        ``staged``: the upload being committed (an inline blob's bytes go in the same
        transaction)."""
        ts = now_ms()
        name = path.rsplit("/", 1)[-1]
        mime_type = mime_type or guess_mime_type(name)
        properties = properties or {}
        with self._tx() as db:
            new = self._ensure_parents(db, repo, path, user, ts, file_target=check_target)
            if staged is not None:
                self._insert_inline(db, staged)
            self._insert_file_row(db, repo, path, checksums, size, user, ts, original, mime_type)
            if new:
                self._add_props(db, repo, path, properties)
            else:
                self._replace_props(db, repo, path, properties)
        # Exactly the row just written (read back it would be the same record; properties
        # come back by key, values in their order, empty keys absent).
        original = original or {}
        return ItemRecord(
            repo=repo,
            path=path,
            name=name,
            type="file",
            size=size,
            created=ts,
            modified=ts,
            updated=ts,
            created_by=user,
            modified_by=user,
            sha1=checksums["sha1"],
            md5=checksums["md5"],
            sha256=checksums["sha256"],
            original_sha1=original.get("sha1"),
            original_md5=original.get("md5"),
            mime_type=mime_type,
            properties={k: list(v) for k, v in sorted(properties.items()) if v},
        )

    def _insert_file_row(
        self,
        db: sqlite3.Connection,
        repo: str,
        path: str,
        checksums: Mapping[str, str],
        size: int,
        user: str,
        ts: int,
        original: Mapping[str, str] | None = None,
        mime_type: str | None = None,
    ) -> None:
        original = original or {}
        db.execute(
            "INSERT OR REPLACE INTO items(repo, path, type, size, sha1, md5, sha256, "
            "original_sha1, original_md5, mime_type, created, modified, updated, "
            "created_by, modified_by) "
            "VALUES (?, ?, 'file', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                repo,
                path,
                size,
                checksums["sha1"],
                checksums["md5"],
                checksums["sha256"],
                original.get("sha1"),
                original.get("md5"),
                mime_type or guess_mime_type(path.rsplit("/", 1)[-1]),
                ts,
                ts,
                ts,
                user,
                user,
            ),
        )

    def commit_files(
        self,
        repo: str,
        files: Sequence[tuple[str, StagedBlob]],
        *,
        folders: Sequence[str] = (),
        user: str,
    ) -> int:
        """Create ``folders`` and publish every staged blob at its path in ONE transaction.

        All or nothing (the explode deploy): a conflict (a file where a folder is, or
        the reverse) rolls everything back, and the blobs published for it are dropped
        unless something else uses them.  Existing files are replaced, their
        properties cleared.  The staged files are always consumed.  Returns the
        number of files written.
        """
        self._require_repo(repo)
        shas = sorted({staged.sha256 for _, staged in files})
        try:
            with contextlib.ExitStack() as pins:
                for sha256 in shas:
                    pins.enter_context(self.blobs.pinned(sha256))
                for _, staged in files:
                    self.blobs.publish(staged)
                try:
                    with self._write_lock, self._tx() as db:
                        ts = now_ms()
                        for folder in folders:
                            self._ensure_parents(db, repo, folder, user, ts)
                            db.execute(
                                "INSERT OR IGNORE INTO items(repo, path, type, created, "
                                "modified, updated, created_by, modified_by) "
                                "VALUES (?, ?, 'folder', ?, ?, ?, ?, ?)",
                                (repo, folder, ts, ts, ts, user, user),
                            )
                            row = db.execute(
                                "SELECT type FROM items WHERE repo = ? AND path = ?",
                                (repo, folder),
                            ).fetchone()
                            if row[0] != "folder":
                                raise NotAFolder(repo, folder)
                        for path, staged in files:
                            self._check_file_target(repo, path)
                            self._ensure_parents(db, repo, path, user, ts)
                            self._insert_inline(db, staged)
                            self._insert_file_row(
                                db, repo, path, staged.checksums(), staged.size, user, ts
                            )
                            db.execute(
                                "DELETE FROM props WHERE repo = ? AND path = ?", (repo, path)
                            )
                    return len(files)
                except BaseException:
                    with self._write_lock:
                        for sha256 in shas:
                            self.blobs.drop_if_unused(sha256, referenced=self._blob_used(sha256))
                    raise
        finally:
            for _, staged in files:
                staged.discard()

    def create_folder(
        self,
        repo: str,
        path: str,
        *,
        user: str,
        properties: Mapping[str, list[str]] | None = None,
    ) -> ItemRecord:
        """Create a folder and its missing ancestors (idempotent)."""
        self._require_repo(repo)
        ts = now_ms()
        with self._write_lock, self._tx() as db:
            self._ensure_parents(db, repo, path, user, ts)
            row = db.execute(
                "SELECT type FROM items WHERE repo = ? AND path = ?", (repo, path)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO items(repo, path, type, created, modified, updated, "
                    "created_by, modified_by) VALUES (?, ?, 'folder', ?, ?, ?, ?, ?)",
                    (repo, path, ts, ts, ts, user, user),
                )
            elif row[0] != "folder":
                raise NotAFolder(repo, path)
            if properties:
                self._add_props(db, repo, path, properties)
            row = db.execute(
                f"SELECT {self._COLS} FROM items WHERE repo = ? AND path = ?", (repo, path)
            ).fetchone()
            return self._row_to_item(db, row)

    def delete(self, repo: str, path: str) -> int:
        """Delete a file or a folder recursively (root: all content). Returns rows removed.

        Raises NoSuchItem when nothing exists at ``path``.
        """
        self._require_repo(repo)
        with self._write_lock, self._tx() as db:
            row = db.execute(
                "SELECT type FROM items WHERE repo = ? AND path = ?", (repo, path)
            ).fetchone()
            if row is None:
                raise NoSuchItem(repo, path)
            if path == "":
                cur = db.execute("DELETE FROM items WHERE repo = ? AND path != ''", (repo,))
                db.execute("DELETE FROM props WHERE repo = ? AND path != ''", (repo,))
                return cur.rowcount
            lo, hi = path + "/", path + "0"
            cur = db.execute(
                "DELETE FROM items WHERE repo = ? AND (path = ? OR (path > ? AND path < ?))",
                (repo, path, lo, hi),
            )
            db.execute(
                "DELETE FROM props WHERE repo = ? AND (path = ? OR (path > ? AND path < ?))",
                (repo, path, lo, hi),
            )
            return cur.rowcount

    # -- properties -------------------------------------------------------------------------

    def set_properties(
        self, repo: str, path: str, props: Mapping[str, list[str]], *, recursive: bool = False
    ) -> None:
        """Replace the values of each key in ``props`` (other keys untouched)."""
        item = self.require_item(repo, path)
        targets = [path]
        if recursive and item.is_folder:
            targets += [i.path for i in self.iter_descendants(repo, path)]
        with self._write_lock, self._tx() as db:
            for target in targets:
                self._add_props(db, repo, target, props)
                db.execute(
                    "UPDATE items SET updated = ? WHERE repo = ? AND path = ?",
                    (now_ms(), repo, target),
                )

    def delete_properties(
        self, repo: str, path: str, keys: Iterable[str], *, recursive: bool = False
    ) -> None:
        """Remove property keys (missing keys are ignored)."""
        item = self.require_item(repo, path)
        targets = [path]
        if recursive and item.is_folder:
            targets += [i.path for i in self.iter_descendants(repo, path)]
        keys = list(keys)
        with self._write_lock, self._tx() as db:
            for target in targets:
                for key in keys:
                    db.execute(
                        "DELETE FROM props WHERE repo = ? AND path = ? AND key = ?",
                        (repo, target, key),
                    )

    # -- copy and move -------------------------------------------------------------------

    def copy_tree(
        self,
        src_repo: str,
        src_path: str,
        dst_repo: str,
        dst_path: str,
        *,
        move: bool,
        user: str,
        into: bool = False,
        dry: bool = False,
    ) -> CopyOutcome:
        """Copy (or move) a file or folder subtree in one transaction.

        Unix semantics: an existing target folder (or ``into``) receives the source
        under its own name, otherwise the source is renamed.  Properties and checksums
        travel with the items; blobs are shared (content addressed).  ``dry`` checks
        everything and changes nothing.  Raises NoSuchItem, NoSuchRepo, InvalidCopy,
        NotAFile, NotAFolder or ParentNotFolder.
        """
        self._require_repo(dst_repo)
        with self._write_lock:
            source = self.require_item(src_repo, src_path)
            existing = self.get_item(dst_repo, dst_path)
            target = resolve_target(
                src_path,
                dst_path,
                dst_is_folder=existing is not None and existing.is_folder,
                dst_exists=existing is not None,
                into=into,
            )
            check_not_into_itself(
                src_repo, src_path, dst_repo, target, src_is_folder=source.is_folder
            )
            items = [source] if src_path else []
            if source.is_folder:
                items += list(self.iter_descendants(src_repo, src_path))
            if not source.is_folder and target == "":
                raise NotAFile(dst_repo, target)
            db = self._db()
            overwrites = 0
            for item in items:
                path = rebase(item.path, src_path, target)
                row = db.execute(
                    "SELECT type FROM items WHERE repo = ? AND path = ?", (dst_repo, path)
                ).fetchone()
                if row is None:
                    continue
                if item.is_folder and row[0] != "folder":
                    raise NotAFolder(dst_repo, path)
                if not item.is_folder:
                    if row[0] == "folder":
                        raise NotAFile(dst_repo, path)
                    overwrites += 1
            for anc in ancestors(target):
                row = db.execute(
                    "SELECT type FROM items WHERE repo = ? AND path = ?", (dst_repo, anc)
                ).fetchone()
                if row is not None and row[0] != "folder":
                    raise ParentNotFolder(dst_repo, parent_of(target))
            outcome = CopyOutcome(
                target_path=target,
                files=sum(1 for i in items if not i.is_folder),
                folders=sum(1 for i in items if i.is_folder),
                overwrites=overwrites,
            )
            if dry:
                return outcome
            ts = now_ms()
            with self._tx() as db:
                self._ensure_parents(db, dst_repo, target, user, ts)
                for item in items:
                    self._copy_row(
                        db, item, dst_repo, rebase(item.path, src_path, target), user, ts
                    )
                if move:
                    self._delete_subtree(db, src_repo, src_path)
            return outcome

    def _copy_row(
        self, db: sqlite3.Connection, item: ItemRecord, repo: str, path: str, user: str, ts: int
    ) -> None:
        if item.is_folder:
            db.execute(
                "INSERT OR IGNORE INTO items(repo, path, type, created, modified, updated, "
                "created_by, modified_by) VALUES (?, ?, 'folder', ?, ?, ?, ?, ?)",
                (repo, path, ts, ts, ts, user, user),
            )
            self._add_props(db, repo, path, item.properties)
            return
        db.execute(
            "INSERT OR REPLACE INTO items(repo, path, type, size, sha1, md5, sha256, "
            "original_sha1, original_md5, mime_type, created, modified, updated, "
            "created_by, modified_by) VALUES (?, ?, 'file', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                repo,
                path,
                item.size,
                item.sha1,
                item.md5,
                item.sha256,
                item.original_sha1,
                item.original_md5,
                item.mime_type,
                ts,
                item.modified,
                ts,
                user,
                item.modified_by,
            ),
        )
        self._replace_props(db, repo, path, item.properties)

    def _delete_subtree(self, db: sqlite3.Connection, repo: str, path: str) -> None:
        if path == "":
            db.execute("DELETE FROM items WHERE repo = ? AND path != ''", (repo,))
            db.execute("DELETE FROM props WHERE repo = ? AND path != ''", (repo,))
            return
        lo, hi = path + "/", path + "0"
        for table in ("items", "props"):
            db.execute(
                f"DELETE FROM {table} WHERE repo = ? AND (path = ? OR (path > ? AND path < ?))",
                (repo, path, lo, hi),
            )
