"""Access tokens: minting, permissions and look-up (pure; the views are web/tokens.py).

Tokens are JWT-shaped strings (header.payload.signature, base64url) whose signature is
random, so nothing can forge them; the store keeps only their SHA-256 digest, never
the token itself.  A token works wherever a ``--token`` does (Bearer, Basic password
with any user name, ``X-JFrog-Art-Api``) until it expires or is revoked, after which
it gets 401 ``Bad credentials`` (403 through ``X-JFrog-Art-Api``, as for any bad key).
A token created with ``include_reference_token`` also gets a reference token, a short
stand-in that works wherever the token does and is revoked with it (only its digest is
kept too).

Scope ``applied-permissions/admin`` grants every permission; any other scope gives
the named user's permissions, or read-only for a user the emulator does not know (a
"transient" user): see :class:`fake_artifactory.core.directory.Directory`.  A token
marked :data:`NO_ADMIN_SCOPE` never has the admin permission, whatever its user may do:
tokens that came in with a snapshot (see
:func:`fake_artifactory.store.snapshot.drop_admin_grants`) and tokens minted by a
caller who is not an admin (a token never grants more than its creator holds).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from typing import Any

from fake_artifactory.core.records import TokenRecord, now_ms

ADMIN_SCOPE = "applied-permissions/admin"
USER_SCOPE = "applied-permissions/user"
#: Marks a token that never has the admin permission (see :func:`without_admin`).
NO_ADMIN_SCOPE = "fake-artifactory/no-admin"
#: Default lifetime in seconds when the request gives none (one year).
DEFAULT_EXPIRES_IN = 31_536_000
#: Largest accepted lifetime (about 300 years; keeps timestamps inside SQLite's range).
MAX_EXPIRES_IN = 10**10
ISSUER = "jfac@fake-artifactory"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(token_id: str, username: str, scope: str, issued_ms: int, expires_ms: int) -> str:
    """A JWT-shaped token string with a random (unverifiable) signature."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "fake-artifactory"}
    payload: dict[str, Any] = {
        "sub": f"{ISSUER}/users/{username}",
        "scp": scope,
        "aud": "*@*",
        "iss": ISSUER,
        "iat": issued_ms // 1000,
        "jti": token_id,
    }
    if expires_ms:
        payload["exp"] = expires_ms // 1000
    parts = [json.dumps(header).encode(), json.dumps(payload).encode(), secrets.token_bytes(32)]
    return ".".join(_b64(p) for p in parts)


def mint_reference(expires_ms: int) -> str:
    """A reference token: a short opaque stand-in for an access token (base64url of
    ``reftkn:01:<expiry seconds>:<random>``; the layout after the prefix is *ours*)."""
    text = f"reftkn:01:{expires_ms // 1000}:{secrets.token_urlsafe(24)}"
    return _b64(text.encode("ascii"))


def new_token(
    username: str, scope: str, expires_in: int, description: str, *, reference: bool = False
) -> tuple[str, str | None, TokenRecord]:
    """A freshly minted token, its reference token (when ``reference``) and the record
    the store keeps of them (their digests only)."""
    issued = now_ms()
    expires = issued + expires_in * 1000 if expires_in else 0
    token_id = str(uuid.uuid4())
    token = mint(token_id, username, scope, issued, expires)
    ref = mint_reference(expires) if reference else None
    record = TokenRecord(
        token_id=token_id,
        digest=digest(token),
        username=username,
        scope=scope,
        created=issued,
        expires=expires,
        description=description,
        reference_digest=digest(ref) if ref else None,
    )
    return token, ref, record


def describe(record: TokenRecord) -> dict[str, Any]:
    """A token's entry in ``GET /access/api/v1/tokens`` (never the token itself)."""
    entry: dict[str, Any] = {
        "token_id": record.token_id,
        "issuer": ISSUER,
        "subject": f"{ISSUER}/users/{record.username}",
        "issued_at": record.created // 1000,
        "expiry": record.expires // 1000 if record.expires else None,
        "refreshable": False,
        "description": record.description,
    }
    return {k: v for k, v in entry.items() if v is not None}


def without_admin(scope: str) -> str:
    """``scope`` without the admin grant and marked :data:`NO_ADMIN_SCOPE` (idempotent)."""
    kept = [s for s in scope.split() if s not in (ADMIN_SCOPE, NO_ADMIN_SCOPE)]
    return " ".join([*(kept or [USER_SCOPE]), NO_ADMIN_SCOPE])
