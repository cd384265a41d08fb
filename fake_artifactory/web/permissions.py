"""Permission targets: ``/api/security/permissions[/{name}]`` (v1: letters) and
``/api/v2/security/permissions[/{name}]`` (v2: words, sections).

Both versions address the same targets (v1 shows and edits the repository part only);
the targets are enforced by the one permission model
(:mod:`fake_artifactory.core.security`).  Admins may do everything; a user with the
``manage`` action on a target may read it.  Messages are the real server's where known
(``RestSecurityRequestHandlerV2Impl``), see docs/fidelity.md.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, request

from fake_artifactory.core import security, security_json
from fake_artifactory.core.auth import Principal, refusal
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.security import PERMISSION, Change, PermissionTarget, SecurityState
from fake_artifactory.web.context import base_url, json_body, json_response, principal, require_pro
from fake_artifactory.web.emulator import current_emulator
from fake_artifactory.web.security import entity_name, removed, security_admin

_V1 = "/api/security/permissions"
_V2 = "/api/v2/security/permissions"


def _missing(name: str) -> HttpError:
    return HttpError(404, f"No such permission target '{name}'")


def _target(state: SecurityState, name: str) -> PermissionTarget:
    target = state.targets.get(name)
    if target is None:
        raise _missing(name)
    return target


def _readable_target(raw_name: str) -> PermissionTarget:
    """The target named, for an admin or a principal that may manage it."""
    require_pro()
    who = principal()
    state = current_emulator().store.security_state()
    target = state.targets.get(entity_name(raw_name))
    if not who.admin and not _manages(who, target, state):
        raise refusal(who, "Forbidden")
    if target is None:
        raise _missing(entity_name(raw_name))
    return target


def _manages(who: Principal, target: PermissionTarget | None, state: SecurityState) -> bool:
    if target is None or who.anonymous:
        return False
    user = state.users.get(who.name)
    groups = user.groups if user is not None else ()
    granted = [*target.users.get(who.name, ())]
    for group in groups:
        granted += target.groups.get(group, ())
    return "manage" in granted


def _listing(path: str) -> Response:
    security_admin()
    base = base_url()
    body = [
        {"name": t.name, "uri": f"{base}{path}/{t.name}"}
        for t in current_emulator().store.security_state().targets.values()
    ]
    return json_response(body, security_json.TARGETS_TYPE)


def _save(
    name: str, parse: Callable[[str, object], PermissionTarget], *, create_only: bool = False
) -> bool:
    """Store the target the request describes; True when it was new."""
    security_admin()
    body = json_body()
    store = current_emulator().store
    parse(name, body)  # refuse a malformed body before taking the lock
    created = []

    def plan(state: SecurityState) -> list[Change]:
        target = parse(name, body)
        if name in state.targets and create_only:
            raise HttpError(
                409, f"Can't create permission target '{name}' for type repo. It already exists."
            )
        security_json.check_target(target, state, list(store.repos.all()))
        created.append(name not in state.targets)
        return [(PERMISSION, name, security.target_doc(target))]

    store.modify_security(plan)
    return created[0]


def _delete(name: str) -> Response:
    security_admin()

    def plan(state: SecurityState) -> list[Change]:
        _target(state, name)
        return [(PERMISSION, name, None)]

    current_emulator().store.modify_security(plan)
    return removed("Permission Target", name)


# -- v1 ------------------------------------------------------------------------------------


def list_v1() -> Response:
    """``GET /api/security/permissions``."""
    return _listing(_V1)


def get_v1(name: str) -> Response:
    """``GET /api/security/permissions/{name}``."""
    body = security_json.target_v1_json(_readable_target(name))
    return json_response(body, security_json.TARGET_TYPE)


def put_v1(name: str) -> Response:
    """``PUT /api/security/permissions/{name}``: create or replace -> 201."""
    _save(entity_name(name), security_json.parse_target_v1)
    return Response(status=201)


def delete_v1(name: str) -> Response:
    """``DELETE /api/security/permissions/{name}``."""
    return _delete(entity_name(name))


# -- v2 ------------------------------------------------------------------------------------


def list_v2() -> Response:
    """``GET /api/v2/security/permissions``."""
    return _listing(_V2)


def get_v2(name: str) -> Response:
    """``GET|HEAD /api/v2/security/permissions/{name}`` (HEAD: 200 or 404, no body)."""
    if request.method == "HEAD":
        try:
            _readable_target(name)
        except HttpError as exc:
            return Response(status=exc.status)
        return Response(status=200)
    body = security_json.target_v2_json(_readable_target(name))
    return json_response(body, security_json.TARGET_V2_TYPE)


def post_v2(name: str) -> Response:
    """``POST /api/v2/security/permissions/{name}``: create (409 if it exists) -> 201."""
    _save(entity_name(name), security_json.parse_target_v2, create_only=True)
    return Response(status=201)


def put_v2(name: str) -> Response:
    """``PUT /api/v2/security/permissions/{name}``: create or replace the whole target."""
    created = _save(entity_name(name), security_json.parse_target_v2)
    return Response(status=201 if created else 200)


def delete_v2(name: str) -> Response:
    """``DELETE /api/v2/security/permissions/{name}``."""
    return _delete(entity_name(name))
