"""Small helpers shared by the ``/api/...`` view modules (request flags, JSON, editions)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

from fake_artifactory import routes, serializers
from fake_artifactory.errors import HttpError

PRO_ONLY = "This REST API is available only in Artifactory Pro."


def json_response(body: Any, content_type: str = "application/json", status: int = 200) -> Response:
    """Jackson-style pretty JSON with the given content type."""
    return Response(serializers.to_json(body), status=status, content_type=content_type)


def json_body() -> Any:
    """The request body as JSON, or None when it is not valid (or absurdly nested) JSON."""
    try:
        return json.loads(request.get_data())
    except (ValueError, RecursionError):
        return None


def flag(name: str, default: bool = False) -> bool:
    """A ``0|1|true|false`` query flag; present without a value means true."""
    value = request.args.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "")


def require_pro() -> None:
    """The OSS edition answers Pro-only endpoints with the real 400 body."""
    if routes.emulator().config.edition != "pro":
        raise HttpError(400, PRO_ONLY)
