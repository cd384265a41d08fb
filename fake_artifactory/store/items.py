"""The item tree: reads, and the helpers every write uses inside its transaction.

Items are files and explicit folders in the ``items`` table (one row each, the
repository root is the folder with path ``""``); their properties are ``props`` rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping

from fake_artifactory.core.errors import NoSuchItem, NotAFile, ParentNotFolder
from fake_artifactory.core.records import ItemRecord, ancestors, parent_of
from fake_artifactory.store.blobs import INLINE_BLOB_MAX
from fake_artifactory.store.database import Database
from fake_artifactory.store.repositories import Repositories
from fake_artifactory.store.schema import (
    INSERT_ITEM,
    ITEM_SELECT,
    ITEM_SELECT_QUALIFIED,
    item_from_row,
    item_row,
)


class ItemTree:
    """Reads of the item tree (each on the calling thread's connection)."""

    def __init__(self, db: Database, repos: Repositories) -> None:
        self.db = db
        self.repos = repos

    def _with_props(self, db: sqlite3.Connection, row: tuple[object, ...]) -> ItemRecord:
        item = item_from_row(row)
        item.properties = self.props(db, item.repo, item.path)
        return item

    @staticmethod
    def props(db: sqlite3.Connection, repo: str, path: str) -> dict[str, list[str]]:
        """An item's properties: values in their order, keys sorted."""
        props: dict[str, list[str]] = {}
        for key, value in db.execute(
            "SELECT key, value FROM props WHERE repo = ? AND path = ? ORDER BY key, seq",
            (repo, path),
        ):
            props.setdefault(key, []).append(value)
        return props

    def get(self, repo: str, path: str) -> ItemRecord | None:
        """The item at ``path`` or None (NoSuchRepo if the repository is unknown)."""
        self.repos.require(repo)
        db = self.db.conn()
        row = db.execute(
            f"SELECT {ITEM_SELECT} FROM items WHERE repo = ? AND path = ?", (repo, path)
        ).fetchone()
        return self._with_props(db, row) if row else None

    def require(self, repo: str, path: str) -> ItemRecord:
        """The item at ``path``; NoSuchItem when there is none."""
        item = self.get(repo, path)
        if item is None:
            raise NoSuchItem(repo, path)
        return item

    def get_download(self, repo: str, path: str) -> tuple[ItemRecord, bytes | None] | None:
        """A file's record and, when it is an inline blob, its bytes: one query.

        For plain downloads: the record's ``properties`` are NOT loaded (a download
        answers none of them).  None when no file is at ``path``.
        """
        self.repos.require(repo)
        row = (
            self.db.conn()
            .execute(
                f"SELECT {ITEM_SELECT_QUALIFIED}, blob_data.data FROM items LEFT JOIN blob_data "
                "ON items.size <= ? AND blob_data.sha256 = items.sha256 "
                "WHERE items.repo = ? AND items.path = ? AND items.type = 'file'",
                (INLINE_BLOB_MAX, repo, path),
            )
            .fetchone()
        )
        if row is None:
            return None
        return item_from_row(row), row[-1]

    def children(self, repo: str, path: str) -> list[ItemRecord]:
        """Direct children of a folder, sorted by name."""
        return list(self.descendants(repo, path, depth=1))

    def descendants(self, repo: str, path: str, depth: int | None = None) -> Iterator[ItemRecord]:
        """Descendants of folder ``path`` sorted by path; ``depth`` 1 = direct children."""
        db = self.db.conn()
        if path == "":
            rows = db.execute(
                f"SELECT {ITEM_SELECT} FROM items WHERE repo = ? AND path != '' ORDER BY path",
                (repo,),
            ).fetchall()
        else:
            rows = db.execute(
                f"SELECT {ITEM_SELECT} FROM items WHERE repo = ? AND path > ? AND path < ? "
                "ORDER BY path",
                (repo, path + "/", path + "0"),
            ).fetchall()
        base_depth = 0 if path == "" else path.count("/") + 1
        for row in rows:
            rel_depth = str(row[1]).count("/") + 1 - base_depth
            if depth is None or rel_depth <= depth:
                yield self._with_props(db, row)

    def all(self, repo: str | None = None) -> Iterator[ItemRecord]:
        """Every item (including repository roots, path ``""``), for AQL and dumps."""
        db = self.db.conn()
        if repo is None:
            rows = db.execute(f"SELECT {ITEM_SELECT} FROM items ORDER BY repo, path").fetchall()
        else:
            rows = db.execute(
                f"SELECT {ITEM_SELECT} FROM items WHERE repo = ? ORDER BY path", (repo,)
            ).fetchall()
        for row in rows:
            yield self._with_props(db, row)

    def kind(self, repo: str, path: str) -> str | None:
        """``"file"``, ``"folder"`` or None (on the caller's connection)."""
        row = (
            self.db.conn()
            .execute("SELECT type FROM items WHERE repo = ? AND path = ?", (repo, path))
            .fetchone()
        )
        return None if row is None else str(row[0])

    # -- inside a write transaction -----------------------------------------------------------

    def check_file_target(self, repo: str, path: str) -> None:
        """NotAFile when a file cannot be written at ``path`` (a folder, or the root)."""
        if path == "" or self.kind(repo, path) == "folder":
            raise NotAFile(repo, path)

    @staticmethod
    def ensure_parents(
        db: sqlite3.Connection,
        repo: str,
        path: str,
        user: str,
        ts: int,
        *,
        file_target: bool = False,
    ) -> bool:
        """Create the missing ancestors of ``path`` (ParentNotFolder if one is a file).

        ``file_target``: first raise NotAFile when ``path`` itself is a folder or the
        root (the same query answers both questions), and return True when nothing
        exists at ``path`` yet (a new file: no properties to clear).  Otherwise False.
        """
        parents = ancestors(path)
        if file_target and not parents:
            raise NotAFile(repo, path)
        if not parents:
            return False
        looked_up = [*parents, path] if file_target else parents
        marks = ", ".join("?" * len(looked_up))
        kinds: dict[str, str] = dict(
            db.execute(
                f"SELECT path, type FROM items WHERE repo = ? AND path IN ({marks})",
                (repo, *looked_up),
            ).fetchall()
        )
        if file_target and kinds.get(path) == "folder":
            raise NotAFile(repo, path)
        for anc in parents:  # from the root down, as if checked one by one
            kind = kinds.get(anc)
            if kind is None:
                db.execute(INSERT_ITEM, item_row(ItemRecord.folder(repo, anc, user, ts)))
            elif kind != "folder":
                raise ParentNotFolder(repo, parent_of(path))
        return file_target and path not in kinds

    @staticmethod
    def replace_props(
        db: sqlite3.Connection, repo: str, path: str, props: Mapping[str, list[str]]
    ) -> None:
        """Make ``props`` the item's only properties."""
        db.execute("DELETE FROM props WHERE repo = ? AND path = ?", (repo, path))
        ItemTree.add_props(db, repo, path, props)

    @staticmethod
    def add_props(
        db: sqlite3.Connection, repo: str, path: str, props: Mapping[str, list[str]]
    ) -> None:
        """Set the values of each key of ``props`` (other keys untouched)."""
        for key, values in props.items():
            db.execute(
                "DELETE FROM props WHERE repo = ? AND path = ? AND key = ?", (repo, path, key)
            )
            for seq, value in enumerate(values):
                db.execute(
                    "INSERT INTO props(repo, path, key, value, seq) VALUES (?, ?, ?, ?, ?)",
                    (repo, path, key, value, seq),
                )

    @staticmethod
    def delete_subtree(db: sqlite3.Connection, repo: str, path: str) -> int:
        """Delete ``path`` and everything below it (the root: all content); rows removed."""
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
