"""Access tokens: the ``tokens`` table (digests only), with a cache of digest look-ups."""

from __future__ import annotations

import sqlite3

from fake_artifactory.core.records import TokenRecord
from fake_artifactory.store.database import Database

_COLUMNS = "token_id, digest, username, scope, created, expires, description, reference_digest"


class Tokens:
    """Minted tokens by id and by digest (of the token or of its reference token)."""

    #: Bound on the digest cache (hits and misses); cleared when full.
    CACHE_MAX = 4096

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[str, TokenRecord | None] = {}
        db.on_change(self._drop)

    def _drop(self) -> None:
        self._cache = {}

    def add(self, token: TokenRecord) -> None:
        try:
            with self.db.write_lock, self.db.tx() as db:
                self.insert_row(db, token)
        finally:
            self.db.changed()

    @staticmethod
    def insert_row(db: sqlite3.Connection, token: TokenRecord) -> None:
        """Insert the ``tokens`` row (in the caller's transaction)."""
        db.execute(
            f"INSERT INTO tokens({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token.token_id,
                token.digest,
                token.username,
                token.scope,
                token.created,
                token.expires,
                token.description,
                token.reference_digest,
            ),
        )

    def find(self, *, token_id: str | None = None, digest: str | None = None) -> TokenRecord | None:
        """A token by id or by digest (digest look-ups, one per request, are cached)."""
        if token_id is None and digest is not None:
            cache = self._cache
            if digest in cache:
                return cache[digest]
            gen = self.db.generation
            found = self._select(None, digest)
            with self.db.cache_lock:
                if self.db.generation == gen:
                    if len(self._cache) >= self.CACHE_MAX:
                        self._cache = {}
                    self._cache[digest] = found
            return found
        return self._select(token_id, digest)

    def _select(self, token_id: str | None, digest: str | None) -> TokenRecord | None:
        """By id; else by the digest of the token or of its reference token."""
        args: tuple[str | None, ...]
        if token_id is not None:
            where, args = "token_id = ?", (token_id,)
        else:
            where, args = "digest = ? OR reference_digest = ?", (digest, digest)
        query = f"SELECT {_COLUMNS} FROM tokens WHERE {where}"
        row = self.db.conn().execute(query, args).fetchone()
        return TokenRecord(*row) if row else None

    def all(self) -> list[TokenRecord]:
        rows = self.db.conn().execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY created")
        return [TokenRecord(*row) for row in rows]

    def revoke(self, token_id: str) -> bool:
        """Forget a token; False when no such token exists."""
        try:
            with self.db.write_lock, self.db.tx() as db:
                return db.execute("DELETE FROM tokens WHERE token_id = ?", (token_id,)).rowcount > 0
        finally:
            self.db.changed()
