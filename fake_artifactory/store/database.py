"""The metadata database: connections, the write lock, transactions and cache generations.

``<data_dir>/meta.sqlite3`` in WAL mode, ``synchronous`` per the store's
:class:`~fake_artifactory.store.blobs.Durability`.  Every write happens under
:attr:`Database.write_lock` and therefore on one connection (see :meth:`Database.conn`);
reads use a connection per thread.  The server runs every request on one thread (an
event loop that switches between requests only while they wait for the network), so
its requests share one read connection; no statement is left open, and no lock held,
across a wait for the network (request bodies are staged before anything is locked).

Repositories and tokens are cached in memory (rarely written, read on every request).
Each cache registers with :meth:`Database.on_change`; :meth:`Database.changed` drops them
all after a commit that touched those tables, and in a shared data dir (``--workers``)
announces the change to the other processes (:class:`ProcessLink`), which notice it in
:meth:`Database.sync_shared`.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from fake_artifactory.store.blobs import Durability
from fake_artifactory.store.schema import ADDED_COLUMNS, SCHEMA, SCHEMA_VERSION

#: How much of the database file each connection may map into memory (address space,
#: not resident memory: the kernel's page cache backs it).
MMAP_BYTES = 1 << 30
#: Page cache of the writer connection (SQLite's default is 2 MiB).
WRITER_CACHE_KIB = 64 * 1024


#: The change counter at the start of the ``.shared`` file.
_COUNTER = struct.Struct("<Q")


class ProcessLink:
    """What the processes sharing one data dir (``--workers``) coordinate through: a small
    file next to the database, ``<db>.shared``.

    * An exclusive ``flock`` on it while a process writes (:meth:`lock`), so writers take
      turns in the kernel and a waiter wakes as soon as the lock is free.  Left to
      SQLite, a writer finding the database locked by another process sleeps in its
      busy handler (a millisecond at least, then longer) at every collision.
    * A change counter in its first 8 bytes, mapped into memory: bumped after a commit
      that changed cached tables (:meth:`bump`), read at every request (:meth:`read`)
      without a system call or a database query.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < _COUNTER.size:
            os.ftruncate(self._fd, _COUNTER.size)
        self._map = mmap.mmap(self._fd, _COUNTER.size)

    def lock(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def unlock(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self) -> int:
        return int(_COUNTER.unpack_from(self._map)[0])

    def bump(self) -> None:
        """Increment the change counter (call while holding :meth:`lock`)."""
        _COUNTER.pack_into(self._map, 0, self.read() + 1)

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class WriteLock:
    """A re-entrant lock that marks, per thread, that the thread holds it (see
    :meth:`Database.conn`: the holder uses the writer connection).  With a
    :class:`ProcessLink` the outermost holder also holds its cross-process lock."""

    __slots__ = ("_link", "_local", "_lock")

    def __init__(self, local: threading.local, link: ProcessLink | None = None) -> None:
        self._lock = threading.RLock()
        self._local = local
        self._link = link

    def __enter__(self) -> None:
        self._lock.acquire()
        depth = self._local.__dict__.get("writing", 0)
        if depth == 0 and self._link is not None:
            try:
                self._link.lock()
            except BaseException:
                self._lock.release()
                raise
        self._local.writing = depth + 1

    def __exit__(self, *exc: object) -> None:
        self._local.writing -= 1
        if self._local.writing == 0 and self._link is not None:
            self._link.unlock()
        self._lock.release()


class Database:
    """Thread-safe access to one SQLite metadata file."""

    def __init__(self, path: Path, durability: Durability, *, shared: bool = False) -> None:
        self.path = path
        self.durability = durability
        #: Other processes use the same file (``--workers``): see :meth:`sync_shared`.
        self.shared = shared
        self._local = threading.local()
        self._link = ProcessLink(path.with_name(path.name + ".shared")) if shared else None
        self.write_lock = WriteLock(self._local, self._link)
        self._writer: sqlite3.Connection | None = None
        self._connections: list[sqlite3.Connection] = []
        self._conn_lock = threading.Lock()
        self._closed = False
        # A cache only installs what it loaded if no change happened meanwhile
        # (``generation`` unchanged, checked under ``cache_lock``).
        self.cache_lock = threading.Lock()
        self.generation = 0
        self._seen_changes = -1
        self._drops: list[Callable[[], None]] = []
        with self.write_lock:
            db = self.conn()
            db.executescript(SCHEMA)
            for table, column, definition in ADDED_COLUMNS:
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    # -- connections -------------------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        """The calling thread's connection; the writer's while it holds the write lock.

        Every write happens under :attr:`write_lock` and therefore on one connection,
        whose page cache stays valid from one write to the next.  Were each thread to
        write on its own connection, every commit would make all the other connections
        drop their page caches and read the pages again.  Reads under the lock see the
        transaction in progress; reads outside it use the thread's own connection.
        """
        local = self._local
        if local.__dict__.get("writing"):
            writer = self._writer
            if writer is None:
                writer = self._writer = self.connect()
                # Writes touch random index pages (checksums): keep them in memory.
                writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            return writer
        conn: sqlite3.Connection | None = local.__dict__.get("conn")
        if conn is None:
            conn = local.conn = self.connect()
        return conn

    def connect(self) -> sqlite3.Connection:
        """A new connection with the store's settings."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
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

    @property
    def connections(self) -> list[sqlite3.Connection]:
        """Every connection opened so far (for tests)."""
        with self._conn_lock:
            return list(self._connections)

    @property
    def writer(self) -> sqlite3.Connection | None:
        """The writer connection, once a write has happened."""
        return self._writer

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """An immediate transaction on :meth:`conn` (rolled back on any exception)."""
        db = self.conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        with self._conn_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        if self._link is not None:
            self._link.close()

    # -- cache generations ----------------------------------------------------------------

    def on_change(self, drop: Callable[[], None]) -> None:
        """Call ``drop`` (under :attr:`cache_lock`) whenever cached tables change."""
        self._drops.append(drop)

    def changed(self) -> None:
        """Forget every cache (call after committing a change to repositories or tokens).

        In a shared data dir the change is also announced to the other processes (the
        :class:`ProcessLink` counter that :meth:`sync_shared` compares).
        """
        self._drop_caches()
        if self._link is not None:
            with self.write_lock:
                self._link.bump()

    def _drop_caches(self) -> None:
        with self.cache_lock:
            self.generation += 1
            for drop in self._drops:
                drop()

    def sync_shared(self) -> None:
        """Drop the caches when another process changed repositories or tokens (a read
        of shared memory; call at the start of each request). No-op unless ``shared``."""
        if self._link is None:
            return
        seen = self._link.read()
        if seen != self._seen_changes:
            self._seen_changes = seen
            self._drop_caches()
