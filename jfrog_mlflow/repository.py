"""MLflow ``ArtifactRepository`` for JFrog Artifactory (``artifactory://`` URIs).

The only module of :mod:`jfrog_mlflow` that imports MLflow. Each MLflow method delegates
to an MLflow-free module (:mod:`~jfrog_mlflow.upload`, :mod:`~jfrog_mlflow.tree_upload`,
:mod:`~jfrog_mlflow.listing`, :mod:`~jfrog_mlflow.tree_download`,
:mod:`~jfrog_mlflow.download`) and translates :class:`~jfrog_mlflow.errors.ArtifactoryError`
into ``MlflowException`` with one table (:data:`_ERROR_CODES`). Configuration is described
in :mod:`jfrog_mlflow.config`; URI forms in :mod:`jfrog_mlflow.uri`.

An answer that could mean a missing path, a missing repository or a wrong endpoint (an
empty listing, a delete of nothing, a 404, a body that is not JSON) is checked with
:func:`jfrog_mlflow.diagnose.check_repository` before it is reported, so a typo in the
configuration is never silent. Single-file transfers show byte progress through MLflow's
``ArtifactProgressBar``.
"""

from __future__ import annotations

import inspect
import logging
import os
import posixpath
import sys
import warnings
from collections.abc import AsyncIterable, Callable, Iterator
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

from jfrog_mlflow import deletion, diagnose, download, errors, listing, upload
from jfrog_mlflow.client import ArtifactoryClient, shared_client
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.models import ListEntry
from jfrog_mlflow.progress import PROGRESS_CHUNK, ByteProgress, FileCount
from jfrog_mlflow.tree_download import TreeDownloads, fetch_folder_archive, retry_failed
from jfrog_mlflow.tree_upload import TreeUpload
from jfrog_mlflow.uri import ArtifactoryLocation, check_host_allowed, parse_artifact_uri
from jfrog_mlflow.urls import join_path, validate_path

__all__ = ["ArtifactoryArtifactRepository", "to_mlflow_exception"]

_logger = logging.getLogger(__name__)

_STREAM_CHUNK = 1024 * 1024

# Typed aliases for untyped MLflow helpers.
_verify_artifact_path: Callable[[str | None], None] = verify_artifact_path
_progress_files: Callable[..., Any] = ArtifactProgressBar.files
_progress_chunks: Callable[..., Any] = ArtifactProgressBar.chunks
_create_tmp_dir: Callable[[], str] = create_tmp_dir
_base_download_artifacts: Callable[..., str] = ArtifactRepository.download_artifacts

_pb = databricks_pb2
_ANY_STATUS: frozenset[int] | None = None
#: (error class, HTTP statuses or _ANY_STATUS, MLflow error code): the first match wins;
#: no match is INTERNAL_ERROR. Overload and gateway statuses that outlasted the retries
#: are worth trying again later.
_ERROR_CODES: tuple[tuple[type[errors.ArtifactoryError], frozenset[int] | None, int], ...] = (
    (errors.ConfigurationError, _ANY_STATUS, _pb.INVALID_PARAMETER_VALUE),
    (errors.InvalidArtifactUri, _ANY_STATUS, _pb.INVALID_PARAMETER_VALUE),
    (errors.InvalidArtifactPath, _ANY_STATUS, _pb.INVALID_PARAMETER_VALUE),
    (errors.HostNotAllowed, _ANY_STATUS, _pb.INVALID_PARAMETER_VALUE),
    (errors.AuthenticationFailed, _ANY_STATUS, _pb.UNAUTHENTICATED),
    (errors.PermissionDenied, _ANY_STATUS, _pb.PERMISSION_DENIED),
    (errors.ArtifactNotFound, _ANY_STATUS, _pb.RESOURCE_DOES_NOT_EXIST),
    (errors.Conflict, _ANY_STATUS, _pb.RESOURCE_CONFLICT),
    (errors.IntegrityError, _ANY_STATUS, _pb.DATA_LOSS),
    (errors.TransportError, _ANY_STATUS, _pb.TEMPORARILY_UNAVAILABLE),
    (errors.HTTPStatusError, frozenset({429, 502, 503, 504}), _pb.TEMPORARILY_UNAVAILABLE),
)


def _error_code(exc: BaseException) -> int:
    if isinstance(exc, errors.TransferIncomplete):
        exc = exc.first  # the whole failure is reported like its first error
    for cls, statuses, code in _ERROR_CODES:
        if isinstance(exc, cls) and (
            statuses is None or getattr(exc, "status_code", None) in statuses
        ):
            return code
    return int(_pb.INTERNAL_ERROR)


def to_mlflow_exception(exc: errors.ArtifactoryError) -> MlflowException:
    """Translate a client-layer error into ``MlflowException`` (the one place that does)."""
    return MlflowException(str(exc), error_code=_error_code(exc))


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except errors.ArtifactoryError as exc:
        raise to_mlflow_exception(exc) from exc


