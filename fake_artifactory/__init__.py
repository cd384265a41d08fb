"""A faithful, self-contained fake of the JFrog Artifactory REST API (generic local repos).

``create_app(config)`` builds the Flask app; :class:`fake_artifactory.server.ThreadedServer`
serves it in-process, ``fake-artifactory serve`` from the command line.  Heavy modules are
imported lazily so the pytest plugin costs nothing when unused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_artifactory.app import Emulator, create_app
    from fake_artifactory.config import EmulatorConfig, UserSpec

__all__ = ["Emulator", "EmulatorConfig", "UserSpec", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("create_app", "Emulator"):
        from fake_artifactory import app

        return getattr(app, name)
    if name in ("EmulatorConfig", "UserSpec"):
        from fake_artifactory import config

        return getattr(config, name)
    raise AttributeError(f"module 'fake_artifactory' has no attribute {name!r}")
