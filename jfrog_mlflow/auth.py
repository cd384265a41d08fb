"""``requests`` authentication callables for Artifactory (Basic comes from requests).

None of these classes shows its secret in ``repr``. :func:`credential_source` names the
variable the credentials came from, for messages (never the value).
"""

from __future__ import annotations

import os
import re
import threading

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import ConfigurationError

__all__ = [
    "ApiKeyAuth",
    "BearerTokenAuth",
    "FileTokenAuth",
    "auth_from_config",
    "credential_source",
    "looks_like_jwt",
    "refused_credential_hint",
]

_TOKEN_FILE = "MLFLOW_ARTIFACTORY_TOKEN_FILE"

_B64URL = r"[A-Za-z0-9_-]+={0,2}"
_JWT_RE = re.compile(rf"^{_B64URL}\.{_B64URL}\.{_B64URL}$")


def looks_like_jwt(value: str) -> bool:
    """Whether ``value`` looks like a JWT access token rather than an API/reference key."""
    return value.startswith("eyJ") or bool(_JWT_RE.match(value))


class BearerTokenAuth(AuthBase):
    """Send ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BearerTokenAuth) and other._token == self._token

    __hash__ = None  # type: ignore[assignment]


class ApiKeyAuth(AuthBase):
    """Send ``X-JFrog-Art-Api: <key>`` (API keys and reference tokens)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["X-JFrog-Art-Api"] = self._key
        return r

    def __repr__(self) -> str:
        return "ApiKeyAuth(key=***)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKeyAuth) and other._key == self._key

    __hash__ = None  # type: ignore[assignment]


class FileTokenAuth(AuthBase):
    """Send ``Authorization: Bearer <token>`` with the token read from a file.

    The file (a mounted secret, rotated by someone else) is read on the first request,
    again whenever it changed since (one ``stat`` per request, no read), and again by
    :meth:`refresh` after the server refused the token, so a long-running process picks
    up a rotated token without a restart, even for an upload that cannot be sent twice.
    Thread-safe; the token is never shown.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._token: str | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    def _fail(self, reason: str) -> ConfigurationError:
        return ConfigurationError(f"{_TOKEN_FILE} names '{self.path}', which {reason}")

    def _stat(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise self._fail(f"cannot be read: {exc.strerror or exc}") from None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> None:
        stamp = self._stat()
        try:
            with open(self.path, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise self._fail(f"cannot be read: {reason}") from None
        if not token:
            raise self._fail("is empty")
        self._token, self._stamp = token, stamp

    def token(self) -> str:
        """The current token (read again when the file changed)."""
        with self._lock:
            if self._token is None or self._stat() != self._stamp:
                self._read()
            assert self._token is not None
            return self._token

    def refresh(self, refused: str | None) -> bool:
        """Read the file again after the server refused the header ``refused``; whether
        the token now differs from the refused one (then the request is worth repeating).

        Threads that were refused the same old token read the file once between them.
        """
        with self._lock:
            if self._token is None or refused == f"Bearer {self._token}":
                self._read()
            return refused != f"Bearer {self._token}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r

    def __repr__(self) -> str:
        return f"FileTokenAuth(path={self.path!r})"


class _SafeBasicAuth(HTTPBasicAuth):
    def __repr__(self) -> str:
        return "HTTPBasicAuth(username=***, password=***)"


def auth_from_config(config: PluginConfig) -> AuthBase | None:
    """Pick credentials by the precedence documented in :mod:`jfrog_mlflow.config`.

    Returns ``None`` when no variable is set (the client then tries ``~/.netrc``).
    """
    if config.token:
        return BearerTokenAuth(config.token)
    if config.token_file:
        return FileTokenAuth(config.token_file)
    if config.api_key:
        if looks_like_jwt(config.api_key):
            return BearerTokenAuth(config.api_key)
        return ApiKeyAuth(config.api_key)
    if config.user and config.password is not None:
        return _SafeBasicAuth(config.user, config.password)
    if config.compat_token:
        return BearerTokenAuth(config.compat_token)
    return None


def credential_source(config: PluginConfig) -> str | None:
    """The variable(s) the credentials in use come from, by the same precedence as
    :func:`auth_from_config`; ``None`` when none is set (``~/.netrc`` or anonymous)."""
    if config.token:
        return "MLFLOW_ARTIFACTORY_TOKEN"
    if config.token_file:
        return _TOKEN_FILE
    if config.api_key:
        return "MLFLOW_ARTIFACTORY_KEY"
    if config.user and config.password is not None:
        return "MLFLOW_ARTIFACTORY_USER/MLFLOW_ARTIFACTORY_PASSWORD"
    if config.compat_token:
        return "ARTIFACTORY_AUTH_TOKEN"
    return None


def refused_credential_hint(config: PluginConfig) -> str:
    """Which credential Artifactory refused (never its value), and where to fix it.

    Inside ``mlflow server`` it is the server's own credential: say so, since the MLflow
    user's login is not what Artifactory saw.
    """
    source = credential_source(config)
    if source is None:
        used = "no credential variable is set (only ~/.netrc, if any, was used)"
    else:
        used = f"the credential in {source} was refused"
    if config.in_tracking_server:
        return (
            f"this is the MLflow tracking server's own Artifactory credential: {used} "
            "(set it in the server's environment; the MLflow user's login is not involved)"
        )
    if source is None:
        return f"{used}; set MLFLOW_ARTIFACTORY_TOKEN"
    return f"{used}; check or renew it"
