"""The ``requests`` session behind :class:`~jfrog_mlflow.client.ArtifactoryClient`.

Owns the transport settings and nothing else: the connection pool (sized to at least the
worker count, so parallel transfers reuse keep-alive connections instead of opening new
ones), the urllib3 retry policy, the send block size and the User-Agent. No MLflow import.

Retries: connection errors, 429 and 5xx are retried by urllib3 with exponential backoff and
jitter, honouring ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER` seconds), for
idempotent methods only. :class:`LoggedRetry` logs every retry at WARNING (attempt, cause,
wait) and retries a timeout only :data:`TIMEOUT_RETRIES` time(s): a server that let one
timeout expire seldom answers the identical next request, and every further try would
cost a whole timeout. So, with the default settings, a stalled server is reported after
``(1 + TIMEOUT_RETRIES) x MLFLOW_ARTIFACTORY_TIMEOUT`` seconds (the first retry has no
backoff), an unroutable one after ``2 x MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT``, and one that
refuses connections after the backoff of ``MLFLOW_ARTIFACTORY_MAX_RETRIES`` retries
(``BACKOFF_FACTOR x (0 + 2 + 4 + ...)``, plus jitter).

Block size: urllib3 sends a file body in blocks of 16 KiB by default, one ``send`` call
each; :data:`SEND_BLOCKSIZE` (1 MiB) cuts the number of system calls and Python-level loop
iterations of a large upload by 64.

Environment settings, once per origin: a plain ``requests`` session re-derives the proxies
(``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY``, by walking all of ``os.environ`` several
times) and the CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``) on every request, and
stats the CA bundle path on every HTTPS request; for a small GET that is a large share of
the client's own CPU time, paid again for every file of a tree. :class:`CachedEnvSession`
asks ``requests`` itself once per ``(scheme, host:port)`` and reuses the answer, and
:class:`_BigBlockAdapter` checks each CA bundle path once. The rules are requests' own;
only a change of those variables (or of the bundle file's existence) after the session's
first request to an origin goes unnoticed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.exceptions import MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from jfrog_mlflow._version import __version__
from jfrog_mlflow.causes import describe_cause, is_timeout
from jfrog_mlflow.config import PluginConfig

if TYPE_CHECKING:  # names that exist only in the type stubs of requests
    from requests.adapters import _HostParams, _PoolKwargs
    from requests.sessions import _Settings

__all__ = [
    "IDEMPOTENT",
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "SEND_BLOCKSIZE",
    "TIMEOUT_RETRIES",
    "CachedEnvSession",
    "LoggedRetry",
    "NoAuth",
    "environment_key",
    "make_session",
    "next_retry",
    "origin",
    "pool_size",
    "retry_policy",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
MAX_RETRY_AFTER = 60.0
SEND_BLOCKSIZE = 1024 * 1024
TIMEOUT_RETRIES = 1
_MIN_POOL = 32

_logger = logging.getLogger("jfrog_mlflow.retry")


def origin(url: str) -> tuple[str, str]:
    """``(scheme, netloc)`` of ``url``, lower-cased: what credentials are bound to."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def pool_size(config: PluginConfig) -> int:
    """Connections kept per host: never fewer than the threads that may use them."""
    return max(config.max_workers, _MIN_POOL)


