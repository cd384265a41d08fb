"""The WSGI middleware that applies fault rules (the I/O shell around the registry).

It wraps the Flask WSGI app, so faults also apply to responses Flask streams.
Breaking a connection needs the server's connection handler, which the emulator's
server puts in ``environ[CONN_ENVIRON_KEY]`` (its ``socket`` attribute).  Without it
(e.g. under the werkzeug test client) a reset raises `ConnectionResetError` out of the
WSGI app and a truncation just ends the body early.
The rules themselves are :mod:`fake_artifactory.core.faults`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from fake_artifactory.core.faults import CONN_ENVIRON_KEY, REASONS, FaultRegistry, FaultRule
from fake_artifactory.core.journal import ABORT_HOOK_KEY
from fake_artifactory.core.serializers import ERROR_CONTENT_TYPE, error_body
from fake_artifactory.core.uri import is_control_plane, raw_path
from fake_artifactory.core.wsgi import StartResponse, WSGIApp, WSGIEnviron

log = logging.getLogger(__name__)


def _kill_connection(conn: Any, *, rst: bool) -> None:
    """Close the client connection: abortively (RST) or with a FIN.

    The server writes unbuffered, so what was sent before is on the wire. After a reset
    the socket object is left closed (fd -1) rather than handed back.
    """
    sock = conn.socket
    if rst:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            # detach() marks the Python object closed first, so nothing can touch a
            # recycled descriptor number; then close(2) sends the RST.
            os.close(sock.detach())
    else:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _notify_abort(environ: Mapping[str, Any], error: str) -> None:
    hook = environ.get(ABORT_HOOK_KEY)
    if hook is not None:
        hook(error)


def _broken(message: str) -> ConnectionResetError:
    # The server drops the connection quietly on ECONNRESET.
    return ConnectionResetError(errno.ECONNRESET, message)


class FaultMiddleware:
    """WSGI middleware applying ``latency_ms`` to every request, then the first firing rule.

    Control-plane requests (``/_fake/...``) are never delayed or faulted.
    """

    def __init__(
        self,
        wsgi_app: WSGIApp,
        registry: FaultRegistry,
        latency_ms: int = 0,
        context_path: str = "/artifactory",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.registry = registry
        self.latency_ms = latency_ms
        self.context_path = context_path
        registry.context_path = context_path
        self._sleep = sleep

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        if is_control_plane(environ):
            return self.wsgi_app(environ, start_response)
        if self.latency_ms > 0:
            self._sleep(self.latency_ms / 1000.0)
        rule = self.registry.match(
            str(environ.get("REQUEST_METHOD", "GET")),
            raw_path(environ),
            str(environ.get("QUERY_STRING", "")),
        )
        if rule is None:
            return self.wsgi_app(environ, start_response)
        if rule.delay_ms:
            self._sleep(rule.delay_ms / 1000.0)
        conn = environ.get(CONN_ENVIRON_KEY)
        if rule.reset == "before":
            _notify_abort(environ, f"fault {rule.id}: reset before response")
            if conn is not None:
                _kill_connection(conn, rst=True)
            raise _broken(f"fault {rule.id}: connection reset before the response")
        if rule.status is not None:
            head = str(environ.get("REQUEST_METHOD", "")).upper() == "HEAD"
            return self._error_response(rule, start_response, head=head)
        if rule.slow_body_bps is None and rule.truncate_after is None and rule.reset is None:
            return self.wsgi_app(environ, start_response)
        return self._mangled_response(rule, conn, environ, start_response)

    @staticmethod
    def _error_response(
        rule: FaultRule, start_response: StartResponse, *, head: bool = False
    ) -> list[bytes]:
        status = cast(int, rule.status)
        message = rule.message if rule.message is not None else f"Injected fault {rule.id}"
        body = error_body(status, message).encode("utf-8")
        headers = [("Content-Type", ERROR_CONTENT_TYPE), ("Content-Length", str(len(body)))]
        if rule.retry_after is not None:
            headers.append(("Retry-After", str(rule.retry_after)))
        start_response(f"{status} {REASONS.get(status, 'Injected Fault')}", headers)
        return [] if head else [body]

    def _mangled_response(
        self, rule: FaultRule, conn: Any, environ: WSGIEnviron, start_response: StartResponse
    ) -> Iterator[bytes]:
        content_length: list[int] = []
        writers: list[Callable[[bytes], object]] = []

        def capturing_start_response(
            status: str, headers: list[tuple[str, str]], *args: Any
        ) -> Callable[[bytes], object]:
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    content_length.append(int(value))
            writer = start_response(status, headers, *args)
            writers.append(writer)
            return writer

        inner = self.wsgi_app(environ, capturing_start_response)
        return self._stream(rule, conn, inner, content_length, writers, environ)

    def _stream(
        self,
        rule: FaultRule,
        conn: Any,
        inner: Iterable[bytes],
        content_length: list[int],
        writers: list[Callable[[bytes], object]],
        environ: WSGIEnviron,
    ) -> Iterator[bytes]:
        limit = rule.truncate_after
        if rule.reset == "mid_body" and limit is None:
            limit = content_length[0] // 2 if content_length else 1
        sent = 0
        cut = False
        try:
            for chunk in inner:
                if limit is not None:
                    chunk = chunk[: max(0, limit - sent)]
                for piece in self._pace(rule, chunk):
                    sent += len(piece)
                    yield piece
                if limit is not None and sent >= limit:
                    cut = True
                    break
        finally:
            close = getattr(inner, "close", None)
            if close is not None:
                close()
        if not cut and rule.reset != "mid_body":
            return
        # The body was cut short: end the connection so the client cannot wait forever.
        how = "reset mid-body" if rule.reset == "mid_body" else "truncated"
        _notify_abort(environ, f"fault {rule.id}: {how} after {sent} bytes")
        if conn is None:
            if rule.reset == "mid_body":
                raise _broken(f"fault {rule.id}: connection reset mid-body")
            return
        if writers:
            # A zero-length write makes the server send the status line and headers now,
            # even when no body byte was allowed through.
            with contextlib.suppress(OSError):
                writers[-1](b"")
        _kill_connection(conn, rst=rule.reset == "mid_body")
        raise _broken(f"fault {rule.id}: body cut after {sent} bytes")

    def _pace(self, rule: FaultRule, chunk: bytes) -> Iterator[bytes]:
        bps = rule.slow_body_bps
        if bps is None or not chunk:
            if chunk:
                yield chunk
            return
        step = max(1, bps // 10)
        for start in range(0, len(chunk), step):
            piece = chunk[start : start + step]
            self._sleep(len(piece) / bps)
            yield piece
