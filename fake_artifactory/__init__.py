"""A faithful, self-contained fake of the JFrog Artifactory REST API (generic local repos).

``create_app(config)`` builds the WSGI app; :class:`fake_artifactory.server.ThreadedServer`
serves it in-process, ``fake-artifactory serve`` from the command line,
:mod:`fake_artifactory.testing` starts it as a subprocess and holds the pytest fixtures.
Layers (imports go one way, see docs/architecture.md): ``core`` -> ``store`` -> ``web``
-> ``control`` -> ``server`` -> ``cli``/``testing``; :mod:`fake_artifactory.config` is
importable from all of them.  Heavy modules are imported lazily, so importing this
package (or the pytest plugin) costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fake_artifactory.config import EmulatorConfig, UserSpec
    from fake_artifactory.control.app import Emulator, create_app

__all__ = ["Emulator", "EmulatorConfig", "UserSpec", "create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in ("create_app", "Emulator"):
        from fake_artifactory.control import app

        return getattr(app, name)
    if name in ("EmulatorConfig", "UserSpec"):
        from fake_artifactory import config

        return getattr(config, name)
    raise AttributeError(f"module 'fake_artifactory' has no attribute {name!r}")
