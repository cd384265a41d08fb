"""What went wrong with a request that got no usable response, in words (no I/O).

``requests`` reports a refused connection, a failed DNS lookup, a read timeout that used
up the retries and a reset all as ``ConnectionError``, with the real cause a few levels
down (``MaxRetryError.reason``, ``__cause__``, the arguments of urllib3's
``ProtocolError``). :func:`transport_error` digs it out and builds the error the user
reads: each cause named as what it is, a TLS verification failure as a configuration
error that points at ``REQUESTS_CA_BUNDLE``, and a timeout with the setting that bounds
it. :func:`describe_cause` gives the short form the retry log uses.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator

from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import (
    ArtifactoryError,
    ConnectError,
    RequestTimeout,
    ResponseBroken,
    TLSVerifyFailed,
)

__all__ = ["body_error", "describe_cause", "is_timeout", "transport_error"]

_CERT_FAILED = "certificate verify failed"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps, outermost first (each once)."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), current.__cause__, current.__context__]
        wrapped += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
        pending.extend(w for w in wrapped if isinstance(w, BaseException))


def _find(
    exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]
) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def is_timeout(exc: BaseException) -> bool:
    """Whether a connect or read timeout is behind ``exc``."""
    for cause in _chain(exc):
        if isinstance(cause, NewConnectionError):
            return False  # urllib3 derives it from ConnectTimeoutError; it is not one
        if isinstance(cause, ConnectTimeoutError | ReadTimeoutError | socket.timeout):
            return True
    return False


def _cert_failure(exc: BaseException) -> str | None:
    """The verification failure's own words when a certificate did not verify."""
    found = _find(exc, ssl.SSLCertVerificationError)
    if found is not None:
        return str(getattr(found, "verify_message", "") or found)
    text = str(exc)
    return text if _CERT_FAILED in text.lower() else None


def _kind(exc: BaseException, host: str, config: PluginConfig) -> tuple[str, bool]:
    """``(what happened, whether the server looks unreachable)``."""
    dns = _find(exc, (NameResolutionError, socket.gaierror))
    if dns is not None:
        name = host.rpartition(":")[0] or host
        return f"cannot resolve the host name '{name}' (DNS lookup failed)", True
    if _find(exc, ConnectionRefusedError) is not None:
        return f"connection refused by {host} (is Artifactory running at that address?)", True
    connect_timeout = next(
        (
            e
            for e in _chain(exc)
            if isinstance(e, ConnectTimeoutError) and not isinstance(e, NewConnectionError)
        ),
        None,
    )
    if connect_timeout is not None:
        return (
            f"could not connect to {host} within {config.connect_timeout:g} s "
            "(see MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT)",
            True,
        )
    if is_timeout(exc):
        return (
            f"no response from {host} within {config.read_timeout:g} s "
            "(see MLFLOW_ARTIFACTORY_TIMEOUT)",
            True,
        )
    if _find(exc, ssl.SSLError) is not None:
        return f"the TLS handshake with {host} failed ({_find(exc, ssl.SSLError)})", False
    if _find(exc, (ConnectionResetError, BrokenPipeError)) is not None:
        return f"the connection to {host} was reset", False
    if _find(exc, (http.client.RemoteDisconnected, ProtocolError)) is not None:
        return f"{host} closed the connection without answering", False
    return f"cannot reach {host} ({type(exc).__name__})", False


def transport_error(
    exc: BaseException,
    *,
    what: str,
    host: str,
    config: PluginConfig,
    method: str,
    url: str,
    exhausted: bool,
) -> ArtifactoryError:
    """The error for a request to ``host`` that raised ``exc`` instead of answering."""
    reason = _cert_failure(exc)
    if reason is not None:
        return TLSVerifyFailed(
            f"Artifactory {what} failed: TLS certificate verify failed for {host} ({reason}). "
            "If the server's certificate comes from a private CA, set REQUESTS_CA_BUNDLE "
            "to a file holding that CA's certificate",
            method=method,
            url=url,
        )
    text, unreachable = _kind(exc, host, config)
    cls = RequestTimeout if is_timeout(exc) else ConnectError
    return cls(
        f"Artifactory {what} failed: {text}",
        method=method,
        url=url,
        exhausted=exhausted,
        unreachable=unreachable,
    )


def body_error(
    exc: BaseException, *, what: str, host: str, config: PluginConfig, method: str | None, url: str
) -> ResponseBroken:
    """The error for a response whose body broke off (or stalled) while being read."""
    if is_timeout(exc):
        detail = (
            f"no data from {host} within {config.read_timeout:g} s while reading the body "
            "(see MLFLOW_ARTIFACTORY_TIMEOUT)"
        )
    else:
        detail = f"the response from {host} broke off while reading the body ({type(exc).__name__})"
    return ResponseBroken(
        f"Artifactory {what} failed: {detail}",
        method=method,
        url=url,
        unreachable=is_timeout(exc),
    )


def describe_cause(error: BaseException | None, status: int | None) -> str:
    """A few words on why an attempt failed (for the retry log)."""
    if status is not None:
        return f"HTTP {status}"
    if error is None:
        return "unknown error"
    if isinstance(error, ProtocolError) and error.args and isinstance(error.args[0], str):
        if error.args[0].startswith("Artifactory "):
            # One of our own errors replayed through the retry policy: its cause part.
            return error.args[0].split(" failed: ", 1)[-1]
    if _cert_failure(error) is not None:
        return "TLS certificate verify failed"
    if _find(error, (NameResolutionError, socket.gaierror)) is not None:
        return "DNS lookup failed"
    if _find(error, ConnectionRefusedError) is not None:
        return "connection refused"
    if is_timeout(error):
        return "connect timeout" if isinstance(error, ConnectTimeoutError) else "read timeout"
    if _find(error, (ConnectionResetError, BrokenPipeError)) is not None:
        return "connection reset"
    return type(error).__name__
