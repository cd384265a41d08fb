"""Repositories: the ``repos`` table, cached in memory (read on every request)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from fake_artifactory.core.errors import NoSuchRepo, RepoExists
from fake_artifactory.core.records import ItemRecord, RepoRecord, now_ms
from fake_artifactory.store.database import Database
from fake_artifactory.store.schema import INSERT_ITEM_IF_ABSENT, item_row

_INSERT_REPO = (
    "INSERT INTO repos(key, rclass, package_type, description, configured, config) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


class Repositories:
    """Every repository by key; the configured ones (``--repo``) always exist."""

    def __init__(self, db: Database, configured: Iterable[str] = ()) -> None:
        self.db = db
        self.configured = tuple(configured)
        self._cache: dict[str, RepoRecord] | None = None
        db.on_change(self._drop)

    def _drop(self) -> None:
        self._cache = None

    def ensure_configured(self) -> None:
        """Create the configured repositories that do not exist."""
        for key in self.configured:
            self._insert(RepoRecord(key), configured=True, exist_ok=True)

    def _insert(self, repo: RepoRecord, *, configured: bool, exist_ok: bool) -> None:
        try:
            with self.db.write_lock, self.db.tx() as db:
                row = db.execute("SELECT 1 FROM repos WHERE key = ?", (repo.key,)).fetchone()
                if row is not None:
                    if exist_ok:
                        return
                    raise RepoExists(repo.key)
                self.insert_row(db, repo, configured=configured)
                if repo.rclass == "local":  # a virtual repository stores nothing
                    root = ItemRecord.folder(repo.key, "", "system", now_ms())
                    db.execute(INSERT_ITEM_IF_ABSENT, item_row(root))
        finally:
            self.db.changed()

    @staticmethod
    def insert_row(db: sqlite3.Connection, repo: RepoRecord, *, configured: bool) -> None:
        """Insert the ``repos`` row (in the caller's transaction)."""
        db.execute(
            _INSERT_REPO,
            (
                repo.key,
                repo.rclass,
                repo.package_type,
                repo.description,
                int(configured),
                json.dumps(dict(repo.config), sort_keys=True),
            ),
        )

    @staticmethod
    def update_row(db: sqlite3.Connection, repo: RepoRecord) -> None:
        """Replace a repository's description and configuration (caller's transaction)."""
        db.execute(
            "UPDATE repos SET description = ?, config = ? WHERE key = ?",
            (repo.description, json.dumps(dict(repo.config), sort_keys=True), repo.key),
        )

    @staticmethod
    def delete_rows(db: sqlite3.Connection, key: str) -> None:
        """Remove a repository and its items and properties (caller's transaction)."""
        db.execute("DELETE FROM repos WHERE key = ?", (key,))
        db.execute("DELETE FROM items WHERE repo = ?", (key,))
        db.execute("DELETE FROM props WHERE repo = ?", (key,))

    def create(self, repo: RepoRecord) -> None:
        """Create a repository; RepoExists if the key is taken."""
        self._insert(repo, configured=False, exist_ok=False)

    def update(self, repo: RepoRecord) -> None:
        """Replace a repository's description and configuration (NoSuchRepo if unknown)."""
        self.require(repo.key)
        with self.db.write_lock, self.db.tx() as db:
            self.update_row(db, repo)
        self.db.changed()

    def all(self) -> dict[str, RepoRecord]:
        """Every repository by key, from the cache (loaded on first use after a change)."""
        cached = self._cache
        if cached is not None:
            return cached
        gen = self.db.generation
        rows = self.db.conn().execute(
            "SELECT key, rclass, package_type, description, config FROM repos ORDER BY key"
        )
        loaded = {
            key: RepoRecord(key, rclass, kind, description, json.loads(config))
            for key, rclass, kind, description, config in rows
        }
        with self.db.cache_lock:
            if self.db.generation == gen:
                self._cache = loaded
        return loaded

    def get(self, key: str) -> RepoRecord | None:
        return self.all().get(key)

    def has(self, key: str) -> bool:
        return key in self.all()

    def require(self, key: str) -> None:
        """NoSuchRepo unless ``key`` exists."""
        if key not in self.all():
            raise NoSuchRepo(key)

    def require_local(self, key: str) -> None:
        """NoSuchRepo unless ``key`` is a repository that stores items (not a virtual one:
        writes through a virtual repository are resolved before they reach the store)."""
        repo = self.all().get(key)
        if repo is None or repo.rclass != "local":
            raise NoSuchRepo(key)