def _ambiguous(exc: errors.ArtifactoryError) -> bool:
    """Whether ``exc`` could mean a missing repository or a wrong endpoint."""
    first = exc.first if isinstance(exc, errors.TransferIncomplete) else exc
    return isinstance(first, errors.UnexpectedResponse) or (
        isinstance(first, errors.ArtifactNotFound)
        and not isinstance(first, errors.RepositoryNotFound)
    )


@contextmanager
def _byte_progress(desc: str) -> Iterator[Callable[[int, int], None]]:
    """A byte-progress callback drawing MLflow's ``ArtifactProgressBar.chunks``."""
    bar = ByteProgress(lambda total: _progress_chunks(total, desc, PROGRESS_CHUNK))
    try:
        yield bar
    finally:
        bar.close()


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
    ``artifactory://<host>[:port]/artifactory/<repo>/<path>`` (full form). The environment
    variables it reads are the rows of :data:`jfrog_mlflow.config.SETTINGS`.

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
        self._client = shared_client(location.base_url, config)
        self._downloads = TreeDownloads()
        super().__init__(artifact_uri, **_base_init_kwargs(tracking_uri, registry_uri))

    @property
    def max_workers(self) -> int:
        """Threads of MLflow's download pool: ours, not MLflow's ``min(2 x CPUs, 20)``,
        which leaves a many-file download waiting on round trips on small machines (the
        HTTP pool is at least this large; ``_config`` is set before the pool is made)."""
        return self._config.max_workers

    @property
    def client(self) -> ArtifactoryClient:
        """The underlying HTTP client (for diagnostics and tests)."""
        return self._client

    def _repo_path(self, artifact_path: str | None) -> str:
        return join_path(self._location.path, artifact_path)

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Translate errors; an ambiguous one is first checked against a missing repository
        or a wrong endpoint (see :mod:`jfrog_mlflow.diagnose`)."""
        try:
            yield
        except errors.ArtifactoryError as exc:
            if _ambiguous(exc):
                with _translated():
                    diagnose.check_repository(self._client, self._location)
            raise to_mlflow_exception(exc) from exc

    def _nothing_there(self) -> None:
        """An empty or missing answer: fine for a missing path, not for a missing repository."""
        with self._calls():
            diagnose.check_repository(self._client, self._location)

    def _uploader(self) -> TreeUpload:
        return TreeUpload(self._client, self._config, self._location.repo, self._location.path)

    # ------------------------------------------------------------------ uploads

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload ``local_file`` to ``<root>/<artifact_path>/<basename>``."""
        _verify_artifact_path(artifact_path)
        rel = join_path(artifact_path, os.path.basename(local_file))
        with self._calls(), _byte_progress(f"Uploading {local_file}") as progress:
            validate_path(rel, what=local_file)
            upload.deploy_file(
                self._client,
                self._location.repo,
                self._repo_path(rel),
                local_file,
                properties=self._uploader().properties(rel),
                progress=progress,
            )

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload the contents of ``local_dir`` under ``artifact_path``, in parallel.

        Every name is validated before anything is uploaded; small files may travel in
        archives (see :mod:`jfrog_mlflow.tree_upload`). Empty directories become folders.
        """
        _verify_artifact_path(artifact_path)
        uploader = self._uploader()
        with self._calls():
            uploader.run(
                local_dir,
                artifact_path,
                lambda total: FileCount(_progress_files(desc="Uploading artifacts", total=total)),
            )

    def log_artifact_from_stream(
        self, stream: BinaryIO, artifact_file_name: str, artifact_path: str | None = None
    ) -> None:
        """Stream ``stream`` to ``<root>/<artifact_path>/<basename(artifact_file_name)>``."""
        rel = self._stream_target(artifact_file_name, artifact_path)
        with self._calls():
            chunks = iter(lambda: stream.read(_STREAM_CHUNK), b"")
            upload.deploy_stream(
                self._client,
                self._location.repo,
                self._repo_path(rel),
                chunks,
                properties=self._uploader().properties(rel),
            )

    async def log_artifact_from_async_stream(
        self,
        chunks: AsyncIterable[bytes],
        artifact_file_name: str,
        artifact_path: str | None = None,
    ) -> None:
        """Async variant: the upload runs in a worker thread fed through a bounded queue."""
        rel = self._stream_target(artifact_file_name, artifact_path)
        with self._calls():
            await upload.deploy_async_stream(
                self._client,
                self._location.repo,
                self._repo_path(rel),
                chunks,
                properties=self._uploader().properties(rel),
            )

    def _stream_target(self, artifact_file_name: str, artifact_path: str | None) -> str:
        _verify_artifact_path(artifact_path)
        rel = join_path(artifact_path, posixpath.basename(artifact_file_name))
        with _translated():
            return validate_path(rel, what=artifact_file_name)

    # ------------------------------------------------------------------ listing

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, root-relative, sorted; ``[]`` for a file or missing
        path (a missing repository or a wrong endpoint raises instead)."""
        rel = join_path(path)
        with self._calls():
            entries = listing.list_children(self._client, self._location.repo, self._repo_path(rel))
            children = [FileInfo(*child) for child in listing.direct_children(rel, entries or [])]
        if children:
            self._client.learn_repository(self._location.repo)
        else:
            self._nothing_there()
        return children

    def _is_directory(self, artifact_path: str) -> bool:
        with self._calls():
            info = self._client.stat(self._location.repo, self._repo_path(artifact_path))
        return info is not None and info.is_folder

    def _iter_artifacts_recursive(self, path: str) -> Iterator[FileInfo]:
        rel = join_path(path)
        with self._calls():
            tree = listing.list_tree(self._client, self._location.repo, self._repo_path(rel))
            entries = listing.safe_entries(tree or [])
        if not entries:
            self._nothing_there()
            yield FileInfo(path, True, None)
            return
        self._client.learn_repository(self._location.repo)
        self._downloads.remember(rel, entries)
        dst = self._downloads.take_destination()
        if dst is not None:
            self._prefetch_archive(rel, entries, dst)
        yield from (FileInfo(*leaf) for leaf in listing.tree_leaves(rel, entries))

    # ------------------------------------------------------------------ downloads

    def _prefetch_archive(self, rel: str, entries: list[ListEntry], dst: str) -> None:
        """Fetch the folder ``rel`` as one archive when that is allowed and worthwhile;
        :meth:`_download_file` then skips the files it wrote."""
        destination: Callable[..., str] = self._create_download_destination

        def local_path_of(name: str) -> str:  # MLflow's own checks; creates the parent
            return destination(src_artifact_path=join_path(rel, name), dst_local_dir_path=dst)

        folder = self._repo_path(rel)
        with self._calls():
            done = fetch_folder_archive(
                self._client, self._config, self._location.repo, folder, entries, local_path_of
            )
        self._downloads.mark_written(rel, done)

    def download_artifacts(
        self, artifact_path: str | None = None, dst_path: str | None = None
    ) -> str:
        """MLflow's own, with the destination recorded (created as MLflow would when not
        given) so that a folder may first be fetched as one archive; files that failed
        get further passes, and what still fails is reported in one error (nothing of
        it is left on disk)."""
        if not dst_path:
            dst_path = _create_tmp_dir()
        with self._downloads.download(dst_path) as call:
            local = _base_download_artifacts(self, artifact_path, dst_path)
            if not call.failed:
                return local
            what = f"download of '{join_path(self._location.repo, self._repo_path(artifact_path))}'"
            failures, passes = retry_failed(
                call,
                self._fetch,
                workers=self._config.max_workers,
                max_passes=self._config.transfer_passes,
                what=what,
            )
        if not failures:
            return local
        with self._calls():
            if call.attempted == 1 and passes == 1:
                raise failures[0][1]
            raise errors.DownloadIncomplete(
                [(rel, exc) for (rel, _), exc in failures], call.attempted, passes
            ) from failures[0][1]

    def _fetch(
        self,
        rel: str,
        local_path: str,
        hint: ListEntry | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        download.download_file(
            self._client,
            self._location.repo,
            self._repo_path(rel),
            local_path,
            size_hint=hint.size if hint else None,
            checksums=hint.checksums if hint else None,
            progress=progress,
        )

    def _create_download_destination(
        self, src_artifact_path: str, dst_local_dir_path: str | None = None
    ) -> str:
        """MLflow's method, with its directory checks done once per directory (POSIX)."""
        check: Callable[[str, str | None], str] = super()._create_download_destination
        return self._downloads.destination(check, src_artifact_path, dst_local_dir_path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        rel = join_path(remote_file_path)
        hint, written = self._downloads.take(rel, local_path)
        if written:
            return
        call = self._downloads.call_for(local_path)
        with _byte_progress(f"Downloading {rel}") as progress:
            if call is not None:
                call.run(rel, local_path, lambda: self._fetch(rel, local_path, hint, progress))
                return
            with self._calls():
                self._fetch(rel, local_path, hint, progress)

    # ------------------------------------------------------------------ delete

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or folder recursively (through a virtual repository: in its
        members); a missing path is a no-op (a missing repository raises). With
        ARTIFACTORY_ARTIFACTS_DELETE_SKIP true, only a warning is logged.

        Deleting all of a run's (or logged model's) ``artifacts`` folder, as ``mlflow gc``
        does (directly, or through a tracking server in proxy mode), removes the run's own
        folder with it when nothing else is in there, so no empty ``<run_id>/`` is left.
        """
        target = self._repo_path(artifact_path)
        if self._config.delete_skip:
            _logger.warning(
                "ARTIFACTORY_ARTIFACTS_DELETE_SKIP is set: not deleting '%s' in repository '%s'",
                target,
                self._location.repo,
            )
            return
        with self._calls():
            target = deletion.whole_folder(self._client, self._location.repo, target)
            deleted = deletion.delete_tree(self._client, self._location.repo, target)
        if not deleted:
            _logger.debug("nothing to delete at '%s'", target)
            self._nothing_there()


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
