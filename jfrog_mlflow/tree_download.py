"""Downloading a folder: what MLflow's per-file loop learns from the tree listing.

MLflow downloads a folder in two phases: it lists the tree (the repository's
``_iter_artifacts_recursive``), then calls ``_download_file`` once per file on its thread
pool. This module is the MLflow-free half of the adapter for that loop:

* :func:`fetch_folder_archive` fetches the folder in tar archives (the folder itself, or
  its subfolders when it is over the server's limits) when
  :func:`~jfrog_mlflow.planning.plan_folder_archives` says it is worth it; files they
  wrote and verified are then skipped by the per-file calls.
* :class:`TreeDownloads` keeps, between the two phases, each listed file's size and
  checksums (so its download needs no extra request), the files an archive already
  wrote, and the directories MLflow's destination check accepted.
* Each ``download_artifacts`` call has a :class:`DownloadCall`: the per-file downloads
  record their failures there instead of raising into MLflow's loop (and fail at once
  when its :class:`~jfrog_mlflow.passes.Breaker` says the server stopped answering);
  :func:`retry_failed` then sends the failed files again in further passes
  (:mod:`jfrog_mlflow.passes`), and the adapter reports what still fails in one error.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from jfrog_mlflow import archives, planning
from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import ArtifactoryError
from jfrog_mlflow.models import Checksums, ListEntry
from jfrog_mlflow.passes import Breaker, further_passes
from jfrog_mlflow.urls import join_path

__all__ = ["DownloadCall", "TreeDownloads", "fetch_folder_archive", "retry_failed"]

#: One file of a folder download: (root-relative path, local path).
FileTask = tuple[str, str]

#: Bound of each remembered set: hints of downloads abandoned half-way are dropped.
_MAX_HINTS = 100_000
#: Folder archives fetched at the same time. Artifactory serves 10 at once by default, for
#: all its users together. Two overlap one archive's wait for the server and the network
#: with the unpacking of another; more only make the unpacking threads compete for the
#: interpreter.
_PARALLEL_ARCHIVES = 2


def fetch_folder_archive(
    client: ArtifactoryClient,
    config: PluginConfig,
    repo: str,
    folder: str,
    entries: Sequence[ListEntry],
    local_path_of: Callable[[str], str],
) -> dict[str, str]:
    """Fetch ``folder`` in folder archives when that is allowed and worthwhile.

    ``entries`` is its deep listing; ``local_path_of(name)`` gives (and prepares) the
    destination of a listed name. The archives are those of
    :func:`~jfrog_mlflow.planning.plan_folder_archives` (the folder itself, or its
    subfolders when it is over Artifactory's default limits): the first alone, the others
    a few at a time. An archive the server refuses gives way to those of its subfolders,
    and what no archive brought is left to the per-file path, for that subfolder only.
    Returns name -> local path of the files written and verified.
    """
    available = client.folder_download_supported and client.is_pro is True
    parts = planning.plan_folder_archives(folder, entries, config, available=available)
    if not parts:
        return {}
    workers = max(1, config.max_workers // _PARALLEL_ARCHIVES)

    def fetch(part: planning.ArchivePart) -> dict[str, str]:
        if not client.folder_download_supported:  # refused as disabled meanwhile
            return {}

        def local_of(name: str) -> str:
            return local_path_of(join_path(part.folder, name))

        got = archives.download_folder(
            client, repo, join_path(folder, part.folder), part.targets, local_of, workers=workers
        )
        return {join_path(part.folder, name): local for name, local in got.items()}

    done: dict[str, str] = {}

    def fetch_all(batch: list[planning.ArchivePart]) -> list[planning.ArchivePart]:
        """Fetch ``batch``, a few at a time; returns the parts that brought nothing."""
        if len(batch) <= 1:
            results = [fetch(part) for part in batch]
        else:
            with ThreadPoolExecutor(_PARALLEL_ARCHIVES, thread_name_prefix="jfrog-archive") as pool:
                results = list(pool.map(fetch, batch))
        for got in results:
            done.update(got)
        return [part for part, got in zip(batch, results, strict=True) if not got]

    # The first archive alone: a server with Folder Download off refuses it, and then no
    # other is asked for.
    refused = fetch_all(parts[:1])
    if client.folder_download_supported:
        refused += fetch_all(parts[1:])
    # A refused archive gives way to the archives of its subfolders (the server's limits
    # may be lower than Artifactory's defaults, or it was busy); what no archive brought
    # is left to the per-file path.
    while refused and client.folder_download_supported:
        smaller = [
            sub
            for part in refused
            for sub in planning.plan_folder_archives(
                folder, entries, config, available=True, below=part.folder
            )
        ]
        refused = fetch_all(smaller)
    return done


class DownloadCall:
    """The per-file outcomes of one ``download_artifacts`` call (thread-safe)."""

    def __init__(self, dst: str) -> None:
        self.dst = dst
        self.breaker = Breaker()
        self.attempted = 0
        #: (root-relative path, local path) -> the error it failed with
        self.failed: dict[FileTask, BaseException] = {}
        self._lock = threading.Lock()

    def run(self, rel: str, local_path: str, fetch: Callable[[], None]) -> None:
        """Download one file with ``fetch``; record a failure instead of raising it."""
        with self._lock:
            self.attempted += 1
        try:
            self.breaker.check(f"download of '{rel}'")
            fetch()
        except ArtifactoryError as exc:
            self.breaker.observe(exc)
            with self._lock:
                self.failed[(rel, local_path)] = exc


def retry_failed(
    call: DownloadCall,
    fetch: Callable[[str, str], None],
    *,
    workers: int,
    max_passes: int,
    what: str,
) -> tuple[list[tuple[FileTask, BaseException]], int]:
    """Further passes over the files ``call`` recorded as failed; ``fetch(rel, local)``
    downloads one. Returns what still fails and the passes made (the first included)."""

    def again(tasks: list[FileTask], breaker: Breaker) -> list[tuple[FileTask, BaseException]]:
        failed: list[tuple[FileTask, BaseException]] = []

        def one(task: FileTask) -> None:
            try:
                breaker.check(f"download of '{task[0]}'")
                fetch(*task)
            except ArtifactoryError as exc:
                breaker.observe(exc)
                failed.append((task, exc))

        with ThreadPoolExecutor(max(1, min(workers, len(tasks))), "jfrog-download") as pool:
            list(pool.map(one, tasks))
        return failed

    return further_passes(
        list(call.failed.items()),
        call.attempted,
        call.breaker,
        again,
        max_passes=max_passes,
        what=what,
    )


class TreeDownloads:
    """What one repository's folder downloads carry from the listing to the files.

    Thread-safe: MLflow calls the per-file phase on a pool, and ``mlflow server`` shares a
    repository between request threads. Per thread it records the destination of the
    ``download_artifacts`` call running there (:meth:`download`): only the first tree
    listing of that call may fetch a folder archive, and the archive's marks are dropped
    when the call ends, so a call stopped early (Ctrl-C) never makes a later download
    skip a file that may have changed on disk since.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: root-relative file path -> its listing entry (size, checksums)
        self._hints: dict[str, ListEntry] = {}
        #: (root-relative file path, local path) already written from an archive
        self._written: set[tuple[str, str]] = set()
        #: (destination, directory) pairs MLflow's path checks accepted in this download
        self._checked_dirs: set[tuple[str, str]] = set()
        #: the download calls in progress, by destination
        self._active: dict[str, list[DownloadCall]] = {}
        self._call = threading.local()

    @contextmanager
    def download(self, dst_path: str) -> Iterator[DownloadCall]:
        """Wrap one ``download_artifacts`` call into the existing directory ``dst_path``."""
        dst = os.path.abspath(dst_path)
        self._call.dst = dst if os.path.isdir(dst_path) else None
        call = DownloadCall(dst)
        with self._lock:
            self._checked_dirs.clear()  # the file system may have changed since last time
            self._active.setdefault(dst, []).append(call)
        self._call.marks = set()
        try:
            yield call
        finally:
            self._call.dst = None
            with self._lock:
                self._written.difference_update(self._call.marks)
                calls = self._active[dst]
                calls.remove(call)
                if not calls:
                    del self._active[dst]
            self._call.marks = set()

    def call_for(self, local_path: str) -> DownloadCall | None:
        """The download call whose destination holds ``local_path`` (the innermost, the
        latest); ``None`` outside ``download_artifacts``. MLflow runs the per-file
        downloads on its own threads, so the call is found by its destination."""
        found: DownloadCall | None = None
        with self._lock:
            for dst, calls in self._active.items():
                inside = local_path.startswith(dst.rstrip(os.sep) + os.sep)
                if inside and (found is None or len(dst) > len(found.dst)):
                    found = calls[-1]
        return found

    def take_destination(self) -> str | None:
        """The destination of this thread's download, once: only its first tree listing
        may fetch an archive."""
        dst: str | None = getattr(self._call, "dst", None)
        self._call.dst = None
        return dst

    def remember(self, rel: str, entries: Iterable[ListEntry]) -> None:
        """Keep the size and checksums of each file of the listing of ``rel``."""
        with self._lock:
            for entry in entries:
                if entry.is_folder or (entry.size is None and entry.checksums == Checksums()):
                    continue
                if len(self._hints) > _MAX_HINTS:
                    self._hints.clear()  # stale hints from abandoned downloads
                self._hints[join_path(rel, entry.path)] = entry

    def mark_written(self, rel: str, done: Mapping[str, str]) -> None:
        """Record the files an archive of ``rel`` wrote (name -> local path)."""
        if not done:
            return
        marks = {(join_path(rel, name), local) for name, local in done.items()}
        self._call.marks = marks
        with self._lock:
            self._written.update(marks)

    def take(self, rel: str, local_path: str) -> tuple[ListEntry | None, bool]:
        """The listing entry of file ``rel`` (consumed), and whether it is already written
        at ``local_path`` (then the caller skips it)."""
        with self._lock:
            hint = self._hints.pop(rel, None)
            if (rel, local_path) in self._written:
                self._written.discard((rel, local_path))
                return hint, True
        return hint, False

    def destination(
        self, check: Callable[[str, str | None], str], src: str, dst: str | None
    ) -> str:
        """MLflow's destination ``check(src, dst)``, done once per directory (POSIX).

        MLflow resolves every path component (``realpath``) for every file, which dominates
        a download of thousands of small files. The result is the same path: the first
        file of each directory goes through ``check`` (containment, directory creation);
        later ones only check that the file itself is not a symbolic link (which MLflow's
        check would follow) and otherwise reuse that verdict.
        """
        if os.name != "posix" or not dst:
            return check(src, dst)
        local = os.path.join(dst, os.path.normpath(src.rstrip("/")))
        key = (dst, os.path.dirname(local))
        with self._lock:
            known = key in self._checked_dirs
        if known and not os.path.islink(local):
            return local
        checked = check(src, dst)
        with self._lock:
            if len(self._checked_dirs) > _MAX_HINTS:
                self._checked_dirs.clear()
            self._checked_dirs.add(key)
        return checked
