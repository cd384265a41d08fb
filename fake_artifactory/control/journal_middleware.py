"""The WSGI middleware that records requests into the :class:`Journal` (its I/O shell).

It lives in a WSGI middleware rather than in Flask hooks so that it also sees responses
produced outside Flask (injected faults, streamed bodies) and measures the bytes
actually handed to the server.  Records and redaction are
:mod:`fake_artifactory.core.journal`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from fake_artifactory.core.journal import ABORT_HOOK_KEY, Journal, new_entry
from fake_artifactory.core.uri import is_control_plane
from fake_artifactory.core.wsgi import StartResponse, WSGIApp, WSGIEnviron


class _InputStream(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...

    def readline(self, size: int = ..., /) -> bytes: ...


class _HashingInput:
    """Wraps ``wsgi.input``; counts and hashes whatever the application reads.

    Nothing is read on the application's behalf (the journal never drains a body), so
    ``body_size`` is what the application consumed.
    """

    def __init__(self, stream: _InputStream) -> None:
        self._stream = stream
        self.size = 0
        self._sha256 = hashlib.sha256()

    def _account(self, data: bytes) -> bytes:
        self.size += len(data)
        self._sha256.update(data)
        return data

    # Servers disagree on what ``read(-1)`` means (a bounded reader may pass it to the
    # socket and block), so "everything" is always spelled without an argument.
    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._account(self._stream.read())
        return self._account(self._stream.read(size))

    def readline(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._account(self._stream.readline())
        return self._account(self._stream.readline(size))

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readlines(self, hint: int = -1, /) -> list[bytes]:
        lines = []
        total = 0
        while hint <= 0 or total < hint:
            line = self.readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @property
    def sha256(self) -> str | None:
        return self._sha256.hexdigest() if self.size else None


class _Recorder:
    """The journal entry of one request, published as soon as the client could see it.

    The entry enters the journal when the status is chosen (before any response byte
    is sent) or when a fault is about to break the connection, so a client that has
    seen its response always finds the request in the journal. ``duration_ms``,
    ``response_bytes`` and the body fields are final once ``complete`` is true.
    """

    def __init__(self, journal: Journal, entry: dict[str, Any], body: _HashingInput | None):
        self.journal = journal
        self.entry = entry
        self.body = body
        self.started = time.monotonic()
        self.bytes_out = 0
        self._published = False
        self._done = False

    def _progress(self) -> dict[str, Any]:
        return {
            "duration_ms": round((time.monotonic() - self.started) * 1000.0, 3),
            "body_size": self.body.size if self.body is not None else 0,
            "body_sha256": self.body.sha256 if self.body is not None else None,
            "response_bytes": self.bytes_out,
        }

    def publish(self, **fields: Any) -> None:
        fields.update(self._progress())
        if self._published:
            self.journal.update(self.entry, fields)
        else:
            self.entry.update(fields)
            self._published = True
            self.journal.record(self.entry)

    def abort(self, error: str) -> None:
        """Called (through the environ) just before a fault breaks the connection."""
        self.publish(error=error)

    def finish(self, exc: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        fields: dict[str, Any] = {"complete": True}
        if exc is not None and "error" not in self.entry:
            fields["error"] = type(exc).__name__
        self.publish(**fields)


class _JournaledResponse:
    """Response iterable that counts bytes and completes the entry when closed."""

    def __init__(self, inner: Iterable[bytes], recorder: _Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._inner:
                self._recorder.bytes_out += len(chunk)
                yield chunk
        except BaseException as exc:
            self._recorder.finish(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._recorder.finish(None)


class JournalMiddleware:
    """WSGI middleware recording every non-control-plane request into a `Journal`.

    Put it outside :class:`~fake_artifactory.control.fault_middleware.FaultMiddleware` so
    injected faults are
    journaled too (a reset before the response shows ``status`` 0 and an ``error``).

    Args:
        wsgi_app: the application to wrap.
        journal: where records go.
    """

    def __init__(self, wsgi_app: WSGIApp, journal: Journal) -> None:
        self.wsgi_app = wsgi_app
        self.journal = journal

    def __call__(self, environ: WSGIEnviron, start_response: StartResponse) -> Iterable[bytes]:
        if is_control_plane(environ):
            return self.wsgi_app(environ, start_response)
        entry = new_entry(environ, self.journal.next_seq())
        body = _HashingInput(environ["wsgi.input"]) if "wsgi.input" in environ else None
        if body is not None:
            environ["wsgi.input"] = body
        recorder = _Recorder(self.journal, entry, body)
        environ[ABORT_HOOK_KEY] = recorder.abort

        def journaling_start_response(
            status: str, headers: list[tuple[str, str]], *args: Any
        ) -> Callable[[bytes], object]:
            code = status.split(" ", 1)[0]
            recorder.publish(status=int(code) if code.isdigit() else 0)
            return start_response(status, headers, *args)

        try:
            inner = self.wsgi_app(environ, journaling_start_response)
        except BaseException as exc:
            recorder.finish(exc)
            raise
        return _JournaledResponse(inner, recorder)
