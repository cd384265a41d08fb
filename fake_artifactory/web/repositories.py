"""``/api/repositories``: list, get, create (local generic), update and delete."""

from __future__ import annotations

import re
from urllib.parse import unquote

from flask import Response, request

from fake_artifactory.core import serializers
from fake_artifactory.core.auth import require
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.records import RepoRecord
from fake_artifactory.web.context import (
    base_url,
    json_body,
    json_response,
    not_implemented,
    principal,
    require_pro,
)
from fake_artifactory.web.emulator import current_emulator

_REPO_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_RCLASSES = frozenset({"local", "remote", "virtual", "federated"})


def _key(raw: str) -> str:
    return unquote(raw.strip("/"))


def list_all() -> Response:
    """``GET /api/repositories[?type=]``."""
    kind = (request.args.get("type") or "").lower()
    base = base_url()
    repos = [
        serializers.repo_details(r, base)
        for r in current_emulator().store.list_repos()
        if not kind or r.rclass == kind
    ]
    resp = json_response(repos)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def get(key: str) -> Response:
    """``GET /api/repositories/{key}``: config with ``rclass``."""
    repo = current_emulator().store.get_repo(_key(key))
    if repo is None:
        raise HttpError(400, f"Repository {_key(key)} does not exist")
    return json_response(serializers.repo_config(repo), serializers.REPOSITORY_CONFIG)


def create(key: str) -> Response:
    """``PUT /api/repositories/{key}``: create a local generic repo (admin, Pro) -> 200 text."""
    key = _key(key)
    require_pro()
    who = principal()
    require(who, "admin", "Only an admin user can create repositories.")
    body = json_body() or {}
    if not isinstance(body, dict):
        raise HttpError(400, "Repository configuration must be a JSON object", plain=True)
    raw_rclass = body.get("rclass", "local")
    if not isinstance(raw_rclass, str) or raw_rclass.lower() not in _RCLASSES:
        raise HttpError(
            400,
            "Invalid repository configuration: 'rclass' must be one of "
            + ", ".join(sorted(_RCLASSES)),
            plain=True,
        )
    rclass = raw_rclass.lower()
    raw_type = body.get("packageType", "generic")
    if not isinstance(raw_type, str) or not raw_type:
        raise HttpError(
            400, "Invalid repository configuration: 'packageType' must be a string", plain=True
        )
    package_type = raw_type.lower()
    if rclass != "local":
        raise not_implemented(f"repositories of rclass {rclass!r}")
    if not _REPO_KEY.match(key):
        raise HttpError(400, f"Invalid repository key: {key}", plain=True)
    store = current_emulator().store
    if store.has_repo(key):
        raise HttpError(400, f"Case insensitive repository key already exists: {key}", plain=True)
    store.create_repo(RepoRecord(key, rclass, package_type, str(body.get("description", ""))))
    return Response(f"Successfully created repository '{key}'", content_type="text/plain")


def _repo_admin(key: str) -> None:
    who = principal()
    require(who, "admin", "Only an admin user can manage repositories.")
    if not current_emulator().store.has_repo(key):
        raise HttpError(400, f"Repository {key} does not exist", plain=True)


def update(key: str) -> Response:
    """``POST /api/repositories/{key}``: only ``description`` is applied -> 200 text."""
    key = _key(key)
    _repo_admin(key)
    body = json_body()
    if not isinstance(body, dict):
        raise HttpError(400, "Repository configuration must be a JSON object", plain=True)
    description = body.get("description")
    if description is not None:
        current_emulator().store.update_repo(key, str(description))
    return Response(f"Repository {key} update successfully.", content_type="text/plain")


def delete(key: str) -> Response:
    """``DELETE /api/repositories/{key}``: the repo and its content -> 200 text."""
    key = _key(key)
    _repo_admin(key)
    current_emulator().store.delete_repo(key)
    return Response(
        f"Repository '{key}' and all its content have been removed successfully.",
        content_type="text/plain",
    )
