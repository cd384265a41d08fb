"""The decisions of tree transfers, as pure functions (no I/O, no MLflow).

A tree of small files costs one request per file unless Artifactory Pro moves it as a tar
archive: "deploy from archive" (explode) on the way up, "folder download" on the way down.
This module decides, from what is already known (sizes, listings, configuration, what the
client learnt about the server), which files travel in archives and what falls back to
one request per file; :mod:`jfrog_mlflow.tree_upload`, :mod:`jfrog_mlflow.tree_download`
and :mod:`jfrog_mlflow.archives` carry the decisions out.

Uploads: :func:`split_for_batching` picks the files to pack, :func:`plan_batches` packs
them into bounded archives, :func:`explode_refused` tells a missing feature from other
failures, :func:`fallback_for` says what becomes of the files of an archive that was not
delivered, and :func:`check_listing` compares the deep listing taken afterwards with what
the archives should have deployed. Downloads: :func:`plan_folder_archives` says which
folder archives fetch a folder (the folder itself, or its subfolders when it is over the
server's limits), :func:`match_member` maps archive members to listed names (nothing else
is ever written), and :class:`WritePlan` chooses the thread that writes small members.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import (
    ArtifactoryError,
    AuthenticationFailed,
    HTTPStatusError,
    PermissionDenied,
)
from jfrog_mlflow.integrity import contradicts
from jfrog_mlflow.models import Checksums, ListEntry
from jfrog_mlflow.urls import join_path

__all__ = [
    "BATCH_PREFIX",
    "FOLDER_ARCHIVE_MAX_FILES",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_ENTRIES",
    "SLOW_WRITE_S",
    "ArchivePart",
    "Batch",
    "SmallFile",
    "WritePlan",
    "check_listing",
    "explode_refused",
    "fallback_for",
    "is_batch_name",
    "match_member",
    "new_batch_name",
    "plan_batches",
    "plan_folder_archives",
    "split_for_batching",
]

#: Name prefix of the archives PUT for explosion (never stored when the server explodes them).
BATCH_PREFIX = ".jfrog-mlflow-batch-"
#: Bounds of one archive: entries and bytes of content (the archive is built in memory).
MAX_BATCH_ENTRIES = 1000
MAX_BATCH_BYTES = 16 * 1024 * 1024
#: Small members are written by the thread that reads the archive until their average
#: write time exceeds this (then the writer pool takes the rest; see :class:`WritePlan`).
SLOW_WRITE_S = 0.002
_WRITES_BEFORE_JUDGING = 16


@dataclass(frozen=True, slots=True)
class SmallFile:
    """A local file to batch: ``name`` is its path relative to the archive's folder."""

    local: str
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class Batch:
    """Files that travel in one archive."""

    files: tuple[SmallFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


# ---------------------------------------------------------------------- uploads


def split_for_batching(
    files: Sequence[tuple[str, str, int | None]],
    dest: str,
    *,
    threshold: int,
    min_files: int,
) -> tuple[list[SmallFile], list[tuple[str, str]]]:
    """Split ``(local, rel, size)`` files into those to batch and those to send one by one.

    ``rel`` is the path under the repository root and starts with ``dest``, the folder the
    archives are deployed to; ``size`` is ``None`` for a file that could not be read (the
    per-file path reports it). Files of at most ``threshold`` bytes are batched, unless
    there are fewer than ``min_files`` of them: then every file goes one by one, in the
    given order.
    """
    small: list[SmallFile] = []
    single: list[tuple[str, str]] = []
    for local, rel, size in files:
        if size is not None and size <= threshold:
            small.append(SmallFile(local, rel[len(dest) :].lstrip("/"), size))
        else:
            single.append((local, rel))
    if len(small) < min_files:
        return [], [(local, rel) for local, rel, _ in files]
    return small, single


def plan_batches(
    files: Sequence[SmallFile],
    *,
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[Batch]:
    """Split ``files`` (in order) into balanced batches within both bounds.

    The number of batches is the least that respects the bounds; entries are spread
    evenly over them, so 2,000 files make two batches of 1,000, not 1,000 + 1,000 + 0.
    """
    if not files:
        return []
    total = sum(f.size for f in files)
    count = max(math.ceil(len(files) / max_entries), math.ceil(total / max_bytes), 1)
    per_batch = math.ceil(len(files) / count)
    batches: list[Batch] = []
    current: list[SmallFile] = []
    current_bytes = 0
    for f in files:
        if current and (len(current) >= per_batch or current_bytes + f.size > max_bytes):
            batches.append(Batch(tuple(current)))
            current, current_bytes = [], 0
        current.append(f)
        current_bytes += f.size
    if current:
        batches.append(Batch(tuple(current)))
    return batches


def new_batch_name() -> str:
    """A fresh archive file name (``.jfrog-mlflow-batch-<uuid4>.tar``)."""
    return f"{BATCH_PREFIX}{uuid.uuid4()}.tar"


def is_batch_name(name: str) -> bool:
    """Whether ``name`` (a single path segment) looks like one of our batch archives."""
    return name.startswith(BATCH_PREFIX) and name.endswith(".tar") and "/" not in name


def explode_refused(exc: ArtifactoryError) -> bool:
    """Whether an explode deploy failed in a way that means "not supported here".

    A 4xx other than 401/403 (the usual authentication/permission errors) and other than
    409 (a checksum conflict: the bytes were damaged on the way, not a missing feature).
    """
    return (
        isinstance(exc, HTTPStatusError)
        and 400 <= exc.status_code < 500
        and exc.status_code not in (401, 403, 409)
    )


def fallback_for(error: BaseException | None) -> Literal["resend", "fail"]:
    """What becomes of the files of a batch whose archive was not delivered.

    ``error`` is what the attempt raised (``None``: the archive was refused or not built).
    Refused credentials (401/403) or a local error (an unreadable file) would fail the same
    way one file at a time, so the files fail with it. Anything else (the server refused or
    ignored the archive, the network broke) sends them one by one.
    """
    if isinstance(error, AuthenticationFailed | PermissionDenied):
        return "fail"
    if error is not None and not isinstance(error, ArtifactoryError):
        return "fail"
    return "resend"


def check_listing(
    expected: Mapping[str, tuple[int, str, str]],
    listing: Iterable[ListEntry],
    sent_archives: Iterable[str],
) -> tuple[list[str], list[str]]:
    """Compare a deep listing with what the archives should have deployed.

    Returns ``(bad, strays)``: names in ``expected`` that are missing or differ in size,
    SHA-1 or SHA-256 (when listed; a file listed with no checksum counts as different),
    and those of ``sent_archives`` that were stored as plain files (explode ignored).
    """
    listed = {e.path: e for e in listing if not e.is_folder}
    bad: list[str] = []
    for name, (size, sha1, sha256) in expected.items():
        entry = listed.get(name)
        if (
            entry is None
            or entry.size != size
            or not (entry.checksums.sha1 or entry.checksums.sha256)
            or contradicts(entry.checksums, Checksums(sha1, sha256))
        ):
            bad.append(name)
    strays = [name for name in sent_archives if name in listed]
    return bad, strays


# ---------------------------------------------------------------------- downloads


#: A folder archive asks for at most this many files: Artifactory's default Folder Download
#: "Max Number of Files" (the server's own setting is readable only with admin rights; a
#: folder that a stricter server refuses goes file by file).
FOLDER_ARCHIVE_MAX_FILES = 5000


@dataclass(frozen=True, slots=True)
class ArchivePart:
    """One folder archive to ask for: ``folder`` relative to the listed folder (``""``: the
    listed folder itself) and the files to take from it, named relative to ``folder``."""

    folder: str
    targets: dict[str, ListEntry]


@dataclass(slots=True)
class _Tally:
    """A folder's files, its subfolders' included."""

    files: int = 0
    size: int = 0
    unknown_size: bool = False


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def plan_folder_archives(
    folder: str,
    entries: Sequence[ListEntry],
    config: PluginConfig,
    *,
    available: bool,
    max_files: int = FOLDER_ARCHIVE_MAX_FILES,
    below: str | None = None,
) -> list[ArchivePart]:
    """The folder archives that fetch the files of ``folder`` (its deep ``entries``).

    The folder itself when it fits one archive, else its subfolders, each as high in the
    tree as fits: a folder fits with at most ``max_files`` files, all of known size and
    together at most ``folder_download_max_size`` bytes, and is worth it with at least
    ``batch_min_files`` files listed with a checksum (only those can be verified, so only
    those are targets). What no archive covers (the files of a folder too large for one,
    outside its subfolders that fit) is left to the per-file path. Parts never overlap;
    the repository root is never asked for; nothing when ``available`` is false (OSS, or
    the server refused folder downloads) or folder downloads are off.

    ``below`` (a part's folder) plans only its subfolders: what replaces an archive the
    server refused (its limits may be lower than Artifactory's defaults).

    Targets are the listing's own entries: a new object per file would make a planning of
    100,000 files set off full runs of Python's garbage collector.
    """
    if not config.folder_download or not available:
        return []
    # One pass over the listing (each entry read once): per folder, its own files' totals
    # and the files that can be verified; then each folder's totals, subfolders included.
    direct: dict[str, _Tally] = {}
    checked: dict[str, list[ListEntry]] = {}
    for entry in entries:
        if entry.is_folder:
            continue
        name = _parent(entry.path)
        tally = direct.get(name)
        if tally is None:
            tally = direct[name] = _Tally()
            checked[name] = []
        tally.files += 1
        if entry.size is None:
            tally.unknown_size = True
        else:
            tally.size += entry.size
        if entry.checksums.sha1 or entry.checksums.sha256:
            checked[name].append(entry)
    tallies: dict[str, _Tally] = {"": _Tally()}
    for name, own in direct.items():
        while True:
            tally = tallies.get(name)
            if tally is None:
                tally = tallies[name] = _Tally()
            tally.files += own.files
            tally.size += own.size
            tally.unknown_size |= own.unknown_size
            if not name:
                break
            name = _parent(name)
    children: dict[str, list[str]] = {}
    for name in tallies:
        if name:
            children.setdefault(_parent(name), []).append(name)
    chosen: set[str] = set()
    pending = [""] if below is None else list(children.get(below, ()))
    while pending:
        name = pending.pop()
        tally = tallies[name]
        if tally.files < config.batch_min_files:
            continue  # too few for an archive, and so are its subfolders
        fits = (
            not tally.unknown_size
            and tally.files <= max_files
            and tally.size <= config.folder_download_max_size
        )
        if fits and join_path(folder, name):
            chosen.add(name)
        else:
            pending.extend(children.get(name, ()))
    parts: dict[str, dict[str, ListEntry]] = {name: {} for name in chosen}
    for name, files in checked.items():
        part = name
        while part not in chosen and part:
            part = _parent(part)
        targets = parts.get(part)
        if targets is None:
            continue
        cut = len(part) + 1 if part else 0
        for entry in files:
            targets[entry.path[cut:]] = entry
    return [
        ArchivePart(name, targets)
        for name, targets in sorted(parts.items())
        if len(targets) >= config.batch_min_files
    ]


def match_member(name: str, wanted: Mapping[str, object], folder_name: str) -> str | None:
    """The listing name an archive member stands for, or ``None`` to ignore the member.

    A leading ``./`` is dropped; a name prefixed with the folder's own name is accepted too
    (in case a server includes it). Only names present in ``wanted`` (which come from the
    validated listing) are ever returned, so ``../x`` or ``/etc/x`` can never match.
    """
    while name.startswith("./"):
        name = name[2:]
    if name in wanted:
        return name
    prefix = folder_name + "/"
    if folder_name and name.startswith(prefix) and name[len(prefix) :] in wanted:
        return name[len(prefix) :]
    return None


class WritePlan:
    """Where small archive members are written: by the reading thread, or by the pool.

    On a local disk a small file is created, written and renamed in well under a
    millisecond, and handing each one to a writer thread costs more than that: every
    system call a writer makes gives the GIL back to the reading thread, which may keep it
    for the whole switch interval. On a network file system a create takes milliseconds
    and parallel writers pay off, so once the average write takes longer than
    :data:`SLOW_WRITE_S` the rest go to the pool.
    """

    def __init__(self, slow_after: float | None = None) -> None:
        self.slow_after = SLOW_WRITE_S if slow_after is None else slow_after
        self.pooled = False
        self._count = 0
        self._spent = 0.0

    def record(self, seconds: float) -> None:
        """One inline write took ``seconds``."""
        self._count += 1
        self._spent += seconds
        if self._count >= _WRITES_BEFORE_JUDGING and self._spent / self._count > self.slow_after:
            self.pooled = True
