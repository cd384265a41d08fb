"""MLflow ``ArtifactRepository`` for JFrog Artifactory (``artifactory://`` URIs).

The only module of :mod:`jfrog_mlflow` that imports ``mlflow.store``. It maps MLflow's
artifact operations onto :class:`~jfrog_mlflow.client.ArtifactoryClient` and translates
:class:`~jfrog_mlflow.errors.ArtifactoryError` into ``MlflowException`` with one table
(:data:`_ERROR_CODES`). Configuration is described in :mod:`jfrog_mlflow.config`; URI forms
in :mod:`jfrog_mlflow.uri`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import posixpath
import queue
import sys
import threading
import warnings
from collections.abc import AsyncIterable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, BinaryIO

# If this module is imported before MLflow's artifact-repository registry, importing MLflow
# below makes the registry load our entry point while this module is half-initialised; that
# attempt fails with a warning naming our scheme. Silence exactly that warning here and
# register the class ourselves at the bottom of the module (see _register_with_mlflow).
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message='Failure attempting to register artifact repository for scheme "artifactory"',
    )
    from mlflow.entities import FileInfo
    from mlflow.exceptions import MlflowException
    from mlflow.protos import databricks_pb2
    from mlflow.store.artifact.artifact_repo import (
        ArtifactRepository,
        StreamUploadMixin,
        verify_artifact_path,
    )
    from mlflow.utils.file_utils import ArtifactProgressBar, create_tmp_dir

from jfrog_mlflow import archives, errors
from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.integrity import Expected
from jfrog_mlflow.models import Checksums, ListEntry
from jfrog_mlflow.session import environment_key
from jfrog_mlflow.uri import ArtifactoryLocation, check_host_allowed, parse_artifact_uri
from jfrog_mlflow.urls import join_path, validate_listed_path, validate_path

__all__ = ["ArtifactoryArtifactRepository"]

_logger = logging.getLogger(__name__)

_STREAM_CHUNK = 1024 * 1024
#: Archives built and in flight at once (each holds up to archives.MAX_BATCH_BYTES).
_BATCH_SLOTS = threading.BoundedSemaphore(4)
_MAX_HINTS = 100_000

# Typed aliases for untyped MLflow helpers.
_verify_artifact_path: Callable[[str | None], None] = verify_artifact_path
_progress_files: Callable[..., Any] = ArtifactProgressBar.files
_create_tmp_dir: Callable[[], str] = create_tmp_dir
_base_download_artifacts: Callable[..., str] = ArtifactRepository.download_artifacts

#: ArtifactoryError subclass -> MLflow error code; the first matching entry wins.
_ERROR_CODES: tuple[tuple[type[errors.ArtifactoryError], int], ...] = (
    (errors.ConfigurationError, databricks_pb2.INVALID_PARAMETER_VALUE),
    (errors.InvalidArtifactUri, databricks_pb2.INVALID_PARAMETER_VALUE),
    (errors.InvalidArtifactPath, databricks_pb2.INVALID_PARAMETER_VALUE),
    (errors.HostNotAllowed, databricks_pb2.INVALID_PARAMETER_VALUE),
    (errors.AuthenticationFailed, databricks_pb2.UNAUTHENTICATED),
    (errors.PermissionDenied, databricks_pb2.PERMISSION_DENIED),
    (errors.ArtifactNotFound, databricks_pb2.RESOURCE_DOES_NOT_EXIST),
    (errors.Conflict, databricks_pb2.RESOURCE_CONFLICT),
    (errors.IntegrityError, databricks_pb2.DATA_LOSS),
    (errors.TransportError, databricks_pb2.TEMPORARILY_UNAVAILABLE),
)


def to_mlflow_exception(exc: errors.ArtifactoryError) -> MlflowException:
    """Translate a client-layer error into ``MlflowException`` (the one place that does)."""
    code: Any = databricks_pb2.INTERNAL_ERROR
    for cls, mapped in _ERROR_CODES:
        if isinstance(exc, cls):
            code = mapped
            break
    else:
        if isinstance(exc, errors.HTTPStatusError) and exc.status_code in (429, 502, 503, 504):
            code = databricks_pb2.TEMPORARILY_UNAVAILABLE
    return MlflowException(str(exc), error_code=code)


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except errors.ArtifactoryError as exc:
        raise to_mlflow_exception(exc) from exc


_CLIENTS: dict[tuple[str, PluginConfig, tuple[str | None, ...]], ArtifactoryClient] = {}
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def _shared_client(base_url: str, config: PluginConfig) -> ArtifactoryClient:
    """One client (session, connection pool, learnt edition) per base URL and config.

    MLflow builds a repository per run and logged model; sharing the client lets them reuse
    connections. Construction does no I/O.
    """
    key = (base_url, config, environment_key())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            if len(_CLIENTS) >= _MAX_CLIENTS:
                _CLIENTS.pop(next(iter(_CLIENTS)))  # oldest; still usable by its holders
            client = _CLIENTS[key] = ArtifactoryClient(base_url, config)
        return client


def _base_init_kwargs(tracking_uri: str | None, registry_uri: str | None) -> dict[str, Any]:
    params = inspect.signature(ArtifactRepository.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "tracking_uri" in params:
        kwargs["tracking_uri"] = tracking_uri
    if "registry_uri" in params:
        kwargs["registry_uri"] = registry_uri
    return kwargs


class ArtifactoryArtifactRepository(ArtifactRepository, StreamUploadMixin):
    """Stores MLflow artifacts in a JFrog Artifactory repository.

    URIs: ``artifactory://<path>`` (short form, with ``MLFLOW_ARTIFACTORY_ENDPOINT_URL``) or
    ``artifactory://<host>[:port]/artifactory/<repo>/<path>`` (full form). Environment
    variables read: ``MLFLOW_ARTIFACTORY_ENDPOINT_URL``, ``MLFLOW_ARTIFACTORY_REPO``,
    ``MLFLOW_ARTIFACTORY_TOKEN``, ``MLFLOW_ARTIFACTORY_KEY``, ``MLFLOW_ARTIFACTORY_USER``,
    ``MLFLOW_ARTIFACTORY_PASSWORD``, ``ARTIFACTORY_AUTH_TOKEN``, ``ARTIFACTORY_NO_SSL``,
    ``ARTIFACTORY_ARTIFACTS_DELETE_SKIP``, ``MLFLOW_ARTIFACTORY_ALLOWED_HOSTS``,
    ``REQUESTS_CA_BUNDLE`` and the tuning knobs listed in :mod:`jfrog_mlflow.config`.

    The constructor does no network I/O; configuration errors raise one
    ``MlflowException`` naming the variable.
    """

    is_plugin = True

    def __init__(
        self,
        artifact_uri: str,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        **kwargs: Any,
    ) -> None:
        with _translated():
            config = PluginConfig.from_env()
            location = parse_artifact_uri(artifact_uri, config)
            check_host_allowed(location, artifact_uri, config)
        self._config: PluginConfig = config
        self._location: ArtifactoryLocation = location
        self._client = _shared_client(location.base_url, config)
        #: file path -> its listing entry (size, checksums), consumed by _download_file
        self._hints: dict[str, ListEntry] = {}
        self._hints_lock = threading.Lock()
        #: (file path, local path) already written by a folder archive, skipped by
        #: _download_file
        self._prefetched: set[tuple[str, str]] = set()
        #: (destination, directory) pairs MLflow's path checks accepted in this download
        self._checked_dirs: set[tuple[str, str]] = set()
        #: destination of the download_artifacts call running on this thread, if any
        self._download_ctx = threading.local()
        super().__init__(artifact_uri, **_base_init_kwargs(tracking_uri, registry_uri))

    @property
    def max_workers(self) -> int:
        """Threads of MLflow's download pool (``self.thread_pool``): our configured count.

        MLflow sizes that pool at ``min(2 x CPUs, 20)``, which leaves a many-file download
        waiting on round trips on small machines. ``__init__`` sets ``_config`` before the
        base class creates the pool; the HTTP pool is at least this large
        (:func:`jfrog_mlflow.session.pool_size`).
        """
        return self._config.max_workers

    # ------------------------------------------------------------------ helpers

    def _repo_path(self, artifact_path: str | None) -> str:
        return join_path(self._location.path, artifact_path)

    @property
    def client(self) -> ArtifactoryClient:
        """The underlying HTTP client (for diagnostics and tests)."""
        return self._client

    # ------------------------------------------------------------------ uploads

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload ``local_file`` to ``<root>/<artifact_path>/<basename>``."""
        _verify_artifact_path(artifact_path)
        rel = join_path(artifact_path, os.path.basename(local_file))
        with _translated():
            validate_path(rel, what=local_file)
            self._deploy_one(local_file, rel)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload the contents of ``local_dir`` under ``artifact_path``, in parallel.

        Every name is validated before anything is uploaded. Empty directories are created
        as folders.
        """
        _verify_artifact_path(artifact_path)
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
        with _translated():
            for local, rel in files:
                validate_path(rel, what=local)
            for rel in empty_dirs:
                validate_path(rel, what=os.path.join(local_dir, rel))
        failures: list[tuple[str, BaseException]] = []
        small, large = self._plan_upload(files, artifact_path)
        batches = archives.plan_batches(small)
        refused: list[tuple[str, str]] = []  # batched files to send again one by one
        sent: list[tuple[str, archives.BuiltArchive]] = []  # (archive name, archive)
        workers = max(1, min(self._config.max_workers, len(large) + len(batches) or 1))
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-upload") as pool,
            _progress_files(desc="Uploading artifacts", total=len(files)) as pbar,
        ):
            tasks: dict[Future[Any], archives.Batch | str] = {
                pool.submit(self._upload_batch, batch, artifact_path): batch for batch in batches
            }
            for local, rel in large:
                tasks[pool.submit(self._deploy_one, local, rel)] = local
            for future in as_completed(tasks):
                task = tasks[future]
                exc = future.exception()
                if isinstance(task, str):
                    if exc is not None:
                        failures.append((task, exc))
                    pbar.update()
                    continue
                if exc is None and future.result() is not None:
                    sent.append(future.result())
                    left_out = future.result()[1].left_out
                    refused.extend((f.local, join_path(artifact_path, f.name)) for f in left_out)
                elif isinstance(exc, errors.AuthenticationFailed | errors.PermissionDenied):
                    failures.extend((f.local, exc) for f in task.files)
                elif exc is not None and not isinstance(exc, errors.ArtifactoryError):
                    failures.extend((f.local, exc) for f in task.files)  # e.g. unreadable file
                else:
                    refused.extend(self._batch_files(task, artifact_path))
                for _ in task.files:
                    pbar.update()
        if sent:
            refused.extend(self._verify_batches(sent, artifact_path, small))
        if refused:
            failures.extend(self._upload_each(refused))
        if failures:
            first = failures[0][1]
            detail = "; ".join(f"{path}: {exc}" for path, exc in failures[:10])
            code = (
                to_mlflow_exception(first).error_code
                if isinstance(first, errors.ArtifactoryError)
                else "INTERNAL_ERROR"
            )
            raise MlflowException(
                f"Failed to upload {len(failures)} of {len(files)} file(s): {detail}",
                error_code=getattr(databricks_pb2, code),
            ) from first
        with _translated():
            for rel in empty_dirs:
                self._client.make_folder(
                    self._location.repo, self._repo_path(join_path(artifact_path, rel))
                )

    def _plan_upload(
        self, files: list[tuple[str, str]], artifact_path: str | None
    ) -> tuple[list[archives.SmallFile], list[tuple[str, str]]]:
        """Split ``files`` into those to batch into archives and those to send one by one.

        Batching needs Artifactory Pro (learnt from a listing, or probed here with at most
        two requests), ``MLFLOW_ARTIFACTORY_BATCH_UPLOAD`` not ``off``, no earlier refusal
        on this client and at least ``MLFLOW_ARTIFACTORY_BATCH_MIN_FILES`` small files.
        """
        config = self._config
        if not config.batch_upload or not self._client.explode_supported:
            return [], files
        small: list[archives.SmallFile] = []
        large: list[tuple[str, str]] = []
        dest = join_path(artifact_path)
        for local, rel in files:
            try:
                size = os.stat(local).st_size
            except OSError:
                size = None  # reported by the per-file path
            if size is not None and size <= config.batch_file_threshold:
                small.append(archives.SmallFile(local, rel[len(dest) :].lstrip("/"), size))
            else:
                large.append((local, rel))
        if len(small) < config.batch_min_files:
            return [], files
        with _translated():
            is_pro = self._client.probe_edition(self._location.repo, self._repo_path(dest))
        if not is_pro:
            return [], files
        return small, large

    def _batch_files(
        self, batch: archives.Batch, artifact_path: str | None
    ) -> list[tuple[str, str]]:
        return [(f.local, join_path(artifact_path, f.name)) for f in batch.files]

    def _upload_batch(
        self, batch: archives.Batch, artifact_path: str | None
    ) -> tuple[str, archives.BuiltArchive] | None:
        """Deploy one batch as an exploding archive; ``None`` when the server refused it.

        A refusal that means "unsupported" (see :func:`archives.explode_refused`) switches
        batching off on the client. 401/403 propagate. Files that cannot be packed (see
        :func:`archives.build_tar`) are returned in ``left_out`` and take the per-file path;
        ``None`` too when no file could be packed.
        """
        with _BATCH_SLOTS:
            archive = archives.build_tar(batch)
            if not archive.members:
                return None
            name = archives.new_batch_name()
            folder = self._repo_path(artifact_path)
            try:
                archives.deploy_archive(self._client, self._location.repo, folder, name, archive)
            except (errors.AuthenticationFailed, errors.PermissionDenied):
                raise
            except errors.ArtifactoryError as exc:
                if archives.explode_refused(exc):
                    self._client.disable_explode(f"archive deploy refused: {exc}")
                _logger.debug("archive upload failed (%s); uploading its files one by one", exc)
                return None
            return name, archive

    def _verify_batches(
        self,
        sent: list[tuple[str, archives.BuiltArchive]],
        artifact_path: str | None,
        small: list[archives.SmallFile],
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
            listing = self._client.list_tree(self._location.repo, folder) or []
        except errors.ArtifactoryError as exc:
            _logger.debug("cannot verify the archive uploads (%s); uploading one by one", exc)
            listing = []
        bad, strays = archives.check_listing(expected, listing, [name for name, _ in sent])
        for name in strays:
            self._client.disable_explode("the server stored an archive instead of exploding it")
            try:
                self._client.delete(self._location.repo, join_path(folder, name))
            except errors.ArtifactoryError as exc:
                _logger.warning("could not delete the stray archive '%s': %s", name, exc)
        if bad:
            _logger.debug("%d batched file(s) missing or different; uploading again", len(bad))
        return [(local_of[name], join_path(artifact_path, name)) for name in bad]

    def _deploy_one(self, local: str, rel: str) -> None:
        """Upload one local file to ``<root>/<rel>`` (verified, retried)."""
        self._client.deploy_file(self._location.repo, self._repo_path(rel), local)

    def _upload_each(self, files: list[tuple[str, str]]) -> list[tuple[str, BaseException]]:
        """Upload ``(local, rel)`` pairs one by one in parallel; returns the failures."""
        failures: list[tuple[str, BaseException]] = []
        workers = max(1, min(self._config.max_workers, len(files)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-upload") as pool:
            futures = {pool.submit(self._deploy_one, local, rel): local for local, rel in files}
            for future in as_completed(futures):
                exc = future.exception()
                if exc is not None:
                    failures.append((futures[future], exc))
        return failures

    def log_artifact_from_stream(
        self, stream: BinaryIO, artifact_file_name: str, artifact_path: str | None = None
    ) -> None:
        """Stream ``stream`` to ``<root>/<artifact_path>/<basename(artifact_file_name)>``."""
        _verify_artifact_path(artifact_path)
        rel = join_path(artifact_path, posixpath.basename(artifact_file_name))
        with _translated():
            validate_path(rel, what=artifact_file_name)
            chunks = iter(lambda: stream.read(_STREAM_CHUNK), b"")
            self._client.deploy_stream(self._location.repo, self._repo_path(rel), chunks)

    async def log_artifact_from_async_stream(
        self,
        chunks: AsyncIterable[bytes],
        artifact_file_name: str,
        artifact_path: str | None = None,
    ) -> None:
        """Async variant: the upload runs in a worker thread fed through a bounded queue."""
        _verify_artifact_path(artifact_path)
        rel = join_path(artifact_path, posixpath.basename(artifact_file_name))
        with _translated():
            validate_path(rel, what=artifact_file_name)
        feed: queue.Queue[bytes | _EndOfStream] = queue.Queue(maxsize=8)
        stop = threading.Event()

        def consume() -> Iterator[bytes]:
            while True:
                item = feed.get()
                if isinstance(item, _EndOfStream):
                    if item.error is not None:
                        raise item.error
                    return
                yield item

        def upload() -> None:
            try:
                with _translated():
                    self._client.deploy_stream(self._location.repo, self._repo_path(rel), consume())
            finally:
                stop.set()

        def put(item: bytes | _EndOfStream) -> None:
            while not stop.is_set():
                try:
                    feed.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        task = asyncio.ensure_future(asyncio.to_thread(upload))
        try:
            async for chunk in chunks:
                if stop.is_set():
                    break
                if chunk:
                    await asyncio.to_thread(put, bytes(chunk))
        except BaseException as exc:
            await asyncio.to_thread(put, _EndOfStream(OSError(f"upload source failed: {exc}")))
            await asyncio.gather(task, return_exceptions=True)
            raise
        await asyncio.to_thread(put, _EndOfStream(None))
        await task

    # ------------------------------------------------------------------ listing

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, root-relative, sorted; ``[]`` for a file or missing path."""
        rel = join_path(path)
        with _translated():
            entries = self._client.list_children(self._location.repo, self._repo_path(rel))
            if not entries:
                return []
            infos = []
            for entry in entries:
                child = join_path(rel, validate_listed_path(entry.path))
                if child == rel or "/" in entry.path.strip("/"):
                    continue
                infos.append(
                    FileInfo(child, entry.is_folder, None if entry.is_folder else entry.size)
                )
        return sorted(infos, key=lambda f: f.path)

    def _is_directory(self, artifact_path: str) -> bool:
        with _translated():
            info = self._client.stat(self._location.repo, self._repo_path(artifact_path))
        return info is not None and info.is_folder

    def _iter_artifacts_recursive(self, path: str) -> Iterator[FileInfo]:
        rel = join_path(path)
        with _translated():
            entries = self._client.list_tree(self._location.repo, self._repo_path(rel))
            checked: list[ListEntry] = [e for e in (entries or []) if validate_listed_path(e.path)]
        if not checked:
            yield FileInfo(path, True, None)
            return
        parents: set[str] = set()
        for entry in checked:
            parts = entry.path.split("/")
            parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
        result: list[FileInfo] = []
        for entry in checked:
            full = join_path(rel, entry.path)
            if entry.is_folder:
                if entry.path not in parents:
                    result.append(FileInfo(full, True, None))
            else:
                result.append(FileInfo(full, False, entry.size))
                if entry.size is not None or entry.checksums != Checksums():
                    with self._hints_lock:
                        if len(self._hints) > _MAX_HINTS:
                            self._hints.clear()  # stale hints from abandoned downloads
                        self._hints[full] = entry
        dst = getattr(self._download_ctx, "dst", None)
        if dst is not None:
            self._download_ctx.dst = None  # only the tree of this download_artifacts call
            self._prefetch_archive(rel, checked, dst)
        yield from sorted(result, key=lambda f: f.path)

    def _prefetch_archive(self, rel: str, entries: list[ListEntry], dst: str) -> None:
        """Fetch the folder ``rel`` as one archive when that is allowed and worthwhile.

        Files written and verified from the archive are marked so that :meth:`_download_file`
        skips them; everything else takes the per-file path.
        """
        files = [e for e in entries if not e.is_folder]
        config = self._config
        folder = self._repo_path(rel)
        if (
            not config.folder_download
            or not self._client.folder_download_supported
            or self._client.is_pro is not True
            or not folder
            or len(files) < config.batch_min_files
            or any(e.size is None for e in files)
            or sum(e.size or 0 for e in files) > config.folder_download_max_size
        ):
            return
        targets = {
            entry.path: Expected(entry.checksums, entry.size)
            for entry in files
            if entry.checksums.sha1 or entry.checksums.sha256
        }
        if len(targets) < config.batch_min_files:
            return
        destination: Callable[..., str] = self._create_download_destination

        def local_path_of(name: str) -> str:  # MLflow's own checks; creates the parent
            return destination(src_artifact_path=join_path(rel, name), dst_local_dir_path=dst)

        with _translated():
            done = archives.download_folder(
                self._client,
                self._location.repo,
                folder,
                targets,
                local_path_of,
                workers=config.max_workers,
            )
        if done:
            marks = {(join_path(rel, name), local) for name, local in done.items()}
            self._download_ctx.prefetched = marks  # unmarked when this call ends
            with self._hints_lock:
                self._prefetched.update(marks)

    def download_artifacts(
        self, artifact_path: str | None = None, dst_path: str | None = None
    ) -> str:
        """MLflow's ``download_artifacts``; a folder may first be fetched as one archive.

        Semantics are MLflow's own (this only records the destination, creating the
        temporary one MLflow would create when ``dst_path`` is not given). See
        ``MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD`` in :mod:`jfrog_mlflow.config`.
        """
        if not dst_path:
            dst_path = _create_tmp_dir()
        self._download_ctx.dst = os.path.abspath(dst_path) if os.path.isdir(dst_path) else None
        with self._hints_lock:
            self._checked_dirs.clear()  # the file system may have changed since last time
        self._download_ctx.prefetched = set()
        try:
            return _base_download_artifacts(self, artifact_path, dst_path)
        finally:
            self._download_ctx.dst = None
            # Marks MLflow's loop did not consume (it stopped early) must not make a later
            # download skip a file that may have changed on disk since.
            with self._hints_lock:
                self._prefetched.difference_update(self._download_ctx.prefetched)
            self._download_ctx.prefetched = set()

    def _create_download_destination(
        self, src_artifact_path: str, dst_local_dir_path: str | None = None
    ) -> str:
        """MLflow's method, with its directory checks done once per directory (POSIX).

        MLflow resolves every path component (``realpath``) for every file, which dominates
        a download of thousands of small files. The result is the same path; the first file
        of each directory goes through MLflow's own method (containment check, directory
        creation), later ones only check that the file itself is not a symbolic link (which
        MLflow's check would follow) and otherwise reuse that verdict.
        """
        base: Callable[..., str] = super()._create_download_destination
        if os.name != "posix" or not dst_local_dir_path:
            return base(src_artifact_path, dst_local_dir_path)
        local = os.path.join(dst_local_dir_path, os.path.normpath(src_artifact_path.rstrip("/")))
        key = (dst_local_dir_path, os.path.dirname(local))
        with self._hints_lock:
            known = key in self._checked_dirs
        if known and not os.path.islink(local):
            return local
        checked = base(src_artifact_path, dst_local_dir_path)
        with self._hints_lock:
            if len(self._checked_dirs) > _MAX_HINTS:
                self._checked_dirs.clear()
            self._checked_dirs.add(key)
        return checked

    # ------------------------------------------------------------------ downloads

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        rel = join_path(remote_file_path)
        with self._hints_lock:
            hint = self._hints.pop(rel, None)
            if (rel, local_path) in self._prefetched:
                self._prefetched.discard((rel, local_path))
                return
        with _translated():
            self._client.download_file(
                self._location.repo,
                self._repo_path(rel),
                local_path,
                size_hint=hint.size if hint else None,
                checksums=hint.checksums if hint else None,
            )

    # ------------------------------------------------------------------ delete

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or folder recursively; a missing path is a no-op.

        With ``ARTIFACTORY_ARTIFACTS_DELETE_SKIP`` true, nothing is deleted and a warning is
        logged.
        """
        target = self._repo_path(artifact_path)
        if self._config.delete_skip:
            _logger.warning(
                "ARTIFACTORY_ARTIFACTS_DELETE_SKIP is set: not deleting '%s' in repository '%s'",
                target,
                self._location.repo,
            )
            return
        with _translated():
            if not self._client.delete(self._location.repo, target):
                _logger.debug("nothing to delete at '%s'", target)


class _EndOfStream:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def _register_with_mlflow() -> None:
    """Register the ``artifactory`` scheme if MLflow's registry missed it.

    That happens only when this module was imported before the registry (see the comment at
    the imports); with the usual order the entry point has already registered the class.
    """
    registry_module = sys.modules.get("mlflow.store.artifact.artifact_repository_registry")
    registry = getattr(registry_module, "_artifact_repository_registry", None)
    table = getattr(registry, "_registry", None)
    if isinstance(table, dict) and "artifactory" not in table:
        registry.register("artifactory", ArtifactoryArtifactRepository)  # type: ignore[union-attr]


_register_with_mlflow()
