"""Users, groups, permission targets and projects: the ``security`` table, one JSON
document per ``(kind, name)``, read as one cached :class:`SecurityState`.

Changes are computed by pure functions from the current state
(:mod:`fake_artifactory.core.security`) and applied in one transaction by
:meth:`SecurityDocs.modify`, which reads the state afresh under the write lock, so two
concurrent changes never work from the same stale copy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fake_artifactory.config import UserSpec
from fake_artifactory.core.security import (
    KINDS,
    USER,
    Change,
    SecurityState,
    configured_user,
    implicit_targets,
    state_of,
    user_doc,
    user_of,
)
from fake_artifactory.store.database import Database

#: A stored document: kind, name, document.
Entry = tuple[str, str, dict[str, Any]]


class SecurityDocs:
    """The security documents of one store; ``users`` are the configured (``--user``)
    ones, None when they are not known (a data dir opened offline: users stay as stored)."""

    def __init__(
        self, db: Database, users: Sequence[UserSpec] | None = None, anonymous: str = "off"
    ) -> None:
        self.db = db
        self.known = users is not None
        self.users = tuple(users or ())
        self.implicit = implicit_targets(self.users, anonymous)
        self.admins = frozenset(u.name for u in self.users if "admin" in u.perms)
        self._cache: SecurityState | None = None
        db.on_change(self._drop)

    def _drop(self) -> None:
        self._cache = None

    def _load(self, conn: sqlite3.Connection) -> SecurityState:
        docs: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        for kind, name, doc in conn.execute("SELECT kind, name, doc FROM security ORDER BY rowid"):
            docs.setdefault(kind, {})[name] = json.loads(doc)
        return state_of(docs, self.implicit, self.admins)

    def state(self) -> SecurityState:
        """The current state (cached until the next change)."""
        cached = self._cache
        if cached is not None:
            return cached
        gen = self.db.generation
        loaded = self._load(self.db.conn())
        with self.db.cache_lock:
            if self.db.generation == gen:
                self._cache = loaded
        return loaded

    def entries(self) -> list[Entry]:
        """Every document, for snapshots."""
        rows = self.db.conn().execute("SELECT kind, name, doc FROM security ORDER BY kind, rowid")
        return [(kind, name, json.loads(doc)) for kind, name, doc in rows]

    def modify(self, plan: Callable[[SecurityState], Iterable[Change]]) -> None:
        """Apply the changes ``plan`` computes from the current state, in one transaction
        (``plan`` may raise to refuse; then nothing changes)."""
        with self.db.write_lock:
            changes = list(plan(self._load(self.db.conn())))
            if not changes:
                return
            try:
                with self.db.tx() as db:
                    self.apply_rows(db, changes)
            finally:
                self.db.changed()

    @staticmethod
    def apply_rows(db: sqlite3.Connection, changes: Iterable[Change]) -> None:
        """Write ``changes`` (in the caller's transaction)."""
        for kind, name, doc in changes:
            if doc is None:
                db.execute("DELETE FROM security WHERE kind = ? AND name = ?", (kind, name))
            else:
                db.execute(
                    "INSERT INTO security(kind, name, doc) VALUES (?, ?, ?) "
                    "ON CONFLICT(kind, name) DO UPDATE SET doc = excluded.doc",
                    (kind, name, json.dumps(doc, sort_keys=True)),
                )

    def ensure_configured(self) -> None:
        """Store the configured users as the command line says (and demote users a previous
        run configured and this one does not); nothing when they are not known."""
        if not self.known:
            return
        specs = {spec.name: spec for spec in self.users}

        def plan(state: SecurityState) -> list[Change]:
            changes: list[Change] = []
            for name, spec in specs.items():
                wanted = configured_user(spec, state.users.get(name))
                if state.users.get(name) != wanted:
                    changes.append((USER, name, user_doc(wanted)))
            for user in state.users.values():
                if user.configured and user.name not in specs:
                    doc = user_doc(user_of({**user_doc(user), "configured": False}))
                    doc["flags"]["admin"] = False
                    changes.append((USER, user.name, doc))
            return changes

        self.modify(plan)
