"""The Access API: ``/access/api/v1/tokens`` (create, list, revoke).

Served outside the context path, like Artifactory's Access service, whose error
envelope is ``{"errors":[{"code":"...","message":"..."}]}``.  Token rules are in
:mod:`fake_artifactory.core.tokens`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, request

from fake_artifactory.core import tokens
from fake_artifactory.core.auth import Principal
from fake_artifactory.core.records import TokenRecord
from fake_artifactory.core.uri import decode_key
from fake_artifactory.web import access
from fake_artifactory.web.emulator import current_emulator

log = logging.getLogger(__name__)


class _BadRequest(ValueError):
    pass


def _params() -> dict[str, Any]:
    """Form fields, or the JSON object body (no body: every default); _BadRequest otherwise."""
    if not request.is_json:
        return {k: v for k, v in request.form.items()}
    data = request.get_data()
    if not data.strip():
        # Every field is optional: a JSON request without a body asks for the defaults
        # (JFrog's own plugin's CI creates its token so against a real server).
        return {}
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise _BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the request body must be a JSON object")
    for key in ("username", "scope", "description", "token"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise _BadRequest(f"{key} must be a string")
    return body


def _asks(params: dict[str, Any], flag: str) -> bool:
    """Whether a boolean field (JSON ``true`` or form ``true``) is set."""
    value = params.get(flag)
    return value is True or str(value).lower() == "true"


def create() -> Response:
    """Create a token: ``username``, ``scope``, ``expires_in`` (seconds, 0 = never)."""
    who = access.caller()
    if isinstance(who, Response):
        return who
    try:
        params = _params()
    except _BadRequest as exc:
        return access.error(400, "BAD_REQUEST", str(exc))
    if params.get("grant_type") == "refresh_token":  # a new token would be a silent success
        return access.unsupported("refresh tokens (grant_type=refresh_token)")
    username = str(params.get("username") or who.name)
    scope = str(params.get("scope") or tokens.USER_SCOPE)
    raw_expiry = params.get("expires_in", tokens.DEFAULT_EXPIRES_IN)
    try:
        expires_in = int(raw_expiry)
    except (TypeError, ValueError, OverflowError):
        return access.error(400, "BAD_REQUEST", "expires_in must be a whole number of seconds")
    if not 0 <= expires_in <= tokens.MAX_EXPIRES_IN:
        return access.error(
            400, "BAD_REQUEST", f"expires_in must be between 0 and {tokens.MAX_EXPIRES_IN}"
        )
    if not who.can("admin") and (username != who.name or tokens.ADMIN_SCOPE in scope.split()):
        return access.error(
            403, "FORBIDDEN", "Only an admin may create tokens for others or admin ones"
        )
    # A token never grants more than its creator holds, even when its user is an admin.
    stored_scope = scope if who.can("admin") else tokens.without_admin(scope)
    token, reference, record = tokens.new_token(
        username,
        stored_scope,
        expires_in,
        str(params.get("description") or ""),
        reference=_asks(params, "include_reference_token"),
    )
    current_emulator().store.add_token(record)
    log.info("created access token %s for %s", record.token_id, username)
    body: dict[str, Any] = {"token_id": record.token_id, "access_token": token}
    if expires_in:
        body["expires_in"] = expires_in
    body.update(scope=scope, token_type="Bearer")
    if reference is not None:
        body["reference_token"] = reference
    return access.json_answer(body)


def list_all() -> Response:
    """Token metadata (never the tokens themselves); an admin sees all, others their own."""
    who = access.caller()
    if isinstance(who, Response):
        return who
    entries = [
        tokens.describe(t)
        for t in current_emulator().store.list_tokens()
        if who.can("admin") or t.username == who.name
    ]
    return access.json_answer({"tokens": entries})


def _revoke(record: TokenRecord | None, who: Principal) -> Response:
    if record is None:
        return access.error(404, "NOT_FOUND", "Token not found")
    if not who.can("admin") and record.username != who.name:
        return access.error(403, "FORBIDDEN", "Only an admin may revoke the tokens of others")
    current_emulator().store.revoke_token(record.token_id)
    log.info("revoked access token %s", record.token_id)
    return Response("Token revoked", content_type="text/plain")


def revoke_by_id(token_id: str) -> Response:
    """``DELETE /access/api/v1/tokens/{id}`` (``revoke`` as the id: revoke by token)."""
    who = access.caller()
    if isinstance(who, Response):
        return who
    token_id = decode_key(token_id)
    if token_id == "revoke":
        return revoke_by_token()
    return _revoke(current_emulator().store.find_token(token_id=token_id), who)


def revoke_by_token() -> Response:
    """Revoke by the token itself (form or JSON field ``token``)."""
    who = access.caller()
    if isinstance(who, Response):
        return who
    try:
        token = str(_params().get("token") or "")
    except _BadRequest as exc:
        return access.error(400, "BAD_REQUEST", str(exc))
    record = current_emulator().store.find_token(digest=tokens.digest(token)) if token else None
    return _revoke(record, who)
