"""Serving the emulator: :class:`ThreadedServer` (gevent's WSGI server on an event loop
in a background thread, :mod:`.background`), what the emulator changes in gevent's handler
(:mod:`.handler`), TLS (:mod:`.tls`) and ``--workers`` (:mod:`.workers`).
"""

from fake_artifactory.server.background import root_url
from fake_artifactory.server.threaded import ThreadedServer

__all__ = ["ThreadedServer", "root_url"]
