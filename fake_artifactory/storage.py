"""The emulator's storage model: content-addressed blobs plus a SQLite metadata tree.

No HTTP or Flask here.  Blobs live under ``<data_dir>/blobs/<sha256[:2]>/<sha256>``
(written once however many paths use them; user paths never become host file
names).  Metadata (items with explicit folders, checksums, timestamps, properties)
lives in ``<data_dir>/meta.sqlite3`` (WAL, ``synchronous=FULL``).

Durability/atomicity: an upload is streamed to ``<data_dir>/tmp`` while hashing,
fsynced, renamed into the blob store and then committed in one SQLite transaction,
so a crash mid-upload leaves no visible item and an acknowledged write survives
``kill -9``.  Blobs are immutable, so readers holding an open blob always see one
complete version.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO

from fake_artifactory.blobs import (
    CHECKSUM_ALGS,
    CHUNK_SIZE,
    BlobStore,
    StagedBlob,
    checksum_policy_message,
    verify_client_checksums,
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
    NoSuchRepo,
    NotAFile,
    NotAFolder,
    ParentNotFolder,
    RepoExists,
)

log = logging.getLogger(__name__)

__all__ = [
    "CHECKSUM_ALGS",
    "CHUNK_SIZE",
    "ItemRecord",
    "RepoRecord",
    "StagedBlob",
    "Store",
    "TokenRecord",
    "checksum_policy_message",
    "verify_client_checksums",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    key TEXT PRIMARY KEY, rclass TEXT NOT NULL, package_type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', configured INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    repo TEXT NOT NULL, path TEXT NOT NULL, type TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0, sha1 TEXT, md5 TEXT, sha256 TEXT,
    original_sha1 TEXT, original_md5 TEXT, mime_type TEXT,
    created INTEGER NOT NULL, modified INTEGER NOT NULL, updated INTEGER NOT NULL,
    created_by TEXT NOT NULL, modified_by TEXT NOT NULL,
    PRIMARY KEY (repo, path)
);
CREATE INDEX IF NOT EXISTS items_sha256 ON items(sha256);
CREATE INDEX IF NOT EXISTS items_sha1 ON items(sha1);
CREATE TABLE IF NOT EXISTS props (
    repo TEXT NOT NULL, path TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS props_item ON props(repo, path);
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, username TEXT NOT NULL,
    scope TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT ''
);
"""


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def guess_mime_type(name: str) -> str:
    """MIME type from the file name, like Artifactory (unknown: application/octet-stream)."""
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or "application/octet-stream"


def parent_of(path: str) -> str:
    """Parent of a repo-relative path (``""`` for top-level items and the root)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def ancestors(path: str) -> list[str]:
    """Ancestors of ``path`` from the root down, excluding ``path``; root is ``""``."""
    if path == "":
        return []
    parts = path.split("/")
    return [""] + ["/".join(parts[:i]) for i in range(1, len(parts))]


@dataclass(slots=True)
class ItemRecord:
    """One file or folder; ``path`` is repo-relative without leading slash (root: ``""``).

    Timestamps are epoch milliseconds.
    """

    repo: str
    path: str
    name: str
    type: str
    size: int
    created: int
    modified: int
    updated: int
    created_by: str
    modified_by: str
    sha1: str | None = None
    md5: str | None = None
    sha256: str | None = None
    original_sha1: str | None = None
    original_md5: str | None = None
    mime_type: str | None = None
    properties: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_folder(self) -> bool:
        return self.type == "folder"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An access token minted through the Access API (only its SHA-256 digest is kept).

    ``expires`` is epoch milliseconds, 0 = never.
    """

    token_id: str
    digest: str = field(repr=False)
    username: str
    scope: str
    created: int
    expires: int = 0
    description: str = ""

    def expired(self, now: int) -> bool:
        return self.expires != 0 and now >= self.expires


