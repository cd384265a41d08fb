"""Exceptions raised by the Artifactory client layer of :mod:`jfrog_mlflow`.

Nothing in this module knows about MLflow; :mod:`jfrog_mlflow.repository` translates
these exceptions into ``MlflowException`` with one table. Leaves mix in the matching
builtin so callers may catch either type::

    ArtifactoryError(Exception)                  base; attrs: method, url (never a secret)
    ├── ConfigurationError(…, ValueError)        bad or missing environment configuration
    │   ├── TLSVerifyFailed                      the server's certificate is not trusted
    │   └── NotArtifactory                       the endpoint does not answer like Artifactory
    ├── InvalidArtifactUri(…, ValueError)        an artifactory:// URI that does not parse
    ├── InvalidArtifactPath(…, ValueError)       a name Artifactory cannot store, '..', ...
    ├── HostNotAllowed(…, PermissionError)       URI names a host outside the allow-list
    ├── IntegrityError                           checksum or length mismatch after transfer
    ├── UnexpectedResponse                       a success status with a body that is not JSON
    ├── TransferIncomplete                       some files of a tree transfer failed
    │   ├── UploadIncomplete
    │   └── DownloadIncomplete
    ├── TransportError                           no usable HTTP response at all
    │   ├── ConnectError(…, ConnectionError)     refused, DNS failure, reset, ...
    │   │   ├── ResponseBroken                   the body broke off while being read
    │   │   └── NotAttempted                     skipped: the server stopped answering
    │   └── RequestTimeout(…, TimeoutError)
    └── HTTPStatusError                          a response with an error status
        ├── AuthenticationFailed                 401
        ├── PermissionDenied(…, PermissionError) 403
        ├── ArtifactNotFound(…, FileNotFoundError) 404
        │   └── RepositoryNotFound               the repository key names no repository
        ├── Conflict(…, FileExistsError)         409
        └── ServerError                          5xx (after retries are exhausted)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ArtifactNotFound",
    "ArtifactoryError",
    "AuthenticationFailed",
    "ConfigurationError",
    "Conflict",
    "ConnectError",
    "DownloadIncomplete",
    "HTTPStatusError",
    "HostNotAllowed",
    "IntegrityError",
    "InvalidArtifactPath",
    "InvalidArtifactUri",
    "NotArtifactory",
    "NotAttempted",
    "PermissionDenied",
    "RepositoryNotFound",
    "RequestTimeout",
    "ResponseBroken",
    "ServerError",
    "TLSVerifyFailed",
    "TransferIncomplete",
    "TransportError",
    "UnexpectedResponse",
    "UploadIncomplete",
    "error_for_status",
]

_MAX_DETAIL = 500
_MAX_LISTED_FAILURES = 10


class ArtifactoryError(Exception):
    """Base class of every error raised by :mod:`jfrog_mlflow`.

    Args:
        message: Human-readable description (never contains a secret).
        method: HTTP method of the failed request, if any.
        url: Request URL, if any. URLs built by this package never carry credentials.
    """

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ArtifactoryError, ValueError):
    """Bad or missing configuration; the message names the variable to set."""


class TLSVerifyFailed(ConfigurationError):
    """The server's TLS certificate did not verify (a private CA needs REQUESTS_CA_BUNDLE)."""


class NotArtifactory(ConfigurationError):
    """The endpoint answers, but not like Artifactory (often: no context path in the URL)."""


class InvalidArtifactUri(ArtifactoryError, ValueError):
    """An ``artifactory://`` URI that cannot be parsed."""


class InvalidArtifactPath(ArtifactoryError, ValueError):
    """A path or file name that Artifactory cannot store, or that escapes its root."""


class HostNotAllowed(ArtifactoryError, PermissionError):
    """The URI names a host our credentials must not be sent to."""


class IntegrityError(ArtifactoryError):
    """The bytes transferred do not match the checksum or length the server reported."""


class UnexpectedResponse(ArtifactoryError):
    """A success status whose body is not the JSON Artifactory sends (e.g. an HTML page)."""


