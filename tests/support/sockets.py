"""Raw TCP listeners on 127.0.0.1 for tests of what a client does when a server misbehaves.

:class:`Listener` accepts connections on a background thread and hands each to a handler;
without one it holds them open and never answers (a stalled server). :func:`full_backlog`
gives a port whose listen queue is full, so a new connection attempt is never answered.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

__all__ = ["Listener", "full_backlog"]


class Listener:
    """Accepts connections; ``handle(conn)`` serves each (and closes it), or, without a
    handler, the connection is held open and nothing is ever sent. ``accepted`` counts them."""

    def __init__(self, handle: Callable[[socket.socket], None] | None = None) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._handle = handle
        self._held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self._handle is None:
                self._held.append(conn)
                continue
            with conn:
                self._handle(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full: a new connection attempt is never answered."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    filler = socket.create_connection(sock.getsockname(), timeout=5)
    try:
        yield int(sock.getsockname()[1])
    finally:
        filler.close()
        sock.close()
