"""The storage API: ``/api/storage/{repo}/{path}`` (item info, ``?list``, properties) and
``PATCH /api/metadata/{repo}/{path}``.

Pro-only endpoints answer the real OSS 400 when the emulator runs as edition ``oss``.
"""

from __future__ import annotations

from flask import Response, request

from fake_artifactory.core import serializers
from fake_artifactory.core.auth import refuse_anonymous, require
from fake_artifactory.core.errors import HttpError, NoSuchItem, NoSuchRepo
from fake_artifactory.core.properties import (
    parse_metadata_patch,
    parse_properties_param,
    validate_property_key,
)
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.uri import RepoRequest, parse_repo_request
from fake_artifactory.web.context import (
    base_url,
    flag,
    json_body,
    json_response,
    not_implemented,
    principal,
    require_pro,
)
from fake_artifactory.web.emulator import current_emulator
from fake_artifactory.web.reads import RepoView

#: Query keys of the storage API the emulator does not implement (501, never a 200).
UNSUPPORTED_KEYS = ("storageinfo", "stats", "lastModified", "propertiesXml", "permissions")
#: What the storage resource can produce: a request accepting none of these is refused
#: with 406 before anything else is looked at (Jersey matches ``Accept`` first).
PRODUCES = (
    "application/json",
    "application/xml",
    serializers.FOLDER_INFO,
    serializers.FILE_INFO,
    serializers.ITEM_PROPERTIES,
    serializers.FILE_LIST,
    "application/vnd.org.jfrog.artifactory.storage.ItemLastModified+json",
    "application/vnd.org.jfrog.artifactory.storage.ItemPermissions+json",
    "application/vnd.org.jfrog.artifactory.storage.StatsInfo+json",
)


def _accepts(*types: str) -> bool:
    """True when the request has no ``Accept`` header or accepts one of ``types``."""
    if "Accept" not in request.headers:
        return True
    return request.accept_mimetypes.best_match(types) is not None


def _require_acceptable(produced: str) -> None:
    """406 when the client accepts neither ``produced`` nor plain ``application/json``
    (which Artifactory always allows, for older clients), naming what it accepts."""
    if _accepts(produced, "application/json"):
        return
    accepted = [t.split(";", 1)[0].strip() for t in request.headers["Accept"].split(",")]
    raise HttpError(
        406,
        f"Resource produces {produced} but client only accepts [{', '.join(accepted)}]",
    )


def _view(req: RepoRequest) -> RepoView:
    """The repository as the caller may read it (403 when they may read none of it)."""
    view = RepoView(req.repo, principal())
    view.require_readable(req.path)
    return view


def _read_item(req: RepoRequest, view: RepoView | None = None) -> ItemRecord:
    try:
        item = (view or _view(req)).get(req.path)
    except NoSuchRepo:
        item = None
    if item is None:
        raise NoSuchItem(req.repo, req.path)
    return item


def get(tail: str) -> Response:
    """``GET /api/storage/{repo}/{path}`` with the query-key precedence of Artifactory."""
    if not _accepts(*PRODUCES):
        raise HttpError(406, "Not Acceptable")
    req = parse_repo_request("/" + tail)
    args = request.args
    if "list" in args:
        return get_file_list(req)
    if "properties" in args:
        return get_properties(req)
    for unsupported in UNSUPPORTED_KEYS:
        if unsupported in args:
            raise not_implemented(f"/api/storage?{unsupported}")
    return get_storage_info(req)


def get_storage_info(req: RepoRequest) -> Response:
    """File info or folder info (root ``path`` is ``/``); through a virtual repository, a
    missing item is a 404 with no body (as Artifactory answers it there)."""
    view = _view(req)
    if view.virtual:
        found = view.get(req.path)
        if found is None:
            return Response(status=404)
        item = found
    else:
        item = _read_item(req, view)
    _require_acceptable(serializers.FOLDER_INFO if item.is_folder else serializers.FILE_INFO)
    base = base_url()
    if item.is_folder:
        children = view.children(req.path)
        resp = json_response(serializers.folder_info(item, children, base), serializers.FOLDER_INFO)
        resp.headers["Cache-Control"] = "no-store"
        return resp
    return json_response(serializers.file_info(item, base), serializers.FILE_INFO)


