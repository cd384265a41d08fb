"""Configuration of the ``artifactory://`` artifact repository, read once from the environment.

This is the only module of :mod:`jfrog_mlflow` that reads ``os.environ``. Everything else
receives a frozen :class:`PluginConfig`.

Environment variables
=====================

======================================  ===============  =====================================
Variable                                Default          Meaning
======================================  ===============  =====================================
MLFLOW_ARTIFACTORY_ENDPOINT_URL         (unset)          Base URL incl. context path, e.g.
                                                         ``https://host/artifactory``. Enables
                                                         the short URI form; its host is trusted.
MLFLOW_ARTIFACTORY_REPO                 (unset)          Repository key for short-form URIs. If
                                                         unset the first path segment is the key.
MLFLOW_ARTIFACTORY_TOKEN                (unset)          Access token, sent as ``Bearer``.
MLFLOW_ARTIFACTORY_KEY                  (unset)          API key / reference token, sent as
                                                         ``X-JFrog-Art-Api``; a JWT-looking value
                                                         (``eyJ...`` or three base64url parts
                                                         joined by dots) is sent as ``Bearer``.
MLFLOW_ARTIFACTORY_USER                 (unset)          User for Basic auth (needs PASSWORD).
MLFLOW_ARTIFACTORY_PASSWORD             (unset)          Password or token for Basic auth.
ARTIFACTORY_AUTH_TOKEN                  (unset)          JFrog plugin compatibility: ``Bearer``.
ARTIFACTORY_NO_SSL                      false            Full-form URIs use ``http`` not ``https``.
ARTIFACTORY_ARTIFACTS_DELETE_SKIP       false            ``delete_artifacts`` logs and does nothing.
MLFLOW_ARTIFACTORY_ALLOWED_HOSTS        (empty)          Comma list of extra trusted hosts
                                                         (``host`` or ``host:port``; IPv6
                                                         ``::1``, ``[::1]`` or ``[::1]:port``).
REQUESTS_CA_BUNDLE                      (unset)          CA bundle used to verify TLS.
MLFLOW_ARTIFACTORY_MAX_WORKERS          32               Parallel uploads, downloads (MLflow's
                                                         download pool) and range chunks; the
                                                         HTTP pool holds at least this many
                                                         connections.
MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT      10               Seconds to establish a connection.
MLFLOW_ARTIFACTORY_TIMEOUT              120              Seconds to wait for response bytes.
MLFLOW_ARTIFACTORY_MAX_RETRIES          5                Retries of idempotent requests.
MLFLOW_ARTIFACTORY_BACKOFF_FACTOR       0.5              Exponential backoff base (seconds).
MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD  1048576    Files at least this big try checksum
                                                         deploy first.
MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD 2147483648 Files at least this big download as
                                                         parallel byte ranges (below it, one
                                                         stream, written and hashed on helper
                                                         threads, is as fast on a LAN).
MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE     16777216         Size of one byte range.
MLFLOW_ARTIFACTORY_BATCH_UPLOAD         auto             ``auto``: on Artifactory Pro,
                                                         ``log_artifacts`` packs small files
                                                         into tar archives deployed with
                                                         ``X-Explode-Archive-Atomic``; ``off``:
                                                         one request per file.
MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD      auto             ``auto``: on Pro, a folder download
                                                         first asks for the folder as one tar
                                                         archive (needs "Folder Download"
                                                         enabled by the admin; falls back
                                                         per file); ``off``: never.
MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD 1048576          Files up to this size are batched.
MLFLOW_ARTIFACTORY_BATCH_MIN_FILES      8                Fewest files that make an archive
                                                         transfer worthwhile (both ways).
MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD_MAX_SIZE 268435456    Largest folder (total bytes) fetched
                                                         as one archive.
======================================  ===============  =====================================

Booleans accept ``true/false/1/0/yes/no`` in any case; modes (``..._BATCH_UPLOAD``,
``..._FOLDER_DOWNLOAD``) accept ``auto`` or ``off`` in any case; anything else is an error
naming the variable. Numbers must parse and be positive.

Credential precedence (the first that is set wins; the others are ignored):

1. ``MLFLOW_ARTIFACTORY_TOKEN`` (Bearer)
2. ``MLFLOW_ARTIFACTORY_KEY`` (``X-JFrog-Art-Api``, or Bearer when it is a JWT)
3. ``MLFLOW_ARTIFACTORY_USER`` + ``MLFLOW_ARTIFACTORY_PASSWORD`` (Basic)
4. ``ARTIFACTORY_AUTH_TOKEN`` (Bearer; JFrog plugin compatibility)
5. ``~/.netrc`` entry for the host (via requests)
6. anonymous

Trusted hosts (where credentials may be sent): the host of
``MLFLOW_ARTIFACTORY_ENDPOINT_URL``, every entry of ``MLFLOW_ARTIFACTORY_ALLOWED_HOSTS`` and,
inside an ``mlflow server`` process, the hosts of ``_MLFLOW_SERVER_ARTIFACT_DESTINATION`` and
``_MLFLOW_SERVER_ARTIFACT_ROOT`` when they are ``artifactory://`` URIs. A URI naming any other
host is refused before any request. When none of these is configured (a plain client set up
like JFrog's plugin, with only ``ARTIFACTORY_AUTH_TOKEN``), the host named by a full-form URI is
treated as the configured endpoint and trusted: set ``MLFLOW_ARTIFACTORY_ENDPOINT_URL`` or
``MLFLOW_ARTIFACTORY_ALLOWED_HOSTS`` to pin hosts on clients that read runs created by others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jfrog_mlflow.errors import ConfigurationError

__all__ = ["PluginConfig", "parse_bool", "parse_mode"]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

_MODES = {"auto": True, "off": False}

_SERVER_URI_VARS = ("_MLFLOW_SERVER_ARTIFACT_DESTINATION", "_MLFLOW_SERVER_ARTIFACT_ROOT")


def parse_bool(name: str, value: str | None, default: bool) -> bool:
    """Parse a boolean environment value, raising :class:`ConfigurationError` on junk."""
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(
        f"Invalid value for environment variable {name}: expected one of true/false/1/0/yes/no"
    )


def parse_mode(name: str, value: str | None) -> bool:
    """Parse an ``auto``/``off`` switch (``True`` for ``auto``, the default)."""
    if value is None or value.strip() == "":
        return True
    lowered = value.strip().lower()
    if lowered in _MODES:
        return _MODES[lowered]
    raise ConfigurationError(
        f"Invalid value for environment variable {name}: expected 'auto' or 'off'"
    )


def _parse_number(name: str, value: str | None, default: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigurationError(
            f"Invalid value for environment variable {name}: expected a number"
        ) from None
    if number <= 0:
        raise ConfigurationError(
            f"Invalid value for environment variable {name}: must be greater than 0"
        )
    return number


def _parse_int(name: str, value: str | None, default: int, *, allow_zero: bool = False) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigurationError(
            f"Invalid value for environment variable {name}: expected an integer"
        ) from None
    if number < 0 or (number == 0 and not allow_zero):
        raise ConfigurationError(
            f"Invalid value for environment variable {name}: must be a positive integer"
        )
    return number


def _parse_endpoint(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    endpoint = value.strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            "Invalid value for environment variable MLFLOW_ARTIFACTORY_ENDPOINT_URL: expected "
            "an http(s) URL such as https://host/artifactory"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "MLFLOW_ARTIFACTORY_ENDPOINT_URL must not contain credentials; set "
            "MLFLOW_ARTIFACTORY_USER and MLFLOW_ARTIFACTORY_PASSWORD instead"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            "MLFLOW_ARTIFACTORY_ENDPOINT_URL must not contain a query or fragment"
        )
    return endpoint


def _parse_hosts(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(h.strip().lower() for h in value.split(",") if h.strip())


def _empty_to_none(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    return value.strip()


@dataclass(frozen=True, slots=True)
class PluginConfig:
    """Immutable plugin configuration. Secrets are excluded from ``repr``."""

    #: MLFLOW_ARTIFACTORY_ENDPOINT_URL, without trailing slash.
    endpoint_url: str | None = None
    #: MLFLOW_ARTIFACTORY_REPO.
    repo: str | None = None
    #: MLFLOW_ARTIFACTORY_TOKEN.
    token: str | None = field(default=None, repr=False)
    #: MLFLOW_ARTIFACTORY_KEY.
    api_key: str | None = field(default=None, repr=False)
    #: MLFLOW_ARTIFACTORY_USER.
    user: str | None = None
    #: MLFLOW_ARTIFACTORY_PASSWORD.
    password: str | None = field(default=None, repr=False)
    #: ARTIFACTORY_AUTH_TOKEN.
    compat_token: str | None = field(default=None, repr=False)
    #: ARTIFACTORY_NO_SSL.
    no_ssl: bool = False
    #: ARTIFACTORY_ARTIFACTS_DELETE_SKIP.
    delete_skip: bool = False
    #: MLFLOW_ARTIFACTORY_ALLOWED_HOSTS, lower-cased.
    allowed_hosts: tuple[str, ...] = ()
    #: artifactory:// URIs the mlflow server was started with (_MLFLOW_SERVER_ARTIFACT_*).
    server_artifact_uris: tuple[str, ...] = ()
    #: REQUESTS_CA_BUNDLE.
    ca_bundle: str | None = None
    #: MLFLOW_ARTIFACTORY_MAX_WORKERS.
    max_workers: int = 32
    #: MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT.
    connect_timeout: float = 10.0
    #: MLFLOW_ARTIFACTORY_TIMEOUT.
    read_timeout: float = 120.0
    #: MLFLOW_ARTIFACTORY_MAX_RETRIES.
    max_retries: int = 5
    #: MLFLOW_ARTIFACTORY_BACKOFF_FACTOR.
    backoff_factor: float = 0.5
    #: MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD (bytes).
    checksum_deploy_threshold: int = 1024 * 1024
    #: MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD (bytes).
    range_download_threshold: int = 2 * 1024 * 1024 * 1024
    #: MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE (bytes).
    range_chunk_size: int = 16 * 1024 * 1024
    #: MLFLOW_ARTIFACTORY_BATCH_UPLOAD (``auto`` = True, ``off`` = False).
    batch_upload: bool = True
    #: MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD (``auto`` = True, ``off`` = False).
    folder_download: bool = True
    #: MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD (bytes; files up to this size are batched).
    batch_file_threshold: int = 1024 * 1024
    #: MLFLOW_ARTIFACTORY_BATCH_MIN_FILES.
    batch_min_files: int = 8
    #: MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD_MAX_SIZE (bytes).
    folder_download_max_size: int = 256 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PluginConfig:
        """Read and validate the configuration.

        Raises:
            ConfigurationError: naming the offending variable.
        """
        env = environ.get
        user = _empty_to_none(env("MLFLOW_ARTIFACTORY_USER"))
        password = env("MLFLOW_ARTIFACTORY_PASSWORD") or None
        if user and password is None:
            raise ConfigurationError(
                "MLFLOW_ARTIFACTORY_USER is set but MLFLOW_ARTIFACTORY_PASSWORD is not; set "
                "both for Basic authentication"
            )
        if password is not None and not user:
            raise ConfigurationError(
                "MLFLOW_ARTIFACTORY_PASSWORD is set but MLFLOW_ARTIFACTORY_USER is not; set "
                "both for Basic authentication"
            )
        server_uris = tuple(
            value.strip()
            for name in _SERVER_URI_VARS
            if (value := env(name)) and value.strip().lower().startswith("artifactory:")
        )
        return cls(
            endpoint_url=_parse_endpoint(env("MLFLOW_ARTIFACTORY_ENDPOINT_URL")),
            repo=_empty_to_none(env("MLFLOW_ARTIFACTORY_REPO")),
            token=_empty_to_none(env("MLFLOW_ARTIFACTORY_TOKEN")),
            api_key=_empty_to_none(env("MLFLOW_ARTIFACTORY_KEY")),
            user=user,
            password=password,
            compat_token=_empty_to_none(env("ARTIFACTORY_AUTH_TOKEN")),
            no_ssl=parse_bool("ARTIFACTORY_NO_SSL", env("ARTIFACTORY_NO_SSL"), False),
            delete_skip=parse_bool(
                "ARTIFACTORY_ARTIFACTS_DELETE_SKIP", env("ARTIFACTORY_ARTIFACTS_DELETE_SKIP"), False
            ),
            allowed_hosts=_parse_hosts(env("MLFLOW_ARTIFACTORY_ALLOWED_HOSTS")),
            server_artifact_uris=server_uris,
            ca_bundle=_empty_to_none(env("REQUESTS_CA_BUNDLE")),
            max_workers=_parse_int(
                "MLFLOW_ARTIFACTORY_MAX_WORKERS", env("MLFLOW_ARTIFACTORY_MAX_WORKERS"), 32
            ),
            connect_timeout=_parse_number(
                "MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT",
                env("MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT"),
                10.0,
            ),
            read_timeout=_parse_number(
                "MLFLOW_ARTIFACTORY_TIMEOUT", env("MLFLOW_ARTIFACTORY_TIMEOUT"), 120.0
            ),
            max_retries=_parse_int(
                "MLFLOW_ARTIFACTORY_MAX_RETRIES",
                env("MLFLOW_ARTIFACTORY_MAX_RETRIES"),
                5,
                allow_zero=True,
            ),
            backoff_factor=_parse_number(
                "MLFLOW_ARTIFACTORY_BACKOFF_FACTOR", env("MLFLOW_ARTIFACTORY_BACKOFF_FACTOR"), 0.5
            ),
            checksum_deploy_threshold=_parse_int(
                "MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD",
                env("MLFLOW_ARTIFACTORY_CHECKSUM_DEPLOY_THRESHOLD"),
                1024 * 1024,
            ),
            range_download_threshold=_parse_int(
                "MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD",
                env("MLFLOW_ARTIFACTORY_RANGE_DOWNLOAD_THRESHOLD"),
                2 * 1024 * 1024 * 1024,
            ),
            range_chunk_size=_parse_int(
                "MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE",
                env("MLFLOW_ARTIFACTORY_RANGE_CHUNK_SIZE"),
                16 * 1024 * 1024,
            ),
            batch_upload=parse_mode(
                "MLFLOW_ARTIFACTORY_BATCH_UPLOAD", env("MLFLOW_ARTIFACTORY_BATCH_UPLOAD")
            ),
            folder_download=parse_mode(
                "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD", env("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD")
            ),
            batch_file_threshold=_parse_int(
                "MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD",
                env("MLFLOW_ARTIFACTORY_BATCH_FILE_THRESHOLD"),
                1024 * 1024,
            ),
            batch_min_files=_parse_int(
                "MLFLOW_ARTIFACTORY_BATCH_MIN_FILES", env("MLFLOW_ARTIFACTORY_BATCH_MIN_FILES"), 8
            ),
            folder_download_max_size=_parse_int(
                "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD_MAX_SIZE",
                env("MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD_MAX_SIZE"),
                256 * 1024 * 1024,
            ),
        )

    @property
    def has_credentials(self) -> bool:
        """Whether any explicit credential variable is set (``.netrc`` not counted)."""
        return any((self.token, self.api_key, self.user, self.compat_token))
