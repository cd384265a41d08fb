"""Storage foundation: SQLite schema, records, connections, repositories and reads.

No HTTP or Flask here.  :class:`StoreBase` owns the metadata database
(``<data_dir>/meta.sqlite3``, WAL, ``synchronous`` per :class:`Durability`) and the
blob store, keeps the repository set cached in memory, and
answers every read; writes to the item tree are in :mod:`fake_artifactory.storage_items`
and the whole-state operations (tokens, snapshots, reset) in
:mod:`fake_artifactory.storage`, which is the public import path.
"""

from __future__ import annotations

import contextlib
import functools
import io
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
    CHUNK_SIZE,
    INLINE_BLOB_MAX,
    BlobStore,
    Durability,
    StagedBlob,
)
from fake_artifactory.errors import (
    NoSuchItem,
    NoSuchRepo,
    NotAFile,
    ParentNotFolder,
    RepoExists,
)

log = logging.getLogger(__name__)

#: 2: small blobs live in ``blob_data`` (an older emulator would not find them).
SCHEMA_VERSION = 2

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
CREATE TABLE IF NOT EXISTS blob_data (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
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
    if ":" in name or "." not in name or name[0] == ".":  # URL-like, no or odd extension
        return _guess_mime_type(name)
    # Only the last two extensions count (``.tar.gz``): one lookup per extension pair.
    last = name.rfind(".")
    prev = name.rfind(".", 0, last)
    return _guess_mime_type("x" + name[prev if prev > 0 else last :])


@functools.lru_cache(maxsize=1024)
def _guess_mime_type(name: str) -> str:
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


#: How much of the database file each connection may map into memory (address space,
#: not resident memory: the kernel's page cache backs it).
MMAP_BYTES = 1 << 30
#: Page cache of the writer connection (SQLite's default is 2 MiB).
WRITER_CACHE_KIB = 64 * 1024


class _WriteLock:
    """A re-entrant lock that marks, per thread, that the thread holds it (see
    :meth:`StoreBase._db`: the holder uses the writer connection)."""

    __slots__ = ("_local", "_lock")

    def __init__(self, local: threading.local) -> None:
        self._lock = threading.RLock()
        self._local = local

    def __enter__(self) -> None:
        self._lock.acquire()
        self._local.writing = self._local.__dict__.get("writing", 0) + 1

    def __exit__(self, *exc: object) -> None:
        self._local.writing -= 1
        self._lock.release()


class StoreBase:
    """Connections, repositories, blobs and reads (see :class:`fake_artifactory.storage.Store`)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        repos: Iterable[str] = (),
        fsync: str = "auto",
        *,
        shared: bool = False,
    ) -> None:
        self.ephemeral = data_dir is None
        #: Other processes use the same data dir (``--workers``): see :meth:`sync_shared`.
        self.shared = shared and data_dir is not None
        self.durability = Durability.resolve(fsync, ephemeral=self.ephemeral)
        root = Path(tempfile.mkdtemp(prefix="fake-artifactory-")) if data_dir is None else data_dir
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(root, self.durability, shared=self.shared)
        self.blob_dir = self.blobs.blob_dir
        self.tmp_dir = self.blobs.tmp_dir
        self.db_path = root / "meta.sqlite3"
        self._local = threading.local()
        self._write_lock = _WriteLock(self._local)
        self._writer: sqlite3.Connection | None = None
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self._configured_repos = tuple(repos)
        self._closed = False
        # In-memory caches of rarely written tables, dropped by every write to them.
        # A reader only installs what it loaded if no write happened meanwhile.
        self._cache_lock = threading.Lock()
        self._cache_gen = 0
        self._shared_gen: str | None = None
        self._repo_cache: dict[str, RepoRecord] | None = None
        self._drop_other_caches()
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
        """The calling thread's connection; the writer's while it holds the write lock.

        Every write happens under :attr:`_write_lock` and therefore on one connection,
        whose page cache stays valid from one write to the next.  Were each thread to
        write on its own connection, every commit would make all the other connections
        drop their page caches and read the pages again (about a tenth of the CPU time
        of a small PUT with 8 busy clients).  Reads under the lock see the transaction
        in progress, as before; reads outside it use the thread's own connection.
        """
        local = self._local
        if local.__dict__.get("writing"):
            writer = self._writer
            if writer is None:
                writer = self._writer = self._connect()
                # Writes touch random index pages (checksums): keep them in memory.
                writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            return writer
        conn: sqlite3.Connection | None = local.__dict__.get("conn")
        if conn is None:
            conn = local.conn = self._connect()
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.db_path, timeout=30, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.durability.synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        # Pages of the database file are read through a memory map instead of a read
        # system call each: a connection whose cache another one's commit invalidated
        # reads its pages back at memory speed.
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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

    def _invalidate_caches(self) -> None:
        """Forget cached repositories and tokens (call after committing a change to them).

        In a shared data dir the change is also announced to the other processes (a
        counter in ``meta`` that :meth:`sync_shared` compares).
        """
        self._drop_caches()
        if self.shared:
            with self._write_lock, self._tx() as db:
                db.execute(
                    "INSERT INTO meta(key, value) VALUES ('cache_gen', '1') ON CONFLICT(key) "
                    "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
                )

    def _drop_caches(self) -> None:
        with self._cache_lock:
            self._cache_gen += 1
            self._repo_cache = None
            self._drop_other_caches()

    def sync_shared(self) -> None:
        """Drop the caches when another process changed repositories or tokens (one
        indexed read; call at the start of each request). No-op unless ``shared``."""
        if not self.shared:
            return
        row = self._db().execute("SELECT value FROM meta WHERE key = 'cache_gen'").fetchone()
        gen = None if row is None else str(row[0])
        if gen != self._shared_gen:
            self._shared_gen = gen
            self._drop_caches()

    def _drop_other_caches(self) -> None:
        """Hook for subclasses with more caches (called under the cache lock)."""

    # -- repositories ------------------------------------------------------------------

    def _ensure_configured_repos(self) -> None:
        for key in self._configured_repos:
            self._insert_repo(RepoRecord(key), configured=True, exist_ok=True)

    def _insert_repo(self, repo: RepoRecord, *, configured: bool, exist_ok: bool) -> None:
        try:
            self._insert_repo_row(repo, configured=configured, exist_ok=exist_ok)
        finally:
            self._invalidate_caches()

    def _insert_repo_row(self, repo: RepoRecord, *, configured: bool, exist_ok: bool) -> None:
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
        self._invalidate_caches()

    def delete_repo(self, key: str) -> None:
        """Remove a repository and all its content (NoSuchRepo if unknown)."""
        self._require_repo(key)
        with self._write_lock:
            with self._tx() as db:
                db.execute("DELETE FROM repos WHERE key = ?", (key,))
                db.execute("DELETE FROM items WHERE repo = ?", (key,))
                db.execute("DELETE FROM props WHERE repo = ?", (key,))
            self._invalidate_caches()
            self.collect_garbage()

    def _repos(self) -> dict[str, RepoRecord]:
        """Every repository by key, from the cache (loaded on first use after a change)."""
        cached = self._repo_cache
        if cached is not None:
            return cached
        gen = self._cache_gen
        rows = self._db().execute(
            "SELECT key, rclass, package_type, description FROM repos ORDER BY key"
        )
        loaded = {row[0]: RepoRecord(*row) for row in rows}
        with self._cache_lock:
            if self._cache_gen == gen:
                self._repo_cache = loaded
        return loaded

    def list_repos(self) -> list[RepoRecord]:
        return list(self._repos().values())

    def get_repo(self, key: str) -> RepoRecord | None:
        return self._repos().get(key)

    def has_repo(self, key: str) -> bool:
        return key in self._repos()

    def _require_repo(self, key: str) -> None:
        if not self.has_repo(key):
            raise NoSuchRepo(key)

    # -- blobs (delegated) -----------------------------------------------------------------

    def open_blob(self, sha256: str, size: int | None = None) -> BinaryIO:
        """Open a blob for reading (it never changes once written).

        A blob of ``size`` at most :data:`INLINE_BLOB_MAX` is looked up in SQLite first
        (an inline blob); otherwise, or when not found there, its file is opened.
        """
        data = self._inline_blob(sha256, size)
        return io.BytesIO(data) if data is not None else self.blobs.open(sha256)

    def has_blob(self, sha256: str, size: int) -> bool:
        """Whether the content ``sha256`` is stored (inline or as a file)."""
        return self._inline_blob(sha256, size) is not None or self.blobs.path(sha256).exists()

    def _inline_blob(self, sha256: str, size: int | None) -> bytes | None:
        """The bytes of an inline blob, or None (too large to be one, or not stored so)."""
        if size is not None and size > INLINE_BLOB_MAX:
            return None
        db = self._db()
        row = db.execute("SELECT data FROM blob_data WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else bytes(row[0])

    def stored_blobs(self) -> set[str]:
        """The sha256 of every stored blob, inline or file (for tests and checks)."""
        inline = {row[0] for row in self._db().execute("SELECT sha256 FROM blob_data")}
        files = {p.name for p in self.blob_dir.glob("*/*") if p.is_file()}
        return inline | files

    @staticmethod
    def _insert_inline(db: sqlite3.Connection, staged: StagedBlob) -> None:
        """Keep an inline blob's bytes (in the transaction that commits its item)."""
        data = staged.inline
        if data is not None:
            db.execute(
                "INSERT OR IGNORE INTO blob_data(sha256, data) VALUES (?, ?)",
                (staged.sha256, data),
            )

    def stage_upload(self, chunks: Iterable[bytes]) -> StagedBlob:
        """Stream ``chunks`` to a temp file while hashing (see :meth:`BlobStore.stage`)."""
        return self.blobs.stage(chunks)

    def stage_bytes(self, data: bytes) -> StagedBlob:
        """Stage a small upload held in memory (see :meth:`BlobStore.stage_bytes`)."""
        return self.blobs.stage_bytes(data)

    def stage_small(self, chunks: Iterable[bytes], *, in_memory: bool = True) -> StagedBlob:
        """Stage in memory if small, else to a file (see :meth:`BlobStore.stage_small`)."""
        return self.blobs.stage_small(chunks, in_memory=in_memory)

    def stage_stream(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> StagedBlob:
        """:meth:`stage_upload` over a file-like object."""
        return self.blobs.stage_stream(stream, chunk_size)

    # -- items ------------------------------------------------------------------------------

    def _row_to_item(self, db: sqlite3.Connection, row: tuple[object, ...]) -> ItemRecord:
        item = self._record(row)
        item.properties = self._props(db, item.repo, item.path)
        return item

    @staticmethod
    def _record(row: tuple[object, ...]) -> ItemRecord:
        """An item from the :attr:`_COLS` columns of ``row`` (properties not loaded)."""
        repo, path = str(row[0]), str(row[1])
        return ItemRecord(
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

    _COLS = (
        "repo, path, type, size, sha1, md5, sha256, original_sha1, original_md5, mime_type, "
        "created, modified, updated, created_by, modified_by"
    )
    _ITEM_COLS = ", ".join(f"items.{col.strip()}" for col in _COLS.split(","))

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

    def get_download(self, repo: str, path: str) -> tuple[ItemRecord, bytes | None] | None:
        """A file's record and, when it is an inline blob, its bytes: one query.

        For the download fast path: the record's ``properties`` are NOT loaded (a
        download answers none of them).  None when no file is at ``path``.
        """
        self._require_repo(repo)
        row = (
            self._db()
            .execute(
                f"SELECT {self._ITEM_COLS}, blob_data.data FROM items LEFT JOIN blob_data "
                "ON items.size <= ? AND blob_data.sha256 = items.sha256 "
                "WHERE items.repo = ? AND items.path = ? AND items.type = 'file'",
                (INLINE_BLOB_MAX, repo, path),
            )
            .fetchone()
        )
        if row is None:
            return None
        return self._record(row), row[-1]

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
        self,
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
                db.execute(
                    "INSERT INTO items(repo, path, type, created, modified, updated, "
                    "created_by, modified_by) VALUES (?, ?, 'folder', ?, ?, ?, ?, ?)",
                    (repo, anc, ts, ts, ts, user, user),
                )
            elif kind != "folder":
                raise ParentNotFolder(repo, parent_of(path))
        return file_target and path not in kinds

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

    def collect_garbage(self) -> int:
        """Remove blobs no item references. Returns the number removed.

        Inline blobs go in one transaction; blob files as :meth:`BlobStore.collect_garbage`.
        In a shared data dir (``--workers``) neither is removed: another process may have
        found the content (a deploy by checksum, a copy, a download under way) and not
        yet committed or read it, so unreferenced blobs stay until a single-process run.
        """
        with self._write_lock:
            inline = 0
            if not self.shared:
                with self._tx() as db:
                    inline = db.execute(
                        "DELETE FROM blob_data WHERE sha256 NOT IN "
                        "(SELECT sha256 FROM items WHERE sha256 IS NOT NULL)"
                    ).rowcount
            used = {
                row[0]
                for row in self._db().execute(
                    "SELECT DISTINCT sha256 FROM items WHERE sha256 IS NOT NULL"
                )
            }
            return inline + self.blobs.collect_garbage(used)
