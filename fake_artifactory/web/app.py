"""The Flask app of an :class:`~fake_artifactory.web.emulator.Emulator`: the REST API,
error rendering and the headers every response carries."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response

from fake_artifactory.web import routes
from fake_artifactory.web.emulator import EXTENSION_KEY, Emulator
from fake_artifactory.web.errors import STATUS_LINES, register_error_handlers, server_headers


def build_app(emulator: Emulator) -> Flask:
    """A Flask app serving ``emulator``'s REST API (no control plane, no middlewares)."""
    here = str(Path(__file__).resolve().parent.parent)
    app = Flask("fake_artifactory", root_path=here, instance_path=here)
    app.config["MAX_CONTENT_LENGTH"] = None
    app.extensions[EXTENSION_KEY] = emulator
    register_error_handlers(app)
    tail = server_headers(emulator.config)

    @app.after_request
    def _artifactory_headers(resp: Response) -> Response:
        status = STATUS_LINES.get(resp.status_code)
        if status is not None:
            resp.status = status
        for name, value in tail:
            resp.headers[name] = value
        return resp

    app.register_blueprint(routes.bp)
    return app


def get_emulator(app: Flask) -> Emulator:
    """The Emulator of an app built by :func:`build_app`."""
    emulator: Emulator = app.extensions[EXTENSION_KEY]
    return emulator
