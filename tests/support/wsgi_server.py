"""A WSGI app served on a free port in a background thread, for tests.

Purpose-built test apps (fault injection, the journal, hostile Artifactories, TLS,
forwarding proxies) all need the same thing: a real server on ``host:0``, its base URL,
and a clean stop. They run on the emulator's own server
(:class:`~fake_artifactory.server.background.BackgroundServer`, with the handler that
exposes the connection to fault injection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fake_artifactory.server.background import BackgroundServer


@contextmanager
def serve_wsgi(
    app: Callable[..., Any], *, host: str = "127.0.0.1", tls: tuple[Path, Path] | None = None
) -> Iterator[str]:
    """Serve ``app`` on ``host`` (port 0) and yield its base URL, ``http(s)://host:port``.

    ``tls`` (a certificate and key, PEM files) serves HTTPS instead of HTTP.
    """
    server = BackgroundServer(app, host=host, tls=tls, name="test-wsgi-server")
    server.start()
    try:
        yield server.root_url
    finally:
        server.stop()
