"""Searches: ``POST /api/search/aql`` and ``GET /api/search/prop``.

Results hold only the items the caller may read.  Property search results are
``{"results":[{"uri": <storage URL>}]}``; with
the request header ``X-Result-Detail: info`` each result also carries the
FileInfo/FolderInfo fields (folders without ``children``), with ``properties`` the
item's properties.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from fake_artifactory.core import aql, propsearch, serializers, uri
from fake_artifactory.core.auth import require, require_non_anonymous
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.repoconfig import virtual_repos_of
from fake_artifactory.core.versions import aql_query_limit
from fake_artifactory.web.context import base_url, json_response, principal
from fake_artifactory.web.emulator import current_emulator


def search_aql() -> Response:
    """``POST /api/search/aql``: the body is the query (``text/plain`` or no Content-Type,
    anything else is 415); anonymous callers are refused; a query over the version's
    length limit is 400; a parse error is 400 with Artifactory's wording."""
    media_type = (request.mimetype or "").lower()
    if request.content_type and media_type != "text/plain":
        # Jersey refuses what the resource does not consume, before the method runs.
        raise HttpError(415, "Unsupported Media Type")
    who = principal()
    require_non_anonymous(who, "Only non-anonymous users are allowed to access AQL queries")
    require(who, "read", f"User {who.name} is not permitted to search.")
    raw = request.get_data(as_text=True) or request.args.get("query", "")
    limit = aql_query_limit(current_emulator().config)
    if limit is not None and len(raw) > limit:
        raise HttpError(
            400, f"The AQL query is {len(raw)} characters long; the maximum is {limit}."
        )
    text = raw.strip()
    if not text:
        raise HttpError(400, "", plain=True)
    store = current_emulator().store
    repos = store.repos.all()
    seen_in = virtual_repos_of(repos)
    virtual = frozenset(key for key, repo in repos.items() if repo.rclass == "virtual")
    items = (
        aql.aql_item(i, seen_in.get(i.repo, ()))
        for i in store.iter_items()
        if who.can("read", i.repo, i.path)
    )
    try:
        result = aql.search(text, items, virtual)
    except aql.AqlError as exc:
        raise _parse_failure(aql.failure_message(text, exc)) from None
    return Response(serializers.aql_json(result), content_type="application/json")


def _parse_failure(message: str) -> HttpError:
    """The resource answers its parse error as a bare string: negotiated as JSON (the
    first type it produces) it goes out as is under ``application/json``; a client that
    prefers ``text/plain`` gets it wrapped in the error envelope."""
    if request.accept_mimetypes.best_match(["application/json", "text/plain"]) == "text/plain":
        return HttpError(400, message)
    return HttpError(400, message, plain=True, content_type="application/json")


def _prop_result(item: ItemRecord, base: str, detail: set[str]) -> dict[str, Any]:
    if "info" in detail:
        if item.is_folder:
            entry = serializers.folder_info(item, [], base)
            entry.pop("children")
        else:
            entry = serializers.file_info(item, base)
    else:
        entry = {"uri": uri.storage_url(base, item.repo, item.path)}
    if "properties" in detail:
        entry["properties"] = {k: list(v) for k, v in sorted(item.properties.items())}
    return entry


def search_properties() -> Response:
    """Items whose properties match every criterion of the query string."""
    who = principal()
    require(who, "read", f"User {who.name} is not permitted to search.")
    query = propsearch.parse_query(request.args.items(multi=True))
    header = request.headers.get("X-Result-Detail", "")
    detail = {d.strip().lower() for d in header.split(",") if d.strip()}
    base = base_url()
    store = current_emulator().store
    results = [
        _prop_result(item, base, detail)
        for item in store.iter_items()
        if item.properties
        and propsearch.matches(query, item.repo, item.properties)
        and who.can("read", item.repo, item.path)
    ]
    return json_response({"results": results}, propsearch.CONTENT_TYPE)
