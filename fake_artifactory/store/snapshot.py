"""Snapshot export/import of the whole emulator state as one ``.tar.gz``.

Layout of the archive::

    snapshot.json           {"format": 2, "repos": [...], "items": [...], "tokens": [...],
                             "security": [[kind, name, document], ...]}
    blobs/<sha256>          one member per distinct content

Repositories carry their configuration; items their checksums, timestamps, users and
properties; tokens only their SHA-256 digest (never the token); ``security`` holds the
users (passwords only as salted hashes; configured users without one), groups,
permission targets and projects.  Configured passwords, API keys, ``--token`` values and
the control token are configuration, never stored, so no snapshot holds them.  Format 1
(no configurations, no security documents) is still read.

Import is all-or-nothing: every member name is checked (only the two forms above are
accepted, nothing is ever extracted to a path taken from the archive), every blob is
re-hashed while it is staged and must match its name, and the metadata is replaced in
one transaction.  Configured repositories (``--repo``) and users (``--user``) exist
afterwards, as configured, whether or not the snapshot has them.  A snapshot never
grants admin rights (:func:`drop_admin_grants`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tarfile
from collections.abc import Iterator, Sequence
from typing import IO, Any, NamedTuple

from fake_artifactory.config import UserSpec
from fake_artifactory.core.records import ItemRecord, RepoRecord, TokenRecord
from fake_artifactory.core.security import KINDS, admit_snapshot
from fake_artifactory.core.tokens import without_admin
from fake_artifactory.store.blobs import CHUNK_SIZE, StagedBlob
from fake_artifactory.store.facade import Store
from fake_artifactory.store.security import Entry

FORMAT = 2
#: Formats this emulator imports.
READABLE = frozenset({1, 2})
MANIFEST = "snapshot.json"
_BLOB = re.compile(r"^blobs/([0-9a-f]{64})$")
_ITEM_FIELDS = [f.name for f in dataclasses.fields(ItemRecord) if f.name != "name"]


class SnapshotError(ValueError):
    """The archive is not a snapshot this emulator can import."""


def manifest(store: Store) -> dict[str, Any]:
    """The JSON part of a snapshot (pure data; blobs not included)."""
    items = [{name: getattr(item, name) for name in _ITEM_FIELDS} for item in store.iter_items()]
    return {
        "format": FORMAT,
        "repos": [dataclasses.asdict(r) for r in store.list_repos()],
        "items": items,
        "tokens": [dataclasses.asdict(t) for t in store.list_tokens()],
        "security": [list(entry) for entry in store.security_entries()],
    }


def export_snapshot(store: Store, out: IO[bytes]) -> int:
    """Write the state of ``store`` to ``out`` as a tar.gz; returns the number of items."""
    data = manifest(store)
    blobs = sorted(
        {(i["sha256"], i["size"]) for i in data["items"] if i["type"] == "file" and i["sha256"]}
    )
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        raw = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
        for sha256, size in blobs:
            info = tarfile.TarInfo(f"blobs/{sha256}")
            info.size = size
            with store.open_blob(sha256, size) as fh:
                tar.addfile(info, fh)
    return len(data["items"])


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    while data := fh.read(CHUNK_SIZE):
        yield data


class _Manifest(NamedTuple):
    repos: list[RepoRecord]
    items: list[ItemRecord]
    tokens: list[TokenRecord]
    security: list[Entry]


def _security_entry(raw: Any) -> Entry:
    kind, name, doc = raw
    if kind not in KINDS or not isinstance(name, str) or not isinstance(doc, dict):
        raise ValueError("not a security document")
    return kind, name, doc


def _parse_manifest(raw: bytes) -> _Manifest:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") not in READABLE:
            raise SnapshotError(f"unsupported snapshot format (expected {FORMAT})")
        repos = [RepoRecord(**r) for r in data["repos"]]
        items = [ItemRecord(name=i["path"].rsplit("/", 1)[-1], **i) for i in data["items"]]
        tokens = [TokenRecord(**t) for t in data.get("tokens", [])]
        security = [_security_entry(e) for e in data.get("security", [])]
    except SnapshotError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SnapshotError(f"malformed {MANIFEST}: {type(exc).__name__}") from None
    return _Manifest(repos, items, tokens, security)


def drop_admin_grants(parsed: _Manifest, configured: Sequence[UserSpec]) -> _Manifest:
    """The one rule of what an imported snapshot may grant: never admin rights.

    Admin rights come only from the configuration the emulator runs with (``--user
    NAME:PW:admin``, ``--token``, ``--api-key``) and from tokens and users an admin
    creates; a snapshot is data anyone can write, token digests and users of their
    choosing included. So an imported token loses the admin scope and is marked never to
    be admin: it keeps the other permissions the running configuration gives the user it
    names (read-only for a user it does not know). An imported user is never an admin and
    an imported group never has admin privileges; the ``configured`` users are as the
    command line says, whatever the snapshot holds
    (:func:`fake_artifactory.core.security.admit_snapshot`).
    """
    return parsed._replace(
        tokens=[dataclasses.replace(t, scope=without_admin(t.scope)) for t in parsed.tokens],
        security=admit_snapshot(parsed.security, configured),
    )


def import_snapshot(store: Store, src: IO[bytes]) -> int:
    """Replace the whole state of ``store`` with the snapshot read from ``src``.

    Raises SnapshotError (and changes nothing) for anything but a valid snapshot.
    Returns the number of items imported.
    """
    staged: dict[str, StagedBlob] = {}
    raw_manifest: bytes | None = None
    try:
        try:
            with tarfile.open(fileobj=src, mode="r:gz") as tar:
                for member in tar:
                    match = _BLOB.match(member.name)
                    if member.name == MANIFEST and member.isfile():
                        fh = tar.extractfile(member)
                        raw_manifest = fh.read() if fh is not None else b""
                    elif match and member.isfile():
                        fh = tar.extractfile(member)
                        if fh is None:
                            raise SnapshotError(f"unreadable member {member.name}")
                        blob = store.blobs.stage(_chunks(fh))
                        staged[blob.sha256] = blob
                        if blob.sha256 != match.group(1):
                            raise SnapshotError(f"{member.name} does not match its content")
                    else:
                        raise SnapshotError(f"unexpected member in snapshot: {member.name!r}")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise SnapshotError(f"not a tar.gz snapshot: {type(exc).__name__}") from None
        if raw_manifest is None:
            raise SnapshotError(f"{MANIFEST} missing from snapshot")
        parsed = drop_admin_grants(_parse_manifest(raw_manifest), store.security.users)
        needed = {i.sha256 for i in parsed.items if not i.is_folder and i.sha256}
        missing = needed - set(staged)
        if missing:
            raise SnapshotError(f"snapshot lacks {len(missing)} blob(s)")
        store.replace_state(
            parsed.repos, parsed.items, parsed.tokens, list(staged.values()), parsed.security
        )
        return len(parsed.items)
    finally:
        for blob in staged.values():
            blob.discard()
