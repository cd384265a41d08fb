"""The one place errors become responses, and the headers every response carries.

Every view raises errors of the tree in :mod:`fake_artifactory.core.errors`; the single
Flask error handler registered here renders them (and any unexpected exception, as a
500 envelope) through :func:`render_error`, which the plain-request fast path uses too.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.core.serializers import ErrorReply, describe_error, error_reply
from fake_artifactory.core.versions import response_headers

log = logging.getLogger(__name__)

#: ``"404 Not Found"`` status lines with the reason phrases in title case.
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def server_headers(config: EmulatorConfig) -> list[tuple[str, str]]:
    """The headers Artifactory adds to every response (they depend on its version)."""
    return response_headers(config)


def render_error(exc: BaseException) -> ErrorReply:
    """What any exception raised while serving a request looks like on the wire."""
    reply = describe_error(exc)
    if reply is not None:
        return reply
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        return error_reply(code, exc.description or exc.name)
    log.error("unhandled error in fake_artifactory", exc_info=exc)
    return error_reply(500, f"Internal error: {type(exc).__name__}")


def register_error_handlers(app: Flask) -> None:
    """Render every emulator error (and any unexpected one) as the envelope."""

    @app.errorhandler(Exception)
    def _any_error(exc: Exception) -> Response:
        reply = render_error(exc)
        resp = Response(reply.body, status=reply.status, content_type=reply.content_type)
        resp.headers.update(reply.headers)
        return resp
