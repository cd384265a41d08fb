"""Emulator errors and their single translation to Artifactory's JSON error envelope.

::

    StorageError(Exception)          domain errors, no HTTP knowledge
    ├── NoSuchRepo                   404
    ├── NoSuchItem                   404
    ├── NotAFolder                   400
    ├── NotAFile                     400  (6.20 answers 500; see docs/fidelity.md)
    ├── ParentNotFolder              400
    ├── InvalidPath(…, ValueError)   400
    ├── ChecksumMismatch             409
    ├── ChecksumNotFound             404
    ├── RepoExists                   400
    └── InvalidCopy                  400  (copy/move into itself, file onto a folder, ...)
    HttpError(Exception)             web-layer errors that already know their status
                                     (authentication, permissions, unsupported endpoints)

``STATUS_BY_ERROR`` is the one table from storage errors to HTTP statuses and
:func:`register_error_handlers` the one place that renders the envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response

from fake_artifactory.serializers import error_body

log = logging.getLogger(__name__)

ERROR_CONTENT_TYPE = "application/json"


class StorageError(Exception):
    """Base of domain errors; ``message`` is the user-facing text Artifactory would use."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchRepo(StorageError):
    def __init__(self, repo: str) -> None:
        super().__init__(f"Repository {repo} not found")
        self.repo = repo


class NoSuchItem(StorageError):
    def __init__(self, repo: str, path: str) -> None:
        super().__init__("Unable to find item")
        self.repo, self.path = repo, path


class NotAFolder(StorageError):
    def __init__(self, repo: str, path: str) -> None:
        super().__init__(f"Expected a folder but found a file, at: {repo}:{path}")


class NotAFile(StorageError):
    def __init__(self, repo: str, path: str) -> None:
        super().__init__(f"Expected a file but found a folder, at: {repo}:{path}")


class ParentNotFolder(StorageError):
    def __init__(self, repo: str, parent: str) -> None:
        super().__init__(f"Parent {repo}:{parent} must be a folder")


class InvalidPath(StorageError, ValueError):
    pass


class ChecksumMismatch(StorageError):
    pass


class ChecksumNotFound(StorageError):
    pass


class RepoExists(StorageError):
    def __init__(self, repo: str) -> None:
        super().__init__(f"Case insensitive repository key already exists: {repo}")


class InvalidCopy(StorageError):
    pass


STATUS_BY_ERROR: Mapping[type[StorageError], int] = {
    NoSuchRepo: 404,
    NoSuchItem: 404,
    NotAFolder: 400,
    NotAFile: 400,
    ParentNotFolder: 400,
    InvalidPath: 400,
    ChecksumMismatch: 409,
    ChecksumNotFound: 404,
    RepoExists: 400,
    InvalidCopy: 400,
}


class HttpError(Exception):
    """An error response decided by the web layer (auth, permissions, endpoints)."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        plain: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.plain = plain


def status_for(exc: StorageError) -> int:
    """HTTP status of a storage error (walks the MRO so subclasses inherit)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """Artifactory's JSON error envelope as a response."""
    resp = Response(error_body(status, message), status=status, content_type=ERROR_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def render_error(exc: BaseException) -> tuple[int, str, str, dict[str, str]]:
    """``(status, content type, body, extra headers)`` of any error the emulator raises.

    The one place that decides how an error looks on the wire; Flask's handlers and the
    fast path (:class:`fake_artifactory.app.FastPath`) both render through it.
    """
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HttpError):
        if exc.plain:
            return exc.status, "text/plain; charset=utf-8", exc.message, dict(exc.headers)
        return exc.status, ERROR_CONTENT_TYPE, error_body(exc.status, exc.message), exc.headers
    if isinstance(exc, StorageError):
        status = status_for(exc)
        return status, ERROR_CONTENT_TYPE, error_body(status, exc.message), {}
    if isinstance(exc, HTTPException):
        code = exc.code or 500
        return code, ERROR_CONTENT_TYPE, error_body(code, exc.description or exc.name), {}
    log.error("unhandled error in fake_artifactory", exc_info=exc)
    status, message = 500, f"Internal error: {type(exc).__name__}"
    return status, ERROR_CONTENT_TYPE, error_body(status, message), {}


def register_error_handlers(app: Flask) -> None:
    """Render every emulator error (and any unexpected one) as the envelope."""

    @app.errorhandler(Exception)
    def _any_error(exc: Exception) -> Response:
        status, content_type, body, headers = render_error(exc)
        resp = Response(body, status=status, content_type=content_type)
        resp.headers.update(headers)
        return resp
