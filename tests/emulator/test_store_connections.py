"""The store writes on one connection and reads on one per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest

from fake_artifactory.core.records import RepoRecord
from fake_artifactory.store import Store

R = "repo"


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(tmp_path / "data", repos=[R])
    yield s
    s.close()


def test_the_write_lock_holder_uses_the_writer_connection(store: Store) -> None:
    reader = store.db.conn()
    with store.db.write_lock:
        writer = store.db.conn()
        assert writer is not reader
        with store.db.write_lock:  # re-entrant: still the writer
            assert store.db.conn() is writer
        assert store.db.conn() is writer
    assert store.db.conn() is reader
    seen: list[sqlite3.Connection] = []

    def other_thread() -> None:
        seen.append(store.db.conn())
        with store.db.write_lock:
            seen.append(store.db.conn())

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen[0] not in (reader, writer) and seen[1] is writer


def test_writes_from_many_threads_all_go_through_the_writer(store: Store) -> None:
    """Every statement that changes the database runs on the one writer connection."""
    writes: dict[int, list[str]] = {}
    connect = store.db.connect

    def trace(conn: sqlite3.Connection) -> sqlite3.Connection:
        log = writes.setdefault(id(conn), [])
        conn.set_trace_callback(
            lambda sql: log.append(sql) if sql.split()[0] in ("INSERT", "DELETE") else None
        )
        return conn

    for conn in store.db.connections:  # the writer already exists (schema setup)
        trace(conn)
    store.db.connect = lambda: trace(connect())  # type: ignore[method-assign]

    def upload(worker: int) -> None:
        for i in range(20):
            staged = store.stage_bytes(f"{worker}-{i}".encode())
            store.commit_file(R, f"w{worker}/f{i}.txt", staged, user="admin")
            assert store.get_item(R, f"w{worker}/f{i}.txt") is not None  # a read, off-lock

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers = [conn for conn, sqls in writes.items() if sqls]
    assert len(writes) >= 2 and writers == [id(store.db.writer)]


def test_a_read_under_the_lock_sees_the_open_transaction(store: Store) -> None:
    with store.db.write_lock, store.db.tx() as db:
        db.execute("INSERT INTO meta(key, value) VALUES ('probe', '1')")
        assert store.db.conn().execute("SELECT value FROM meta WHERE key = 'probe'").fetchone()
        # ...which another thread does not see before the commit.
        seen: list[object] = []
        thread = threading.Thread(
            target=lambda: seen.append(
                store.db.conn().execute("SELECT value FROM meta WHERE key = 'probe'").fetchone()
            )
        )
        thread.start()
        thread.join()
        assert seen == [None]


def test_stores_sharing_a_data_dir_take_turns_to_write(tmp_path) -> None:
    """With a shared data dir (``--workers``), holding one store's write lock makes the
    writer of another store on that dir, as in another process, wait until it is free."""
    first = Store(tmp_path / "shared", repos=[R], shared=True)
    second = Store(tmp_path / "shared", repos=[R], shared=True)
    entered = threading.Event()

    def other_writer() -> None:
        with second.db.write_lock:
            entered.set()

    try:
        with first.db.write_lock:
            thread = threading.Thread(target=other_writer)
            thread.start()
            assert not entered.wait(0.3)
        assert entered.wait(10)
        thread.join()
    finally:
        first.close()
        second.close()


def test_a_repository_made_through_one_shared_store_reaches_the_other_at_its_sync(
    tmp_path,
) -> None:
    """Repositories are cached per process; a change made by another process on the data
    dir is picked up by the next ``sync_shared`` (called at every request), not before."""
    first = Store(tmp_path / "shared", repos=[R], shared=True)
    second = Store(tmp_path / "shared", repos=[R], shared=True)
    try:
        second.sync_shared()
        assert not second.has_repo("made-elsewhere")  # now cached
        first.create_repo(RepoRecord("made-elsewhere"))
        assert not second.has_repo("made-elsewhere")
        second.sync_shared()
        assert second.has_repo("made-elsewhere")
    finally:
        first.close()
        second.close()
