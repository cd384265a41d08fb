"""Per-request helpers shared by the views: caller, base URL, flags, JSON and editions."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g, request

from fake_artifactory.core import serializers, uri
from fake_artifactory.core.auth import ANONYMOUS, Principal
from fake_artifactory.core.errors import HttpError
from fake_artifactory.web.emulator import current_emulator

#: What Artifactory's REST resources answer on OSS for a Pro-only feature (the newline is
#: part of the message).
PRO_ONLY = (
    "This REST API is available only in Artifactory Pro (see: jfrog.com/artifactory/features). "
    "If you are already running Artifactory Pro please make sure your server is activated "
    "with a valid license key.\n"
)
#: What the deploy servlet answers on OSS for a Pro-only deploy (explode an archive).
PRO_ONLY_SHORT = "This REST API is available only in Artifactory Pro."


def principal() -> Principal:
    """The authenticated caller (anonymous without permissions when none was resolved)."""
    found: Principal | None = g.get("principal")
    return found if found is not None else Principal(ANONYMOUS)


def base_url() -> str:
    """Absolute base URL (with context path) for URLs in responses."""
    return uri.base_url(
        request.host_url,
        current_emulator().config.context_path,
        request.headers.get("X-JFrog-Override-Base-Url"),
        request.headers.get("X-Artifactory-Override-Base-Url"),
    )


def not_implemented(what: str) -> HttpError:
    """The 501 envelope of an endpoint or method the emulator does not implement."""
    return HttpError(501, f"fake_artifactory does not implement {request.method} {what}")


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
    if current_emulator().config.edition != "pro":
        raise HttpError(400, PRO_ONLY)
