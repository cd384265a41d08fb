"""Projects of the Access API: ``/access/api/v1/projects[/{key}]`` (platform admins).

Served outside the context path with the Access error envelope
(:mod:`fake_artifactory.web.access`); the rules are in :mod:`fake_artifactory.core.projects`.
Projects are stored with the users and groups (they persist and go into snapshots).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from fake_artifactory.core import projects
from fake_artifactory.core.security import PROJECT, Change, SecurityState
from fake_artifactory.core.uri import decode_key
from fake_artifactory.web import access
from fake_artifactory.web.context import json_body
from fake_artifactory.web.emulator import current_emulator


def _admin() -> None:
    who = access.caller()
    if isinstance(who, Response):
        raise access.Refused(who)
    if not who.admin:
        raise access.Refused(
            access.error(403, "FORBIDDEN", "Only a platform admin may manage projects")
        )


def _missing(key: str) -> access.Refused:
    return access.Refused(access.error(404, "NOT_FOUND", f"Project '{key}' not found"))


def _projects() -> dict[str, Any]:
    return dict(current_emulator().store.security_state().projects)


@access.refusals_answered
def list_all() -> Response:
    """``GET /access/api/v1/projects``."""
    _admin()
    return access.json_answer(list(_projects().values()))


@access.refusals_answered
def get(key: str) -> Response:
    """``GET /access/api/v1/projects/{key}``."""
    _admin()
    key = decode_key(key)
    found = _projects().get(key)
    if found is None:
        raise _missing(key)
    return access.json_answer(found)


def _save(key: str, body: Any, *, create: bool) -> dict[str, Any]:
    saved: list[dict[str, Any]] = []

    def plan(state: SecurityState) -> list[Change]:
        existing = state.projects.get(key)
        if create and existing is not None:
            conflict = access.error(409, "CONFLICT", f"Project '{key}' already exists")
            raise access.Refused(conflict)
        if not create and existing is None:
            raise _missing(key)
        try:
            project = projects.parse(body, key, existing)
        except projects.ProjectError as exc:
            raise access.Refused(access.error(400, "BAD_REQUEST", str(exc))) from None
        saved.append(project)
        return [(PROJECT, key, project)]

    current_emulator().store.modify_security(plan)
    return saved[0]


@access.refusals_answered
def create() -> Response:
    """``POST /access/api/v1/projects`` -> 201 with the project."""
    _admin()
    body = json_body()
    key = body.get("project_key") if isinstance(body, dict) else None
    if not isinstance(key, str):
        raise access.Refused(access.error(400, "BAD_REQUEST", "project_key is required"))
    return access.json_answer(_save(key, body, create=True), 201)


@access.refusals_answered
def update(key: str) -> Response:
    """``PUT /access/api/v1/projects/{key}`` -> 200 with the project."""
    _admin()
    return access.json_answer(_save(decode_key(key), json_body(), create=False))


@access.refusals_answered
def delete(key: str) -> Response:
    """``DELETE /access/api/v1/projects/{key}`` -> 204."""
    _admin()
    key = decode_key(key)

    def plan(state: SecurityState) -> list[Change]:
        if key not in state.projects:
            raise _missing(key)
        return [(PROJECT, key, None)]

    current_emulator().store.modify_security(plan)
    return Response(status=204)
