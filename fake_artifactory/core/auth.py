"""Request authentication and permission checks (Artifactory semantics, pure).

Credentials accepted, as in Artifactory 7.x: ``Authorization: Basic user:password`` or
``user:<token|api key>``, ``Authorization: Bearer <token>`` and ``X-JFrog-Art-Api``
(token or API key).  Failures map to 401 ``Authentication is required`` / ``Bad
credentials`` (with the Basic challenge) and 403 for a bad ``X-JFrog-Art-Api``.
Secrets never appear in messages or logs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fake_artifactory.config import PERMISSIONS, EmulatorConfig
from fake_artifactory.core.errors import HttpError

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Artifactory Realm"'}
ANONYMOUS = "anonymous"
_ANON_PERMS = {
    "off": frozenset[str](),
    "read": frozenset({"read"}),
    "write": frozenset({"read", "deploy", "delete", "annotate"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, with what permissions."""

    name: str
    perms: frozenset[str]

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS

    def can(self, perm: str) -> bool:
        return "admin" in self.perms or perm in self.perms


class HeaderSource(Protocol):
    """Case-insensitive header look-up (werkzeug's ``Headers`` or an environ reader)."""

    def get(self, name: str, /) -> str | None: ...


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


#: Resolves a secret minted at run time (an Access API token) to its owner, or None.
TokenLookup = Callable[[str], "Principal | None"]


def _secret_owner(
    config: EmulatorConfig, secret: str, lookup: TokenLookup | None = None
) -> Principal | None:
    for token in (*config.tokens, *config.api_keys):
        if _eq(token, secret):
            return Principal(config.admin_user, PERMISSIONS)
    return lookup(secret) if lookup is not None else None


def authenticate(
    headers: HeaderSource, config: EmulatorConfig, lookup: TokenLookup | None = None
) -> Principal:
    """Resolve the caller from request headers (case-insensitive mapping).

    ``lookup`` resolves tokens minted through the Access API (expired or revoked
    ones resolve to None and so get ``Bad credentials``).

    Returns the anonymous principal (possibly with no permissions) when no credentials
    are given; raises HttpError 401/403 for bad ones.
    """
    art_api = headers.get("X-JFrog-Art-Api") or headers.get("X-Api-Key")
    if art_api:
        owner = _secret_owner(config, art_api, lookup)
        if owner is None:
            raise HttpError(403, "Bad credentials")
        return owner
    authorization = headers.get("Authorization") or ""
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        owner = _secret_owner(config, value, lookup)
        if owner is None:
            raise HttpError(401, "Bad credentials", CHALLENGE)
        return owner
    if scheme.lower() == "basic" and value:
        return _basic(value, config, lookup)
    if authorization:
        raise HttpError(401, "Bad credentials", CHALLENGE)
    return Principal(ANONYMOUS, _ANON_PERMS[config.anonymous])


def _basic(value: str, config: EmulatorConfig, lookup: TokenLookup | None) -> Principal:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise HttpError(401, "Bad credentials", CHALLENGE) from None
    name, sep, secret = decoded.partition(":")
    if not sep:
        raise HttpError(401, "Bad credentials", CHALLENGE)
    for user in config.users:
        if user.name == name and _eq(user.password, secret):
            return Principal(user.name, user.perms)
    owner = _secret_owner(config, secret, lookup)
    if owner is not None:
        # A token given as a Basic password is honoured whatever the user name.
        return owner
    raise HttpError(401, "Bad credentials", CHALLENGE)


#: What a caller without the control token gets from a guarded ``/_fake/`` endpoint.
CONTROL_DENIED = (
    "The control plane needs 'Authorization: Bearer <control token>' "
    "or the credentials of an admin user"
)
CONTROL_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fake-artifactory control plane"'}


def may_control(headers: HeaderSource, config: EmulatorConfig, lookup: TokenLookup | None) -> bool:
    """True when the caller may use the ``/_fake/`` control plane.

    Open when no control token is configured. Otherwise the caller needs ``Authorization:
    Bearer <control token>`` (compared in constant time) or credentials that make it an
    admin of the emulated server, however given (Basic, Bearer token, API key).
    """
    token = config.control_token
    if token is None:
        return True
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and _eq(value.strip(), token):
        return True
    try:
        caller = authenticate(headers, config, lookup)
    except HttpError:
        return False
    return not caller.anonymous and caller.can("admin")


def require_authenticated(principal: Principal, config: EmulatorConfig) -> None:
    """Anonymous callers get the 401 challenge when anonymous access is off."""
    if principal.anonymous and config.anonymous == "off":
        raise HttpError(401, "Authentication is required", CHALLENGE)


def require_non_anonymous(principal: Principal, message: str) -> None:
    """Endpoints that refuse anonymous users even when anonymous access is on."""
    if principal.anonymous:
        raise HttpError(401, message, CHALLENGE)


def refuse_anonymous(principal: Principal) -> None:
    """An anonymous caller (anonymous access being on) is refused with 401 ``Unauthorized``
    and the Basic challenge: Artifactory's exception mappers turn a REST resource's 403
    for an anonymous caller, and any 401 without a challenge, into exactly this answer."""
    if principal.anonymous:
        raise HttpError(401, "Unauthorized", CHALLENGE)


def require(principal: Principal, perm: str, message: str) -> None:
    """Enforce a permission: anonymous gets 401 ``Unauthorized``, others 403 ``message``."""
    if principal.can(perm):
        return
    refuse_anonymous(principal)
    raise HttpError(403, message)
