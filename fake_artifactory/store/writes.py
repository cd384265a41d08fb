"""Writes to the item tree: deploy, folders, delete, properties, copy and move.

Every metadata write takes the database's write lock and commits in one SQLite
transaction, so readers see the old or the new state, never a mix.  Blob content is
written and hashed before the lock is taken.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterable, Mapping, Sequence

from fake_artifactory.core.copymove import (
    CopyOutcome,
    check_not_into_itself,
    rebase,
    resolve_target,
)
from fake_artifactory.core.errors import (
    ChecksumNotFound,
    NoSuchItem,
    NotAFile,
    NotAFolder,
    ParentNotFolder,
)
from fake_artifactory.core.mime import guess_mime_type
from fake_artifactory.core.records import ItemRecord, ancestors, name_of, now_ms, parent_of
from fake_artifactory.store.blobs import StagedBlob
from fake_artifactory.store.content import Content
from fake_artifactory.store.database import Database
from fake_artifactory.store.items import ItemTree
from fake_artifactory.store.repositories import Repositories
from fake_artifactory.store.schema import (
    INSERT_ITEM,
    INSERT_ITEM_IF_ABSENT,
    ITEM_SELECT,
    REPLACE_ITEM,
    item_from_row,
    item_row,
)


def file_record(
    repo: str,
    path: str,
    checksums: Mapping[str, str],
    size: int,
    user: str,
    ts: int,
    original: Mapping[str, str] | None = None,
    mime_type: str | None = None,
) -> ItemRecord:
    """A file written by ``user`` at ``ts`` (MIME type guessed from the name if not given)."""
    name = name_of(path)
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
        mime_type=mime_type or guess_mime_type(name),
    )


class ItemWriter:
    """Every write to the item tree."""

    def __init__(self, db: Database, repos: Repositories, tree: ItemTree, content: Content) -> None:
        self.db = db
        self.repos = repos
        self.tree = tree
        self.content = content

    # -- files -------------------------------------------------------------------------------

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
        self.repos.require_local(repo)
        sha256 = staged.sha256
        blobs = self.content.blobs
        try:
            if staged.inline is None:  # early answer before a blob file is written;
                self.tree.check_file_target(repo, path)  # checked again under the lock
            with blobs.pinned(sha256):
                blobs.publish(staged)
                try:
                    with self.db.write_lock:
                        checksums = staged.checksums()
                        ts = now_ms()
                        item = file_record(
                            repo, path, checksums, staged.size, user, ts, original, mime_type
                        )
                        return self._commit(item, properties, check_target=True, staged=staged)
                except BaseException:
                    self.content.drop_if_unused(sha256)
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
        self.repos.require_local(repo)
        if sha256:
            column, value, label = "sha256", sha256.lower(), "SHA-256"
        elif sha1:
            column, value, label = "sha1", sha1.lower(), "SHA-1"
        else:
            raise ChecksumNotFound(
                "Checksum deploy failed. no checksum header "
                "'X-Checksum-Sha1/X-Checksum-Sha256' was found."
            )
        with self.db.write_lock:
            row = (
                self.db.conn()
                .execute(
                    "SELECT sha1, md5, sha256, size FROM items "
                    f"WHERE {column} = ? AND type = 'file' LIMIT 1",
                    (value,),
                )
                .fetchone()
            )
            if row is None or not self.content.has(row[2], int(row[3])):
                raise ChecksumNotFound(
                    f"Checksum deploy failed. No existing file with {label}: {value}"
                )
            self.tree.check_file_target(repo, path)
            checksums = {"sha1": row[0], "md5": row[1], "sha256": row[2]}
            item = file_record(repo, path, checksums, int(row[3]), user, now_ms(), checksums)
            return self._commit(item, properties)

    def _commit(
        self,
        item: ItemRecord,
        properties: Mapping[str, list[str]] | None,
        *,
        check_target: bool = False,
        staged: StagedBlob | None = None,
    ) -> ItemRecord:
        """Write a file row with its properties (``check_target``: NotAFile first if its
        path is a folder).

        ``staged``: the upload being committed (an inline blob's bytes go in the same
        transaction).  Returns exactly the row written (read back it would be the same
        record: properties by key, values in their order, empty keys absent).
        """
        properties = properties or {}
        with self.db.tx() as db:
            new = self.tree.ensure_parents(
                db, item.repo, item.path, item.created_by, item.created, file_target=check_target
            )
            if staged is not None:
                self.content.insert_inline(db, staged)
            db.execute(REPLACE_ITEM, item_row(item))
            if new:
                self.tree.add_props(db, item.repo, item.path, properties)
            else:
                self.tree.replace_props(db, item.repo, item.path, properties)
        item.properties = {k: list(v) for k, v in sorted(properties.items()) if v}
        return item

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
        self.repos.require_local(repo)
        shas = sorted({staged.sha256 for _, staged in files})
        blobs = self.content.blobs
        try:
            with contextlib.ExitStack() as pins:
                for sha256 in shas:
                    pins.enter_context(blobs.pinned(sha256))
                for _, staged in files:
                    blobs.publish(staged)
                try:
                    with self.db.write_lock, self.db.tx() as db:
                        ts = now_ms()
                        for folder in folders:
                            self.tree.ensure_parents(db, repo, folder, user, ts)
                            folder_item = ItemRecord.folder(repo, folder, user, ts)
                            db.execute(INSERT_ITEM_IF_ABSENT, item_row(folder_item))
                            if self.tree.kind(repo, folder) != "folder":
                                raise NotAFolder(repo, folder)
                        for path, staged in files:
                            self.tree.check_file_target(repo, path)
                            self.tree.ensure_parents(db, repo, path, user, ts)
                            self.content.insert_inline(db, staged)
                            item = file_record(
                                repo, path, staged.checksums(), staged.size, user, ts
                            )
                            db.execute(REPLACE_ITEM, item_row(item))
                            db.execute(
                                "DELETE FROM props WHERE repo = ? AND path = ?", (repo, path)
                            )
                    return len(files)
                except BaseException:
                    for sha256 in shas:
                        self.content.drop_if_unused(sha256)
                    raise
        finally:
            for _, staged in files:
                staged.discard()

    def set_original_checksum(self, repo: str, path: str, alg: str, value: str) -> None:
        """Record a client-provided checksum for an existing file (``*.sha1`` uploads)."""
        if alg not in ("sha1", "md5"):
            return
        with self.db.write_lock, self.db.tx() as db:
            db.execute(
                f"UPDATE items SET original_{alg} = ? WHERE repo = ? AND path = ?",
                (value, repo, path),
            )

    # -- folders and deletes -------------------------------------------------------------------

    def create_folder(
        self,
        repo: str,
        path: str,
        *,
        user: str,
        properties: Mapping[str, list[str]] | None = None,
    ) -> ItemRecord:
        """Create a folder and its missing ancestors (idempotent)."""
        self.repos.require_local(repo)
        ts = now_ms()
        with self.db.write_lock, self.db.tx() as db:
            self.tree.ensure_parents(db, repo, path, user, ts)
            kind = self.tree.kind(repo, path)
            if kind is None:
                db.execute(INSERT_ITEM, item_row(ItemRecord.folder(repo, path, user, ts)))
            elif kind != "folder":
                raise NotAFolder(repo, path)
            if properties:
                self.tree.add_props(db, repo, path, properties)
            row = db.execute(
                f"SELECT {ITEM_SELECT} FROM items WHERE repo = ? AND path = ?", (repo, path)
            ).fetchone()
            item = item_from_row(row)
            item.properties = self.tree.props(db, repo, path)
            return item

    def delete(self, repo: str, path: str) -> int:
        """Delete a file or a folder recursively (root: all content). Returns rows removed.

        Raises NoSuchItem when nothing exists at ``path``.
        """
        self.repos.require(repo)
        with self.db.write_lock, self.db.tx() as db:
            if self.tree.kind(repo, path) is None:
                raise NoSuchItem(repo, path)
            return self.tree.delete_subtree(db, repo, path)

    # -- properties -----------------------------------------------------------------------------

    def _targets(self, repo: str, path: str, recursive: bool) -> list[str]:
        item = self.tree.require(repo, path)
        targets = [path]
        if recursive and item.is_folder:
            targets += [i.path for i in self.tree.descendants(repo, path)]
        return targets

    def set_properties(
        self, repo: str, path: str, props: Mapping[str, list[str]], *, recursive: bool = False
    ) -> None:
        """Replace the values of each key in ``props`` (other keys untouched)."""
        targets = self._targets(repo, path, recursive)
        with self.db.write_lock, self.db.tx() as db:
            for target in targets:
                self.tree.add_props(db, repo, target, props)
                db.execute(
                    "UPDATE items SET updated = ? WHERE repo = ? AND path = ?",
                    (now_ms(), repo, target),
                )

    def delete_properties(
        self, repo: str, path: str, keys: Iterable[str], *, recursive: bool = False
    ) -> None:
        """Remove property keys (missing keys are ignored)."""
        targets = self._targets(repo, path, recursive)
        keys = list(keys)
        with self.db.write_lock, self.db.tx() as db:
            for target in targets:
                for key in keys:
                    db.execute(
                        "DELETE FROM props WHERE repo = ? AND path = ? AND key = ?",
                        (repo, target, key),
                    )

    # -- copy and move ---------------------------------------------------------------------

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
        self.repos.require_local(dst_repo)
        with self.db.write_lock:
            source = self.tree.require(src_repo, src_path)
            existing = self.tree.get(dst_repo, dst_path)
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
                items += list(self.tree.descendants(src_repo, src_path))
            if not source.is_folder and target == "":
                raise NotAFile(dst_repo, target)
            overwrites = 0
            for item in items:
                path = rebase(item.path, src_path, target)
                kind = self.tree.kind(dst_repo, path)
                if kind is None:
                    continue
                if item.is_folder and kind != "folder":
                    raise NotAFolder(dst_repo, path)
                if not item.is_folder:
                    if kind == "folder":
                        raise NotAFile(dst_repo, path)
                    overwrites += 1
            for anc in ancestors(target):
                kind = self.tree.kind(dst_repo, anc)
                if kind is not None and kind != "folder":
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
            with self.db.tx() as db:
                self.tree.ensure_parents(db, dst_repo, target, user, ts)
                for item in items:
                    self._copy_row(
                        db, item, dst_repo, rebase(item.path, src_path, target), user, ts
                    )
                if move:
                    self.tree.delete_subtree(db, src_repo, src_path)
            return outcome

    def _copy_row(
        self, db: sqlite3.Connection, item: ItemRecord, repo: str, path: str, user: str, ts: int
    ) -> None:
        if item.is_folder:
            db.execute(INSERT_ITEM_IF_ABSENT, item_row(ItemRecord.folder(repo, path, user, ts)))
            self.tree.add_props(db, repo, path, item.properties)
            return
        # The copy is new here (created now, by ``user``) but keeps its content's history.
        copied = dataclasses.replace(
            item, repo=repo, path=path, name=name_of(path), created=ts, updated=ts, created_by=user
        )
        db.execute(REPLACE_ITEM, item_row(copied))
        self.tree.replace_props(db, repo, path, item.properties)
