"""The emulator's error tree and the one table from errors to statuses (pure, no HTTP stack).

::

    StorageError(Exception)          domain errors; ``message`` is Artifactory's wording
    ├── NoSuchRepo                   404
    ├── NoSuchItem                   404
    ├── NotAFolder                   400
    ├── NotAFile                     400  (6.20 answers 500; see docs/fidelity.md)
    ├── ParentNotFolder              400
    ├── InvalidRawPath(…, ValueError) 400  (a request path or name Artifactory refuses)
    ├── ChecksumMismatch             409
    ├── ChecksumNotFound             404
    ├── RepoExists                   400
    └── InvalidCopy                  400  (copy/move into itself, file onto a folder, ...)
    HttpError(Exception)             an answer that already knows its status
                                     (authentication, permissions, unsupported endpoints)

:data:`STATUS_BY_ERROR` is the one table from storage errors to HTTP statuses;
:func:`fake_artifactory.core.serializers.describe_error` turns any of these errors into
what goes on the wire, and the web layer's single error handler
(:mod:`fake_artifactory.web.errors`) sends it.
"""

from __future__ import annotations

from collections.abc import Mapping


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
    """The immediate parent of the target, named by its path in the repository (no key)."""

    def __init__(self, repo: str, parent: str) -> None:
        super().__init__(f"Parent {parent} must be a folder")
        self.repo, self.parent = repo, parent


class InvalidRawPath(StorageError, ValueError):
    """The request path (or a name in it) cannot denote a repository item."""


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
    InvalidRawPath: 400,
    ChecksumMismatch: 409,
    ChecksumNotFound: 404,
    RepoExists: 400,
    InvalidCopy: 400,
}


class HttpError(Exception):
    """An error answer whose status is already decided (auth, permissions, endpoints).

    ``plain``: the body is ``message`` as is instead of the JSON envelope (Artifactory
    answers some endpoints so), as ``text/plain`` unless ``content_type`` says otherwise.
    """

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        plain: bool = False,
        content_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.plain = plain
        self.content_type = content_type


def status_for(exc: StorageError) -> int:
    """HTTP status of a storage error (walks the MRO so subclasses inherit)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500
