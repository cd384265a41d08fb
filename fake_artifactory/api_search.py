"""``GET /api/search/prop``: property search (reference section 8.5).

Results are ``{"results":[{"uri": <storage URL>}]}``; with the request header
``X-Result-Detail: info`` each result also carries the FileInfo/FolderInfo fields
(folders without ``children``), with ``properties`` the item's properties.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from fake_artifactory import propsearch, routes, serializers
from fake_artifactory.api_common import json_response
from fake_artifactory.auth import require


def _result(item: Any, base: str, detail: set[str]) -> dict[str, Any]:
    if "info" in detail:
        if item.is_folder:
            entry = serializers.folder_info(item, [], base)
            entry.pop("children")
        else:
            entry = serializers.file_info(item, base)
    else:
        entry = {"uri": serializers.storage_url(base, item.repo, item.path)}
    if "properties" in detail:
        entry["properties"] = {k: list(v) for k, v in sorted(item.properties.items())}
    return entry


def search_properties() -> Response:
    """Items whose properties match every criterion of the query string."""
    who = routes.principal()
    require(who, "read", f"User {who.name} is not permitted to search.")
    query = propsearch.parse_query(request.args.items(multi=True))
    header = request.headers.get("X-Result-Detail", "")
    detail = {d.strip().lower() for d in header.split(",") if d.strip()}
    base = routes.base_url()
    store = routes.emulator().store
    results = [
        _result(item, base, detail)
        for item in store.iter_items()
        if item.properties and propsearch.matches(query, item.repo, item.properties)
    ]
    return json_response({"results": results}, propsearch.CONTENT_TYPE)
