"""What the Access API's views share (``/access/api/v1/...``, served outside the context
path, so they authenticate the caller themselves): the caller, the Access error envelope
``{"errors":[{"code":"...","message":"..."}]}`` and JSON answers."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

from fake_artifactory.core.auth import CHALLENGE, Principal, authenticate
from fake_artifactory.web.emulator import current_emulator


def error(status: int, code: str, message: str, **headers: str) -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]}, indent=2)
    resp = Response(body, status=status, content_type="application/json")
    resp.headers.update(headers)
    return resp


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2), status=status, content_type="application/json")


def caller() -> Principal | Response:
    """The authenticated caller, or the 401 answer for anonymous ones."""
    principal = authenticate(request.headers, current_emulator().directory)
    if principal.anonymous:
        return error(401, "UNAUTHORIZED", "Authentication is required", **CHALLENGE)
    return principal