class LoggedRetry(Retry):
    """urllib3 ``Retry`` that logs each retry, caps ``Retry-After`` (a server cannot park
    us) and retries timeouts at most :data:`TIMEOUT_RETRIES` time(s) per request."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER)

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if error is not None and is_timeout(error):
            timeouts = sum(1 for h in new.history if h.error is not None and is_timeout(h.error))
            if timeouts > TIMEOUT_RETRIES:
                raise MaxRetryError(_pool, url or "", error) from error
        return new

    def sleep(self, response: Any = None) -> None:
        """Wait as urllib3 would (``Retry-After``, else the backoff), saying so first."""
        wait: float | None = None
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
        if not wait:
            wait = self.get_backoff_time()
        last = self.history[-1] if self.history else None
        attempt = len(self.history)
        remaining = self.total if isinstance(self.total, int) else 0
        _logger.warning(
            "Artifactory %s %s: %s; retry %d of %d in %.1f s",
            last.method if last else "request",
            urlsplit(last.url or "").path if last else "",
            describe_cause(last.error if last else None, last.status if last else None),
            attempt,
            attempt + remaining,
            wait,
        )
        if wait > 0:
            time.sleep(wait)


def retry_policy(config: PluginConfig, *, retries: int) -> Retry:
    """The adapter-level retry policy (idempotent methods only)."""
    return LoggedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=config.backoff_factor,
        backoff_jitter=config.backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def next_retry(retry: Retry, exc: BaseException, what: str) -> Retry | None:
    """``retry`` advanced past ``exc``, a failure urllib3 did not see (a body that broke
    off, a checksum mismatch), or ``None`` when the budget is spent.

    ``exc`` is replayed to urllib3 as a read error (a read timeout when it was a timeout,
    so the timeout limit applies); ``retry`` must allow the method (the caller vouches
    that the operation may be repeated).
    """
    url = getattr(exc, "url", None) or what
    error: Exception = (
        ReadTimeoutError(None, url, str(exc))  # type: ignore[arg-type]
        if getattr(exc, "unreachable", False)
        else ProtocolError(str(exc))
    )
    try:
        return retry.increment(method=getattr(exc, "method", None) or "GET", url=url, error=error)
    except (MaxRetryError, ProtocolError, ReadTimeoutError):
        return None


class _PathKinds:
    """``os.path.exists``/``isdir`` of CA bundle and client certificate paths, asked once."""

    def __init__(self) -> None:
        self._kinds: dict[str, tuple[bool, bool]] = {}

    def get(self, path: str) -> tuple[bool, bool]:
        """``(exists, is_dir)`` of ``path``."""
        kind = self._kinds.get(path)
        if kind is None:
            kind = (os.path.exists(path), os.path.isdir(path))
            self._kinds[path] = kind  # a benign race: both threads compute the same answer
        return kind


class _BigBlockAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections send file bodies in :data:`SEND_BLOCKSIZE` blocks,
    and which looks at the file system for a CA bundle or client certificate path once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._paths = _PathKinds()
        super().__init__(*args, **kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", SEND_BLOCKSIZE)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: bool | str,
        cert: str | tuple[str, str] | None = None,
    ) -> tuple[_HostParams, _PoolKwargs]:
        if not isinstance(verify, str):
            return super().build_connection_pool_key_attributes(request, verify, cert)
        # What requests does for a bundle path, without its isdir() on every request.
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, True, cert)
        pool_kwargs["ca_cert_dir" if self._paths.get(verify)[1] else "ca_certs"] = verify
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests' rules (same attributes, same errors), with the path checks cached.
        if cert:
            # Client certificates: requests' own checks, not cached.
            super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
            return
        if verify and url[:5].lower() == "https":
            location = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
            exists, is_dir = self._paths.get(location) if location else (False, False)
            if not exists:
                raise OSError(
                    f"Could not find a suitable TLS CA certificate bundle, invalid path: {location}"
                )
            conn.cert_reqs = "CERT_REQUIRED"
            if is_dir:
                conn.ca_cert_dir = location
            else:
                conn.ca_certs = location
        else:
            conn.cert_reqs = "CERT_NONE"
            conn.ca_certs = None
            conn.ca_cert_dir = None


class CachedEnvSession(requests.Session):
    """A session that derives the environment's settings once per origin.

    ``requests`` answers the question (proxies with ``NO_PROXY``, the CA bundle variables)
    exactly as it would per request; the answer is kept per ``(scheme, host:port)`` for the
    life of the session. Calls that bring their own ``proxies``, ``verify`` or ``cert`` are
    not cached. ``~/.netrc`` is still consulted per request, as requests does, and only when
    no credentials were configured.
    """

    def __init__(self) -> None:
        super().__init__()
        self._env_lock = threading.Lock()
        self._env_settings: dict[tuple[str, str, bool | None], _Settings] = {}

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: bool | str | None,
        cert: str | tuple[str, str] | None,
    ) -> _Settings:
        if proxies or verify is not None or cert is not None or not url:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        text = url.decode("utf-8", "replace") if isinstance(url, bytes) else url
        key = (*origin(text), stream)
        settings = self._env_settings.get(key)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, stream, None, None)
            with self._env_lock:
                self._env_settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


#: The variables :class:`CachedEnvSession` resolves once per origin (either case).
_CACHED_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)


def environment_key() -> tuple[str | None, ...]:
    """The current values of the variables a session caches: part of a client's cache key,
    so a process that changes its proxy or CA settings gets a fresh session."""
    return tuple(os.environ.get(name) for var in _CACHED_ENV for name in (var, var.lower()))


def make_session(config: PluginConfig, *, retries: int) -> requests.Session:
    """A session with our pool, retry policy, block size, CA bundle and User-Agent."""
    session = CachedEnvSession()
    adapter = _BigBlockAdapter(
        pool_connections=4,
        pool_maxsize=pool_size(config),
        max_retries=retry_policy(config, retries=retries),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"jfrog-mlflow/{__version__}"
    if config.ca_bundle:
        session.verify = config.ca_bundle
    return session


class NoAuth(AuthBase):
    """Explicitly send no credentials (also stops requests from adding .netrc ones)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r
