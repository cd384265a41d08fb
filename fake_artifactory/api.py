"""The ``/artifactory/api/...`` endpoints: storage, properties, system, repositories.

``dispatch_api`` receives the raw path after ``/api``.  Pro-only endpoints answer the
real OSS 400 when the emulator runs as edition ``oss``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from flask import Response, request

from fake_artifactory import api_archive, api_copy, api_search, routes, serializers
from fake_artifactory.api_common import PRO_ONLY as PRO_ONLY
from fake_artifactory.api_common import flag, json_body, json_response, require_pro
from fake_artifactory.auth import require, require_non_anonymous
from fake_artifactory.errors import HttpError, NoSuchItem, NoSuchRepo
from fake_artifactory.paths import InvalidRawPath, RepoRequest, validate_property_key
from fake_artifactory.storage import ItemRecord, RepoRecord

_REPO_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_RCLASSES = frozenset({"local", "remote", "virtual", "federated"})

# Short aliases kept for the views below (and for code importing them from here).
_json = json_response
_json_body = json_body
_flag = flag
_require_pro = require_pro


def dispatch_api(rest: str) -> Response:
    """Route ``/api/<rest>`` (raw path) to a view or answer 501."""
    method = request.method
    head, _, tail = rest.lstrip("/").partition("/")
    if head == "storage" and tail.strip("/"):
        req = routes.parse_repo("/" + tail)
        handler = _STORAGE_HANDLERS.get(method)
        if handler is not None:
            return handler(req)
    elif head == "metadata" and tail.strip("/") and method == "PATCH":
        return update_metadata(routes.parse_repo("/" + tail))
    elif head == "system":
        view = _SYSTEM.get((method if method != "HEAD" else "GET", tail.strip("/")))
        if view is not None:
            return view()
    elif head == "repositories":
        key = unquote(tail.strip("/"))
        if not key and method in ("GET", "HEAD"):
            return list_repositories()
        if key and method in ("GET", "HEAD"):
            return get_repository(key)
        if key and method == "PUT":
            return create_repository(key)
        if key and method == "POST":
            return update_repository(key)
        if key and method == "DELETE":
            return delete_repository(key)
    elif head == "v1" and tail.strip("/") == "uploads/config" and method == "GET":
        return get_uploads_config()
    elif head == "search" and tail.strip("/") == "aql" and method == "POST":
        return search_aql()
    elif head == "search" and tail.strip("/") == "prop" and method in ("GET", "HEAD"):
        return api_search.search_properties()
    elif head in ("copy", "move") and method == "POST":
        return api_copy.copy_or_move(head, tail)
    elif head == "archive" and tail.startswith("download/") and method == "GET":
        return api_archive.download_folder(tail[len("download/") :])
    raise routes.not_implemented(f"/api{rest}")


# -- storage API ---------------------------------------------------------------------------


def _read_item(req: RepoRequest) -> ItemRecord:
    who = routes.principal()
    require(
        who,
        "read",
        f"Request for '{req.repo}:{req.path}' is forbidden for user: '{who.name}'.",
    )
    try:
        item = routes.emulator().store.get_item(req.repo, req.path)
    except NoSuchRepo:
        item = None
    if item is None:
        raise NoSuchItem(req.repo, req.path)
    return item


def storage_get(req: RepoRequest) -> Response:
    """``GET /api/storage/{repo}/{path}`` with the query-key precedence of Artifactory."""
    args = request.args
    if "list" in args:
        return get_file_list(req)
    if "properties" in args:
        return get_properties(req)
    for unsupported in ("storageinfo", "stats", "lastModified", "propertiesXml", "permissions"):
        if unsupported in args:
            raise routes.not_implemented(f"/api/storage?{unsupported}")
    return get_storage_info(req)


def get_storage_info(req: RepoRequest) -> Response:
    """File info or folder info (root ``path`` is ``/``)."""
    item = _read_item(req)
    base = routes.base_url()
    if item.is_folder:
        children = routes.emulator().store.list_children(req.repo, req.path)
        resp = _json(serializers.folder_info(item, children, base), serializers.FOLDER_INFO)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    return _json(serializers.file_info(item, base), serializers.FILE_INFO)


def get_file_list(req: RepoRequest) -> Response:
    """``?list`` (Pro): deep/depth/listFolders/includeRootPath/mdTimestamps."""
    _require_pro()
    require_non_anonymous(
        routes.principal(), "This resource is available to authenticated users only."
    )
    item = _read_item(req)
    if not item.is_folder:
        raise HttpError(400, f"Expected a folder but found a file, at: {req.repo}:{req.path}")
    deep = _flag("deep")
    depth: int | None = 1
    if deep:
        raw_depth = request.args.get("depth")
        try:
            depth = int(raw_depth) if raw_depth not in (None, "") else None
        except ValueError:
            raise HttpError(400, f"Invalid depth value: {raw_depth}") from None
        if depth is not None and depth < 1:
            depth = None
    entries = routes.emulator().store.iter_descendants(req.repo, req.path, depth)
    if not _flag("listFolders"):
        entries = (e for e in entries if not e.is_folder)
    body = serializers.file_list(
        item,
        entries,
        routes.base_url(),
        include_root=_flag("includeRootPath"),
        md_timestamps=_flag("mdTimestamps"),
    )
    return _json(body, serializers.FILE_LIST)


def get_properties(req: RepoRequest) -> Response:
    """``?properties[=k1,k2]``: arrays per key, 404 ``No properties could be found.``"""
    item = _read_item(req)
    wanted = request.args.get("properties") or ""
    keys = [k for k in wanted.split(",") if k] or None
    body = serializers.item_properties(item, routes.base_url(), keys)
    if body is None:
        raise HttpError(404, "No properties could be found.")
    resp = _json(body, serializers.ITEM_PROPERTIES)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _split_unescaped(text: str, seps: str) -> list[str]:
    """Split on separators not preceded by a backslash escape (escapes are kept)."""
    out, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch in seps:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_properties_param(raw: str) -> dict[str, list[str]]:
    """Parse ``k1=v1,v2;k2=v3`` (``|`` also separates pairs, ``\\`` escapes ``=,;|``)."""
    props: dict[str, list[str]] = {}
    for pair in _split_unescaped(raw, ";|"):
        if not pair:
            continue
        key_part, *value_parts = _split_unescaped(pair, "=")
        value_text = pair[len(key_part) + 1 :]
        values = [_unescape(v) for v in _split_unescaped(value_text, ",")] if value_parts else [""]
        props[_unescape(key_part)] = values
    return props


def set_properties(req: RepoRequest) -> Response:
    """``PUT /api/storage/{repo}/{path}?properties=...`` (Pro) -> 204."""
    _require_pro()
    if "properties" not in request.args:
        raise routes.not_implemented("/api/storage without ?properties")
    who = routes.principal()
    require(who, "annotate", f"User {who.name} needs annotate permission on {req.repo}:{req.path}.")
    props = parse_properties_param(request.args.get("properties", ""))
    for key in props:
        try:
            validate_property_key(key)
        except InvalidRawPath as exc:
            raise HttpError(400, exc.message) from None
    _read_item(req)
    routes.emulator().store.set_properties(
        req.repo, req.path, props, recursive=_flag("recursive", default=True)
    )
    return Response(status=204)


def delete_properties(req: RepoRequest) -> Response:
    """``DELETE /api/storage/{repo}/{path}?properties=k1,k2`` (Pro) -> 204."""
    _require_pro()
    if "properties" not in request.args:
        raise routes.not_implemented("/api/storage without ?properties")
    who = routes.principal()
    require(who, "annotate", f"User {who.name} needs annotate permission on {req.repo}:{req.path}.")
    _read_item(req)
    keys = [k for k in (request.args.get("properties") or "").split(",") if k]
    routes.emulator().store.delete_properties(
        req.repo, req.path, keys, recursive=_flag("recursive", default=True)
    )
    return Response(status=204)


def update_metadata(req: RepoRequest) -> Response:
    """``PATCH /api/metadata/{repo}/{path}`` with ``{"props": {...}}`` (merge patch) -> 204.

    A ``null`` value removes the key; strings and string arrays replace it. ``stats``
    updates are accepted and ignored.
    """
    who = routes.principal()
    require(
        who,
        "annotate",
        f"User {who.name} is not permitted to annotate '{req.repo}:{req.path}'. "
        "You must have annotate permission on this path",
    )
    body = _json_body()
    if not isinstance(body, dict) or not ("props" in body or "stats" in body):
        raise HttpError(400, "props or stats fields required", plain=True)
    props = body.get("props") or {}
    if not isinstance(props, dict):
        raise HttpError(400, "props must be an object", plain=True)
    to_set: dict[str, list[str]] = {}
    to_delete: list[str] = []
    for key, value in props.items():
        if value is None:
            to_delete.append(key)
        elif isinstance(value, str):
            to_set[key] = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            to_set[key] = list(value)
        else:
            raise HttpError(400, f"Invalid value for property '{key}'", plain=True)
        if value is not None:
            try:
                validate_property_key(key)
            except InvalidRawPath as exc:
                raise HttpError(400, exc.message, plain=True) from None
    _read_item(req)
    recursive = _flag("recursiveProperties", default=_flag("recursive", default=True))
    store = routes.emulator().store
    if to_set:
        store.set_properties(req.repo, req.path, to_set, recursive=recursive)
    if to_delete:
        store.delete_properties(req.repo, req.path, to_delete, recursive=recursive)
    return Response(status=204)


_STORAGE_HANDLERS: dict[str, Callable[[RepoRequest], Response]] = {
    "GET": storage_get,
    "HEAD": storage_get,
    "PUT": set_properties,
    "DELETE": delete_properties,
}


# -- AQL ----------------------------------------------------------------------------------


def _as_aql_item(aql: Any, item: ItemRecord) -> Any:
    def when(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)

    return aql.AqlItem(
        repo=item.repo,
        path=item.path,
        name=item.name,
        type=item.type,
        size=item.size,
        created=when(item.created),
        modified=when(item.modified),
        updated=when(item.updated),
        created_by=item.created_by,
        modified_by=item.modified_by,
        sha1=item.sha1,
        md5=item.md5,
        sha256=item.sha256,
        original_sha1=item.original_sha1,
        original_md5=item.original_md5,
        properties=item.properties,
    )


def search_aql() -> Response:
    """``POST /api/search/aql``: evaluated by ``fake_artifactory.aql`` when present.

    Any Content-Type is accepted; anonymous callers are refused; parse errors are 400
    ``text/plain``.  Results are not filtered by per-path permissions (the emulator's
    permissions are global).
    """
    try:
        aql = importlib.import_module("fake_artifactory.aql")
    except ImportError:
        raise routes.not_implemented("/api/search/aql") from None
    who = routes.principal()
    require_non_anonymous(who, "Only non-anonymous users are allowed to access AQL queries")
    require(who, "read", f"User {who.name} is not permitted to search.")
    text = request.get_data(as_text=True).strip() or request.args.get("query", "").strip()
    if not text:
        raise HttpError(400, "", plain=True)
    items = (_as_aql_item(aql, i) for i in routes.emulator().store.iter_items())
    try:
        result = aql.search(text, items)
    except aql.AqlError as exc:
        raise HttpError(400, str(exc), plain=True) from None
    return _json(result)


# -- system -------------------------------------------------------------------------------


def ping() -> Response:
    """``GET /api/system/ping``: ``OK``, no authentication needed."""
    return Response("OK", content_type="text/plain")


def get_version() -> Response:
    """``GET /api/system/version``."""
    cfg = routes.emulator().config
    digits = re.sub(r"\D", "", cfg.version)
    body: dict[str, Any] = {
        "version": cfg.version,
        "revision": (digits + "900")[:8],
        "addons": ["build", "docker", "rest", "properties", "search"]
        if cfg.edition == "pro"
        else [],
    }
    if cfg.edition == "pro":
        body["license"] = "fake0000000000000000000000000000000000000"
    return _json(body, serializers.VERSION)


_SYSTEM: dict[tuple[str, str], Callable[[], Response]] = {
    ("GET", "ping"): ping,
    ("GET", "version"): get_version,
}


def get_uploads_config() -> Response:
    """``GET /api/v1/uploads/config``: multipart upload is not supported."""
    return _json({"supported": False})


# -- repositories ---------------------------------------------------------------------------


def list_repositories() -> Response:
    """``GET /api/repositories[?type=]``."""
    kind = (request.args.get("type") or "").lower()
    base = routes.base_url()
    repos = [
        serializers.repo_details(r, base)
        for r in routes.emulator().store.list_repos()
        if not kind or r.rclass == kind
    ]
    resp = _json(repos)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def get_repository(key: str) -> Response:
    """``GET /api/repositories/{key}``: config with ``rclass``."""
    repo = routes.emulator().store.get_repo(key)
    if repo is None:
        raise HttpError(400, f"Repository {key} does not exist")
    return _json(serializers.repo_config(repo), serializers.REPOSITORY_CONFIG)


def create_repository(key: str) -> Response:
    """``PUT /api/repositories/{key}``: create a local generic repo (admin, Pro) -> 200 text."""
    _require_pro()
    who = routes.principal()
    require(who, "admin", "Only an admin user can create repositories.")
    body = _json_body() or {}
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
        raise routes.not_implemented(f"repositories of rclass {rclass!r}")
    if not _REPO_KEY.match(key):
        raise HttpError(400, f"Invalid repository key: {key}", plain=True)
    store = routes.emulator().store
    if store.has_repo(key):
        raise HttpError(400, f"Case insensitive repository key already exists: {key}", plain=True)
    store.create_repo(RepoRecord(key, rclass, package_type, str(body.get("description", ""))))
    return Response(f"Successfully created repository '{key}'", content_type="text/plain")


def _repo_admin(key: str) -> None:
    who = routes.principal()
    require(who, "admin", "Only an admin user can manage repositories.")
    if not routes.emulator().store.has_repo(key):
        raise HttpError(400, f"Repository {key} does not exist", plain=True)


def update_repository(key: str) -> Response:
    """``POST /api/repositories/{key}``: only ``description`` is applied -> 200 text."""
    _repo_admin(key)
    body = _json_body()
    if not isinstance(body, dict):
        raise HttpError(400, "Repository configuration must be a JSON object", plain=True)
    description = body.get("description")
    if description is not None:
        routes.emulator().store.update_repo(key, str(description))
    return Response(f"Repository {key} update successfully.", content_type="text/plain")


def delete_repository(key: str) -> Response:
    """``DELETE /api/repositories/{key}``: the repo and its content -> 200 text."""
    _repo_admin(key)
    routes.emulator().store.delete_repo(key)
    return Response(
        f"Repository '{key}' and all its content have been removed successfully.",
        content_type="text/plain",
    )
