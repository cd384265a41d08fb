"""Configuration of the ``artifactory://`` artifact repository, read once from the environment.

This is the only module of :mod:`jfrog_mlflow` that reads ``os.environ``. Everything else
receives a frozen :class:`PluginConfig`.

Every variable is one row of :data:`SETTINGS`: its name, the :class:`PluginConfig` field
it fills, its parser, its default and a one-line description. :meth:`PluginConfig.from_env`
reads exactly those rows, the dataclass defaults come from them, and a test checks that the
tables of README.md and docs/plugin.md list the same variables with the same defaults.

Adding a setting: add a field to :class:`PluginConfig` (``= _default("<field>")``), a
``Setting`` row, and a row to both documentation tables.

Booleans accept ``true/false/1/0/yes/no`` in any case; modes (``..._BATCH_UPLOAD``,
``..._FOLDER_DOWNLOAD``) accept ``auto`` or ``off`` in any case; anything else is an error
naming the variable. Numbers must parse and be positive.

Credential precedence (the first that is set wins; the others are ignored):

1. ``MLFLOW_ARTIFACTORY_TOKEN`` (Bearer)
2. ``MLFLOW_ARTIFACTORY_TOKEN_FILE`` (Bearer; the file is read when first needed, again
   when it changes and after a 401, so a rotated token is picked up without a restart)
3. ``MLFLOW_ARTIFACTORY_KEY`` (``X-JFrog-Art-Api``, or Bearer when it is a JWT)
4. ``MLFLOW_ARTIFACTORY_USER`` + ``MLFLOW_ARTIFACTORY_PASSWORD`` (Basic)
5. ``ARTIFACTORY_AUTH_TOKEN`` (Bearer; JFrog plugin compatibility)
6. ``~/.netrc`` entry for the host (via requests)
7. anonymous

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jfrog_mlflow.errors import ConfigurationError
from jfrog_mlflow.properties import Properties, parse_static

__all__ = ["SETTINGS", "PluginConfig", "Setting", "parse_bool", "parse_mode"]

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

_MODES = {"auto": True, "off": False}


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


def parse_mode(name: str, value: str | None, default: bool = True) -> bool:
    """Parse an ``auto``/``off`` switch (``True`` for ``auto``)."""
    if value is None or value.strip() == "":
        return default
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


def _parse_count(name: str, value: str | None, default: int) -> int:
    return _parse_int(name, value, default, allow_zero=True)


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


def _parse_endpoint(name: str, value: str | None, default: str | None) -> str | None:
    if value is None or value.strip() == "":
        return default
    endpoint = value.strip().rstrip("/")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"Invalid value for environment variable {name}: expected an http(s) URL such as "
            "https://host/artifactory"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            f"{name} must not contain credentials; set MLFLOW_ARTIFACTORY_USER and "
            "MLFLOW_ARTIFACTORY_PASSWORD instead"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must not contain a query or fragment")
    return endpoint


def _parse_hosts(name: str, value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        return default
    return tuple(h.strip().lower() for h in value.split(",") if h.strip())


def _parse_text(name: str, value: str | None, default: str | None) -> str | None:
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _parse_secret(name: str, value: str | None, default: str | None) -> str | None:
    """Kept exactly as given (a password may start or end with a space)."""
    return value or default


def _parse_artifactory_uri(name: str, value: str | None, default: str | None) -> str | None:
    """An ``artifactory://`` URI; any other value (another store's URI) is ignored."""
    if value and value.strip().lower().startswith("artifactory:"):
        return value.strip()
    return default


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable of the plugin.

    Attributes:
        name: The variable.
        field: The :class:`PluginConfig` attribute it fills.
        parse: ``parse(name, value or None, default)``: the typed value (``default`` when
            the variable is unset or blank); raises :class:`ConfigurationError` naming the
            variable.
        default: The typed default (also the dataclass field's default).
        doc: One line for the reader of this table (the user documentation says more).
        documented: ``False`` for the variables MLflow itself sets, which are not settings
            a user makes and are not in the documentation tables.
    """

    name: str
    field: str
    parse: Callable[[str, str | None, Any], Any]
    default: Any
    doc: str
    documented: bool = True

    def read(self, environ: Mapping[str, str]) -> Any:
        """The typed value of this setting in ``environ``."""
        return self.parse(self.name, environ.get(self.name), self.default)

    @property
    def shown_default(self) -> str | None:
        """The default as the documentation shows it; ``None`` when there is none."""
        value = self.default
        if value is None or value == ():
            return None
        if self.parse is parse_mode:
            return "auto" if value else "off"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


_M = "MLFLOW_ARTIFACTORY_"
_MiB = 1024 * 1024

#: The plugin's environment variables, in the order they are read (the first bad one is
#: reported): name, PluginConfig field, parser, default, description.
# fmt: off
SETTINGS: tuple[Setting, ...] = (
    Setting(f"{_M}ENDPOINT_URL", "endpoint_url", _parse_endpoint, None,
            "Base URL incl. context path (https://host/artifactory); its host is trusted."),
    Setting(f"{_M}REPO", "repo", _parse_text, None,
            "Repository key for short-form URIs (else the first path segment)."),
    Setting(f"{_M}TOKEN", "token", _parse_text, None,
            "Access token, sent as Bearer."),
    Setting(f"{_M}TOKEN_FILE", "token_file", _parse_text, None,
            "File holding an access token (Bearer); re-read when it changes and after a 401."),
    Setting(f"{_M}KEY", "api_key", _parse_text, None,
            "API key or reference token (X-JFrog-Art-Api); a JWT is sent as Bearer."),
    Setting(f"{_M}USER", "user", _parse_text, None,
            "User for Basic auth (needs PASSWORD)."),
    Setting(f"{_M}PASSWORD", "password", _parse_secret, None,
            "Password or token for Basic auth (needs USER)."),
    Setting("ARTIFACTORY_AUTH_TOKEN", "compat_token", _parse_text, None,
            "JFrog plugin compatibility: sent as Bearer."),
    Setting("ARTIFACTORY_NO_SSL", "no_ssl", parse_bool, False,
            "Full-form URIs use http instead of https."),
    Setting("ARTIFACTORY_ARTIFACTS_DELETE_SKIP", "delete_skip", parse_bool, False,
            "delete_artifacts logs and deletes nothing."),
    Setting(f"{_M}ALLOWED_HOSTS", "allowed_hosts", _parse_hosts, (),
            "Comma list of extra hosts trusted with credentials (host or host:port)."),
    Setting("_MLFLOW_SERVER_ARTIFACT_DESTINATION", "server_artifact_destination",
            _parse_artifactory_uri, None,
            "Set by mlflow server (--artifacts-destination); its host is trusted.",
            documented=False),
    Setting("_MLFLOW_SERVER_ARTIFACT_ROOT", "server_artifact_root",
            _parse_artifactory_uri, None,
            "Set by mlflow server (--default-artifact-root); its host is trusted.",
            documented=False),
    Setting("REQUESTS_CA_BUNDLE", "ca_bundle", _parse_text, None,
            "CA bundle used to verify TLS."),
    Setting(f"{_M}MAX_WORKERS", "max_workers", _parse_int, 32,
            "Parallel uploads, downloads and range chunks; the HTTP pool holds as many."),
    Setting(f"{_M}CONNECT_TIMEOUT", "connect_timeout", _parse_number, 10.0,
            "Seconds to open a connection."),
    Setting(f"{_M}TIMEOUT", "read_timeout", _parse_number, 45.0,
            "Seconds to wait for response bytes (a timeout is retried once)."),
    Setting(f"{_M}MAX_RETRIES", "max_retries", _parse_count, 5,
            "Retries of idempotent requests (0: none)."),
    Setting(f"{_M}BACKOFF_FACTOR", "backoff_factor", _parse_number, 0.5,
            "Base of the exponential backoff, in seconds."),
    Setting(f"{_M}TRANSFER_PASSES", "transfer_passes", _parse_int, 3,
            "Passes over the files of a tree transfer that still fail after the retries."),
    Setting(f"{_M}CHECKSUM_DEPLOY_THRESHOLD", "checksum_deploy_threshold", _parse_int, _MiB,
            "Files at least this big try a checksum deploy first."),
    Setting(f"{_M}RANGE_DOWNLOAD_THRESHOLD", "range_download_threshold", _parse_int, 2048 * _MiB,
            "Files at least this big download as parallel byte ranges."),
    Setting(f"{_M}RANGE_CHUNK_SIZE", "range_chunk_size", _parse_int, 16 * _MiB,
            "Size of one byte range."),
    Setting(f"{_M}BATCH_UPLOAD", "batch_upload", parse_mode, True,
            "auto: on Pro, log_artifacts packs small files into exploding archives; off: never."),
    Setting(f"{_M}FOLDER_DOWNLOAD", "folder_download", parse_mode, True,
            "auto: on Pro, a folder download first asks for it in folder archives; off: never."),
    Setting(f"{_M}BATCH_FILE_THRESHOLD", "batch_file_threshold", _parse_int, _MiB,
            "Files up to this size go into upload archives."),
    Setting(f"{_M}BATCH_MIN_FILES", "batch_min_files", _parse_int, 8,
            "Fewest files for which an archive is used (both ways)."),
    Setting(f"{_M}FOLDER_DOWNLOAD_MAX_SIZE", "folder_download_max_size", _parse_int, 256 * _MiB,
            "Most bytes in one folder archive (a larger folder comes in its subfolders')."),
    Setting(f"{_M}SET_PROPERTIES", "set_properties", parse_bool, True,
            "Deployed files carry properties: MLflow ids from the path, and the static ones."),
    Setting(f"{_M}PROPERTIES", "properties", parse_static, (),
            "Static properties for every deployed file: key=value;key2=v1,v2."),
)
# fmt: on

_BY_FIELD = {setting.field: setting for setting in SETTINGS}


def _default(name: str) -> Any:
    """The default of the field ``name`` (from its row in :data:`SETTINGS`)."""
    return _BY_FIELD[name].default


@dataclass(frozen=True, slots=True)
class PluginConfig:
    """Immutable plugin configuration; each field is documented by its row in
    :data:`SETTINGS`. Secrets are excluded from ``repr``."""

    endpoint_url: str | None = _default("endpoint_url")
    repo: str | None = _default("repo")
    token: str | None = field(default=_default("token"), repr=False)
    token_file: str | None = _default("token_file")
    api_key: str | None = field(default=_default("api_key"), repr=False)
    user: str | None = _default("user")
    password: str | None = field(default=_default("password"), repr=False)
    compat_token: str | None = field(default=_default("compat_token"), repr=False)
    no_ssl: bool = _default("no_ssl")
    delete_skip: bool = _default("delete_skip")
    allowed_hosts: tuple[str, ...] = _default("allowed_hosts")
    server_artifact_destination: str | None = _default("server_artifact_destination")
    server_artifact_root: str | None = _default("server_artifact_root")
    ca_bundle: str | None = _default("ca_bundle")
    max_workers: int = _default("max_workers")
    connect_timeout: float = _default("connect_timeout")
    read_timeout: float = _default("read_timeout")
    max_retries: int = _default("max_retries")
    backoff_factor: float = _default("backoff_factor")
    transfer_passes: int = _default("transfer_passes")
    checksum_deploy_threshold: int = _default("checksum_deploy_threshold")
    range_download_threshold: int = _default("range_download_threshold")
    range_chunk_size: int = _default("range_chunk_size")
    batch_upload: bool = _default("batch_upload")
    folder_download: bool = _default("folder_download")
    batch_file_threshold: int = _default("batch_file_threshold")
    batch_min_files: int = _default("batch_min_files")
    folder_download_max_size: int = _default("folder_download_max_size")
    set_properties: bool = _default("set_properties")
    properties: Properties = _default("properties")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PluginConfig:
        """Read and validate the configuration: every row of :data:`SETTINGS`, in order.

        Raises:
            ConfigurationError: naming the offending variable.
        """
        user = _BY_FIELD["user"].read(environ)
        password = _BY_FIELD["password"].read(environ)
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
        return cls(**{setting.field: setting.read(environ) for setting in SETTINGS})

    @property
    def server_artifact_uris(self) -> tuple[str, ...]:
        """The ``artifactory://`` URIs this ``mlflow server`` process was started with."""
        return tuple(u for u in (self.server_artifact_destination, self.server_artifact_root) if u)

    @property
    def in_tracking_server(self) -> bool:
        """Whether this process is an ``mlflow server`` storing in Artifactory (its own
        credentials, not its users', reach Artifactory)."""
        return bool(self.server_artifact_uris)

    @property
    def has_credentials(self) -> bool:
        """Whether any explicit credential variable is set (``.netrc`` not counted)."""
        return any((self.token, self.token_file, self.api_key, self.user, self.compat_token))
