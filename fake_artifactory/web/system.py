"""System endpoints: the context root, ``/api/system/ping|version|usage`` and the uploads
config."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from fake_artifactory.core import serializers
from fake_artifactory.core.versions import revision
from fake_artifactory.web.context import json_response, not_implemented
from fake_artifactory.web.emulator import current_emulator


def root() -> Response:
    """``GET`` of the context root: a short text page."""
    return Response("Artifactory (fake_artifactory)\n", content_type="text/plain")


def root_not_implemented() -> Response:
    """Any other method on the context root."""
    raise not_implemented(request.path)


def ping() -> Response:
    """``GET /api/system/ping``: ``OK``, no authentication needed."""
    return Response("OK", content_type="text/plain")


def version() -> Response:
    """``GET /api/system/version``."""
    cfg = current_emulator().config
    body: dict[str, Any] = {
        "version": cfg.version,
        "revision": revision(cfg.version),
        "addons": ["build", "docker", "rest", "properties", "search"]
        if cfg.edition == "pro"
        else [],
    }
    if cfg.edition == "pro":
        body["license"] = "fake0000000000000000000000000000000000000"
    return json_response(body, serializers.VERSION)


def usage() -> Response:
    """``POST /api/system/usage``: the usage report JFrog's clients send after their
    commands.  Accepted with 202 and no body, as real servers answer it; the request
    journal keeps what was sent, nothing else does."""
    resp = Response(status=202)
    del resp.headers["Content-Type"]
    return resp


def uploads_config() -> Response:
    """``GET /api/v1/uploads/config``: multipart upload is not supported."""
    return json_response({"supported": False})


def api_not_implemented(rest: str) -> Response:
    """Every ``/api/...`` endpoint or method the emulator does not implement: 501."""
    raise not_implemented(rest)
