"""``requests`` authentication callables for Artifactory (Basic comes from requests).

None of these classes shows its secret in ``repr``.
"""

from __future__ import annotations

import re

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from jfrog_mlflow.config import PluginConfig

__all__ = ["ApiKeyAuth", "BearerTokenAuth", "auth_from_config", "looks_like_jwt"]

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


class _SafeBasicAuth(HTTPBasicAuth):
    def __repr__(self) -> str:
        return "HTTPBasicAuth(username=***, password=***)"


def auth_from_config(config: PluginConfig) -> AuthBase | None:
    """Pick credentials by the precedence documented in :mod:`jfrog_mlflow.config`.

    Returns ``None`` when no variable is set (the client then tries ``~/.netrc``).
    """
    if config.token:
        return BearerTokenAuth(config.token)
    if config.api_key:
        if looks_like_jwt(config.api_key):
            return BearerTokenAuth(config.api_key)
        return ApiKeyAuth(config.api_key)
    if config.user and config.password is not None:
        return _SafeBasicAuth(config.user, config.password)
    if config.compat_token:
        return BearerTokenAuth(config.compat_token)
    return None
