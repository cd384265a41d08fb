"""The SQLite schema, and the one column list every read and write of ``items`` uses."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence

from fake_artifactory.core.records import ItemRecord, name_of

#: 2: small blobs live in ``blob_data`` (an older emulator would not find them).
#: 3: repositories keep their configuration (``repos.config``); the ``security`` table.
SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    key TEXT PRIMARY KEY, rclass TEXT NOT NULL, package_type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', configured INTEGER NOT NULL DEFAULT 0,
    config TEXT NOT NULL DEFAULT '{}'
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
CREATE TABLE IF NOT EXISTS security (
    kind TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, name)
);
"""

#: Columns added after a table was first released: (table, column, definition).  A data
#: dir written by an older emulator gets them when it is opened.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("repos", "config", "TEXT NOT NULL DEFAULT '{}'"),
    ("tokens", "reference_digest", "TEXT"),
)

#: The ``items`` columns, in the order of :class:`ItemRecord`'s fields (the record's
#: ``name`` is derived from ``path``, its ``properties`` live in ``props``).
ITEM_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(ItemRecord) if f.name not in ("name", "properties")
)
#: ``repo, path, type, ...`` for a SELECT of whole items.
ITEM_SELECT = ", ".join(ITEM_COLUMNS)
#: The same, qualified with the table name (for joins).
ITEM_SELECT_QUALIFIED = ", ".join(f"items.{column}" for column in ITEM_COLUMNS)


def _insert(conflict: str) -> str:
    marks = ", ".join("?" * len(ITEM_COLUMNS))
    return f"INSERT {conflict}INTO items({ITEM_SELECT}) VALUES ({marks})"


#: Insert a new item (a primary-key conflict is an error).
INSERT_ITEM = _insert("")
#: Insert or overwrite an item (a file deployed again).
REPLACE_ITEM = _insert("OR REPLACE ")
#: Insert an item unless one exists at its path (folders created on the way).
INSERT_ITEM_IF_ABSENT = _insert("OR IGNORE ")

#: The ``items`` row of a record, in :data:`ITEM_COLUMNS` order.
item_row: Callable[[ItemRecord], tuple[object, ...]] = operator.attrgetter(*ITEM_COLUMNS)


def item_from_row(row: Sequence[object]) -> ItemRecord:
    """The record of a row whose first columns are :data:`ITEM_COLUMNS` (properties not
    loaded)."""
    path = str(row[1])
    return ItemRecord(row[0], path, name_of(path), *row[2 : len(ITEM_COLUMNS)])  # type: ignore[arg-type]
