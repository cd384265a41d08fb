"""Request authentication and permission checks (Artifactory semantics, pure).

Credentials accepted, as in Artifactory 7.x: ``Authorization: Basic user:password`` or
``user:<token|api key>``, ``Authorization: Bearer <token>`` and ``X-JFrog-Art-Api``
(token or API key).  Failures map to 401 ``Authentication is required`` / ``Bad
credentials`` (with the Basic challenge) and 403 for a bad ``X-JFrog-Art-Api``.
Who a credential belongs to is the :class:`Directory`'s business, what they may do the
:class:`Principal`'s.  Secrets never appear in messages or logs.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Protocol

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.permissions import ANONYMOUS, Principal

__all__ = [
    "ANONYMOUS",
    "CHALLENGE",
    "Directory",
    "HeaderSource",
    "Principal",
    "authenticate",
    "refusal",
    "require",
    "require_authenticated",
    "require_non_anonymous",
    "require_overwrite",
]

CHALLENGE = {"WWW-Authenticate": 'Basic realm="Artifactory Realm"'}


class HeaderSource(Protocol):
    """Case-insensitive header look-up (werkzeug's ``Headers`` or an environ reader)."""

    def get(self, name: str, /) -> str | None: ...


class Directory(Protocol):
    """Who credentials belong to (see :class:`fake_artifactory.core.directory.Directory`)."""

    def by_password(self, name: str, password: str, /) -> Principal | None: ...

    def by_secret(self, secret: str, /) -> Principal | None: ...

    def anonymous(self) -> Principal: ...


def authenticate(headers: HeaderSource, directory: Directory) -> Principal:
    """Resolve the caller from request headers (case-insensitive mapping).

    Returns the anonymous principal (possibly with no permissions) when no credentials
    are given; raises HttpError 401/403 for bad ones.  Expired or revoked tokens
    resolve to nobody and so get ``Bad credentials``.
    """
    art_api = headers.get("X-JFrog-Art-Api") or headers.get("X-Api-Key")
    if art_api:
        owner = directory.by_secret(art_api)
        if owner is None:
            raise HttpError(403, "Bad credentials")
        return owner
    authorization = headers.get("Authorization") or ""
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        owner = directory.by_secret(value)
        if owner is None:
            raise HttpError(401, "Bad credentials", CHALLENGE)
        return owner
    if scheme.lower() == "basic" and value:
        return _basic(value, directory)
    if authorization:
        raise HttpError(401, "Bad credentials", CHALLENGE)
    return directory.anonymous()


def _basic(value: str, directory: Directory) -> Principal:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise HttpError(401, "Bad credentials", CHALLENGE) from None
    name, sep, secret = decoded.partition(":")
    if not sep:
        raise HttpError(401, "Bad credentials", CHALLENGE)
    owner = directory.by_password(name, secret)
    if owner is None:
        # A token given as a Basic password is honoured whatever the user name.
        owner = directory.by_secret(secret)
    if owner is None:
        raise HttpError(401, "Bad credentials", CHALLENGE)
    return owner


#: What a caller without the control token gets from a guarded ``/_fake/`` endpoint.
CONTROL_DENIED = (
    "The control plane needs 'Authorization: Bearer <control token>' "
    "or the credentials of an admin user"
)
CONTROL_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="fake-artifactory control plane"'}


def may_control(headers: HeaderSource, config: EmulatorConfig, directory: Directory) -> bool:
    """True when the caller may use the ``/_fake/`` control plane.

    Open when no control token is configured. Otherwise the caller needs ``Authorization:
    Bearer <control token>`` (compared in constant time) or credentials that make it an
    admin of the emulated server, however given (Basic, Bearer token, API key).
    """
    token = config.control_token
    if token is None:
        return True
    scheme, _, value = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode()):
        return True
    try:
        caller = authenticate(headers, directory)
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


def require(
    principal: Principal, perm: str, message: str, repo: str | None = None, path: str = ""
) -> None:
    """Enforce a permission on ``repo:path`` (``repo`` None: anywhere): anonymous gets
    401 ``Unauthorized``, others 403 ``message``."""
    if not principal.can(perm, repo, path):
        raise refusal(principal, message)


def require_overwrite(principal: Principal, repo: str, path: str) -> None:
    """Replacing or deleting ``repo:path`` needs the delete action (Artifactory's 403)."""
    require(
        principal,
        "delete",
        f"Not enough permissions to delete/overwrite artifact '{repo}:{path}' "
        f"(user: '{principal.name}' needs DELETE permission).",
        repo,
        path,
    )


def refusal(principal: Principal, message: str) -> HttpError:
    """The answer to a caller who may not do something: 403 ``message``, or for an
    anonymous caller the 401 of :func:`refuse_anonymous` (raised here)."""
    refuse_anonymous(principal)
    return HttpError(403, message)
