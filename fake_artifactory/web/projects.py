"""Projects of the Access API: ``/access/api/v1/projects[/{key}]`` (platform admins).

Served outside the context path with the Access error envelope
(:mod:`fake_artifactory.web.access`); the rules are in :mod:`fake_artifactory.core.projects`.
Projects are stored with the users and groups (they persist and go into snapshots).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Response

from fake_artifactory.core import projects
from fake_artifactory.core.auth import Principal
from fake_artifactory.core.security import PROJECT, Change, SecurityState
from fake_artifactory.web import access
from fake_artifactory.web.context import json_body
from fake_artifactory.web.emulator import current_emulator


class _Refused(Exception):
    def __init__(self, answer: Response) -> None:
        self.answer = answer


def _admin() -> Principal | Response:
    who = access.caller()
    if isinstance(who, Response):
        return who
    if not who.admin:
        return access.error(403, "FORBIDDEN", "Only a platform admin may manage projects")
    return who


def _missing(key: str) -> Response:
    return access.error(404, "NOT_FOUND", f"Project '{key}' not found")


def _projects() -> dict[str, Any]:
    return dict(current_emulator().store.security_state().projects)


def list_all() -> Response:
    """``GET /access/api/v1/projects``."""
    who = _admin()
    if isinstance(who, Response):
        return who
    return access.json_answer(list(_projects().values()))


def get(key: str) -> Response:
    """``GET /access/api/v1/projects/{key}``."""
    who = _admin()
    if isinstance(who, Response):
        return who
    found = _projects().get(unquote(key))
    return _missing(unquote(key)) if found is None else access.json_answer(found)


def _save(key: str, body: Any, *, create: bool) -> dict[str, Any] | Response:
    saved: list[dict[str, Any]] = []

    def plan(state: SecurityState) -> list[Change]:
        existing = state.projects.get(key)
        if create and existing is not None:
            raise _Refused(access.error(409, "CONFLICT", f"Project '{key}' already exists"))
        if not create and existing is None:
            raise _Refused(_missing(key))
        try:
            project = projects.parse(body, key, existing)
        except projects.ProjectError as exc:
            raise _Refused(access.error(400, "BAD_REQUEST", str(exc))) from None
        saved.append(project)
        return [(PROJECT, key, project)]

    try:
        current_emulator().store.modify_security(plan)
    except _Refused as refused:
        return refused.answer
    return saved[0]


def create() -> Response:
    """``POST /access/api/v1/projects`` -> 201 with the project."""
    who = _admin()
    if isinstance(who, Response):
        return who
    body = json_body()
    key = body.get("project_key") if isinstance(body, dict) else None
    if not isinstance(key, str):
        return access.error(400, "BAD_REQUEST", "project_key is required")
    saved = _save(key, body, create=True)
    return saved if isinstance(saved, Response) else access.json_answer(saved, 201)


def update(key: str) -> Response:
    """``PUT /access/api/v1/projects/{key}`` -> 200 with the project."""
    who = _admin()
    if isinstance(who, Response):
        return who
    saved = _save(unquote(key), json_body(), create=False)
    return saved if isinstance(saved, Response) else access.json_answer(saved)


def delete(key: str) -> Response:
    """``DELETE /access/api/v1/projects/{key}`` -> 204."""
    who = _admin()
    if isinstance(who, Response):
        return who
    key = unquote(key)

    def plan(state: SecurityState) -> list[Change]:
        if key not in state.projects:
            raise _Refused(_missing(key))
        return [(PROJECT, key, None)]

    try:
        current_emulator().store.modify_security(plan)
    except _Refused as refused:
        return refused.answer
    return Response(status=204)
