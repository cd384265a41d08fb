"""Access tokens: ``/access/api/v1/tokens`` (create, list, revoke) and their lookup.

Tokens are JWT-shaped strings (header.payload.signature, base64url) whose signature is
random, so nothing can forge them; the store keeps only their SHA-256 digest, never
the token itself.  A token works wherever a ``--token`` does (Bearer, Basic password
with any user name, ``X-JFrog-Art-Api``) until it expires or is revoked, after which
it gets 401 ``Bad credentials`` (403 through ``X-JFrog-Art-Api``, as for any bad key).

Scope ``applied-permissions/admin`` grants every permission; any other scope gives
the named user's configured permissions, or read-only for a user the emulator does
not know (a "transient" user).  Access API errors use the Access service's envelope
``{"errors":[{"code":"...","message":"..."}]}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, request

from fake_artifactory.auth import Principal, TokenLookup, authenticate
from fake_artifactory.config import PERMISSIONS, EmulatorConfig
from fake_artifactory.storage import Store, TokenRecord, now_ms

log = logging.getLogger(__name__)

bp = Blueprint("fake_artifactory_tokens", __name__)

ADMIN_SCOPE = "applied-permissions/admin"
USER_SCOPE = "applied-permissions/user"
#: Default lifetime in seconds when the request gives none (one year).
DEFAULT_EXPIRES_IN = 31_536_000
#: Largest accepted lifetime (about 300 years; keeps timestamps inside SQLite's range).
MAX_EXPIRES_IN = 10**10
_ISSUER = "jfac@fake-artifactory"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(token_id: str, username: str, scope: str, issued_ms: int, expires_ms: int) -> str:
    """A JWT-shaped token string with a random (unverifiable) signature."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "fake-artifactory"}
    payload: dict[str, Any] = {
        "sub": f"{_ISSUER}/users/{username}",
        "scp": scope,
        "aud": "*@*",
        "iss": _ISSUER,
        "iat": issued_ms // 1000,
        "jti": token_id,
    }
    if expires_ms:
        payload["exp"] = expires_ms // 1000
    parts = [json.dumps(header).encode(), json.dumps(payload).encode(), secrets.token_bytes(32)]
    return ".".join(_b64(p) for p in parts)


def permissions_for(record: TokenRecord, config: EmulatorConfig) -> frozenset[str]:
    """What a token may do (see the module docstring)."""
    if ADMIN_SCOPE in record.scope.split():
        return PERMISSIONS
    for user in config.users:
        if user.name == record.username:
            return user.perms
    return frozenset({"read"})


def make_lookup(store: Store, config: EmulatorConfig) -> TokenLookup:
    """The :data:`TokenLookup` of an emulator: valid, unexpired minted tokens only."""

    def lookup(secret: str) -> Principal | None:
        record = store.find_token(digest=digest(secret))
        if record is None or record.expired(now_ms()):
            return None
        return Principal(record.username, permissions_for(record, config))

    return lookup


# -- HTTP --------------------------------------------------------------------------------


def _emulator() -> Any:
    return current_app.extensions["fake_artifactory"]


def _error(status: int, code: str, message: str, **headers: str) -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]}, indent=2)
    resp = Response(body, status=status, content_type="application/json")
    resp.headers.update(headers)
    return resp


def _caller() -> Principal | Response:
    emu = _emulator()
    principal = authenticate(request.headers, emu.config, emu.token_lookup)
    if principal.anonymous:
        return _error(
            401,
            "UNAUTHORIZED",
            "Authentication is required",
            **{"WWW-Authenticate": 'Basic realm="Artifactory Realm"'},
        )
    return principal


class _BadRequest(ValueError):
    pass