class TransferIncomplete(ArtifactoryError):
    """Some files of a tree transfer failed, after every pass; the others were transferred.

    The message names up to ten of them with their errors.

    Attributes:
        failures: ``(path, error)`` of every file that failed, in order (local paths for
            uploads, artifact paths for downloads).
        total: Files the transfer tried to move.
        passes: Passes made over the failing files (see :mod:`jfrog_mlflow.passes`).
    """

    verb = "transfer"

    def __init__(
        self, failures: Sequence[tuple[str, BaseException]], total: int, passes: int = 1
    ) -> None:
        # Files that were tried come first: their errors say what went wrong.
        failures = sorted(failures, key=lambda failure: isinstance(failure[1], NotAttempted))
        detail = "; ".join(f"{path}: {exc}" for path, exc in failures[:_MAX_LISTED_FAILURES])
        more = len(failures) - _MAX_LISTED_FAILURES
        if more > 0:
            detail += f"; and {more} more"
        tries = f" after {passes} passes" if passes > 1 else ""
        count = f"{len(failures)} of {total} file(s)"
        super().__init__(f"Failed to {self.verb} {count}{tries}: {detail}")
        self.failures = list(failures)
        self.total = total
        self.passes = passes

    @property
    def first(self) -> BaseException:
        """The first error: its kind decides how the whole failure is reported."""
        return self.failures[0][1]


class UploadIncomplete(TransferIncomplete):
    """Some files of a directory upload failed (paths are local paths)."""

    verb = "upload"


class DownloadIncomplete(TransferIncomplete):
    """Some files of a folder download failed (paths are artifact paths); nothing partial
    of them is on disk."""

    verb = "download"


class TransportError(ArtifactoryError):
    """The request produced no usable HTTP response.

    Args:
        exhausted: The transport layer (urllib3) already spent the retry budget on this
            request, so retrying it again would multiply that budget.
        unreachable: The server refused the connection, its name did not resolve, or it
            did not answer in time: the next request to it would most likely fail the
            same way (a reset or a broken body says nothing of the kind).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        url: str | None = None,
        exhausted: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.exhausted = exhausted
        self.unreachable = unreachable


class ConnectError(TransportError, ConnectionError):
    """The connection could not be established or broke mid-transfer."""


class ResponseBroken(ConnectError):
    """The status and headers arrived but the body broke off (reset, truncation) mid-read."""


class NotAttempted(ConnectError):
    """A file of a tree transfer that was not tried: the server had stopped answering."""


class RequestTimeout(TransportError, TimeoutError):
    """The connect or read timeout expired."""


class HTTPStatusError(ArtifactoryError):
    """The server answered with an error status.

    Attributes:
        status_code: The HTTP status.
        detail: The server's own message (from the JSON error envelope when present),
            truncated.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: str = "",
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url)
        self.status_code = status_code
        self.detail = detail


class AuthenticationFailed(HTTPStatusError):
    """401: missing or bad credentials."""


class PermissionDenied(HTTPStatusError, PermissionError):
    """403: authenticated but not allowed."""


class ArtifactNotFound(HTTPStatusError, FileNotFoundError):
    """404: no such item."""


class RepositoryNotFound(ArtifactNotFound):
    """The repository itself does not exist (Artifactory answers, the key is wrong)."""


class Conflict(HTTPStatusError, FileExistsError):
    """409: typically a checksum-policy rejection."""


class ServerError(HTTPStatusError):
    """5xx after the retry budget is exhausted."""


_STATUS_TO_ERROR: dict[int, type[HTTPStatusError]] = {
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: ArtifactNotFound,
    409: Conflict,
}


def error_for_status(
    status_code: int, detail: str, *, what: str, method: str, url: str
) -> HTTPStatusError:
    """Build the exception for an error status (pure; used by the client only).

    Args:
        status_code: HTTP status of the response.
        detail: The server's own message.
        what: What was being done, naming the artifact (e.g. ``"download of 'a/b.txt'"``).
        method: HTTP method.
        url: Request URL (credential-free).
    """
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "..."
    cls = _STATUS_TO_ERROR.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else HTTPStatusError
    message = f"Artifactory {what} failed: HTTP {status_code}"
    if detail:
        message += f": {detail}"
    return cls(message, status_code=status_code, detail=detail, method=method, url=url)
