"""A WSGI app served by cheroot on a free port in a background thread, for tests.

Purpose-built test apps (fault injection, the journal, hostile Artifactories, TLS)
all need the same thing: a real server on ``host:0``, its base URL, and a clean stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cheroot import wsgi

from fake_artifactory.server.cheroot_fixes import ConnectionExposingGateway


@contextmanager
def serve_wsgi(
    app: Callable[..., Any],
    *,
    host: str = "127.0.0.1",
    expose_conn: bool = False,
    ssl_adapter: Any = None,
    numthreads: int = 4,
) -> Iterator[str]:
    """Serve ``app`` on ``host`` (port 0) and yield its base URL, ``http(s)://host:port``.

    ``expose_conn`` uses the emulator's own gateway, which puts the cheroot connection
    into the environ (fault injection needs it to reset or cut a connection).
    ``ssl_adapter`` (a cheroot SSL adapter) serves HTTPS instead of HTTP.
    """
    server = wsgi.Server((host, 0), app, numthreads=numthreads)
    if expose_conn:
        server.gateway = ConnectionExposingGateway
    if ssl_adapter is not None:
        server.ssl_adapter = ssl_adapter
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    scheme = "https" if ssl_adapter is not None else "http"
    try:
        yield f"{scheme}://{host}:{server.bind_addr[1]}"
    finally:
        server.stop()
        thread.join(timeout=10)
