"""``/api/repositories``: list, get, create (local and virtual), update and delete.

The configuration rules and wire format are in :mod:`fake_artifactory.core.repoconfig`.
"""

from __future__ import annotations

from flask import Response, request

from fake_artifactory.core import repoconfig, serializers
from fake_artifactory.core.auth import Principal, require
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.records import RepoRecord
from fake_artifactory.core.uri import decode_key
from fake_artifactory.web.context import (
    base_url,
    json_body,
    json_response,
    not_implemented,
    principal,
    require_pro,
)
from fake_artifactory.web.emulator import current_emulator


def _key(raw: str) -> str:
    return decode_key(raw.strip("/"))


def _visible(repo: RepoRecord, who: Principal) -> bool:
    """Whether ``who`` sees ``repo`` (a virtual one through any member)."""
    if who.admin:
        return True
    members = repoconfig.resolution_order(repo.key, current_emulator().store.repos.all())
    return any(who.can("read", m, "") for m in members)


def list_all() -> Response:
    """``GET /api/repositories[?type=]``: the repositories the caller may read."""
    kind = (request.args.get("type") or "").lower()
    base = base_url()
    who = principal()
    repos = [
        serializers.repo_details(r, base)
        for r in current_emulator().store.list_repos()
        if (not kind or r.rclass == kind) and _visible(r, who)
    ]
    resp = json_response(repos)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def get(key: str) -> Response:
    """``GET /api/repositories/{key}``: an admin gets the whole configuration, another
    user who may read the repository its public part, anyone else a missing repo's 400."""
    key = _key(key)
    repo = current_emulator().store.get_repo(key)
    who = principal()
    if repo is None or not _visible(repo, who):
        raise HttpError(400, f"Repository {key} does not exist")
    body = repoconfig.config_json(repo) if who.admin else repoconfig.partial_json(repo)
    return json_response(body, repoconfig.content_type(repo))


def create(key: str) -> Response:
    """``PUT /api/repositories/{key}``: create a local or virtual repository (admin, Pro)."""
    key = _key(key)
    require_pro()
    require(principal(), "admin", "Only an admin user can create repositories.")
    repo = repoconfig.parse_create(key, json_body() or {})
    if repo.rclass not in repoconfig.CREATABLE:
        raise not_implemented(f"repositories of rclass {repo.rclass!r}")
    store = current_emulator().store
    if store.has_repo(key):
        raise HttpError(400, f"Case insensitive repository key already exists: {key}", plain=True)
    if repo.rclass == "virtual":
        repoconfig.check_virtual(repo, store.repos.all())
    store.create_repo(repo)
    return Response(f"Successfully created repository '{key}'", content_type="text/plain")


def _repo_admin(key: str) -> RepoRecord:
    who = principal()
    require(who, "admin", "Only an admin user can manage repositories.")
    repo = current_emulator().store.get_repo(key)
    if repo is None:
        raise HttpError(400, f"Repository {key} does not exist", plain=True)
    return repo


def update(key: str) -> Response:
    """``POST /api/repositories/{key}``: merge the fields sent into the configuration."""
    key = _key(key)
    repo = repoconfig.parse_update(_repo_admin(key), json_body())
    store = current_emulator().store
    if repo.rclass == "virtual":
        repoconfig.check_virtual(repo, store.repos.all())
    store.update_repo(repo)
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
