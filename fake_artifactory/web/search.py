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
from fake_artifactory.web.context import base_url, json_response, principal
from fake_artifactory.web.emulator import current_emulator


def search_aql() -> Response:
    """``POST /api/search/aql``: any Content-Type; anonymous callers are refused; parse
    errors are 400 ``text/plain``."""
    who = principal()
    require_non_anonymous(who, "Only non-anonymous users are allowed to access AQL queries")
    require(who, "read", f"User {who.name} is not permitted to search.")
    text = request.get_data(as_text=True).strip() or request.args.get("query", "").strip()
    if not text:
        raise HttpError(400, "", plain=True)
    items = (
        aql.aql_item(i)
        for i in current_emulator().store.iter_items()
        if who.can("read", i.repo, i.path)
    )
    try:
        result = aql.search(text, items)
    except aql.AqlError as exc:
        raise HttpError(400, str(exc), plain=True) from None
    return json_response(result)


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
