"""The security API: users and groups (``/api/security/users|groups[/{name}]``) and
``GET /api/security/encryptedPassword``.  Permission targets are in
:mod:`fake_artifactory.web.permissions`.

Admin only and Pro only, like Artifactory.  The model is
:mod:`fake_artifactory.core.security`, the wire format
:mod:`fake_artifactory.core.security_json`; every change is computed from the current
state and applied in one transaction (:meth:`Store.modify_security`).  Passwords are
hashed before anything is stored and never come back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from flask import Response

from fake_artifactory.core import security, security_json
from fake_artifactory.core.auth import Principal, require, require_non_anonymous
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.passwords import hash_password
from fake_artifactory.core.security import (
    GROUP,
    USER,
    Change,
    GroupRecord,
    SecurityState,
    UserRecord,
)
from fake_artifactory.core.uri import decode_key
from fake_artifactory.web.context import (
    base_url,
    flag,
    json_body,
    json_response,
    principal,
    require_pro,
)
from fake_artifactory.web.emulator import current_emulator

_T = TypeVar("_T")


def entity_name(raw: str) -> str:
    """A name in a security URL: percent-decoded, ``+`` standing for a space (Artifactory's
    default ``security.api.plus.insteadof.space``)."""
    return decode_key(raw, plus_is_space=True)


def security_admin() -> Principal:
    """The caller, when it may use the security API (Pro edition, an admin)."""
    require_pro()
    who = principal()
    require(who, "admin", "Forbidden")
    return who


def removed(kind: str, name: str) -> Response:
    return Response(f"{kind} '{name}' has been removed successfully.", content_type="text/plain")


def _state() -> SecurityState:
    return current_emulator().store.security_state()


def _modify(plan: Callable[[SecurityState], list[Change]]) -> None:
    current_emulator().store.modify_security(plan)


# -- users ---------------------------------------------------------------------------------


def list_users() -> Response:
    """``GET /api/security/users``."""
    security_admin()
    base = base_url()
    body = [
        {"name": u.name, "uri": f"{base}/api/security/users/{u.name}", "realm": u.realm}
        for u in _state().users.values()
    ]
    return json_response(body, security_json.USERS_TYPE)


def _existing(found: Mapping[str, _T], kind: str, name: str) -> _T:
    """The user or group ``name`` (404 ``<Kind> '<name>' does not exist`` if missing)."""
    record = found.get(name)
    if record is None:
        raise HttpError(404, f"{kind} '{name}' does not exist")
    return record


def _user(state: SecurityState, name: str) -> UserRecord:
    return _existing(state.users, "User", name)


def get_user(name: str) -> Response:
    """``GET /api/security/users/{name}``."""
    security_admin()
    user = _user(_state(), entity_name(name))
    return json_response(security_json.user_json(user), security_json.USER_TYPE)


def _save_user(name: str, *, update: bool) -> None:
    body = json_body()
    # Parsed once here to hash a sent password outside the write lock, then again
    # against the state the change is made from.
    state = _state()
    existing = state.users.get(name)
    if update:
        _user(state, name)
    configured = existing is not None and existing.configured
    _, password = security_json.parse_user(
        name, body, existing if update or configured else None, state
    )
    if configured and password is not None:
        raise HttpError(
            400, f"The password of user '{name}' is set on the emulator's command line (--user)"
        )
    hashed = hash_password(password) if password is not None else None

    def plan(now: SecurityState) -> list[Change]:
        current = _user(now, name) if update else now.users.get(name)
        keep = current is not None and (update or current.configured)
        user, _ = security_json.parse_user(name, body, current if keep else None, now)
        if current is not None and current.configured and user.admin != current.admin:
            raise HttpError(
                400, f"Whether user '{name}' is an admin is set on the command line (--user)"
            )
        if hashed is not None:
            user = replace(user, password_hash=hashed)
        elif current is not None:
            user = replace(user, password_hash=current.password_hash)
        return [(USER, name, security.user_doc(user))]

    _modify(plan)


def put_user(name: str) -> Response:
    """``PUT /api/security/users/{name}``: create or replace (``email`` and ``password``
    required) -> 201."""
    security_admin()
    _save_user(entity_name(name), update=False)
    return Response(status=201)


def post_user(name: str) -> Response:
    """``POST /api/security/users/{name}``: update the fields sent -> 200."""
    security_admin()
    _save_user(entity_name(name), update=True)
    return Response(status=200)


def delete_user(name: str) -> Response:
    """``DELETE /api/security/users/{name}``: also leaves every permission target."""
    security_admin()
    name = entity_name(name)

    def plan(state: SecurityState) -> list[Change]:
        if _user(state, name).configured:
            raise HttpError(
                400, f"User '{name}' is configured on the emulator's command line (--user)"
            )
        return [*security.without_user(state, name), (USER, name, None)]

    _modify(plan)
    return removed("User", name)


def encrypted_password() -> Response:
    """``GET /api/security/encryptedPassword``: the caller's, usable as their password."""
    who = principal()
    require_non_anonymous(who, "Authentication is required")
    value = current_emulator().directory.encrypted_password(who.name)
    if value is None:
        raise HttpError(404, f"User not found. The user: '{who.name}'")
    resp = Response(value)
    resp.headers["Content-Type"] = "text/plain"  # as Jersey's @Produces: no charset
    return resp


# -- groups --------------------------------------------------------------------------------


def list_groups() -> Response:
    """``GET /api/security/groups``."""
    security_admin()
    base = base_url()
    body = [
        {"name": g.name, "uri": f"{base}/api/security/groups/{g.name}"}
        for g in _state().groups.values()
    ]
    return json_response(body, security_json.GROUPS_TYPE)


def _group(state: SecurityState, name: str) -> GroupRecord:
    return _existing(state.groups, "Group", name)


def get_group(name: str) -> Response:
    """``GET /api/security/groups/{name}[?includeUsers=true]`` (members only when asked)."""
    security_admin()
    state = _state()
    group = _group(state, entity_name(name))
    members = state.members(group.name) if flag("includeUsers") else None
    return json_response(security_json.group_json(group, members), security_json.GROUP_TYPE)


def put_group(name: str) -> Response:
    """``PUT /api/security/groups/{name}``: create or replace -> 201.  ``userNames`` is
    not applied here: Artifactory takes it only on update."""
    security_admin()
    name = entity_name(name)
    body = json_body()
    security_json.parse_group(name, body, None)

    def plan(state: SecurityState) -> list[Change]:
        group, _ = security_json.parse_group(name, body, None)
        return [(GROUP, name, security.group_doc(group))]

    _modify(plan)
    return Response(status=201)


def post_group(name: str) -> Response:
    """``POST /api/security/groups/{name}``: update; ``userNames`` sets the members."""
    security_admin()
    name = entity_name(name)
    body = json_body()

    def plan(state: SecurityState) -> list[Change]:
        group, members = security_json.parse_group(name, body, _group(state, name))
        changes: list[Change] = [(GROUP, name, security.group_doc(group))]
        if members is not None:
            changes += security.with_members(state, name, members)
        return changes

    _modify(plan)
    return Response(status=200)


def delete_group(name: str) -> Response:
    """``DELETE /api/security/groups/{name}``: members and permission targets forget it."""
    security_admin()
    name = entity_name(name)

    def plan(state: SecurityState) -> list[Change]:
        _group(state, name)
        return [*security.without_group(state, name), (GROUP, name, None)]

    _modify(plan)
    return removed("Group", name)
