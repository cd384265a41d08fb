"""Archive transfers: deploy with ``X-Explode-Archive`` and folder download as an archive.

* ``PUT /{repo}/{folder}/{name}.tar|zip|tar.gz|tgz`` with ``X-Explode-Archive: true`` (or
  ``X-Explode-Archive-Atomic: true``), Pro only: the archive is staged like any
  upload (hashed, checked against the client's checksum headers), every entry is
  validated and staged as a blob, then all files are committed in one store
  transaction (:meth:`~fake_artifactory.store.Store.commit_files`).
* ``GET /api/archive/download/{repo}/{folder}?archiveType=...``, Pro only and off
  unless enabled (``--folder-download`` or the ``/_fake/settings/folder-download``
  control plane): a tar/zip streamed entry by entry from the blobs.

The pure archive formats live in :mod:`fake_artifactory.core.archive`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from flask import Response, request

from fake_artifactory.core import archive
from fake_artifactory.core.auth import refusal, refuse_anonymous, require_overwrite
from fake_artifactory.core.checksums import (
    CHECKSUM_ALGS,
    policy_checksum,
    sent_checksums,
    verify_client_checksums,
)
from fake_artifactory.core.download import content_disposition
from fake_artifactory.core.errors import HttpError, InvalidRawPath
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.uri import RepoRequest, parse_repo_request, validate_path
from fake_artifactory.store import Store
from fake_artifactory.store.blobs import StagedBlob
from fake_artifactory.web.context import (
    PRO_ONLY,
    PRO_ONLY_SHORT,
    not_implemented,
    principal,
    require_pro,
)
from fake_artifactory.web.emulator import current_emulator
from fake_artifactory.web.reads import RepoView
from fake_artifactory.web.uploads import receive_body

log = logging.getLogger(__name__)

EXPLODE_HEADERS = ("X-Explode-Archive", "X-Explode-Archive-Atomic")
DISABLED_MESSAGE = "Download Folder functionality is disabled."
TOO_MANY_MESSAGE = "There are too many folder download requests currently running. Try again later."
#: Small members of one exploded archive kept in memory until their commit (inline
#: blobs, no file each); past this total the rest are staged to files.
INLINE_ARCHIVE_BUDGET = 64 * 1024 * 1024


# -- explode ------------------------------------------------------------------------------


def wants_explode() -> bool:
    """True when the request asks to explode an archive (``X-Explode-Archive[-Atomic]``
    is ``true`` in any case)."""
    return any(request.headers.get(h, "").strip().lower() == "true" for h in EXPLODE_HEADERS)


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _stage_entries(
    store: Store, staged_archive: StagedBlob, kind: str, folder: str
) -> tuple[list[tuple[str, StagedBlob]], list[str]]:
    """Validate and stage every entry; on any error nothing staged is left behind."""
    files: list[tuple[str, StagedBlob]] = []
    folders: list[str] = []
    in_memory = 0  # bytes of small members held until the commit (inline blobs)
    try:
        with open(staged_archive.tmp_path, "rb") as fh:
            for entry in archive.read_entries(fh, kind):
                path = _join(folder, entry.name)
                validate_path(path)
                if entry.is_dir:
                    folders.append(path)
                else:
                    staged = store.stage_small(
                        entry.chunks(), in_memory=in_memory < INLINE_ARCHIVE_BUDGET
                    )
                    if staged.data is not None:
                        in_memory += staged.size
                    files.append((path, staged))
    except BaseException as exc:
        for _, staged in files:
            staged.discard()
        if isinstance(exc, (archive.ArchiveError, InvalidRawPath)):
            raise HttpError(400, str(exc)) from None
        raise
    return files, folders


def deploy_archive(req: RepoRequest) -> Response:
    """Explode the uploaded archive under the target's parent folder (200, empty body).

    The OSS edition refuses before reading the body and stores nothing; its message is
    the deploy servlet's short one unless ``--oss-explode-message long``.
    """
    config = current_emulator().config
    if config.edition != "pro":
        raise HttpError(400, PRO_ONLY if config.oss_explode_message == "long" else PRO_ONLY_SHORT)
    who = principal()
    store = current_emulator().store
    extension = archive.extension_of(req.name)
    if extension in archive.NOT_EMULATED_EXTENSIONS:
        raise not_implemented(f"exploding .{extension} archives ({req.path})")
    kind = archive.kind_of_name(req.name)
    if kind is None:
        raise HttpError(400, f"Unsupported archive extension: '{extension}'")
    sent = sent_checksums(request.headers.get)
    # Read back from its file entry by entry: never received into memory.
    staged = receive_body(
        store, request.stream, request.content_length, request.environ, in_memory=False
    )
    try:
        verify_client_checksums(req.repo, req.path, sent, staged.checksums())
        folder = req.path.rsplit("/", 1)[0] if "/" in req.path else ""
        files, folders = _stage_entries(store, staged, kind, folder)
    finally:
        staged.discard()
    try:
        if not who.admin:
            for path, _ in files:
                existing = store.get_item(req.repo, path)
                if existing is not None and not existing.is_folder:
                    require_overwrite(who, req.repo, path)
    except BaseException:
        for _, blob in files:
            blob.discard()
        raise
    count = store.commit_files(req.repo, files, folders=folders, user=who.name)
    log.debug("exploded %s:%s into %d files", req.repo, req.path, count)
    return Response(b"", status=200, content_type="text/plain")


# -- folder download -----------------------------------------------------------------------


def _file_entries(
    store: Store, items: list[ItemRecord], base: str, with_checksums: bool
) -> Iterator[archive.OutEntry]:
    cut = len(base) + 1 if base else 0
    for item in items:
        name = item.path[cut:]
        mtime = item.modified / 1000
        sha256 = item.sha256 or ""

        def chunks(sha256: str = sha256, size: int = item.size) -> Iterator[bytes]:
            with store.open_blob(sha256, size) as fh:
                while data := fh.read(archive.CHUNK_SIZE):
                    yield data

        yield archive.OutEntry(name, item.size, mtime, chunks)
        if with_checksums:
            for alg in CHECKSUM_ALGS:
                value = policy_checksum(item, alg)
                if value:
                    yield archive.bytes_entry(f"{name}.{alg}", value.encode(), mtime)


def download_folder(tail: str) -> Response:
    """``GET /api/archive/download/{repo}/{path}?archiveType=...`` (streamed).

    Checks in the real server's order, with its wording: anonymous caller, archive type,
    edition, the feature switch, repository, path, permission, size, file count, then a
    free download slot.
    """
    who = principal()
    refuse_anonymous(who)  # folder download is off for anonymous users by default
    try:
        kind = archive.archive_type(request.args.get("archiveType") or "zip")
    except archive.ArchiveError as exc:
        raise HttpError(400, str(exc)) from None
    require_pro()
    state = current_emulator().folder_download
    settings = state.settings
    if not settings.enabled:
        raise HttpError(403, DISABLED_MESSAGE)
    req = parse_repo_request("/" + tail)
    store = current_emulator().store
    if not store.has_repo(req.repo):
        raise HttpError(404, f"{req.repo} is not a repository.")
    where = f"{req.repo}/{req.path}"
    view = RepoView(req.repo, who, store)
    folder = view.get(req.path)
    if folder is None:
        raise HttpError(404, f"Path '{where}' does not exist, aborting folder download")
    if not folder.is_folder:
        raise HttpError(400, f"Path '{where}' is not a folder, aborting folder download")
    if not view.may_read(req.path):
        raise refusal(who, f"You don't have the required permissions to download {where}.")
    items = [i for i in view.descendants(req.path) if not i.is_folder]
    total = sum(i.size for i in items)
    if total > settings.max_size_mb * 1024 * 1024:
        raise HttpError(
            400,
            f"Size of path '{where}' ({total / (1024 * 1024):.2f}MB) exceeds the max allowed "
            f"folder download size ({settings.max_size_mb}MB).",
        )
    if len(items) > settings.max_files:
        raise HttpError(
            400,
            f"Number of files under the path '{where}' ({len(items)}) exceeds the max allowed "
            f"file count for folder download ({settings.max_files}).",
        )
    if not state.try_acquire():
        raise HttpError(400, TOO_MANY_MESSAGE)
    release = _once(state.release)
    with_checksums = request.args.get("includeChecksumFiles", "").lower() == "true"
    entries = _file_entries(store, items, req.path, with_checksums)
    body = _guarded(archive.write_archive(entries, kind), release)
    name = (req.name or req.repo) + "." + kind.name
    resp = Response(body, status=200, content_type=kind.content_type, direct_passthrough=True)
    resp.headers["Content-Disposition"] = content_disposition(name)
    resp.call_on_close(release)
    return resp


def _once(func: Callable[[], None]) -> Callable[[], None]:
    lock = threading.Lock()
    done = False

    def call() -> None:
        nonlocal done
        with lock:
            if done:
                return
            done = True
        func()

    return call


def _guarded(pieces: Iterable[bytes], release: Callable[[], None]) -> Iterator[bytes]:
    """Yield ``pieces``; free the download slot when done, failed or closed early."""
    try:
        yield from pieces
    except Exception:
        log.exception("folder download failed mid-stream")
        raise
    finally:
        with contextlib.suppress(Exception):
            release()