@dataclass(frozen=True, slots=True)
class RepoRecord:
    key: str
    rclass: str = "local"
    package_type: str = "generic"
    description: str = ""


class Store:
    """Thread-safe blob + metadata store rooted at ``data_dir`` (None: ephemeral)."""

    def __init__(self, data_dir: Path | None = None, repos: Iterable[str] = ()) -> None:
        self.ephemeral = data_dir is None
        root = Path(tempfile.mkdtemp(prefix="fake-artifactory-")) if data_dir is None else data_dir
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(root)
        self.blob_dir = self.blobs.blob_dir
        self.tmp_dir = self.blobs.tmp_dir
        self.db_path = root / "meta.sqlite3"
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self._configured_repos = tuple(repos)
        self._closed = False
        with self._write_lock:
            db = self._db()
            db.executescript(_SCHEMA)
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        self._ensure_configured_repos()
        self._finalizer = (
            weakref.finalize(self, shutil.rmtree, str(root), True) if self.ephemeral else None
        )

    # -- connections -------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.db_path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._conn_lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close all connections; an ephemeral store removes its directory."""
        if self._closed:
            return
        self._closed = True
        with self._conn_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        if self._finalizer is not None:
            self._finalizer()

    # -- repositories ------------------------------------------------------------------

    def _ensure_configured_repos(self) -> None:
        for key in self._configured_repos:
            self._insert_repo(RepoRecord(key), configured=True, exist_ok=True)

    def _insert_repo(self, repo: RepoRecord, *, configured: bool, exist_ok: bool) -> None:
        with self._write_lock, self._tx() as db:
            row = db.execute("SELECT 1 FROM repos WHERE key = ?", (repo.key,)).fetchone()
            if row is not None:
                if exist_ok:
                    return
                raise RepoExists(repo.key)
            db.execute(
                "INSERT INTO repos(key, rclass, package_type, description, configured) "
                "VALUES (?, ?, ?, ?, ?)",
                (repo.key, repo.rclass, repo.package_type, repo.description, int(configured)),
            )
            ts = now_ms()
            db.execute(
                "INSERT OR IGNORE INTO items(repo, path, type, created, modified, updated, "
                "created_by, modified_by) VALUES (?, '', 'folder', ?, ?, ?, 'system', 'system')",
                (repo.key, ts, ts, ts),
            )

    def create_repo(self, repo: RepoRecord) -> None:
        """Create a repository; RepoExists if the key is taken."""
        self._insert_repo(repo, configured=False, exist_ok=False)

    def update_repo(self, key: str, description: str) -> None:
        """Change a repository's description (NoSuchRepo if unknown)."""
        self._require_repo(key)
        with self._write_lock, self._tx() as db:
            db.execute("UPDATE repos SET description = ? WHERE key = ?", (description, key))

    def delete_repo(self, key: str) -> None:
        """Remove a repository and all its content (NoSuchRepo if unknown)."""
        self._require_repo(key)
        with self._write_lock:
            with self._tx() as db:
                db.execute("DELETE FROM repos WHERE key = ?", (key,))
                db.execute("DELETE FROM items WHERE repo = ?", (key,))
                db.execute("DELETE FROM props WHERE repo = ?", (key,))
            self.collect_garbage()

    def list_repos(self) -> list[RepoRecord]:
        rows = self._db().execute(
            "SELECT key, rclass, package_type, description FROM repos ORDER BY key"
        )
        return [RepoRecord(*row) for row in rows]

    def get_repo(self, key: str) -> RepoRecord | None:
        row = (
            self._db()
            .execute(
                "SELECT key, rclass, package_type, description FROM repos WHERE key = ?", (key,)
            )
            .fetchone()
        )
        return RepoRecord(*row) if row else None

    def has_repo(self, key: str) -> bool:
        return self.get_repo(key) is not None

    def _require_repo(self, key: str) -> None:
        if not self.has_repo(key):
            raise NoSuchRepo(key)

    # -- blobs (delegated) -----------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        """Host path of a blob (content addressed)."""
        return self.blobs.path(sha256)

    def open_blob(self, sha256: str) -> BinaryIO:
        """Open a blob for reading (the file never changes once written)."""
        return self.blobs.open(sha256)

    def stage_upload(self, chunks: Iterable[bytes]) -> StagedBlob:
        """Stream ``chunks`` to a temp file while hashing (see :meth:`BlobStore.stage`)."""
        return self.blobs.stage(chunks)

    def stage_stream(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> StagedBlob:
        """:meth:`stage_upload` over a file-like object."""
        return self.blobs.stage_stream(stream, chunk_size)

    # -- items ------------------------------------------------------------------------------

    def _row_to_item(self, db: sqlite3.Connection, row: tuple[object, ...]) -> ItemRecord:
        repo, path = str(row[0]), str(row[1])
        item = ItemRecord(
            repo=repo,
            path=path,
            name=path.rsplit("/", 1)[-1],
            type=str(row[2]),
            size=int(row[3]),  # type: ignore[call-overload]
            sha1=row[4],  # type: ignore[arg-type]
            md5=row[5],  # type: ignore[arg-type]
            sha256=row[6],  # type: ignore[arg-type]
            original_sha1=row[7],  # type: ignore[arg-type]
            original_md5=row[8],  # type: ignore[arg-type]
            mime_type=row[9],  # type: ignore[arg-type]
            created=int(row[10]),  # type: ignore[call-overload]
            modified=int(row[11]),  # type: ignore[call-overload]
            updated=int(row[12]),  # type: ignore[call-overload]
            created_by=str(row[13]),
            modified_by=str(row[14]),
        )
        item.properties = self._props(db, repo, path)
        return item

    _COLS = (
        "repo, path, type, size, sha1, md5, sha256, original_sha1, original_md5, mime_type, "
        "created, modified, updated, created_by, modified_by"
    )

    def _props(self, db: sqlite3.Connection, repo: str, path: str) -> dict[str, list[str]]:
        props: dict[str, list[str]] = {}
        for key, value in db.execute(
            "SELECT key, value FROM props WHERE repo = ? AND path = ? ORDER BY key, seq",
            (repo, path),
        ):
            props.setdefault(key, []).append(value)
        return props

    def get_item(self, repo: str, path: str) -> ItemRecord | None:
        """The item at ``path`` or None (NoSuchRepo if the repository is unknown)."""
        self._require_repo(repo)
        db = self._db()
        row = db.execute(
            f"SELECT {self._COLS} FROM items WHERE repo = ? AND path = ?", (repo, path)
        ).fetchone()
        return self._row_to_item(db, row) if row else None

    def require_item(self, repo: str, path: str) -> ItemRecord:
        item = self.get_item(repo, path)
        if item is None:
            raise NoSuchItem(repo, path)
        return item

    def list_children(self, repo: str, path: str) -> list[ItemRecord]:
        """Direct children of a folder, sorted by name."""
        return list(self.iter_descendants(repo, path, depth=1))

    def iter_descendants(
        self, repo: str, path: str, depth: int | None = None
    ) -> Iterator[ItemRecord]:
        """Descendants of folder ``path`` sorted by path; ``depth`` 1 = direct children."""
        db = self._db()
        if path == "":
            rows = db.execute(
                f"SELECT {self._COLS} FROM items WHERE repo = ? AND path != '' ORDER BY path",
                (repo,),
            ).fetchall()
        else:
            rows = db.execute(
                f"SELECT {self._COLS} FROM items WHERE repo = ? AND path > ? AND path < ? "
                "ORDER BY path",
                (repo, path + "/", path + "0"),
            ).fetchall()
        base_depth = 0 if path == "" else path.count("/") + 1
        for row in rows:
            rel_depth = str(row[1]).count("/") + 1 - base_depth
            if depth is None or rel_depth <= depth:
                yield self._row_to_item(db, row)

    def iter_items(self, repo: str | None = None) -> Iterator[ItemRecord]:
        """Every item (including repository roots, path ``""``), for AQL and dumps."""
        db = self._db()
        if repo is None:
            rows = db.execute(f"SELECT {self._COLS} FROM items ORDER BY repo, path").fetchall()
        else:
            rows = db.execute(
                f"SELECT {self._COLS} FROM items WHERE repo = ? ORDER BY path", (repo,)
            ).fetchall()
        for row in rows:
            yield self._row_to_item(db, row)

    def _ensure_parents(
        self, db: sqlite3.Connection, repo: str, path: str, user: str, ts: int
    ) -> None:
        for anc in ancestors(path):
            row = db.execute(
                "SELECT type FROM items WHERE repo = ? AND path = ?", (repo, anc)
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO items(repo, path, type, created, modified, updated, "
                    "created_by, modified_by) VALUES (?, ?, 'folder', ?, ?, ?, ?, ?)",
                    (repo, anc, ts, ts, ts, user, user),
                )
            elif row[0] != "folder":
                raise ParentNotFolder(repo, parent_of(path))

    def _replace_props(
        self, db: sqlite3.Connection, repo: str, path: str, props: Mapping[str, list[str]]
    ) -> None:
        db.execute("DELETE FROM props WHERE repo = ? AND path = ?", (repo, path))
        self._add_props(db, repo, path, props)

    def _add_props(
        self, db: sqlite3.Connection, repo: str, path: str, props: Mapping[str, list[str]]
    ) -> None:
        for key, values in props.items():
            db.execute(
                "DELETE FROM props WHERE repo = ? AND path = ? AND key = ?", (repo, path, key)
            )
            for seq, value in enumerate(values):
                db.execute(
                    "INSERT INTO props(repo, path, key, value, seq) VALUES (?, ?, ?, ?, ?)",
                    (repo, path, key, value, seq),
                )

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
        """Publish a staged blob at ``repo/path`` atomically (last complete write wins)."""
        self._require_repo(repo)
        try:
            with self._write_lock:
                self._check_file_target(repo, path)
                self.blobs.publish(staged)
                return self._commit_item(
                    repo,
                    path,
                    staged.checksums(),
                    staged.size,
                    user,
                    original,
                    properties,
                    mime_type,
                )
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
            if row is None or not self.blob_path(row[2]).exists():
                raise ChecksumNotFound(
                    f"Checksum deploy failed. No existing file with {label}: {value}"
                )
            self._check_file_target(repo, path)
            checksums = {"sha1": row[0], "md5": row[1], "sha256": row[2]}
            return self._commit_item(
                repo, path, checksums, int(row[3]), user, checksums, properties, None
            )

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
    ) -> ItemRecord:
        ts = now_ms()
        original = original or {}
        with self._tx() as db:
            self._ensure_parents(db, repo, path, user, ts)
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
            self._replace_props(db, repo, path, properties or {})
            row = db.execute(
                f"SELECT {self._COLS} FROM items WHERE repo = ? AND path = ?", (repo, path)
            ).fetchone()
            return self._row_to_item(db, row)

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

    # -- access tokens --------------------------------------------------------------------

    _TOKEN_COLS = "token_id, digest, username, scope, created, expires, description"

    def add_token(self, token: TokenRecord) -> None:
        with self._write_lock, self._tx() as db:
            db.execute(
                f"INSERT INTO tokens({self._TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token.token_id,
                    token.digest,
                    token.username,
                    token.scope,
                    token.created,
                    token.expires,
                    token.description,
                ),
            )

    def find_token(
        self, *, token_id: str | None = None, digest: str | None = None
    ) -> TokenRecord | None:
        column, value = ("token_id", token_id) if token_id is not None else ("digest", digest)
        row = (
            self._db()
            .execute(f"SELECT {self._TOKEN_COLS} FROM tokens WHERE {column} = ?", (value,))
            .fetchone()
        )
        return TokenRecord(*row) if row else None

    def list_tokens(self) -> list[TokenRecord]:
        rows = self._db().execute(f"SELECT {self._TOKEN_COLS} FROM tokens ORDER BY created")
        return [TokenRecord(*row) for row in rows]

    def revoke_token(self, token_id: str) -> bool:
        """Forget a token; False when no such token exists."""
        with self._write_lock, self._tx() as db:
            return db.execute("DELETE FROM tokens WHERE token_id = ?", (token_id,)).rowcount > 0

    # -- checksum side-files ------------------------------------------------------------

    def set_original_checksum(self, repo: str, path: str, alg: str, value: str) -> None:
        """Record a client-provided checksum for an existing file (``*.sha1`` uploads)."""
        if alg not in ("sha1", "md5"):
            return
        with self._write_lock, self._tx() as db:
            db.execute(
                f"UPDATE items SET original_{alg} = ? WHERE repo = ? AND path = ?",
                (value, repo, path),
            )

    # -- snapshots ------------------------------------------------------------------------

    def replace_state(
        self,
        repos: Iterable[RepoRecord],
        items: Iterable[ItemRecord],
        tokens: Iterable[TokenRecord],
        blobs: Iterable[StagedBlob],
    ) -> None:
        """Replace everything (repositories, items, properties, tokens) in one transaction.

        ``blobs`` are published first (content addressed, so harmless if the
        transaction then fails); unreferenced blobs are collected afterwards.
        """
        with self._write_lock:
            for blob in blobs:
                self.blobs.publish(blob)
            with self._tx() as db:
                for table in ("items", "props", "repos", "tokens"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                for repo in repos:
                    db.execute(
                        "INSERT INTO repos(key, rclass, package_type, description, configured) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            repo.key,
                            repo.rclass,
                            repo.package_type,
                            repo.description,
                            int(repo.key in self._configured_repos),
                        ),
                    )
                for item in items:
                    db.execute(
                        f"INSERT OR REPLACE INTO items({self._COLS}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            item.repo,
                            item.path,
                            item.type,
                            item.size,
                            item.sha1,
                            item.md5,
                            item.sha256,
                            item.original_sha1,
                            item.original_md5,
                            item.mime_type,
                            item.created,
                            item.modified,
                            item.updated,
                            item.created_by,
                            item.modified_by,
                        ),
                    )
                    self._replace_props(db, item.repo, item.path, item.properties)
                for token in tokens:
                    db.execute(
                        f"INSERT INTO tokens({self._TOKEN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            token.token_id,
                            token.digest,
                            token.username,
                            token.scope,
                            token.created,
                            token.expires,
                            token.description,
                        ),
                    )
            self._ensure_configured_repos()
            self.collect_garbage()

    # -- reset and garbage ------------------------------------------------------------

    def reset(self, repo: str | None = None) -> None:
        """Drop all content (and API-created repos), or the content of one repository."""
        with self._write_lock:
            with self._tx() as db:
                if repo is None:
                    db.execute("DELETE FROM tokens")
                    db.execute("DELETE FROM items")
                    db.execute("DELETE FROM props")
                    db.execute("DELETE FROM repos")
                else:
                    if not self.has_repo(repo):
                        raise NoSuchRepo(repo)
                    db.execute("DELETE FROM items WHERE repo = ? AND path != ''", (repo,))
                    db.execute("DELETE FROM props WHERE repo = ?", (repo,))
            if repo is None:
                self._ensure_configured_repos()
            self.collect_garbage()

    def collect_garbage(self) -> int:
        """Remove blobs no item references. Returns the number removed."""
        with self._write_lock:
            used = {
                row[0]
                for row in self._db().execute(
                    "SELECT DISTINCT sha256 FROM items WHERE sha256 IS NOT NULL"
                )
            }
            return self.blobs.collect_garbage(used)
