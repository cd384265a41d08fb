"""The emulator's storage model: content-addressed blobs plus a SQLite metadata tree.

No HTTP or Flask here.  Blobs live under ``<data_dir>/blobs/<sha256[:2]>/<sha256>``
(written once however many paths use them; user paths never become host file
names).  Metadata (items with explicit folders, checksums, timestamps, properties)
lives in ``<data_dir>/meta.sqlite3`` (WAL).

Durability/atomicity: an upload is streamed to ``<data_dir>/tmp`` while hashing (no
lock held), renamed into the blob store and then committed in one SQLite transaction
(the only serialised step), so a crash mid-upload leaves no visible item and an
acknowledged write survives ``kill -9``: the bytes are in the kernel's page cache
before the 201 is sent, and a process crash does not lose those.  What is fsynced
(for power-loss durability) is the :class:`Durability` policy (``--fsync``).  Blobs
are immutable, so readers holding an open blob always see one complete version.

The code is split by concern: :mod:`fake_artifactory.storage_base` (schema, records,
connections, reads), :mod:`fake_artifactory.storage_items` (item-tree writes) and this
module (:class:`Store`: tokens, snapshots, reset), which re-exports the public names.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable

from fake_artifactory.blobs import (
    CHECKSUM_ALGS,
    CHUNK_SIZE,
    FSYNC_POLICIES,
    Durability,
    StagedBlob,
    checksum_policy_message,
    verify_client_checksums,
)
from fake_artifactory.errors import (
    NoSuchRepo,
)
from fake_artifactory.storage_base import (
    SCHEMA_VERSION,
    ItemRecord,
    RepoRecord,
    TokenRecord,
    ancestors,
    guess_mime_type,
    now_ms,
    parent_of,
)
from fake_artifactory.storage_items import ItemStore

log = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION",
    "ancestors",
    "guess_mime_type",
    "now_ms",
    "parent_of",
    "CHECKSUM_ALGS",
    "CHUNK_SIZE",
    "FSYNC_POLICIES",
    "Durability",
    "ItemRecord",
    "RepoRecord",
    "StagedBlob",
    "Store",
    "TokenRecord",
    "checksum_policy_message",
    "verify_client_checksums",
]


class Store(ItemStore):
    """Thread-safe blob + metadata store rooted at ``data_dir`` (None: ephemeral)."""

    # -- access tokens --------------------------------------------------------------------

    _TOKEN_COLS = "token_id, digest, username, scope, created, expires, description"
    #: Bound on the token-digest cache (hits and misses); cleared when full.
    _TOKEN_CACHE_MAX = 4096

    _token_cache: dict[str, TokenRecord | None]

    def _drop_other_caches(self) -> None:
        self._token_cache = {}

    def add_token(self, token: TokenRecord) -> None:
        try:
            self._insert_token(token)
        finally:
            self._invalidate_caches()

    def _insert_token(self, token: TokenRecord) -> None:
        with self._write_lock, self._tx() as db:
            self._insert_token_row(db, token)

    def _insert_token_row(self, db: sqlite3.Connection, token: TokenRecord) -> None:
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
        """A token by id or by digest (digest look-ups, one per request, are cached)."""
        if token_id is None and digest is not None:
            cache = self._token_cache
            if digest in cache:
                return cache[digest]
            gen = self._cache_gen
            found = self._select_token(None, digest)
            with self._cache_lock:
                if self._cache_gen == gen:
                    if len(self._token_cache) >= self._TOKEN_CACHE_MAX:
                        self._token_cache = {}
                    self._token_cache[digest] = found
            return found
        return self._select_token(token_id, digest)

    def _select_token(self, token_id: str | None, digest: str | None) -> TokenRecord | None:
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
        try:
            with self._write_lock, self._tx() as db:
                return db.execute("DELETE FROM tokens WHERE token_id = ?", (token_id,)).rowcount > 0
        finally:
            self._invalidate_caches()

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
                    self._insert_token_row(db, token)
            self._invalidate_caches()
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
            self._invalidate_caches()
            if repo is None:
                self._ensure_configured_repos()
            self.collect_garbage()
