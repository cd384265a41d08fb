"""HTTP client for the subset of the Artifactory REST API the plugin needs.

The bottom of the plugin's network layer: every request goes through
:meth:`ArtifactoryClient.request`. The operations built on it (:mod:`jfrog_mlflow.listing`,
:mod:`jfrog_mlflow.download`, :mod:`jfrog_mlflow.upload`, :mod:`jfrog_mlflow.archives`)
import this module, never the reverse; none of them imports MLflow. One
:class:`ArtifactoryClient` owns one ``requests.Session``; it is safe to share between
threads (MLflow downloads on a thread pool, and the tracking server shares one repository
between request threads). :func:`shared_client` hands out one client per base URL and
configuration, so the many repository objects MLflow builds reuse connections.

Resilience:

* urllib3 ``Retry`` on the adapter (see :mod:`jfrog_mlflow.session`) retries connection
  errors, 429 and 5xx (honouring ``Retry-After``) with exponential backoff and jitter, for
  idempotent methods only (GET, HEAD, PUT of known bytes, DELETE). Streamed uploads of
  unknown bytes are never retried.
* urllib3 stops at the headers. A body that breaks off afterwards (connection reset,
  truncation, a JSON document cut short) raises :class:`~jfrog_mlflow.errors.ResponseBroken`,
  which :meth:`ArtifactoryClient.with_retries` retries through the same urllib3 policy
  (budget, backoff, jitter, the WARNING line per retry) for every idempotent operation;
  downloads also retry checksum and length mismatches.
* A request that got no response fails with its cause named (:mod:`jfrog_mlflow.causes`);
  a refused credential names the variable it came from (and, on a tracking server, says
  that it is the server's own credential). A token read from
  ``MLFLOW_ARTIFACTORY_TOKEN_FILE`` is read again after a 401 and the request repeated
  once when the file now holds another token.
* Redirects are followed by hand: credentials go only to the origin the client was built
  for; a hop to another host or scheme is made without our credentials.
* Every response status is checked in :meth:`ArtifactoryClient.check`, the one place that
  turns a status into an :class:`~jfrog_mlflow.errors.ArtifactoryError`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from jfrog_mlflow.auth import FileTokenAuth, auth_from_config, refused_credential_hint
from jfrog_mlflow.causes import body_error, transport_error
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import (
    ArtifactoryError,
    AuthenticationFailed,
    ConfigurationError,
    ConnectError,
    ResponseBroken,
    UnexpectedResponse,
    error_for_status,
)
from jfrog_mlflow.models import ItemInfo, error_detail, parse_storage_info
from jfrog_mlflow.session import (
    IDEMPOTENT,
    NoAuth,
    environment_key,
    make_session,
    next_retry,
    origin,
    retry_policy,
)
from jfrog_mlflow.urls import build_item_url, build_storage_url, join_path

__all__ = ["ArtifactoryClient", "shared_client"]

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

_CHUNK = 1024 * 1024
_MAX_REDIRECTS = 5
_BAD_CREDENTIALS = "bad credentials"


class _Feature:
    """A server capability that starts on and, once refused, stays off for a while.

    ``recheck_after`` seconds after the refusal the feature is tried again (one request),
    so a long-running process (``mlflow server``) notices when an admin turns it on.
    Thread-safe.
    """

    def __init__(self, what: str, recheck_after: float = 600.0) -> None:
        self.what = what
        self.recheck_after = recheck_after
        self._off_since: float | None = None
        self._lock = threading.Lock()

    @property
    def on(self) -> bool:
        off_since = self._off_since
        return off_since is None or time.monotonic() - off_since >= self.recheck_after

    def switch_off(self, host: str, why: str) -> None:
        with self._lock:
            if self._off_since is None:
                _logger.info(
                    "%s off for %s (rechecked after %.0f s): %s",
                    self.what,
                    host,
                    self.recheck_after,
                    why,
                )
            self._off_since = time.monotonic()


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
        self._origin = origin(self.base_url)
        self._auth = auth if auth is not None else auth_from_config(config)
        self._timeout = (config.connect_timeout, config.read_timeout)
        self._session = self._make_session(config.max_retries)
        self._once_session: requests.Session | None = None
        self._lock = threading.Lock()
        self._is_pro: bool | None = None
        self._aql_ok = True
        #: Learnt refusals of the archive features (see :mod:`jfrog_mlflow.archives`).
        self._explode = _Feature("archive uploads")
        self._folder_download = _Feature("folder archive downloads")
        #: Repositories known to exist (see :mod:`jfrog_mlflow.diagnose`).
        self._known_repos: set[str] = set()
        #: The policy :meth:`with_retries` drives: the adapter's, for any method (its
        #: callers vouch that the operation may be repeated).
        self._call_retry = retry_policy(config, retries=config.max_retries).new(
            allowed_methods=None
        )

    def __repr__(self) -> str:
        return f"ArtifactoryClient(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ plumbing

    def _make_session(self, retries: int) -> requests.Session:
        return make_session(self.config, retries=retries)

    def no_retry_session(self) -> requests.Session:
        with self._lock:
            if self._once_session is None:
                self._once_session = self._make_session(0)
            return self._once_session

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()
        if self._once_session is not None:
            self._once_session.close()

    @property
    def host(self) -> str:
        """``host[:port]`` of the base URL (for messages)."""
        return self._origin[1]

    def with_retries(
        self,
        what: str,
        call: Callable[[], _T],
        *,
        retry_on: tuple[type[BaseException], ...] = (ResponseBroken,),
    ) -> _T:
        """Run ``call``, retrying ``retry_on`` errors under the urllib3 retry policy.

        For idempotent operations only: ``call`` must be safe to repeat from the start.
        Makes at most ``max_retries + 1`` attempts (a timeout is retried once, see
        :mod:`jfrog_mlflow.session`); the last error propagates unchanged. A
        :class:`~jfrog_mlflow.errors.TransportError` that urllib3 already retried
        (``exhausted``) propagates at once, so the budget is not spent twice.
        """
        retry: Retry = self._call_retry
        while True:
            try:
                return call()
            except retry_on as exc:
                if getattr(exc, "exhausted", False):
                    raise
                following = next_retry(retry, exc, what)
                if following is None:
                    raise
                retry = following
            retry.sleep()

    def request(
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
        """Send one request, following redirects safely; no status check here.

        Unless ``stream`` is set the body is read here; a body that breaks off raises
        :class:`ResponseBroken` (retry it with :meth:`with_retries`).
        """
        sess = session or self._session
        # urllib3 has retried connection errors and timeouts of idempotent methods on the
        # default session already: an error left over means that budget is spent.
        exhausted = sess is self._session and self.config.max_retries > 0 and method in IDEMPOTENT
        current = url
        refreshed = False
        hops = 0
        while hops <= _MAX_REDIRECTS:
            same_origin = origin(current) == self._origin
            started = time.monotonic()
            try:
                resp = sess.request(
                    method,
                    current,
                    headers=dict(headers or {}),
                    data=data,
                    stream=True,
                    timeout=self._timeout,
                    allow_redirects=False,
                    auth=self._auth if same_origin else NoAuth(),
                )
            except requests.RequestException as exc:
                raise transport_error(
                    exc,
                    what=what,
                    host=urlsplit(current).netloc or self.host,
                    config=self.config,
                    method=method,
                    url=url,
                    exhausted=exhausted,
                ) from exc
            except OSError as exc:
                # requests checks the CA bundle path before connecting and raises a bare
                # OSError (urllib3 wraps every socket error, so nothing else arrives here).
                raise ConfigurationError(
                    f"Artifactory {what} failed: the TLS CA bundle cannot be used; check "
                    f"REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE): {exc}",
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
            if (
                resp.status_code == 401
                and same_origin
                and not refreshed
                and self._token_rotated(resp, data)
            ):
                refreshed = True
                resp.close()
                continue
            location = resp.headers.get("Location")
            if (
                resp.status_code in (301, 302, 303, 307, 308)
                and location
                and method in ("GET", "HEAD")
            ):
                resp.close()
                current = urljoin(current, location)
                hops += 1
                continue
            if not stream:
                try:
                    resp.content  # noqa: B018 - reads and caches the whole body
                except requests.RequestException as exc:
                    resp.close()
                    raise self.broken(resp, what, exc) from exc
            return resp
        raise ConnectError(f"Artifactory {what} failed: too many redirects", method=method, url=url)

    def _token_rotated(self, resp: requests.Response, data: Any) -> bool:
        """After a 401: whether the token file now holds another token and the request
        can be sent again (its body is bytes, absent, or a file that can be rewound)."""
        if not isinstance(self._auth, FileTokenAuth):
            return False
        sent = resp.request.headers.get("Authorization") if resp.request is not None else None
        if not self._auth.refresh(sent if isinstance(sent, str) else None):
            return False
        if data is None or isinstance(data, bytes | bytearray):
            return True
        seek = getattr(data, "seek", None)
        if callable(seek):
            seek(0)
            return True
        return False  # a stream of unknown bytes cannot be sent twice

    def broken(self, resp: requests.Response, what: str, exc: BaseException) -> ResponseBroken:
        """The error for a response whose body broke off (or stalled) while being read."""
        return body_error(
            exc,
            what=what,
            host=urlsplit(resp.url).netloc or self.host,
            config=self.config,
            method=resp.request.method if resp.request is not None else None,
            url=resp.url,
        )

    def iter_body(self, resp: requests.Response, what: str) -> Iterator[bytes]:
        """Iterate over a streamed body in 1 MiB chunks; a break raises ResponseBroken."""
        try:
            yield from resp.iter_content(_CHUNK)
        except requests.RequestException as exc:
            raise self.broken(resp, what, exc) from exc

    def check(
        self, resp: requests.Response, *, what: str, ok: Iterable[int] = (200,)
    ) -> requests.Response:
        """Raise the matching ArtifactoryError unless the status is in ``ok``.

        A 401, or a 403 whose message is ``Bad credentials`` (an API key refused through
        ``X-JFrog-Art-Api``), is an :class:`AuthenticationFailed` naming the credential
        variable in use (see :func:`~jfrog_mlflow.auth.refused_credential_hint`).
        """
        if resp.status_code in tuple(ok):
            return resp
        try:
            detail = error_detail(resp.content, resp.headers.get("Content-Type", ""))
        except requests.RequestException:
            detail = ""
        finally:
            resp.close()
        error = error_for_status(
            resp.status_code,
            detail or (resp.reason or ""),
            what=what,
            method=resp.request.method or "",
            url=resp.url,
        )
        if resp.status_code == 401 or (
            resp.status_code == 403 and _BAD_CREDENTIALS in detail.lower()
        ):
            error = AuthenticationFailed(
                f"{error.message}; {refused_credential_hint(self.config)}",
                status_code=error.status_code,
                detail=error.detail,
                method=error.method,
                url=error.url,
            )
        raise error

    def read_json(self, resp: requests.Response, what: str, parse: Callable[[Any], _T]) -> _T:
        """Parse the JSON body of a (non-streamed) response with ``parse``.

        A body that starts like JSON but does not decode was cut short: that raises
        :class:`ResponseBroken`, so it is retried. A body that is not JSON at all, or JSON
        that ``parse`` rejects (``ValueError``), raises :class:`ArtifactoryError`.
        """
        try:
            data = resp.json()
        except ValueError as exc:
            if resp.content.lstrip()[:1] in (b"", b"{", b"["):
                raise self.broken(resp, what, exc) from exc
            kind = "an HTML page" if b"<html" in resp.content[:2048].lower() else "not JSON"
            raise UnexpectedResponse(
                f"Artifactory {what}: the response from {self.host} is {kind}",
                method=resp.request.method if resp.request is not None else None,
                url=resp.url,
            ) from exc
        try:
            return parse(data)
        except ValueError as exc:
            raise ArtifactoryError(f"Artifactory {what}: {exc}") from exc

    # ------------------------------------------------------------------ metadata

    def stat(self, repo: str, path: str) -> ItemInfo | None:
        """Storage info of ``path`` (one request); ``None`` when it does not exist."""
        what = f"storage info of '{join_path(repo, path)}'"
        url = build_storage_url(self.base_url, repo, path)

        def once() -> ItemInfo | None:
            resp = self.request("GET", url, what=what)
            if resp.status_code == 404:
                resp.close()
                return None
            self.check(resp, what=what)
            return self.read_json(resp, what, parse_storage_info)

        return self.with_retries(what, once)

    # ------------------------------------------------------------------ learnt about the server

    def repository_known(self, repo: str) -> bool:
        """Whether ``repo`` is known to exist on this server."""
        return repo in self._known_repos

    def learn_repository(self, repo: str) -> None:
        """Record that ``repo`` exists (learnt from an answer about it)."""
        self._known_repos.add(repo)

    @property
    def is_pro(self) -> bool | None:
        """Edition learnt from the first File List call (``None`` = not yet known)."""
        return self._is_pro

    def learn_edition(self, is_pro: bool) -> None:
        """Record the edition (see :mod:`jfrog_mlflow.listing`)."""
        self._is_pro = is_pro

    @property
    def aql_supported(self) -> bool:
        """False once this server refused an AQL search (e.g. anonymous access)."""
        return self._aql_ok

    def disable_aql(self) -> None:
        """List folder by folder from now on (AQL was refused)."""
        self._aql_ok = False

    @property
    def explode_supported(self) -> bool:
        """False for a while after an explode deploy was refused or ignored by this server."""
        return self._explode.on

    def disable_explode(self, why: str) -> None:
        """Stop batching uploads into archives on this client for a while (thread-safe)."""
        self._explode.switch_off(self.host, why)

    @property
    def folder_download_supported(self) -> bool:
        """False for a while after a folder archive download was refused as disabled."""
        return self._folder_download.on

    def disable_folder_download(self, why: str) -> None:
        """Stop asking this server for folder archives for a while (thread-safe)."""
        self._folder_download.switch_off(self.host, why)

    # ------------------------------------------------------------------ writes

    def make_folder(self, repo: str, path: str) -> None:
        """Create the folder ``path`` and its parents (idempotent)."""
        what = f"folder creation of '{join_path(repo, path)}'"
        url = build_item_url(self.base_url, repo, path, folder=True)

        def once() -> None:
            self.check(self.request("PUT", url, what=what), what=what, ok=(200, 201)).close()

        self.with_retries(what, once)

    def delete(self, repo: str, path: str) -> bool:
        """Delete a file or folder (recursively); ``False`` when it did not exist."""
        what = f"delete of '{join_path(repo, path)}'"
        url = build_item_url(self.base_url, repo, path, folder=not path)

        def once() -> bool:
            resp = self.request("DELETE", url, what=what)
            if resp.status_code == 404:
                resp.close()
                return False
            self.check(resp, what=what, ok=(200, 202, 204)).close()
            return True

        return self.with_retries(what, once)


_CLIENTS: dict[tuple[str, PluginConfig, tuple[str | None, ...]], ArtifactoryClient] = {}
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def shared_client(base_url: str, config: PluginConfig) -> ArtifactoryClient:
    """One client (session, connection pool, learnt edition) per base URL and config.

    MLflow builds a repository per run and logged model; sharing the client lets them reuse
    connections. The key includes the proxy and CA variables the session caches, so a
    process that changes them gets a fresh client. Construction does no I/O.
    """
    key = (base_url, config, environment_key())
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            if len(_CLIENTS) >= _MAX_CLIENTS:
                _CLIENTS.pop(next(iter(_CLIENTS)))  # oldest; still usable by its holders
            client = _CLIENTS[key] = ArtifactoryClient(base_url, config)
        return client
