"""HTTP client for the subset of the Artifactory REST API the plugin needs.

This is the only module of :mod:`jfrog_mlflow` that does network I/O, and it never imports
MLflow. One :class:`ArtifactoryClient` owns one ``requests.Session``; it is safe to share
between threads (MLflow downloads on a thread pool, and the tracking server shares one
repository between request threads).

Resilience:

* urllib3 ``Retry`` on the adapter retries connection errors, 429 and 5xx (honouring
  ``Retry-After``) with exponential backoff and jitter, for idempotent methods only (GET,
  HEAD, PUT of known bytes, DELETE). Streamed uploads of unknown bytes are never retried.
* Failures after the response started (truncated body, checksum mismatch) are retried by
  :meth:`ArtifactoryClient.download_file` itself.
* Redirects are followed by hand: credentials go only to the origin the client was built
  for; a hop to another host or scheme is made without our credentials.
* Every response status is checked in :meth:`ArtifactoryClient._check`, the one place that
  turns a status into an :class:`~jfrog_mlflow.errors.ArtifactoryError`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from jfrog_mlflow import __version__
from jfrog_mlflow.auth import auth_from_config
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import (
    ArtifactoryError,
    ConnectError,
    IntegrityError,
    RequestTimeout,
    error_for_status,
)
from jfrog_mlflow.models import (
    Checksums,
    ItemInfo,
    ListEntry,
    build_children_aql,
    parse_aql_children,
    parse_checksums,
    parse_error_message,
    parse_file_list,
    parse_storage_info,
)
from jfrog_mlflow.urls import (
    build_aql_url,
    build_deep_list_url,
    build_item_url,
    build_list_url,
    build_storage_url,
    join_path,
)

__all__ = ["ArtifactoryClient", "hash_file"]

_logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
_MAX_REDIRECTS = 5
_PRO_ONLY_MARKER = "artifactory pro"
_MAX_RETRY_AFTER = 60.0


def hash_file(path: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Return ``(size, sha1, sha256)`` of a local file, reading it in 1 MiB chunks."""
    sha1, sha256 = hashlib.sha1(), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha1.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class _CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` wait is capped, so a server cannot park us."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, _MAX_RETRY_AFTER)


def _retry_policy(config: PluginConfig, *, retries: int) -> Retry:
    return _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=_IDEMPOTENT,
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=config.backoff_factor,
        backoff_jitter=config.backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


class ArtifactoryClient:
    """Artifactory operations on one base URL (``scheme://host[:port]/<context>``).

    Args:
        base_url: Base URL without trailing slash.
        config: Plugin configuration (timeouts, retries, thresholds, credentials).
        auth: Explicit credentials; by default chosen from ``config``, then ``~/.netrc``.
    """

    def __init__(
        self, base_url: str, config: PluginConfig, *, auth: AuthBase | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.config = config
        self._origin = _origin(self.base_url)
        self._auth = auth if auth is not None else auth_from_config(config)
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._session = self._make_session(config.max_retries)
        self._once_session: requests.Session | None = None
        self._lock = threading.Lock()
        self._is_pro: bool | None = None
        self._aql_ok = True

    def __repr__(self) -> str:
        return f"ArtifactoryClient(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ plumbing

    def _make_session(self, retries: int) -> requests.Session:
        session = requests.Session()
        pool = max(self.config.max_workers, 32)
        adapter = HTTPAdapter(
            pool_connections=4,
            pool_maxsize=pool,
            max_retries=_retry_policy(self.config, retries=retries),
        )
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = f"jfrog-mlflow/{__version__}"
        if self.config.ca_bundle:
            session.verify = self.config.ca_bundle
        return session

    def _no_retry_session(self) -> requests.Session:
        with self._lock:
            if self._once_session is None:
                self._once_session = self._make_session(0)
            return self._once_session

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
        if self._once_session is not None:
            self._once_session.close()

    def _request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        data: Any = None,
        stream: bool = False,
        session: requests.Session | None = None,
    ) -> requests.Response:
        """Send one request, following redirects safely; no status check here."""
        sess = session or self._session
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            same_origin = _origin(current) == self._origin
            started = time.monotonic()
            try:
                resp = sess.request(
                    method,
                    current,
                    headers=dict(headers or {}),
                    data=data,
                    stream=stream,
                    timeout=self._timeout,
                    allow_redirects=False,
                    auth=self._auth if same_origin else _NoAuth(),
                )
            except requests.Timeout as exc:
                raise RequestTimeout(
                    f"Artifactory {what} timed out ({type(exc).__name__})", method=method, url=url
                ) from exc
            except requests.RequestException as exc:
                raise ConnectError(
                    f"Artifactory {what} failed: cannot reach {self._origin[1]} "
                    f"({type(exc).__name__})",
                    method=method,
                    url=url,
                ) from exc
            _logger.debug(
                "%s %s -> %s (%.3fs)",
                method,
                urlsplit(current).path,
                resp.status_code,
                time.monotonic() - started,
            )
            location = resp.headers.get("Location")
            if (
                resp.status_code in (301, 302, 303, 307, 308)
                and location
                and method
                in (
                    "GET",
                    "HEAD",
                )
            ):
                resp.close()
                current = urljoin(current, location)
                continue
            return resp
        raise ConnectError(f"Artifactory {what} failed: too many redirects", method=method, url=url)

    @staticmethod
    def _check(
        resp: requests.Response, *, what: str, ok: Iterable[int] = (200,)
    ) -> requests.Response:
        """Raise the matching ArtifactoryError unless the status is in ``ok``."""
        if resp.status_code in tuple(ok):
            return resp
        detail = ""
        try:
            body = resp.content[:65536]
            try:
                detail = parse_error_message(resp.json()) if body.lstrip()[:1] == b"{" else ""
            except ValueError:
                detail = ""
            if not detail:
                ctype = resp.headers.get("Content-Type", "")
                if "html" not in ctype:
                    detail = body.decode("utf-8", "replace").strip()
        except requests.RequestException:
            detail = ""
        finally:
            resp.close()
        raise error_for_status(
            resp.status_code,
            detail or (resp.reason or ""),
            what=what,
            method=resp.request.method or "",
            url=resp.url,
        )

    @staticmethod
    def _json(resp: requests.Response, what: str) -> Any:
        try:
            return resp.json()
        except ValueError as exc:
            raise ArtifactoryError(f"Artifactory {what}: response is not JSON") from exc

    # ------------------------------------------------------------------ metadata

    def stat(self, repo: str, path: str) -> ItemInfo | None:
        """Storage info of ``path`` (one request); ``None`` when it does not exist."""
        what = f"storage info of '{join_path(repo, path)}'"
        resp = self._request("GET", build_storage_url(self.base_url, repo, path), what=what)
        if resp.status_code == 404:
            resp.close()
            return None
        self._check(resp, what=what)
        try:
            return parse_storage_info(self._json(resp, what))
        except ValueError as exc:
            raise ArtifactoryError(f"Artifactory {what}: {exc}") from exc

    @property
    def is_pro(self) -> bool | None:
        """Edition learnt from the first File List call (``None`` = not yet known)."""
        return self._is_pro

    def _file_list(self, url: str, what: str) -> list[ListEntry] | None:
        """GET a File List URL; ``None`` when not a folder; raises _ProOnly on OSS."""
        resp = self._request("GET", url, what=what)
        if resp.status_code == 404:
            resp.close()
            return None
        if resp.status_code == 400:
            try:
                detail = parse_error_message(resp.json())
            except ValueError:
                detail = resp.text
            resp.close()
            if _PRO_ONLY_MARKER in detail.lower():
                self._is_pro = False
                raise _ProOnly()
            return None  # "expected a folder": the path is a file
        self._check(resp, what=what)
        self._is_pro = True
        try:
            return parse_file_list(self._json(resp, what))
        except ValueError as exc:
            raise ArtifactoryError(f"Artifactory {what}: {exc}") from exc

    def list_children(self, repo: str, path: str, *, sizes: bool = True) -> list[ListEntry] | None:
        """Direct children of the folder ``path`` (paths relative to it).

        Returns ``None`` when ``path`` is a file or does not exist. On Pro this is one File
        List request. On OSS it is one AQL search when ``sizes`` is true (then a file or an
        empty folder also gives ``[]``); when AQL is refused (e.g. anonymous access), one
        Folder Info request plus one storage-info request per child file, in parallel.
        """
        what = f"listing of '{join_path(repo, path)}'"
        if self._is_pro is not False:
            try:
                return self._file_list(build_list_url(self.base_url, repo, path), what)
            except _ProOnly:
                pass
        if sizes and self._aql_ok:
            found = self._aql_children(repo, path)
            if found is not None:
                return found
        info = self.stat(repo, path)
        if info is None or not info.is_folder:
            return None
        children = list(info.children)
        if not sizes:
            return children
        files = [c for c in children if not c.is_folder]
        if not files:
            return children

        def fill(entry: ListEntry) -> ListEntry:
            child = self.stat(repo, join_path(path, entry.path))
            if child is None or child.is_folder:
                return entry
            return ListEntry(entry.path, False, child.size, child.checksums)

        with ThreadPoolExecutor(max_workers=min(len(files), self.config.max_workers)) as pool:
            filled = {e.path: e for e in pool.map(fill, files)}
        return [filled.get(c.path, c) for c in children]

    def _aql_children(self, repo: str, path: str) -> list[ListEntry] | None:
        """Children with sizes via AQL; ``None`` (and AQL disabled) when it is refused."""
        what = f"AQL listing of '{join_path(repo, path)}'"
        resp = self._request(
            "POST",
            build_aql_url(self.base_url),
            what=what,
            headers={"Content-Type": "text/plain"},
            data=build_children_aql(repo, path).encode("utf-8"),
        )
        if resp.status_code != 200:
            _logger.debug("AQL unavailable (HTTP %s); listing folder by folder", resp.status_code)
            resp.close()
            self._aql_ok = False
            return None
        try:
            return parse_aql_children(self._json(resp, what))
        except ValueError as exc:
            raise ArtifactoryError(f"Artifactory {what}: {exc}") from exc
        finally:
            resp.close()

    def list_tree(self, repo: str, path: str) -> list[ListEntry] | None:
        """Every file and folder below ``path`` (paths relative to it), or ``None``.

        One deep File List request on Pro; on OSS (learnt from the Pro-only 400, once per
        client) one Folder Info request per folder. Sizes are unknown on OSS.
        """
        what = f"deep listing of '{join_path(repo, path)}'"
        if self._is_pro is not False:
            try:
                return self._file_list(build_deep_list_url(self.base_url, repo, path), what)
            except _ProOnly:
                pass
        info = self.stat(repo, path)
        if info is None or not info.is_folder:
            return None
        result: list[ListEntry] = []
        pending = [("", info.children)]
        while pending:
            prefix, children = pending.pop()
            for child in children:
                rel = join_path(prefix, child.path)
                result.append(ListEntry(rel, child.is_folder))
                if child.is_folder:
                    sub = self.stat(repo, join_path(path, rel))
                    if sub is not None and sub.is_folder:
                        pending.append((rel, sub.children))
        return result

    # ------------------------------------------------------------------ writes

    def deploy_file(self, repo: str, path: str, local_file: str) -> Checksums:
        """Upload a local file to ``path`` with SHA-1/SHA-256 headers.

        Files of at least ``checksum_deploy_threshold`` bytes first try a checksum deploy
        (no body); on 404 they are uploaded normally. The file is hashed first and then
        streamed, so memory stays flat.
        """
        size, sha1, sha256 = hash_file(local_file)
        url = build_item_url(self.base_url, repo, path)
        what = f"upload of '{join_path(repo, path)}'"
        headers = {"X-Checksum-Sha1": sha1, "X-Checksum-Sha256": sha256}
        if size >= self.config.checksum_deploy_threshold:
            resp = self._request(
                "PUT", url, what=what, headers={**headers, "X-Checksum-Deploy": "true"}
            )
            if resp.status_code in (200, 201):
                resp.close()
                _logger.debug("checksum deploy hit for %s", path)
                return Checksums(sha1, sha256)
            if resp.status_code != 404:
                self._check(resp, what=what, ok=(200, 201))
            resp.close()
        with open(local_file, "rb") as body:
            resp = self._request(
                "PUT",
                url,
                what=what,
                headers={**headers, "Content-Type": "application/octet-stream"},
                data=body if size else b"",
            )
        self._check(resp, what=what, ok=(200, 201))
        resp.close()
        return Checksums(sha1, sha256)

    def deploy_stream(self, repo: str, path: str, chunks: Iterable[bytes]) -> Checksums:
        """Upload bytes from an iterator (chunked, never retried), verifying checksums.

        The body is hashed while it streams; the hashes are compared with the checksums
        in the server's ItemCreated response. On mismatch the item is deleted and
        :class:`IntegrityError` raised.
        """
        sha1, sha256 = hashlib.sha1(), hashlib.sha256()

        def body() -> Iterator[bytes]:
            for chunk in chunks:
                if chunk:
                    sha1.update(chunk)
                    sha256.update(chunk)
                    yield chunk

        url = build_item_url(self.base_url, repo, path)
        what = f"upload of '{join_path(repo, path)}'"
        resp = self._request(
            "PUT",
            url,
            what=what,
            headers={"Content-Type": "application/octet-stream"},
            data=body(),
            session=self._no_retry_session(),
        )
        self._check(resp, what=what, ok=(200, 201))
        try:
            reported = parse_checksums(self._json(resp, what).get("checksums"))
        except (AttributeError, ArtifactoryError):
            reported = Checksums()
        finally:
            resp.close()
        local = Checksums(sha1.hexdigest(), sha256.hexdigest())
        if (reported.sha256 and reported.sha256 != local.sha256) or (
            reported.sha1 and reported.sha1 != local.sha1
        ):
            try:
                self.delete(repo, path)
            finally:
                raise IntegrityError(
                    f"Artifactory {what} failed: the server stored different bytes than were "
                    "sent (checksum mismatch); the item was deleted",
                    method="PUT",
                    url=url,
                )
        return local

    def make_folder(self, repo: str, path: str) -> None:
        """Create the folder ``path`` and its parents (idempotent)."""
        what = f"folder creation of '{join_path(repo, path)}'"
        resp = self._request(
            "PUT", build_item_url(self.base_url, repo, path, folder=True), what=what
        )
        self._check(resp, what=what, ok=(200, 201))
        resp.close()

    def delete(self, repo: str, path: str) -> bool:
        """Delete a file or folder (recursively); ``False`` when it did not exist."""
        what = f"delete of '{join_path(repo, path)}'"
        url = build_item_url(self.base_url, repo, path, folder=not path)
        resp = self._request("DELETE", url, what=what)
        if resp.status_code == 404:
            resp.close()
            return False
        self._check(resp, what=what, ok=(200, 202, 204))
        resp.close()
        return True

    # ------------------------------------------------------------------ downloads

    def download_file(
        self, repo: str, path: str, local_path: str, *, size_hint: int | None = None
    ) -> None:
        """Download ``path`` to ``local_path`` atomically, verifying the checksum.

        Bytes go to a temporary file beside the target, renamed on success; on any failure
        no file is left. Files of at least ``range_download_threshold`` bytes are fetched as
        parallel byte ranges. Truncated bodies and checksum mismatches are retried.

        Raises:
            ArtifactNotFound: the file does not exist.
            IntegrityError: the checksum never matched.
        """
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                self._download_once(repo, path, local_path, size_hint)
                return
            except (IntegrityError, ConnectError, RequestTimeout) as exc:
                if attempt + 1 >= attempts:
                    raise
                delay = self.config.backoff_factor * (2**attempt) + random.uniform(
                    0, self.config.backoff_factor
                )
                _logger.debug("retrying download of %s in %.2fs: %s", path, delay, exc)
                time.sleep(min(delay, 30.0))

    def _download_once(self, repo: str, path: str, local_path: str, size_hint: int | None) -> None:
        url = build_item_url(self.base_url, repo, path)
        what = f"download of '{join_path(repo, path)}'"
        directory = os.path.dirname(os.path.abspath(local_path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".jfrog-mlflow-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                threshold = self.config.range_download_threshold
                if size_hint is not None and size_hint >= threshold:
                    expected = self._ranged(url, what, out, size_hint, None)
                else:
                    expected = self._streamed(url, what, out, threshold)
            _verify(tmp, expected, what)
            os.replace(tmp, local_path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _streamed(self, url: str, what: str, out: IO[bytes], threshold: int) -> Checksums:
        resp = self._request("GET", url, what=what, stream=True)
        try:
            self._check(resp, what=what)
            expected = _header_checksums(resp.headers)
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if (
                total is not None
                and total >= threshold
                and resp.headers.get("Accept-Ranges", "").lower() == "bytes"
            ):
                resp.close()
                return self._ranged(url, what, out, total, expected)
            written = 0
            try:
                for chunk in resp.iter_content(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
            except requests.RequestException as exc:
                raise ConnectError(
                    f"Artifactory {what} failed: connection broken mid-transfer "
                    f"({type(exc).__name__})"
                ) from exc
            if total is not None and written != total:
                raise IntegrityError(
                    f"Artifactory {what} failed: received {written} of {total} bytes"
                )
            return expected
        finally:
            resp.close()

    def _ranged(
        self, url: str, what: str, out: IO[bytes], size: int, expected: Checksums | None
    ) -> Checksums:
        out.truncate(size)
        out.flush()
        chunk = max(self.config.range_chunk_size, 1)
        ranges = [(start, min(start + chunk, size) - 1) for start in range(0, size, chunk)]
        reported: list[Checksums] = []
        lock = threading.Lock()
        fd = out.fileno()

        def fetch(span: tuple[int, int]) -> None:
            start, end = span
            resp = self._request(
                "GET", url, what=what, headers={"Range": f"bytes={start}-{end}"}, stream=True
            )
            try:
                self._check(resp, what=what, ok=(206,))
                with lock:
                    reported.append(_header_checksums(resp.headers))
                offset = start
                try:
                    for data in resp.iter_content(_CHUNK):
                        os.pwrite(fd, data, offset)
                        offset += len(data)
                except requests.RequestException as exc:
                    raise ConnectError(
                        f"Artifactory {what} failed: connection broken mid-range "
                        f"({type(exc).__name__})"
                    ) from exc
                if offset != end + 1:
                    raise IntegrityError(
                        f"Artifactory {what} failed: byte range {start}-{end} came back short"
                    )
            finally:
                resp.close()

        workers = max(1, min(len(ranges), self.config.max_workers))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jfrog-range") as pool:
            for future in [pool.submit(fetch, span) for span in ranges]:
                future.result()
        if expected is not None:
            return expected
        return reported[0] if reported else Checksums()


class _ProOnly(Exception):
    """Internal signal: the server answered that File List needs Artifactory Pro."""


class _NoAuth(AuthBase):
    """Explicitly send no credentials (also stops requests from adding .netrc ones)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


def _header_checksums(headers: Mapping[str, str]) -> Checksums:
    sha1 = headers.get("X-Checksum-Sha1")
    sha256 = headers.get("X-Checksum-Sha256")
    return Checksums(sha1.lower() if sha1 else None, sha256.lower() if sha256 else None)


def _verify(path: str, expected: Checksums, what: str) -> None:
    algo: Callable[[], Any]
    if expected.sha256:
        algo, want = hashlib.sha256, expected.sha256
    elif expected.sha1:
        algo, want = hashlib.sha1, expected.sha1
    else:
        _logger.debug("no checksum reported for %s; not verified", what)
        return
    digest = algo()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != want:
        raise IntegrityError(
            f"Artifactory {what} failed: checksum mismatch (server reported {want}, "
            f"received {digest.hexdigest()})"
        )
