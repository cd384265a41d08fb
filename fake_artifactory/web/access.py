"""What the Access API's views share (``/access/api/v1/...``, served outside the context
path, so they authenticate the caller themselves): the caller, the Access error envelope
``{"errors":[{"code":"...","message":"..."}]}`` and JSON answers."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Response, request

from fake_artifactory.core import serializers
from fake_artifactory.core.auth import CHALLENGE, Principal, authenticate
from fake_artifactory.web.emulator import current_emulator


def error(status: int, code: str, message: str, **headers: str) -> Response:
    body = serializers.to_json({"errors": [{"code": code, "message": message}]})
    resp = Response(body, status=status, content_type="application/json")
    resp.headers.update(headers)
    return resp


def unsupported(what: str) -> Response:
    """501 in the Access envelope for a feature the emulator does not have, so that a
    client cannot read it as an empty answer or a silent success."""
    return error(501, "NOT_IMPLEMENTED", f"fake_artifactory does not implement {what}")


def not_implemented(rest: str) -> Response:
    """Every other ``/access/api/...`` endpoint or method (a 404 on project groups, for
    example, reads as "no groups" to jfrog-client-go)."""
    return unsupported(f"{request.method} {rest}")


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(serializers.to_json(body), status=status, content_type="application/json")


def caller() -> Principal | Response:
    """The authenticated caller, or the 401 answer for anonymous ones."""
    principal = authenticate(request.headers, current_emulator().directory)
    if principal.anonymous:
        return error(401, "UNAUTHORIZED", "Authentication is required", **CHALLENGE)
    return principal


class Refused(Exception):
    """A view's answer in the Access envelope, raised from wherever the refusal is found."""

    def __init__(self, answer: Response) -> None:
        super().__init__(answer.status)
        self.answer = answer


def refusals_answered(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer a :class:`Refused` raised by ``view`` with its response."""

    @functools.wraps(view)
    def answered(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except Refused as refused:
            return refused.answer

    return answered
