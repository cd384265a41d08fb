"""Serving the emulator: :class:`ThreadedServer` (cheroot in a background thread), TLS
(:mod:`.tls`), ``--workers`` (:mod:`.workers`) and the cheroot fixes (:mod:`.cheroot_fixes`).
"""

from fake_artifactory.server.threaded import ThreadedServer, root_url

__all__ = ["ThreadedServer", "root_url"]