def get_file_list(req: RepoRequest) -> Response:
    """``?list`` (Pro): deep/depth/listFolders/includeRootPath/mdTimestamps."""
    require_pro()
    refuse_anonymous(principal())
    view = _view(req)
    item = _read_item(req, view)
    if not item.is_folder:
        raise HttpError(400, f"Expected a folder but found a file, at: {req.repo}:{req.path}")
    deep = flag("deep")
    depth: int | None = 1
    if deep:
        raw_depth = request.args.get("depth")
        try:
            depth = int(raw_depth) if raw_depth not in (None, "") else None
        except ValueError:
            raise HttpError(400, f"Invalid depth value: {raw_depth}") from None
        if depth is not None and depth < 1:
            depth = None
    entries = view.descendants(req.path, depth)
    if not flag("listFolders"):
        entries = (e for e in entries if not e.is_folder)
    body = serializers.file_list(
        item,
        entries,
        base_url(),
        include_root=flag("includeRootPath"),
        md_timestamps=flag("mdTimestamps"),
    )
    return json_response(body, serializers.FILE_LIST)


def get_properties(req: RepoRequest) -> Response:
    """``?properties[=k1,k2]``: arrays per key.  No such property, no such item or
    repository, or no read permission: all the same 404 ``No properties could be found.``"""
    none_found = HttpError(404, "No properties could be found.")
    if not principal().can("read"):
        raise none_found
    try:
        item = current_emulator().store.get_item(req.repo, req.path)
    except NoSuchRepo:
        item = None
    if item is None:
        raise none_found
    wanted = request.args.get("properties") or ""
    keys = [k for k in wanted.split(",") if k] or None
    body = serializers.item_properties(item, base_url(), keys)
    if body is None:
        raise none_found
    resp = json_response(body, serializers.ITEM_PROPERTIES)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _annotating(req: RepoRequest) -> None:
    require_pro()
    if "properties" not in request.args:
        raise not_implemented("/api/storage without ?properties")
    who = principal()
    require(
        who,
        "annotate",
        f"User {who.name} needs annotate permission on {req.repo}:{req.path}.",
        req.repo,
        req.path,
    )


def set_properties(tail: str) -> Response:
    """``PUT /api/storage/{repo}/{path}?properties=...`` (Pro) -> 204."""
    req = parse_repo_request("/" + tail)
    _annotating(req)
    props = parse_properties_param(request.args.get("properties", ""))
    for key in props:
        validate_property_key(key)
    _read_item(req)
    current_emulator().store.set_properties(
        req.repo, req.path, props, recursive=flag("recursive", default=True)
    )
    return Response(status=204)


def delete_properties(tail: str) -> Response:
    """``DELETE /api/storage/{repo}/{path}?properties=k1,k2`` (Pro) -> 204."""
    req = parse_repo_request("/" + tail)
    _annotating(req)
    _read_item(req)
    keys = [k for k in (request.args.get("properties") or "").split(",") if k]
    current_emulator().store.delete_properties(
        req.repo, req.path, keys, recursive=flag("recursive", default=True)
    )
    return Response(status=204)


def unsupported(rest: str, tail: str) -> Response:
    """Any other method on a storage path: 501 (after the path check)."""
    parse_repo_request("/" + tail)
    raise not_implemented(rest)


def update_metadata(tail: str) -> Response:
    """``PATCH /api/metadata/{repo}/{path}`` with ``{"props": {...}}`` (merge patch) -> 204.

    A ``null`` value removes the key; strings and string arrays replace it. ``stats``
    updates are accepted and ignored.
    """
    req = parse_repo_request("/" + tail)
    who = principal()
    require(
        who,
        "annotate",
        f"User {who.name} is not permitted to annotate '{req.repo}:{req.path}'. "
        "You must have annotate permission on this path",
        req.repo,
        req.path,
    )
    patch = parse_metadata_patch(json_body())
    _read_item(req)
    recursive = flag("recursiveProperties", default=flag("recursive", default=True))
    store = current_emulator().store
    if patch.to_set:
        store.set_properties(req.repo, req.path, patch.to_set, recursive=recursive)
    if patch.to_delete:
        store.delete_properties(req.repo, req.path, patch.to_delete, recursive=recursive)
    return Response(status=204)
