"""Deterministic fault injection for the emulator.

A `FaultRule` says *which* requests it targets (method, path glob, repository,
operation), *when* it fires (from the ``nth`` matching call, ``times`` times, or with a
``probability`` drawn from the registry's seeded RNG) and *what* the client then sees:
an Artifactory-shaped error status (optionally with ``Retry-After``), added latency, a
slow body, a body truncated after N bytes, or a TCP reset before the response or in the
middle of the body.

The matching logic (`classify`, `FaultRule.matches`, `FaultRegistry.match`) is pure. The
`FaultMiddleware` is the I/O shell: it wraps the Flask WSGI app, so faults also apply to
responses Flask streams. Breaking a connection needs the server's connection object,
which the emulator's cheroot gateway puts in ``environ["fake_artifactory.conn"]``
(attributes ``socket``, ``wfile``, ``linger``). Without it (e.g. under the werkzeug test
client) a reset raises `ConnectionResetError` out of the WSGI app and a truncation just
ends the body early.

The code is split along that seam: :mod:`fake_artifactory.fault_rules` (pure rules
and registry), :mod:`fake_artifactory.fault_middleware` (the WSGI shell); this module
keeps the public import path and the ``/_fake/faults`` control plane.

See ``docs/faults.md`` for the rule format and examples.
"""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, current_app, jsonify, request

from fake_artifactory.fault_middleware import FaultMiddleware, error_body
from fake_artifactory.fault_rules import (
    CONN_ENVIRON_KEY,
    OPERATIONS,
    FaultError,
    FaultRegistry,
    FaultRule,
    classify,
)

__all__ = [
    "CONN_ENVIRON_KEY",
    "OPERATIONS",
    "FaultError",
    "FaultMiddleware",
    "FaultRegistry",
    "FaultRule",
    "bp",
    "classify",
    "error_body",
]


bp = Blueprint("fake_artifactory_faults", __name__)


def _registry() -> FaultRegistry:
    return cast(FaultRegistry, current_app.extensions["fake_artifactory"].faults)


def _json_error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"errors": [{"status": status, "message": message}]}), status


@bp.get("/_fake/faults")
def list_faults() -> Response:
    """List rules with their ``matched``/``fired`` counters."""
    return jsonify({"faults": _registry().to_json()})


@bp.post("/_fake/faults")
def add_faults() -> tuple[Response, int]:
    """Add one rule (JSON object) or several (JSON list); answer 201 with their ids."""
    data = request.get_json(force=True, silent=True)
    if data is None:
        return _json_error(400, "body must be a JSON fault rule or a list of rules")
    try:
        ids = _registry().load(data)
    except FaultError as exc:
        return _json_error(400, str(exc))
    return jsonify({"ids": ids}), 201


@bp.delete("/_fake/faults")
def clear_faults() -> Response:
    """Remove every rule."""
    _registry().clear()
    return Response(status=204)


@bp.delete("/_fake/faults/<rule_id>")
def delete_fault(rule_id: str) -> Response | tuple[Response, int]:
    """Remove one rule; 404 when unknown."""
    if not _registry().remove(rule_id):
        return _json_error(404, f"no fault rule {rule_id!r}")
    return Response(status=204)
