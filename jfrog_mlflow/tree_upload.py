"""Uploading a local directory (``log_artifacts``): archives where they pay, else per file.

MLflow-free; the repository adapter calls :meth:`TreeUpload.run` and translates its
errors. The steps:

1. Walk the directory and validate every name: a bad one fails the call before anything
   is sent.
2. Split the files (:func:`~jfrog_mlflow.planning.split_for_batching`): small ones travel
   in exploding tar archives when batching is on, the client has not learnt that the
   server refuses it, and the server is Pro (learnt from an earlier listing, or probed
   here with at most two requests).
3. Deploy the archives and the other files in parallel. An archive that is not delivered
   sends its files one by one, or fails them (:func:`~jfrog_mlflow.planning.fallback_for`).
4. Verify what the archives deployed with one deep listing and send again what is missing
   or different; an archive stored as a plain file (the server ignored the explode header)
   is deleted and batching is switched off on the client. Tag what the archives deployed
   with one recursive Set Item Properties request (files sent on their own carry their
   properties as matrix parameters; see :mod:`jfrog_mlflow.properties`); a server that
   refuses it (no Annotate permission) costs a log line, never the upload.
5. Send the files that still fail again, in further passes (:mod:`jfrog_mlflow.passes`);
   within a pass, files not yet started fail at once when the server stopped answering.
6. Report every failed file in one :class:`~jfrog_mlflow.errors.UploadIncomplete`, then
   create the empty directories as folders.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from jfrog_mlflow import archives, listing, planning, upload
from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import (
    ArtifactoryError,
    AuthenticationFailed,
    PermissionDenied,
    UploadIncomplete,
)
from jfrog_mlflow.passes import Breaker, further_passes
from jfrog_mlflow.properties import Properties, properties_for
from jfrog_mlflow.urls import join_path, validate_path

__all__ = ["Progress", "TreeUpload", "walk"]

_logger = logging.getLogger(__name__)

#: Archives built and in flight at once, in the whole process: each is held in memory
#: (up to planning.MAX_BATCH_BYTES) from the moment it is built until it is sent.
_BATCH_SLOTS = threading.BoundedSemaphore(4)


class Progress(Protocol):
    """A progress display: ``update()`` once per file done."""

    def update(self) -> object: ...


class _NoProgress:
    def update(self) -> None:
        pass


@contextmanager
def _no_progress(total: int) -> Iterator[Progress]:
    yield _NoProgress()


def walk(local_dir: str, artifact_path: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """The files of ``local_dir`` as ``(local path, path under the root)`` pairs, sorted
    per directory, and its empty directories (relative to ``local_dir``)."""
    files: list[tuple[str, str]] = []
    empty_dirs: list[str] = []
    for root, dirs, names in os.walk(local_dir):
        dirs.sort()
        rel_root = os.path.relpath(root, local_dir)
        rel_root = "" if rel_root == "." else rel_root.replace(os.sep, "/")
        if not dirs and not names and rel_root:
            empty_dirs.append(rel_root)
        for name in sorted(names):
            files.append((os.path.join(root, name), join_path(artifact_path, rel_root, name)))
    return files, empty_dirs


class TreeUpload:
    """Uploads under ``root`` (a folder path) of ``repo`` through ``client``."""

    def __init__(
        self, client: ArtifactoryClient, config: PluginConfig, repo: str, root: str
    ) -> None:
        self._client = client
        self._config = config
        self._repo = repo
        self._root = root

    def _repo_path(self, rel: str | None) -> str:
        return join_path(self._root, rel)

    def properties(self, rel: str | None) -> Properties:
        """What a file (or a folder's files) at ``<root>/<rel>`` is tagged with."""
        config = self._config
        return properties_for(
            self._repo_path(rel), config.properties, enabled=config.set_properties
        )

    def deploy_one(self, local: str, rel: str, breaker: Breaker | None = None) -> None:
        """Upload one local file to ``<root>/<rel>`` (verified, retried, tagged), unless
        ``breaker`` says the server stopped answering."""
        if breaker is not None:
            breaker.check(f"upload of '{rel}'")
        try:
            upload.deploy_file(
                self._client,
                self._repo,
                self._repo_path(rel),
                local,
                properties=self.properties(rel),
            )
        except ArtifactoryError as exc:
            if breaker is not None:
                breaker.observe(exc)
            raise

    def run(
        self,
        local_dir: str,
        artifact_path: str | None,
        progress: Callable[[int], AbstractContextManager[Progress]] = _no_progress,
    ) -> None:
        """Upload the contents of ``local_dir`` under ``artifact_path``, in parallel.

        Raises:
            InvalidArtifactPath: a name Artifactory cannot store (nothing was sent).
            UploadIncomplete: some files failed; the others were uploaded.
        """
        files, empty_dirs = walk(local_dir, artifact_path)
        for local, rel in files:
            validate_path(rel, what=local)
        for rel in empty_dirs:
            validate_path(rel, what=os.path.join(local_dir, rel))
        failures: list[tuple[tuple[str, str], BaseException]] = []
        small, single = self._split(files, artifact_path)
        batches = planning.plan_batches(small)
        resend: list[tuple[str, str]] = []  # files to send again one by one
        sent: list[tuple[str, archives.BuiltArchive]] = []  # (archive name, archive)
        breaker = Breaker()
        workers = max(1, min(self._config.max_workers, len(single) + len(batches) or 1))
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-upload") as pool,
            progress(len(files)) as bar,
        ):
            tasks: dict[Future[Any], planning.Batch | tuple[str, str]] = {
                pool.submit(self._upload_batch, batch, artifact_path, breaker): batch
                for batch in batches
            }
            for local, rel in single:
                tasks[pool.submit(self.deploy_one, local, rel, breaker)] = (local, rel)
            for future in as_completed(tasks):
                task = tasks[future]
                exc = future.exception()
                if isinstance(task, tuple):
                    if exc is not None:
                        failures.append((task, exc))
                    bar.update()
                    continue
                result = future.result() if exc is None else None
                if result is not None:
                    sent.append(result)
                    resend.extend(_files_of(result[1].left_out, artifact_path))
                elif exc is not None and planning.fallback_for(exc) == "fail":
                    failures.extend((item, exc) for item in _files_of(task.files, artifact_path))
                else:
                    resend.extend(_files_of(task.files, artifact_path))
                for _ in task.files:
                    bar.update()
        if sent and not breaker.tripped:
            resend.extend(self._verify_batches(sent, artifact_path, small, breaker))
            self._tag_batches(artifact_path, sent)
        elif sent:  # unverifiable now: these fail as not attempted, never as uploaded
            packed = {name for _, archive in sent for name in archive.members}
            resend.extend(_files_of(tuple(f for f in small if f.name in packed), artifact_path))
        if resend:
            failures.extend(self._upload_each(resend, breaker))
        if failures:
            failures, passes = further_passes(
                failures,
                len(files),
                breaker,
                self._upload_each,
                max_passes=self._config.transfer_passes,
                what=f"upload to '{join_path(self._repo, self._repo_path(artifact_path))}'",
            )
            if failures:
                reported = [(local, exc) for (local, _), exc in failures]
                raise UploadIncomplete(reported, len(files), passes) from failures[0][1]
        for rel in empty_dirs:
            self._client.make_folder(self._repo, self._repo_path(join_path(artifact_path, rel)))

    def _split(
        self, files: list[tuple[str, str]], artifact_path: str | None
    ) -> tuple[list[planning.SmallFile], list[tuple[str, str]]]:
        """The files to batch and those to send one by one (see the module docs)."""
        config = self._config
        if not config.batch_upload or not self._client.explode_supported:
            return [], files
        dest = join_path(artifact_path)
        small, single = planning.split_for_batching(
            [(local, rel, _size(local)) for local, rel in files],
            dest,
            threshold=config.batch_file_threshold,
            min_files=config.batch_min_files,
        )
        if not small:
            return [], files
        if not listing.probe_edition(self._client, self._repo, self._repo_path(dest)):
            return [], files
        return small, single

    def _upload_batch(
        self, batch: planning.Batch, artifact_path: str | None, breaker: Breaker
    ) -> tuple[str, archives.BuiltArchive] | None:
        """Deploy one batch as an exploding archive; ``None`` when the server refused it.

        A refusal that means "unsupported" (see :func:`planning.explode_refused`) switches
        batching off on the client. 401/403 propagate. Files that cannot be packed (see
        :func:`archives.build_tar`) are returned in ``left_out`` and take the per-file path;
        ``None`` too when no file could be packed, or when ``breaker`` has tripped.
        """
        if breaker.tripped:
            return None
        with _BATCH_SLOTS:
            archive = archives.build_tar(batch)
            if not archive.members:
                return None
            name = planning.new_batch_name()
            folder = self._repo_path(artifact_path)
            try:
                archives.deploy_archive(self._client, self._repo, folder, name, archive)
            except (AuthenticationFailed, PermissionDenied):
                raise
            except ArtifactoryError as exc:
                breaker.observe(exc)
                if planning.explode_refused(exc):
                    self._client.disable_explode(f"archive deploy refused: {exc}")
                _logger.debug("archive upload failed (%s); uploading its files one by one", exc)
                return None
            return name, archive

    def _verify_batches(
        self,
        sent: list[tuple[str, archives.BuiltArchive]],
        artifact_path: str | None,
        small: list[planning.SmallFile],
        breaker: Breaker,
    ) -> list[tuple[str, str]]:
        """One deep listing of the destination: what the archives should have deployed.

        Returns the batched files to upload again one by one (missing or different). An
        archive stored as a plain file (the server ignored the explode header) is deleted
        and batching is switched off on the client.
        """
        expected: dict[str, tuple[int, str, str]] = {}
        for _, archive in sent:
            expected.update(archive.members)
        local_of = {f.name: f.local for f in small}
        folder = self._repo_path(artifact_path)
        try:
            tree = listing.list_tree(self._client, self._repo, folder) or []
        except ArtifactoryError as exc:
            breaker.observe(exc)
            _logger.debug("cannot verify the archive uploads (%s); uploading one by one", exc)
            tree = []
        bad, strays = planning.check_listing(expected, tree, [name for name, _ in sent])
        for name in strays:
            self._client.disable_explode("the server stored an archive instead of exploding it")
            try:
                self._client.delete(self._repo, join_path(folder, name))
            except ArtifactoryError as exc:
                _logger.warning("could not delete the stray archive '%s': %s", name, exc)
        if bad:
            _logger.debug("%d batched file(s) missing or different; uploading again", len(bad))
        return [(local_of[name], join_path(artifact_path, name)) for name in bad]

    def _tag_batches(
        self, artifact_path: str | None, sent: list[tuple[str, archives.BuiltArchive]]
    ) -> None:
        """Tag what the archives deployed: one recursive request on the destination folder
        (it also tags what was there before: in MLflow's layout, files of the same run).

        The repository root is never tagged as a whole: there, each top-level entry the
        archives deployed gets its own request. Refusals (no Annotate permission) and
        failures are logged, never raised: the files are uploaded.
        """
        props = self.properties(artifact_path)
        if not props:
            return
        folder = self._repo_path(artifact_path)
        if folder:
            targets = [folder]
        else:
            tops = {name.split("/")[0] for _, archive in sent for name in archive.members}
            targets = sorted(tops)
        for target in targets:
            try:
                upload.set_properties(self._client, self._repo, target, props, recursive=True)
            except ArtifactoryError as exc:
                _logger.warning(
                    "the files uploaded in archives to '%s' carry no properties: %s",
                    join_path(self._repo, target),
                    exc,
                )
                return

    def _upload_each(
        self, files: list[tuple[str, str]], breaker: Breaker
    ) -> list[tuple[tuple[str, str], BaseException]]:
        """Upload ``(local, rel)`` pairs one by one in parallel; returns the failures."""
        failures: list[tuple[tuple[str, str], BaseException]] = []
        workers = max(1, min(self._config.max_workers, len(files)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-upload") as pool:
            futures = {
                pool.submit(self.deploy_one, local, rel, breaker): (local, rel)
                for local, rel in files
            }
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None:
                    failures.append((futures[future], exc))
        return failures


def _files_of(
    files: tuple[planning.SmallFile, ...], artifact_path: str | None
) -> list[tuple[str, str]]:
    return [(f.local, join_path(artifact_path, f.name)) for f in files]


def _size(local: str) -> int | None:
    try:
        return os.stat(local).st_size
    except OSError:
        return None  # reported by the per-file path