def _params() -> dict[str, Any]:
    """Form fields, or the JSON object body; _BadRequest for anything else."""
    if not request.is_json:
        return {k: v for k, v in request.form.items()}
    try:
        body = json.loads(request.get_data())
    except (ValueError, RecursionError):
        raise _BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    for key in ("username", "scope", "description", "token"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise _BadRequest(f"{key} must be a string")
    return body


@bp.post("/access/api/v1/tokens")
def create_token() -> Response:
    """Create a token: ``username``, ``scope``, ``expires_in`` (seconds, 0 = never)."""
    who = _caller()
    if isinstance(who, Response):
        return who
    try:
        params = _params()
    except _BadRequest as exc:
        return _error(400, "BAD_REQUEST", str(exc))
    username = str(params.get("username") or who.name)
    scope = str(params.get("scope") or USER_SCOPE)
    raw_expiry = params.get("expires_in", DEFAULT_EXPIRES_IN)
    try:
        expires_in = int(raw_expiry)
    except (TypeError, ValueError, OverflowError):
        return _error(400, "BAD_REQUEST", "expires_in must be a whole number of seconds")
    if not 0 <= expires_in <= MAX_EXPIRES_IN:
        return _error(400, "BAD_REQUEST", f"expires_in must be between 0 and {MAX_EXPIRES_IN}")
    if not who.can("admin") and (username != who.name or ADMIN_SCOPE in scope.split()):
        return _error(403, "FORBIDDEN", "Only an admin may create tokens for others or admin ones")
    issued = now_ms()
    expires = issued + expires_in * 1000 if expires_in else 0
    token_id = str(uuid.uuid4())
    token = mint(token_id, username, scope, issued, expires)
    record = TokenRecord(
        token_id=token_id,
        digest=digest(token),
        username=username,
        scope=scope,
        created=issued,
        expires=expires,
        description=str(params.get("description") or ""),
    )
    _emulator().store.add_token(record)
    log.info("created access token %s for %s", token_id, username)
    body: dict[str, Any] = {"token_id": token_id, "access_token": token}
    if expires_in:
        body["expires_in"] = expires_in
    body.update(scope=scope, token_type="Bearer")
    return Response(json.dumps(body, indent=2), content_type="application/json")


@bp.get("/access/api/v1/tokens")
def list_tokens() -> Response:
    """Token metadata (never the tokens themselves); an admin sees all, others their own."""
    who = _caller()
    if isinstance(who, Response):
        return who
    entries = [
        {
            "token_id": t.token_id,
            "issuer": _ISSUER,
            "subject": f"{_ISSUER}/users/{t.username}",
            "issued_at": t.created // 1000,
            "expiry": t.expires // 1000 if t.expires else None,
            "refreshable": False,
            "description": t.description,
        }
        for t in _emulator().store.list_tokens()
        if who.can("admin") or t.username == who.name
    ]
    body = {"tokens": [{k: v for k, v in e.items() if v is not None} for e in entries]}
    return Response(json.dumps(body, indent=2), content_type="application/json")


def _revoke(record: TokenRecord | None, who: Principal) -> Response:
    if record is None:
        return _error(404, "NOT_FOUND", "Token not found")
    if not who.can("admin") and record.username != who.name:
        return _error(403, "FORBIDDEN", "Only an admin may revoke the tokens of others")
    _emulator().store.revoke_token(record.token_id)
    log.info("revoked access token %s", record.token_id)
    return Response("Token revoked", content_type="text/plain")


@bp.delete("/access/api/v1/tokens/<token_id>")
def revoke_by_id(token_id: str) -> Response:
    who = _caller()
    if isinstance(who, Response):
        return who
    if token_id == "revoke":
        return revoke_by_token()
    return _revoke(_emulator().store.find_token(token_id=token_id), who)


@bp.post("/access/api/v1/tokens/revoke")
def revoke_by_token() -> Response:
    """Revoke by the token itself (form or JSON field ``token``)."""
    who = _caller()
    if isinstance(who, Response):
        return who
    try:
        token = str(_params().get("token") or "")
    except _BadRequest as exc:
        return _error(400, "BAD_REQUEST", str(exc))
    record = _emulator().store.find_token(digest=digest(token)) if token else None
    return _revoke(record, who)
