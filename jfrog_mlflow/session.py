"""The ``requests`` session behind :class:`~jfrog_mlflow.client.ArtifactoryClient`.

Owns the transport settings and nothing else: the connection pool (sized to at least the
worker count, so parallel transfers reuse keep-alive connections instead of opening new
ones), the urllib3 retry policy, the send block size and the User-Agent. No MLflow import.

Retries: connection errors, 429 and 5xx are retried by urllib3 with exponential backoff and
jitter, honouring ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER` seconds), for
idempotent methods only.

Block size: urllib3 sends a file body in blocks of 16 KiB by default, one ``send`` call
each; :data:`SEND_BLOCKSIZE` (1 MiB) cuts the number of system calls and Python-level loop
iterations of a large upload by 64.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from jfrog_mlflow import __version__
from jfrog_mlflow.config import PluginConfig

__all__ = [
    "MAX_RETRY_AFTER",
    "SEND_BLOCKSIZE",
    "CappedRetry",
    "NoAuth",
    "make_session",
    "origin",
    "pool_size",
    "retry_policy",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
MAX_RETRY_AFTER = 60.0
SEND_BLOCKSIZE = 1024 * 1024
_MIN_POOL = 32


def origin(url: str) -> tuple[str, str]:
    """``(scheme, netloc)`` of ``url``, lower-cased: what credentials are bound to."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def pool_size(config: PluginConfig) -> int:
    """Connections kept per host: never fewer than the threads that may use them."""
    return max(config.max_workers, _MIN_POOL)


class CappedRetry(Retry):
    """urllib3 ``Retry`` whose ``Retry-After`` wait is capped, so a server cannot park us."""

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        return None if value is None else min(value, MAX_RETRY_AFTER)


def retry_policy(config: PluginConfig, *, retries: int) -> Retry:
    """The adapter-level retry policy (idempotent methods only)."""
    return CappedRetry(
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


class _BigBlockAdapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections send file bodies in :data:`SEND_BLOCKSIZE` blocks."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", SEND_BLOCKSIZE)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def make_session(config: PluginConfig, *, retries: int) -> requests.Session:
    """A session with our pool, retry policy, block size, CA bundle and User-Agent."""
    session = requests.Session()
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
